"""Sign-in throttling: rate limits per client address and per account, and a bound on
how many password hashes run at once.

A flood of sign-ins must neither exhaust memory (Argon2id takes
``argon2_memory_kib`` per hash) nor starve other requests. So, before a sign-in
reaches the password check:

1. each client address and each account (organization + e-mail) may try at most
   ``login_per_client_per_minute`` / ``login_per_account_per_minute`` times a
   minute; beyond that the answer is 429 with ``Retry-After``;
2. it waits, in the event loop and holding no worker thread, for one of
   :func:`password_slots` hashing slots (sized to the machine's memory); a sign-in
   that gets none within ``PASSWORD_SLOT_WAIT_SECONDS`` is answered 429 too.

The counters live in the process: with several instances behind a load balancer
each instance counts on its own (docs/admin.md). Lockout after wrong passwords is
separate and lives in the database (:mod:`sync_server.services.accounts`).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

#: How long a sign-in may wait for a hashing slot before it is told to retry.
PASSWORD_SLOT_WAIT_SECONDS = 2.0
#: The share of the machine's memory that concurrent password hashes may use.
MEMORY_SHARE = 0.25
WINDOW_SECONDS = 60.0


class Throttled(Exception):
    """Too many attempts: retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: float, message: str) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))
        self.message = message


class SlidingWindow:
    """At most ``limit`` admitted events per ``window`` seconds per key, in memory.

    Only admitted events count, so a client that keeps hammering is let in again as
    soon as its oldest admitted attempt leaves the window. At most ``max_keys`` keys
    are remembered (the least recently used are forgotten first).
    """

    def __init__(self, limit: int, window: float = WINDOW_SECONDS, *,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def admit(self, key: str) -> float | None:
        """Record an attempt for ``key``; None when admitted, else seconds until it would be."""
        now = self.clock()
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        self._hits[key] = hits
        if len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        return None


def memory_bytes() -> int | None:
    """The memory this process may use: the cgroup limit (containers) or physical RAM."""
    for limit_file in ("/sys/fs/cgroup/memory.max",
                       "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX
        return None


def password_slots(argon2_memory_kib: int, configured: int | None = None) -> int:
    """How many password hashes may run at once: ``configured``, else as many as fit in
    :data:`MEMORY_SHARE` of the memory, at most one per CPU, at least one."""
    if configured:
        return configured
    cpus = os.cpu_count() or 1
    memory = memory_bytes()
    if memory is None:
        return cpus
    fitting = int(memory * MEMORY_SHARE) // (argon2_memory_kib * 1024)
    return max(1, min(cpus, fitting))


class LoginGuard:
    """The sign-in rate limits and the password hashing slots of one server process."""

    def __init__(self, *, per_client: int, per_account: int, slots: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_client = SlidingWindow(per_client, clock=clock)
        self.per_account = SlidingWindow(per_account, clock=clock)
        self.slots = slots
        self._semaphores: dict[int, asyncio.Semaphore] = {}

    def check_client(self, client_address: str) -> None:
        """Raise :class:`Throttled` when the client tried too often (checked by the outermost
        middleware, before the body is even read: a flood's refusals stay cheap)."""
        wait = self.per_client.admit(f"client:{client_address}")
        if wait is not None:
            raise Throttled(wait, "Too many sign-in attempts from this computer; wait a "
                                  "minute and try again.")

    def check_account(self, account: str) -> None:
        """Raise :class:`Throttled` when the account was tried too often."""
        wait = self.per_account.admit(f"account:{account}")
        if wait is not None:
            raise Throttled(wait, "Too many sign-in attempts for this account; wait a minute "
                                  "and try again.")

    @asynccontextmanager
    async def hashing_slot(self) -> AsyncIterator[None]:
        """Hold one password hashing slot (waiting without a thread); :class:`Throttled`
        when none frees up in time."""
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.setdefault(id(loop), asyncio.Semaphore(self.slots))
        try:
            await asyncio.wait_for(semaphore.acquire(), PASSWORD_SLOT_WAIT_SECONDS)
        except TimeoutError:
            raise Throttled(1, "The server is busy checking other sign-ins; try again in a "
                               "moment.") from None
        try:
            yield
        finally:
            semaphore.release()
