"""Booking transactions per second through the real API, next to the same transaction in pgbench.

A real uvicorn sync server (``--workers`` instances, each its own process on its own
loopback port, the clients spread over them round robin as a load balancer would) over a fresh
PostgreSQL database with the end-to-end suite's clinic (``--providers`` providers
and as many rooms, a 30-minute check-up that needs a room, 200 patients).
``--clients`` concurrent clients, each on one keep-alive connection, book for
``--seconds`` through ``POST /api/v1/appointments``, three times:

* **contested**: a random one of ``--slots`` slots (provider × half hour); a slot
  that is taken is refused (409 with the reason and alternatives), a transaction too
  (it writes its audit entry);
* **free** (the goal's load, in pgbench's shape): each request a random slot nobody
  asked for, drawn without replacement from the clinic's working hours (Mon-Fri
  09:00-13:00 and 14:00-17:00, every provider) over ``FREE_WEEKS`` (104) weeks, the
  patient fixed per slot so no patient is asked twice for the same moment: bookings
  spread over ~520 days, so they seldom share a provider-day or room-day lock, and
  none is refused;
* **free, consecutive** (context): each request the next slot of the clinic (a
  provider's days one after another, patients as above), so every booking queues
  on the same provider-day and room-day locks — serialized per provider.

Then, on the same database in the same run, ``pgbench`` runs the equivalent booking
transaction (``server_booking_equivalent.sql``: authentication reads, configuration
version, the server's advisory locks — provider and candidate rooms per UTC day
exclusive, patient exclusive, provider and rooms shared —, state read, blockouts,
overlap check, appointment and occupations, version bump, change log, audit head and
chained audit row) with the same clients and duration, on contested slots (the same
count, over a few days) and on free slots (a random one of a million, round the
clock over decades: with replacement, so ~0.5 % are asked twice and refused; the
day locks are as seldom shared as the API's), and the bench prints API ÷ equivalent
for both (goals ≥ 0.1 contested, ≥ 0.25 free, against the random free load) and the
API's p95 (goal ≤ 150 ms). For each load it prints CPU per request: the server's
processes, the PostgreSQL backends of the bench's database, the bench itself (its
clients; pgbench for the equivalent) — :mod:`bench._cpu`. For scale: a single
guarded ``INSERT … ON CONFLICT DO NOTHING`` (``EXCLUDE USING gist``, the server's
guard) into the same number of slots and into free ones, and the server's HTTP
floor: ``GET /api/v1/health`` (one ``SELECT 1``) with the same clients for up to 5 s.

    .venv/bin/python bench/server_booking.py [--clients 16] [--seconds 15] [--slots 400]
        [--workers 2] [--request-threads N] [--booking-threads N]
    .venv/bin/python bench/server_booking.py --database sqlite --no-pgbench   # smoke size
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._cpu import CpuMeter, Processes, postgres_backends
from bench._pgbench import EQUIVALENT_SCRIPT, pgbench_binary, run_equivalent, run_pgbench
from bench._server import (
    RawConnection,
    ServerProcess,
    command_line,
    database,
    login,
    percentile,
    pg_server_url,
    seeded_clinic,
)

#: API ÷ the equivalent pgbench transaction (issue 11 item 6), and the API's p95.
GOAL_FREE = 0.25
GOAL_CONTESTED = 0.1
GOAL_P95_MS = 150.0
BOOK_PATH = "/api/v1/appointments"
HEALTH_PATH = "/api/v1/health"


@dataclass
class ApiRun:
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    #: CPU seconds during the load per group of processes (:class:`CpuMeter`)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def transactions(self) -> int:
        return self.statuses[201] + self.statuses[409]

    @property
    def tps(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


def slot_pool(clinic: Any, slots: int) -> list[tuple[str, str]]:
    """``slots`` (provider, start) pairs in the providers' working hours, next weeks."""
    return [(provider, start.isoformat())
            for provider, start in (clinic.slot(i) for i in range(slots))]


#: Weeks of working hours the free load's random slots are spread over.
FREE_WEEKS = 104
#: A slot's (provider, start, patient or None: a random patient per request).
Slot = tuple[str, str, str | None]
#: The port the ``i``-th client talks to (:meth:`ServerProcess.port_for`).
Ports = Callable[[int], int]


