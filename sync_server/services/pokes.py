"""Pokes: telling connected desks that their organization's version moved (DESIGN §3).

A poke carries no data, only the new version; the desk answers it by pulling.
Three parts:

- :class:`PokeBroker` fans versions out to the event streams of one server
  process. It lives on the server's event loop; per organization it keeps the
  latest version, its poke message encoded once, and the futures of the
  organization's waiting streams (one each: a stream cancelled because its desk went
  away cancels only its own): a poke resolves them in one pass and every stream
  sends the shared bytes (no queue, timer or task per stream). A slow stream never
  holds the others up and sends only the latest version it has not sent. One
  heartbeat tick wakes the streams of the organizations that had no poke since the
  previous tick. :meth:`PokeBroker.close` ends every stream (shutdown).
- :func:`install_commit_hook` (SQLite, a single instance) feeds the broker after
  each commit that bumped a version (:func:`sync_server.services.changes.bump_version`
  notes it on the session).
- :class:`VersionListener` (PostgreSQL) LISTENs for the versions every instance,
  this one included, bumps: ``bump_version`` sends ``NOTIFY clinicdesk_version,
  '<org>:<version>'`` inside the writing transaction, which PostgreSQL delivers
  at commit and drops with a rolled-back transaction or savepoint, so pokes
  follow exactly the committed versions. The listener reconnects with backoff
  while the database is away and then re-reads the versions it may have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from sync_server.core.config import Settings
from sync_server.db.models import OrgVersion
from sync_server.services.unit_of_work import NOTIFY_CHANNEL, unit_of

log = logging.getLogger("sync_server.pokes")

#: What a stream sends when its organization's version moves to N (pre-encoded once
#: per version, shared by every stream of the organization).
def poke_message(version: int) -> bytes:
    return f"event: poke\ndata: {json.dumps({'version': version})}\n\n".encode()


class _Channel:
    """One organization's latest announced version, its message, and the futures its
    waiting streams await, all resolved in one pass on each wake-up."""

    __slots__ = ("_waiting", "message", "poked_at", "subscribers", "version")

    def __init__(self) -> None:
        self.version = 0
        self.message = b""
        self.subscribers: set[Subscription] = set()
        self._waiting: list[asyncio.Future[None]] = []
        #: When (event-loop time) the streams were last given a new version.
        self.poked_at = -math.inf

    def waiter(self) -> asyncio.Future[None]:
        """A future of the waiting stream's own, resolved at the next wake-up. Not one
        shared by every stream: a stream whose desk went away is cancelled while it
        waits, which cancels the future it awaits, and a shared one would end every other
        stream of the organization (and their desks would all reconnect)."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        return future

    def wake(self) -> None:
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.done():  # a stream cancelled while it waited left its own
                future.set_result(None)


