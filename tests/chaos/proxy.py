"""A TCP proxy on loopback that drops and delays connections (asyncio, in a thread).

Desks talk to the proxy; the proxy forwards each connection to one of the live
server instances (another one when a connect fails). Faults, set at any time from
the test's thread:

* ``refuse``: the chance a new connection, or a request on a kept-alive one, is dropped
  (nothing of it reaches a server);
* ``cut``: the chance an answer is dropped when the server starts sending it, so the
  request was applied but the desk never reads the answer (the hardest case for
  exactly-once);
* ``delay``: up to that many seconds of latency before each chunk is relayed;
* ``offline``: every new connection is refused (a network outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from dataclasses import dataclass, field

CHUNK = 65536


@dataclass
class Faults:
    refuse: float = 0.0
    cut: float = 0.0
    delay: float = 0.0
    offline: bool = False

    def calm(self) -> None:
        self.refuse = self.cut = self.delay = 0.0
        self.offline = False


@dataclass
class Counts:
    connections: int = 0
    refused: int = 0
    cut: int = 0
    upstream_failures: int = 0


@dataclass
class ChaosProxy:
    """``start()`` listens on a free loopback port (``url``); ``stop()`` closes it."""

    upstreams: list[int]
    seed: int = 0
    faults: Faults = field(default_factory=Faults)
    counts: Counts = field(default_factory=Counts)
    port: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # fault schedule, not cryptography
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = future.result(10)

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counts.connections += 1
        if self.faults.offline or self._random.random() < self.faults.refuse:
            self.counts.refused += 1
            await _close(writer)
            return
        upstream = await self._connect()
        if upstream is None:
            self.counts.upstream_failures += 1
            await _close(writer)
            return
        up_reader, up_writer = upstream
        try:
            await asyncio.gather(self._pipe(reader, up_writer, writer, answer=False),
                                 self._pipe(up_reader, writer, up_writer, answer=True))
        finally:
            await _close(writer)
            await _close(up_writer)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        ports = list(self.upstreams)
        self._random.shuffle(ports)
        for port in ports:
            try:
                return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
            except (OSError, TimeoutError):
                continue
        return None

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                    other: asyncio.StreamWriter, *, answer: bool) -> None:
        """Relay ``source`` to ``sink``. Each request (``answer`` False) may be refused and
        each answer cut, which aborts the connection both ways (connections are kept
        alive, so faults are drawn per chunk, not per connection)."""
        try:
            while data := await source.read(CHUNK):
                faults = self.faults
                chance = faults.cut if answer else faults.refuse
                if faults.offline or self._random.random() < chance:
                    if answer:  # the server has answered: the desk never reads it
                        self.counts.cut += 1
                    else:
                        self.counts.refused += 1
                    sink.transport.abort()
                    other.transport.abort()
                    return
                if faults.delay:
                    await asyncio.sleep(self._random.uniform(0, faults.delay))
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if sink.can_write_eof():
                    sink.write_eof()


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        writer.close()
        await writer.wait_closed()