def free_slot(clinic: Any, index: int) -> Slot:
    """The clinic's ``index``-th slot (:meth:`Clinic.slot`) with its patient: fixed per
    slot and different for each provider of one moment, so no free booking is refused
    for a patient already booked then."""
    provider, start = clinic.slot(index)
    per_week = 70 * len(clinic.provider_ids)  # 14 half hours a day, Mon-Fri
    week, within = divmod(index, per_week)
    moment = week * 70 + within % 70  # the same for every provider's slot then
    which = clinic.provider_ids.index(provider)
    patients = clinic.patient_ids
    return provider, start.isoformat(), patients[(moment * 7919 + which) % len(patients)]


class FreeSlots:
    """Slots no request has asked for yet, one per request, in the clinic's order from
    ``first`` on: a provider's days one after another (the consecutive load)."""

    def __init__(self, clinic: Any, first: int) -> None:
        self.clinic = clinic
        self.next = first

    def take(self) -> Slot:
        self.next += 1
        return free_slot(self.clinic, self.next - 1)


class RandomSlots:
    """The free load in pgbench's shape: the clinic's slots of ``weeks`` whole weeks
    from slot ``first`` on (every provider's working hours), each taken once, in a
    random order (:func:`free_slot`)."""

    def __init__(self, clinic: Any, first: int, weeks: int, seed: int = 7) -> None:
        self.clinic = clinic
        per_week = 70 * len(clinic.provider_ids)
        begin = -(-first // per_week) * per_week
        self.end = begin + weeks * per_week
        self.left = list(range(begin, self.end))
        random.Random(seed).shuffle(self.left)

    def take(self) -> Slot:
        if not self.left:
            raise RuntimeError(f"every free slot of {FREE_WEEKS} weeks was booked: raise it")
        return free_slot(self.clinic, self.left.pop())


#: What a load books: contested slots (a random one each time) or a free-slot order.
Pool = list[tuple[str, str]] | FreeSlots | RandomSlots


async def api_client(port: int, headers: dict[str, str], clinic: Any, pool: Pool, seed: int,
                     deadline: float, run: ApiRun) -> None:
    pick = random.Random(seed)
    connection = RawConnection(port, headers)
    await connection.open()
    try:
        while time.perf_counter() < deadline:
            provider, start, patient = (pool.take() if not isinstance(pool, list)
                                        else (*pick.choice(pool), None))
            body = json.dumps({
                "clinic_id": clinic.clinic_id,
                "patient_id": patient or pick.choice(clinic.patient_ids),
                "appointment_type_id": clinic.type_id, "provider_id": provider,
                "start": start}).encode()
            began = time.perf_counter()
            status, _answer = await connection.request("POST", BOOK_PATH, body)
            run.latencies.append(time.perf_counter() - began)
            run.statuses[status] += 1
    finally:
        await connection.close()


async def run_api(ports: Ports, headers: dict[str, str], clinic: Any, pool: Pool,
                  clients: int, seconds: float, processes: Processes) -> ApiRun:
    """``clients`` clients, the ``i``-th on ``ports(i)``, book from ``pool`` for ``seconds``."""
    if isinstance(pool, list):  # warm every worker and connection path up first, on
        # slots outside the contested pool
        warm = slot_pool(clinic, len(pool) + 4 * clients)[len(pool):]
        warm_run = ApiRun(1.0)
        warm_deadline = time.perf_counter() + min(3.0, seconds / 3)
        await asyncio.gather(*(api_client(ports(i), headers, clinic, warm, 10_000 + i,
                                          warm_deadline, warm_run) for i in range(clients)))
    run = ApiRun(seconds)
    with CpuMeter(processes) as meter:
        started = time.perf_counter()
        await asyncio.gather(*(api_client(ports(i), headers, clinic, pool, i,
                                          started + seconds, run) for i in range(clients)))
        run.seconds = time.perf_counter() - started
    run.cpu = meter.spent()
    return run


async def health_client(port: int, deadline: float, run: ApiRun) -> None:
    connection = RawConnection(port, {})
    await connection.open()
    try:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            status, _answer = await connection.request("GET", HEALTH_PATH)
            run.latencies.append(time.perf_counter() - began)
            run.statuses[status] += 1
    finally:
        await connection.close()


async def run_health(ports: Ports, clients: int, seconds: float) -> ApiRun:
    """The HTTP floor: ``GET /api/v1/health`` (one ``SELECT 1``) with the same clients."""
    run = ApiRun(seconds)
    started = time.perf_counter()
    await asyncio.gather(*(health_client(ports(i), started + seconds, run)
                           for i in range(clients)))
    run.seconds = time.perf_counter() - started
    return run


def api_figures(run: ApiRun, name: str) -> dict[str, Any]:
    ordered = sorted(run.latencies)
    return {f"{name}_tps": run.tps, f"{name}_transactions": run.transactions,
            f"{name}_seconds": run.seconds, f"{name}_booked": run.statuses[201],
            f"{name}_refused": run.statuses[409],
            f"{name}_other": {s: n for s, n in run.statuses.items() if s not in (201, 409)},
            f"{name}_p50_ms": percentile(ordered, 0.50) * 1000,
            f"{name}_p95_ms": percentile(ordered, 0.95) * 1000,
            f"{name}_cpu": run.cpu}


def measure(backend: str, clients: int, seconds: float, slots: int, providers: int,
            workers: int, pgbench: bool, request_threads: int | None = None,
            booking_threads: int | None = None) -> dict[str, Any]:
    """Run the API part (and pgbench) and return the figures."""
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="clinicdesk-bench-") as temporary:
        work = Path(temporary)
        with database(backend, work) as url:
            clinic = seeded_clinic(url, work, providers=providers, rooms=providers,
                                   patients=200, codes=1)
            pool = slot_pool(clinic, slots)
            env = {"CLINICDESK_DB_POOL_SIZE": str(max(10, clients))}
            if request_threads is not None:
                env["CLINICDESK_REQUEST_THREADS"] = str(request_threads)
            if booking_threads is not None:
                env["CLINICDESK_BOOKING_THREADS"] = str(booking_threads)
            with ServerProcess(url, work, workers=workers, env=env) as server:
                processes: Processes = {"server": server.pids}
                if backend == "postgresql":
                    name = str(make_url(url).database)
                    processes["postgres"] = lambda: postgres_backends(name)
                headers = login(server.url, clinic)
                free_slots = RandomSlots(clinic, len(pool) + 4 * clients, FREE_WEEKS)
                loads: dict[str, Pool] = {"api": pool, "free": free_slots,
                                          "serial": FreeSlots(clinic, free_slots.end)}
                runs = {name: asyncio.run(run_api(server.port_for, headers, clinic, slots_of,
                                                  clients, seconds, processes))
                        for name, slots_of in loads.items()}
                health = asyncio.run(run_health(server.port_for, clients, min(5.0, seconds)))
            for name, run in runs.items():
                figures.update(api_figures(run, name))
            figures["health_tps"] = health.statuses[200] / health.seconds \
                if health.seconds else 0.0
            api, free = runs["api"], runs["free"]
            if pgbench:
                binary = pgbench_binary()
                if binary is None:
                    raise RuntimeError("pgbench is not installed (it comes with PostgreSQL)")
                duration = max(1, round(seconds))
                threads = min(clients, 2)
                contended, open_slots = run_equivalent(binary, url, clinic, clients, duration,
                                                       slots, threads)
                figures.update(
                    equivalent_tps=contended.tps, equivalent_inserted=contended.inserted,
                    equivalent_transactions=contended.transactions,
                    equivalent_latency_ms=contended.latency_ms,
                    equivalent_free_tps=open_slots.tps,
                    equivalent_free_inserted=open_slots.inserted,
                    equivalent_free_transactions=open_slots.transactions,
                    equivalent_free_latency_ms=open_slots.latency_ms,
                    equivalent_cpu=contended.cpu, equivalent_free_cpu=open_slots.cpu,
                    ratio=api.tps / contended.tps if contended.tps else 0.0,
                    free_ratio=free.tps / open_slots.tps if open_slots.tps else 0.0)
                # For scale: one INSERT guarded by the exclusion constraint, into the same
                # number of contested slots, and where every slot is free.
                per_resource = -(-slots // providers)
                bench = run_pgbench(binary, url, work, clients, duration, providers,
                                    per_resource, threads=threads)
                writes = run_pgbench(binary, url, work, clients, duration, providers,
                                     10_000_000, threads=threads)
                figures.update(pgbench_tps=bench.tps, pgbench_inserted=bench.inserted,
                               pgbench_write_tps=writes.tps,
                               pgbench_write_inserted=writes.inserted)
    return figures


#: The groups of a CPU line: (key of :class:`CpuMeter`, name to print).
CPU_NAMES = (("server", "server"), ("postgres", "PostgreSQL backends"))


def cpu_text(cpu: dict[str, float], requests: int, bench: str = "bench clients") -> str:
    """CPU milliseconds per request of each group measured, and the cores they kept busy."""
    if not requests or not cpu:
        return "CPU per request: not measured"
    parts = [f"{title} {cpu[key] * 1000 / requests:.2f} ms"
             for key, title in (*CPU_NAMES, ("bench", bench)) if key in cpu]
    busy = sum(v for k, v in cpu.items() if k != "wall") / cpu["wall"] if cpu["wall"] else 0.0
    return (f"CPU per request: {', '.join(parts)} "
            f"({busy:.2f} of {os.cpu_count()} cores busy over {cpu['wall']:.1f} s)")


def _api_line(figures: dict[str, Any], name: str, title: str, goal: bool = True) -> str:
    p95 = figures[f"{name}_p95_ms"]
    verdict = f" (goal p95 <= {GOAL_P95_MS:.0f} ms: {'met' if p95 <= GOAL_P95_MS else 'missed'})"
    return (f"{title}: {figures[f'{name}_tps']:.1f} transactions/s "
            f"({figures[f'{name}_transactions']} in {figures[f'{name}_seconds']:.1f} s: "
            f"{figures[f'{name}_booked']} booked, {figures[f'{name}_refused']} refused; "
            f"other statuses {figures[f'{name}_other'] or 'none'}; latency p50 "
            f"{figures[f'{name}_p50_ms']:.1f} ms, p95 {p95:.1f} ms{verdict if goal else ''})\n"
            f"  {cpu_text(figures[f'{name}_cpu'], figures[f'{name}_transactions'])}")


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"command: {command_line()}")
    print(f"setup: {args.database}, {args.workers} server instance(s), clients round robin, "
          f"{args.request_threads or 'default'} request threads and "
          f"{args.booking_threads or 'default'} booking threads each, {args.clients} clients, "
          f"{args.seconds:g} s, {args.slots} contested slots over {args.providers} providers")
    print(_api_line(figures, "api", "API booking, contested slots"))
    print(_api_line(figures, "free", f"API booking, free slots (random unused slots of "
                                     f"{FREE_WEEKS} weeks' working hours)"))
    print(_api_line(figures, "serial", "context, API booking, free, consecutive slots "
                                       "(serialized per provider)", goal=False))
    print(f"HTTP floor, GET /api/v1/health (one SELECT 1), same clients: "
          f"{figures['health_tps']:.1f} requests/s")
    if "equivalent_tps" not in figures:
        return
    for name, title, api, goal in (("equivalent", "contested", "api", GOAL_CONTESTED),
                                   ("equivalent_free", "free", "free", GOAL_FREE)):
        ratio = figures["ratio" if name == "equivalent" else "free_ratio"]
        print(f"pgbench equivalent transaction ({EQUIVALENT_SCRIPT.name}), {title} slots: "
              f"{figures[f'{name}_tps']:.1f} transactions/s "
              f"({figures[f'{name}_transactions']} transactions, "
              f"{figures[f'{name}_inserted']} booked, latency average "
              f"{figures[f'{name}_latency_ms']:.2f} ms)\n"
              f"  {cpu_text(figures[f'{name}_cpu'], figures[f'{name}_transactions'], 'pgbench')}")
        print(f"ratio API / equivalent, {title} slots = {ratio:.3f} "
              f"(API {figures[f'{api}_tps']:.1f}/s; goal >= {goal}: "
              f"{'met' if ratio >= goal else 'missed'})")
    print(f"for scale, pgbench single guarded insert: {figures['pgbench_tps']:.1f}/s into the "
          f"contested slots ({figures['pgbench_inserted']} rows), "
          f"{figures['pgbench_write_tps']:.1f}/s when every slot is free")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--slots", type=int, default=400)
    parser.add_argument("--providers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2,
                        help="server instances (processes, each on its own port)")
    parser.add_argument("--request-threads", type=int, default=None, metavar="N",
                        help="CLINICDESK_REQUEST_THREADS of each instance (default: unset)")
    parser.add_argument("--booking-threads", type=int, default=None, metavar="N",
                        help="CLINICDESK_BOOKING_THREADS of each instance (default: unset)")
    parser.add_argument("--no-pgbench", action="store_true",
                        help="skip the pgbench comparison (it needs PostgreSQL)")
    args = parser.parse_args(argv)
    if args.database == "sqlite":
        args.workers = 1  # SQLite serializes writes: one process
    pgbench = not args.no_pgbench and args.database == "postgresql"
    if pgbench:
        pg_server_url()  # fail early on a bad CLINICDESK_BENCH_PG_URL
    figures = measure(args.database, args.clients, args.seconds, args.slots, args.providers,
                      args.workers, pgbench, args.request_threads, args.booking_threads)
    report(figures, args)
    return 0 if not any(figures[f"{name}_other"] for name in ("api", "free", "serial")) else 1


if __name__ == "__main__":
    sys.exit(main())