class Subscription:
    """One event stream's view of the broker: the newest version of one organization it
    has not passed on yet. A slow stream never holds the others up and never queues:
    whatever it missed, it is given the latest version (the only one that matters)."""

    __slots__ = ("_channel", "_closed", "_waiting", "organization_id", "seen")

    def __init__(self, organization_id: str, channel: _Channel, *, closed: bool = False) -> None:
        self.organization_id = organization_id
        self._channel = channel
        self._closed = closed
        self._waiting: asyncio.Future[None] | None = None
        #: The newest version this stream has sent (or was current when it subscribed).
        self.seen = channel.version

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """End the stream (its client went away, or the server shuts down): closed, and
        woken now if it waits."""
        self._closed = True
        waiting = self._waiting
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    def saw(self, version: int) -> None:
        """The stream sent ``version`` itself (e.g. the current one, read at connect)."""
        self.seen = max(self.seen, version)

    def take(self) -> bytes | None:
        """The poke to send now (the latest version, pre-encoded), if any."""
        channel = self._channel
        if channel.version <= self.seen:
            return None
        self.seen = channel.version
        return channel.message

    async def wait(self) -> None:
        """Until the organization's version moves, the broker's heartbeat ticks or the
        broker closes (no timer, queue or task per stream: a future the organization's
        channel resolves with the others' in one pass)."""
        wake_up = self.wake_up()
        if wake_up is not None:
            await wake_up

    def wake_up(self) -> asyncio.Future[None] | None:
        """What :meth:`wait` awaits: the future of the next wake-up (None when there is
        something to take now, or the stream is closed). Awaiting it directly saves the
        stream a coroutine per wait."""
        if self._closed or self._channel.version > self.seen:
            return None
        self._waiting = self._channel.waiter()
        return self._waiting

    async def next_version(self, timeout: float) -> int | None:
        """The next poked version; None after ``timeout`` seconds without one or once closed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.take() is not None:
                return self.seen
            remaining = deadline - loop.time()
            if self._closed or remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._channel.waiter(), remaining)


class PokeBroker:
    """Per-organization fan-out of versions to the event streams of this process, and
    one heartbeat tick for all of them (see :meth:`bind`)."""

    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}
        self._announced: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def bind(self, loop: asyncio.AbstractEventLoop, heartbeat_seconds: float | None = None
             ) -> None:
        """Attach to the server's event loop (called once at startup). With
        ``heartbeat_seconds`` every waiting stream is woken that often (to send a
        heartbeat when it has nothing else to send)."""
        self._loop = loop
        self._closed = False
        if heartbeat_seconds is not None:
            self._ticker = loop.call_later(heartbeat_seconds, self._tick, heartbeat_seconds)

    def _tick(self, seconds: float) -> None:
        """Wake the streams of every organization that had no poke since the last tick
        (the others sent one: they are not idle, and their heartbeat would only double
        the work of the poke's fan-out). So an idle stream hears something at least
        every two heartbeat intervals."""
        if self._loop is None:
            return
        quiet_since = self._loop.time() - seconds
        for channel in self._channels.values():
            if channel.poked_at < quiet_since:
                channel.wake()
        if not self._closed:
            self._ticker = self._loop.call_later(seconds, self._tick, seconds)

    def subscribe(self, organization_id: str) -> Subscription:
        channel = self._channels.get(organization_id)
        if channel is None:
            channel = self._channels[organization_id] = _Channel()
            channel.version = self._announced.get(organization_id, 0)
            channel.message = poke_message(channel.version)
        subscription = Subscription(organization_id, channel, closed=self._closed)
        if not self._closed:
            channel.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        channel = self._channels.get(subscription.organization_id)
        if channel is not None:
            channel.subscribers.discard(subscription)
            if not channel.subscribers:
                del self._channels[subscription.organization_id]

    def subscribed_organizations(self) -> list[str]:
        return list(self._channels)

    def subscriber_count(self) -> int:
        return sum(len(c.subscribers) for c in self._channels.values())

    def publish(self, organization_id: str, version: int) -> None:
        """Poke the organization's streams (event-loop thread only)."""
        if version <= self._announced.get(organization_id, 0):
            return  # announced already (or older): the streams have it
        self._announced[organization_id] = version
        channel = self._channels.get(organization_id)
        if channel is not None:
            channel.version, channel.message = version, poke_message(version)
            if self._loop is not None:
                channel.poked_at = self._loop.time()
            channel.wake()

    def catch_up(self, versions: dict[str, int]) -> None:
        """Poke the organizations whose version is beyond the last one announced here."""
        for organization_id, version in versions.items():
            self.publish(organization_id, version)

    def publish_threadsafe(self, organization_id: str, version: int) -> None:
        """:meth:`publish` from any thread (e.g. a request's worker thread after commit)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop stopped in between: nobody listens
            loop.call_soon_threadsafe(self.publish, organization_id, version)

    def close(self) -> None:
        """End every stream, now and for later subscribers (server shutdown)."""
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for channel in self._channels.values():
            for subscription in channel.subscribers:
                subscription.close()
            channel.wake()
        self._channels.clear()

    def close_threadsafe(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self.close()
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self.close)


def install_commit_hook(sessions: sessionmaker[Session], broker: PokeBroker) -> None:
    """After each commit of a session from ``sessions``, poke the versions it bumped."""

    def after_commit(session: Session) -> None:
        for organization_id, version in unit_of(session).committed().items():
            broker.publish_threadsafe(organization_id, version)

    def after_rollback(session: Session) -> None:
        unit_of(session).rolled_back()  # those versions never happened

    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_rollback", after_rollback)


def read_versions(sessions: sessionmaker[Session], organization_ids: list[str]) -> dict[str, int]:
    """The current versions of ``organization_ids`` (a blocking read; run it in a thread)."""
    if not organization_ids:
        return {}
    with sessions() as session:
        rows = session.execute(
            select(OrgVersion.organization_id, OrgVersion.version).where(
                OrgVersion.organization_id.in_(organization_ids)
            )
        ).all()
        return {org: int(version) for org, version in rows}


def parse_notification(payload: str) -> tuple[str, int] | None:
    """``'<org>:<version>'`` → (org, version); None for anything else."""
    organization_id, _, version = payload.rpartition(":")
    if not organization_id or not version.isdigit():
        return None
    return organization_id, int(version)


def libpq_conninfo(database_url: str) -> str:
    """The SQLAlchemy URL as a libpq URI (psycopg connects with it directly)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class VersionListener:
    """LISTENs for the versions other instances bump and feeds them to the broker.

    Runs as a background task on the server's loop. When the connection is lost it
    reconnects with capped, jittered backoff; after each (re)connection it re-reads
    the versions of the organizations with open streams, so a bump sent while it
    was away still pokes them.
    """

    #: While idle, check the connection this often (a silent network loss shows here).
    IDLE_CHECK_SECONDS = 10.0
    MAX_BACKOFF_SECONDS = 10.0

    def __init__(
        self,
        database_url: str,
        broker: PokeBroker,
        catch_up: Callable[[list[str]], Awaitable[dict[str, int]]],
        *,
        connect_timeout: int = 2,
    ) -> None:
        self._conninfo = libpq_conninfo(database_url)
        self._broker = broker
        self._catch_up = catch_up
        self._connect_timeout = connect_timeout
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.listening = asyncio.Event()

    async def start(self, wait_seconds: float) -> None:
        """Start listening; wait up to ``wait_seconds`` for the first connection (so a
        server reporting "started" already relays pokes), then carry on regardless."""
        self._task = asyncio.create_task(self._run(), name="clinicdesk-version-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), timeout=wait_seconds)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._listen()
                failures = 0
            except Exception as error:  # noqa: BLE001 - whatever broke, listen again
                failures += 1
                log.warning(
                    "version listener: connection lost (%s); reconnecting", type(error).__name__
                )
            self.listening.clear()
            delay = random.uniform(0.2, min(self.MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(failures, 5)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    async def _listen(self) -> None:
        import psycopg  # the "postgres" extra; only PostgreSQL servers get here

        connection = await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            application_name="clinicdesk-listener",
        )
        async with connection:
            await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self.listening.set()
            self._broker.catch_up(await self._catch_up(self._broker.subscribed_organizations()))
            while not self._stopping.is_set():
                received = False
                async for notify in connection.notifies(timeout=self.IDLE_CHECK_SECONDS):
                    received = True
                    parsed = parse_notification(notify.payload)
                    if parsed is not None:
                        self._broker.publish(*parsed)
                if not received:
                    await connection.execute("SELECT 1")


@contextlib.asynccontextmanager
async def relaying(
    broker: PokeBroker, settings: Settings, sessions: sessionmaker[Session]
) -> AsyncIterator[None]:
    """Run the broker (and on PostgreSQL the listener) for the server's lifetime.

    On exit every stream is told to end, so a graceful shutdown never waits on them.
    """
    broker.bind(asyncio.get_running_loop(), settings.sse_heartbeat_seconds)
    listener: VersionListener | None = None
    if not settings.is_sqlite:

        async def catch_up(organization_ids: list[str]) -> dict[str, int]:
            return await asyncio.to_thread(read_versions, sessions, organization_ids)

        listener = VersionListener(
            settings.resolved_database_url,
            broker,
            catch_up,
            connect_timeout=settings.db_connect_timeout_seconds,
        )
        await listener.start(wait_seconds=settings.db_connect_timeout_seconds + 1)
    try:
        yield
    finally:
        broker.close()
        if listener is not None:
            await listener.stop()
