"""Concurrent event streams: N desks on ``GET /api/v1/sync/events``, server memory, poke latency.

A real uvicorn sync server (``--workers`` instances, each its own process and port, the
streams spread over them round robin) over PostgreSQL (pokes
travel through LISTEN/NOTIFY) or SQLite, with the end-to-end suite's clinic and
one enrolled desk. The benchmark raises its open-file limit (and the server's),
then opens ``--sessions`` streams with the desk's token from one asyncio process
(raw streams, ``--concurrency`` handshakes at a time, at most ``--connect-seconds``);
a stream counts as held once its first poke (the current version) arrived.
At checkpoints it prints how many are held and the server's resident memory (all
its processes, from /proc).

Then ``--pokes`` times (after ``--untimed-pokes``, default 1, not timed: the push
path's first use in the server process): a booking is pushed, and every stream's
time from just before the push until it reads a poke with a newer version is recorded (at most
``--poke-timeout`` seconds). Prints p50/p95/max over all streams and pokes, and
how many streams missed a poke. Everything stops by itself.

First, in the same run (unless ``--no-floor``), the same streams and pokes against the
floor: a bare uvicorn + Starlette stream server (:func:`floor_app`: no authentication,
no database; ``POST /poke`` moves its version). Goal: the sync server's poke p95
<= 1 s and <= 2x the floor's.

    .venv/bin/python bench/sse_sessions.py [--sessions 10000] [--database postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._server import (
    ServerProcess,
    command_line,
    database,
    enroll,
    percentile,
    raise_open_files,
    seeded_clinic,
)
from scheduling.sync_protocol import DEVICE_TOKEN_HEADER

EVENTS_PATH = "/api/v1/sync/events"
POKE = re.compile(rb'event: poke\r?\ndata: \{"version": (\d+)\}')
GOAL_SESSIONS = 10_000
GOAL_POKE_P95 = 1.0  # seconds


@dataclass
class Stream:
    """One open event stream: the newest version it has read, and when it read each."""

    version: int = -1
    seen: dict[int, float] = field(default_factory=dict)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False


@dataclass
class Held:
    streams: list[Stream] = field(default_factory=list)
    failed: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def open(self) -> int:
        return sum(1 for s in self.streams if s.opened.is_set() and not s.closed)


async def read_stream(port: int, token: str, stream: Stream, held: Held) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        held.failed += 1
        stream.closed = True
        return
    try:
        writer.write((f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Accept: text/event-stream\r\n{DEVICE_TOKEN_HEADER}: {token}\r\n\r\n")
                     .encode())
        status = await reader.readline()
        if not status.startswith(b"HTTP/1.1 200"):
            held.failed += 1
            return
        buffer = b""
        while True:
            chunk = await reader.read(4096)
            if not chunk:
                break
            now = time.perf_counter()
            buffer += chunk
            last = 0
            for match in POKE.finditer(buffer):
                version = int(match.group(1))
                stream.seen.setdefault(version, now)
                stream.version = max(stream.version, version)
                stream.opened.set()
                last = match.end()
            buffer = buffer[last:] if last else buffer[-512:]
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        stream.closed = True
        stream.opened.set()  # never leave a waiter hanging
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def open_streams(token: str, count: int, concurrency: int, deadline: float,
                       checkpoints: list[int], server: ServerProcess, held: Held) -> None:
    """Open ``count`` streams, ``concurrency`` handshakes at a time, until ``deadline``."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        stream = Stream()
        held.streams.append(stream)
        # several instances: the streams spread over them, as behind a load balancer
        held.tasks.append(asyncio.create_task(
            read_stream(server.port_for(index), token, stream, held)))
        try:
            await asyncio.wait_for(stream.opened.wait(), max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            pass
        finally:
            gate.release()

    starters: list[asyncio.Task[None]] = []
    marks = [*sorted(c for c in checkpoints if c < count), count]
    for index in range(count):
        if time.monotonic() > deadline:
            print(f"connect deadline reached after {index} attempts")
            break
        await gate.acquire()
        starters.append(asyncio.create_task(one(index)))
        if index + 1 == marks[0]:
            marks.pop(0)
            await asyncio.gather(*starters)
            starters.clear()
            print(f"  {index + 1:>6} attempted: {held.open:>6} held, {held.failed} failed, "
                  f"server RSS {server.rss_bytes() / 2**20:.0f} MiB", flush=True)
    await asyncio.gather(*starters)


def book(base_url: str, desk: dict[str, Any], clinic: Any, mutation_id: int) -> None:
    provider, start = clinic.slot(mutation_id)
    body = {"client_id": desk["client_id"], "mutations": [{
        "id": mutation_id, "name": "appointment.book", "args": {
            "appointment_id": str(uuid.uuid4()), "clinic_id": clinic.clinic_id,
            "patient_id": clinic.patient_ids[mutation_id % len(clinic.patient_ids)],
            "appointment_type_id": clinic.type_id, "provider_id": provider,
            "start": start.isoformat()}}]}
    answer = httpx.post(f"{base_url}/api/v1/sync/push", json=body, timeout=60,
                        headers={DEVICE_TOKEN_HEADER: desk["device_token"]})
    answer.raise_for_status()
    assert answer.json()["results"][0]["status"] == "applied", answer.text


def poke_floor(base_url: str, _number: int) -> None:
    httpx.post(f"{base_url}/poke", timeout=60).raise_for_status()


async def poke_latencies(poke: Callable[[int], None], held: Held, pokes: int, timeout: float,
                         untimed: int = 1) -> tuple[list[float], int, list[float]]:
    """Latencies (s) from just before ``poke(number)`` (a booking) to each held stream
    reading its poke, after ``untimed`` pokes that are not timed (the first use of
    the push path in the server process); and each timed poke's slowest delivery."""
    latencies: list[float] = []
    slowest: list[float] = []
    missed = 0
    for number in range(1, untimed + pokes + 1):
        live = [s for s in held.streams if s.opened.is_set() and not s.closed]
        before = {id(s): s.version for s in live}
        began = time.perf_counter()
        await asyncio.to_thread(poke, number)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(s.version > before[id(s)] for s in live):
                break
            await asyncio.sleep(0.05)
        this: list[float] = []
        for stream in live:
            arrivals = [t for v, t in stream.seen.items() if v > before[id(stream)]]
            if arrivals:
                this.append(min(arrivals) - began)
            elif number > untimed:
                missed += 1
        if number > untimed:
            latencies.extend(this)
            slowest.append(max(this, default=0.0))
        await asyncio.sleep(0.5)
    return sorted(latencies), missed, slowest


async def run(args: argparse.Namespace, server: ServerProcess, token: str,
              poke: Callable[[int], None]) -> dict[str, Any]:
    held = Held()
    started = time.monotonic()
    checkpoints = [1000, 2500, 5000, 7500]
    await open_streams(token, args.sessions, args.concurrency,
                       started + args.connect_seconds, checkpoints, server, held)
    connect_seconds = time.monotonic() - started
    await asyncio.sleep(args.hold)
    figures: dict[str, Any] = {"attempted": len(held.streams), "failed": held.failed,
                               "connect_seconds": connect_seconds, "held": held.open,
                               "rss": server.rss_bytes()}
    latencies, missed, slowest = await poke_latencies(poke, held, args.pokes,
                                                      args.poke_timeout, args.untimed_pokes)
    figures.update(latencies=latencies, missed=missed, held_after=held.open, slowest=slowest)
    for task in held.tasks:
        task.cancel()
    await asyncio.gather(*held.tasks, return_exceptions=True)
    return figures


def floor_app() -> Any:
    """The floor: a bare Starlette stream server (no authentication, no database). Each
    stream sends the current version, then waits on one shared :class:`asyncio.Event`
    that ``POST /poke`` sets after moving the version."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, StreamingResponse
    from starlette.routing import Route

    state: dict[str, Any] = {"version": 1, "changed": asyncio.Event()}

    async def stream() -> AsyncIterator[bytes]:
        seen = 0
        while True:
            if state["version"] > seen:
                seen = state["version"]
                yield f'event: poke\ndata: {{"version": {seen}}}\n\n'.encode()
            else:
                await state["changed"].wait()

    async def events(_request: Request) -> StreamingResponse:
        return StreamingResponse(stream(), media_type="text/event-stream")

    async def poke(_request: Request) -> PlainTextResponse:
        changed, state["changed"] = state["changed"], asyncio.Event()
        state["version"] += 1
        changed.set()
        return PlainTextResponse("poked")

    async def health(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route(EVENTS_PATH, events), Route("/poke", poke, methods=["POST"]),
                             Route("/api/v1/health", health)])


def report(name: str, figures: dict[str, Any], idle_rss: int, pokes: int) -> float | None:
    """Print one server's figures; its poke p95 (s)."""
    latencies = figures["latencies"]
    held = figures["held"]
    per_stream = (figures["rss"] - idle_rss) / held / 1024 if held else 0.0
    print(f"{name}: streams: {figures['attempted']} attempted in "
          f"{figures['connect_seconds']:.1f} s, {held} held ({figures['failed']} failed); "
          f"{figures['held_after']} still held after the pokes (aim {GOAL_SESSIONS}: "
          f"{'met' if held >= GOAL_SESSIONS else 'not met'})")
    print(f"{name}: server RSS with {held} streams: {figures['rss'] / 2**20:.0f} MiB "
          f"({per_stream:.1f} KiB per stream above idle {idle_rss / 2**20:.0f} MiB)")
    if not latencies:
        print(f"{name}: poke latency: no delivery; {figures['missed']} missed")
        return None
    p95 = percentile(latencies, 0.95)
    print(f"{name}: poke latency over {len(latencies)} deliveries ({pokes} pokes): "
          f"p50 = {percentile(latencies, 0.5) * 1000:.0f} ms, p95 = {p95 * 1000:.0f} ms, "
          f"max = {latencies[-1] * 1000:.0f} ms; {figures['missed']} missed; slowest "
          f"delivery per poke {', '.join(f'{t * 1000:.0f}' for t in figures['slowest'])} ms")
    return p95


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--sessions", type=int, default=GOAL_SESSIONS)
    parser.add_argument("--concurrency", type=int, default=200,
                        help="handshakes in flight at once")
    parser.add_argument("--connect-seconds", type=float, default=180.0)
    parser.add_argument("--hold", type=float, default=3.0,
                        help="seconds to hold every stream before poking")
    parser.add_argument("--pokes", type=int, default=3)
    parser.add_argument("--poke-timeout", type=float, default=30.0)
    parser.add_argument("--gc-log", type=float, default=0.0, metavar="MS",
                        help="servers print each garbage collection longer than MS")
    parser.add_argument("--untimed-pokes", type=int, default=1,
                        help="pokes sent first and not timed (the push path's first use)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server instances (processes, each on its own port)")
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip the bare Starlette stream server measured first")
    args = parser.parse_args(argv)
    limit = raise_open_files(args.sessions + 1024)
    print(f"command: {command_line()}")
    print(f"open-file limit: {limit}")
    with tempfile.TemporaryDirectory(prefix="clinicdesk-bench-") as temporary:
        work = Path(temporary)
        floor_p95 = None
        if args.floor:
            floor_env = {"CLINICDESK_BENCH_APP": "bench.sse_sessions:floor_app"}
            if args.gc_log:
                floor_env["CLINICDESK_BENCH_GC_LOG"] = str(args.gc_log)
            with ServerProcess("sqlite://", work, env=floor_env) as bare:
                idle = bare.rss_bytes()
                floor = asyncio.run(run(args, bare, "none", partial(poke_floor, bare.url)))
            floor_p95 = report("floor (bare Starlette)", floor, idle, args.pokes)
        with database(args.database, work) as url:
            clinic = seeded_clinic(url, work, providers=2, rooms=2, patients=20, codes=1)
            gc_env = {"CLINICDESK_BENCH_GC_LOG": str(args.gc_log)} if args.gc_log else {}
            with ServerProcess(url, work, workers=args.workers, env=gc_env) as server:
                desk = enroll(server.url, clinic.codes[0])
                idle_rss = server.rss_bytes()
                figures = asyncio.run(run(args, server, desk["device_token"],
                                          partial(book, server.url, desk, clinic)))
    p95 = report("sync server", figures, idle_rss, args.pokes)
    if p95 is not None:
        ratio = f"{p95 / floor_p95:.2f}x the floor's p95" if floor_p95 else "no floor measured"
        met = p95 <= GOAL_POKE_P95 and (not floor_p95 or p95 <= 2 * floor_p95)
        print(f"poke p95 = {p95 * 1000:.0f} ms ({ratio}; goal <= {GOAL_POKE_P95 * 1000:.0f} ms "
              f"and <= 2x the floor: {'met' if met else 'missed'})")
    return 0 if figures["held"] and not figures["missed"] else 1

if __name__ == "__main__":
    sys.exit(main())
