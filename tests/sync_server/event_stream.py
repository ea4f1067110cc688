"""Reading the server's event stream in tests: a real uvicorn server, httpx streaming.

:class:`EventStream` reads ``GET /api/v1/sync/events`` on a background thread and
hands every event (and comment) to the test through a queue, so a test waits for
the next event with a deadline instead of sleeping.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass

import httpx
import uvicorn

from sync_server.app import create_app
from sync_server.cli import EventAwareServer
from sync_server.core.config import Settings
from tests.e2e.server_side import free_port

EVENTS_PATH = "/api/v1/sync/events"


@dataclass(frozen=True)
class Received:
    """One thing read from the stream: an event, a comment, or the end of the stream."""

    kind: str  # "event", "comment" or "end"
    at: float  # time.monotonic() when it arrived
    event: str = ""
    data: str = ""

    @property
    def version(self) -> int | None:
        if self.kind != "event" or self.event != "poke":
            return None
        version: int = json.loads(self.data)["version"]
        return version


class EventStream:
    """An open event stream; use as a context manager."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0, read=None))
        self._headers = {"Accept": "text/event-stream", **headers}
        self._received: queue.Queue[Received] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._opened = threading.Event()
        self.status_code: int | None = None

    def __enter__(self) -> EventStream:
        self._thread.start()
        if not self._opened.wait(10):
            raise AssertionError("the event stream did not open within 10 s")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._client.close()
        self._thread.join(5)

    def _read(self) -> None:
        event, data = "message", []
        try:
            with self._client.stream("GET", EVENTS_PATH, headers=self._headers) as response:
                self.status_code = response.status_code
                self._opened.set()
                for line in response.iter_lines():
                    now = time.monotonic()
                    if line.startswith(":"):
                        self._received.put(Received("comment", now, data=line[1:].strip()))
                    elif line:
                        name, _, value = line.partition(":")
                        if name == "event":
                            event = value.strip()
                        elif name == "data":
                            data.append(value.strip())
                    elif data:
                        self._received.put(Received("event", now, event, "\n".join(data)))
                        event, data = "message", []
        except httpx.HTTPError:
            pass  # the test closed the client, or the server went away: the stream ended
        finally:
            self._opened.set()
            self._received.put(Received("end", time.monotonic()))

    def next(self, timeout: float = 5.0) -> Received:
        """The next event, comment or end; fails when nothing arrives within ``timeout``."""
        try:
            return self._received.get(timeout=timeout)
        except queue.Empty:
            message = f"nothing arrived on the event stream within {timeout} s"
            raise AssertionError(message) from None

    def next_poke(self, timeout: float = 5.0, *, after: int = -1) -> Received:
        """The next poke with a version above ``after`` (comments are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            received = self.next(max(0.0, deadline - time.monotonic()))
            if received.kind == "end":
                raise AssertionError("the event stream ended before the poke")
            if received.version is not None and received.version > after:
                return received

    def wait_end(self, timeout: float = 5.0) -> Received:
        deadline = time.monotonic() + timeout
        while True:
            received = self.next(max(0.0, deadline - time.monotonic()))
            if received.kind == "end":
                return received


class EventServer:
    """The app on a loopback port in a thread, stopped the way ``clinicdesk-server serve``
    stops (``EventAwareServer``); ``graceful_seconds`` is uvicorn's last-resort timeout."""

    def __init__(self, settings: Settings, *, graceful_seconds: int = 10) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None,
                                log_level="warning", timeout_graceful_shutdown=graceful_seconds)
        self.server = EventAwareServer(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> EventServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the sync server did not start")
            time.sleep(0.02)  # polling a flag with a deadline
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 15.0) -> float:
        """Ask the server to exit; return how long it took to stop."""
        started = time.monotonic()
        self.server.should_exit = True
        self.thread.join(timeout)
        return time.monotonic() - started
