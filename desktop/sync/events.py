"""The server's event stream (server-sent events): a poke says the organization's version moved.

:class:`PokeListener` reads ``GET /api/v1/sync/events`` with ``requests`` in
streaming mode on its own thread and calls ``on_poke(version)`` for each
``event: poke``; heartbeats and other events are ignored. It reconnects with
backoff while the stream is down and reports up/down through ``on_stream``.
:meth:`PokeListener.close` may be called from any thread: it shuts the socket
down so a blocked read returns at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import requests

from scheduling.sync_protocol import (
    DEVICE_TOKEN_HEADER,
    EVENTS_PATH,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
)

log = logging.getLogger("desktop.sync.events")

#: Longer than the server's heartbeat interval: a silent stream this long is dead.
STREAM_READ_TIMEOUT = 45.0


@dataclass(frozen=True, slots=True)
class ServerEvent:
    event: str
    data: str


def parse_events(lines: Iterable[str]) -> Iterator[ServerEvent]:
    """Server-sent events from decoded lines (``event:``/``data:`` fields, blank line ends)."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data or event != "message":
                yield ServerEvent(event, "\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue  # a comment, used for heartbeats
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


def poke_version(event: ServerEvent) -> int | None:
    """The version of a poke event (``data: {"version": N}``), else None."""
    if event.event != "poke":
        return None
    try:
        version = json.loads(event.data).get("version")
    except (ValueError, AttributeError):
        return 0  # a poke without a readable version still means "pull"
    return version if isinstance(version, int) else 0


class PokeListener:
    """Keeps the event stream open on a daemon thread until :meth:`close`."""

    def __init__(
        self,
        session: requests.Session,
        server_url: str,
        token: Callable[[], str],
        on_poke: Callable[[int], None],
        on_stream: Callable[[bool], None] = lambda _up: None,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = STREAM_READ_TIMEOUT,
        max_backoff: float = 30.0,
    ) -> None:
        self._session = session
        self._url = server_url.rstrip("/") + EVENTS_PATH
        self._token = token
        self._on_poke = on_poke
        self._on_stream = on_stream
        self._timeout = (connect_timeout, read_timeout)
        self._max_backoff = max_backoff
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="clinicdesk-sse", daemon=True)
        self._thread.start()

    def close(self, wait: float = 5.0) -> None:
        """Stop listening (thread-safe) and wait up to ``wait`` seconds for the thread."""
        self._closed.set()
        with self._lock:
            response = self._response
        if response is not None:
            _shut_down(response)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(wait)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        failures = 0
        while not self._closed.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as error:  # noqa: BLE001 - any failure means "stream down, retry"
                failures += 1
                if not self._closed.is_set():
                    log.info("event stream down: %s", type(error).__name__)
            self._on_stream(False)
            delay = random.uniform(0.5, min(self._max_backoff, 2.0 ** min(failures, 6)))
            self._closed.wait(delay)

    def _listen(self) -> None:
        headers = {PROTOCOL_HEADER: str(PROTOCOL_VERSION), DEVICE_TOKEN_HEADER: self._token(),
                   "Accept": "text/event-stream"}
        response = self._session.get(self._url, headers=headers, stream=True,
                                     timeout=self._timeout)
        with self._lock:
            self._response = response
        try:
            if self._closed.is_set():
                return
            response.raise_for_status()
            self._on_stream(True)
            for event in parse_events(_lines(response)):
                if self._closed.is_set():
                    return
                version = poke_version(event)
                if version is not None:
                    self._on_poke(version)
        finally:
            with self._lock:
                self._response = None
            response.close()


def _lines(response: requests.Response) -> Iterator[str]:
    """Decoded lines as soon as they arrive (``iter_lines`` waits for a full chunk)."""
    raw = response.raw
    pending = b""
    while True:
        chunk = raw.read1(4096)
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield line.rstrip(b"\r").decode("utf-8", errors="replace")


def _shut_down(response: requests.Response) -> None:
    """Unblock a read in progress on another thread, then close the response."""
    sock = _socket_of(response)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    response.close()


def _socket_of(response: requests.Response) -> socket.socket | None:
    # The connection keeps the socket while it is reusable; a response that ends the
    # connection (HTTP/1.0, "Connection: close") holds it only in its file object.
    raw = response.raw
    connection = getattr(raw, "connection", None)
    candidates = [
        getattr(connection, "sock", None),
        getattr(getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None),
                "_sock", None),
    ]
    for candidate in candidates:
        if isinstance(candidate, socket.socket):
            return candidate
    return None
