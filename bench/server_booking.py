"""Booking transactions per second through the real API, next to the same transaction in pgbench.

A real uvicorn sync server (its own process, ``--workers`` processes) over a fresh
PostgreSQL database with the end-to-end suite's clinic (``--providers`` providers
and as many rooms, a 30-minute check-up that needs a room). ``--clients``
concurrent clients, each on one keep-alive connection, book for ``--seconds``
through ``POST /api/v1/appointments``, twice: into ``--slots`` contested slots
(provider × half hour) chosen at random — a slot that is taken is refused (409 with
the reason and alternatives), a transaction too (it writes its audit entry) — and
into free slots (each request the next slot nobody asked for).

Then, on the same database in the same run, ``pgbench`` runs the equivalent booking
transaction (``server_booking_equivalent.sql``: authentication reads, configuration
version, advisory locks, state read, blockouts, overlap check, appointment and
occupations, version bump, change log, audit head and chained audit row) with the
same clients and duration, on contested and on free slots, and the bench prints
API ÷ equivalent for both (goals ≥ 0.1 contested, ≥ 0.25 free) and the API's p95
(goal ≤ 150 ms). For scale: a single guarded ``INSERT … ON CONFLICT DO NOTHING``
(``EXCLUDE USING gist``, the server's guard) into the same number of slots and
into free ones, and the server's HTTP floor: ``GET /api/v1/health`` (one
``SELECT 1``) with the same clients for up to 5 s.

    .venv/bin/python bench/server_booking.py [--clients 16] [--seconds 15] [--slots 400]
    .venv/bin/python bench/server_booking.py --database sqlite --no-pgbench   # smoke size
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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

PGBENCH_TABLE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
DROP TABLE IF EXISTS bench_booking;
CREATE TABLE bench_booking (
    id bigserial PRIMARY KEY,
    resource_id integer NOT NULL,
    block_start timestamptz NOT NULL,
    block_end timestamptz NOT NULL,
    EXCLUDE USING gist (resource_id WITH =, tstzrange(block_start, block_end, '[)') WITH &&)
);
"""
PGBENCH_SCRIPT = """\\set r random(1, :resources)
\\set s random(0, :per_resource - 1)
INSERT INTO bench_booking (resource_id, block_start, block_end)
VALUES (:r, timestamptz '2030-01-07 09:00+00' + :s * interval '30 minutes',
        timestamptz '2030-01-07 09:30+00' + :s * interval '30 minutes')
ON CONFLICT DO NOTHING;
"""


@dataclass
class ApiRun:
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def transactions(self) -> int:
        return self.statuses[201] + self.statuses[409]

    @property
    def tps(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


@dataclass
class PgbenchRun:
    tps: float
    transactions: int
    inserted: int
    latency_ms: float


def slot_pool(clinic: Any, slots: int) -> list[tuple[str, str]]:
    """``slots`` (provider, start) pairs in the providers' working hours, next weeks."""
    return [(provider, start.isoformat())
            for provider, start in (clinic.slot(i) for i in range(slots))]


class FreeSlots:
    """Slots no request has asked for yet, one per request (the free-slot load)."""

    def __init__(self, clinic: Any, first: int) -> None:
        self.clinic = clinic
        self.next = first

    def __len__(self) -> int:
        return 1

    def take(self) -> tuple[str, str]:
        provider, start = self.clinic.slot(self.next)
        self.next += 1
        return provider, start.isoformat()


async def api_client(port: int, headers: dict[str, str], clinic: Any,
                     pool: list[tuple[str, str]] | FreeSlots, seed: int, deadline: float,
                     run: ApiRun) -> None:
    pick = random.Random(seed)
    connection = RawConnection(port, headers)
    await connection.open()
    try:
        while time.perf_counter() < deadline:
            provider, start = pool.take() if isinstance(pool, FreeSlots) else pick.choice(pool)
            body = json.dumps({
                "clinic_id": clinic.clinic_id, "patient_id": pick.choice(clinic.patient_ids),
                "appointment_type_id": clinic.type_id, "provider_id": provider,
                "start": start}).encode()
            began = time.perf_counter()
            status, _answer = await connection.request("POST", BOOK_PATH, body)
            run.latencies.append(time.perf_counter() - began)
            run.statuses[status] += 1
    finally:
        await connection.close()


async def run_api(port: int, headers: dict[str, str], clinic: Any,
                  pool: list[tuple[str, str]] | FreeSlots, clients: int, seconds: float,
                  warm_up: bool = True) -> ApiRun:
    if warm_up:  # every worker and connection path, on slots outside the contested pool
        warm = slot_pool(clinic, len(pool) + 4 * clients)[len(pool):]
        warm_run = ApiRun(1.0)
        warm_deadline = time.perf_counter() + min(3.0, seconds / 3)
        await asyncio.gather(*(api_client(port, headers, clinic, warm, 10_000 + i,
                                          warm_deadline, warm_run) for i in range(clients)))
    run = ApiRun(seconds)
    started = time.perf_counter()
    await asyncio.gather(*(api_client(port, headers, clinic, pool, i, started + seconds, run)
                           for i in range(clients)))
    run.seconds = time.perf_counter() - started
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


async def run_health(port: int, clients: int, seconds: float) -> ApiRun:
    """The HTTP floor: ``GET /api/v1/health`` (one ``SELECT 1``) with the same clients."""
    run = ApiRun(seconds)
    started = time.perf_counter()
    await asyncio.gather(*(health_client(port, started + seconds, run) for _ in range(clients)))
    run.seconds = time.perf_counter() - started
    return run


def pgbench_binary() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    return str(candidates[-1]) if candidates else None


def run_pgbench(binary: str, url: str, work: Path, clients: int, seconds: int,
                resources: int, per_resource: int, threads: int) -> PgbenchRun:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in PGBENCH_TABLE.split(";"):
            if statement.strip():
                connection.execute(text(statement))
    script = work / "book.sql"
    script.write_text(PGBENCH_SCRIPT)
    parsed = make_url(url)
    command = [binary, "-n", "-f", str(script), "-c", str(clients), "-j", str(threads),
               "-T", str(seconds), "-D", f"resources={resources}",
               "-D", f"per_resource={per_resource}",
               "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
               "-U", parsed.username or "postgres", parsed.database or "postgres"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                              check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"pgbench failed: {finished.stderr.strip()}")
    with engine.connect() as connection:
        inserted = int(connection.execute(text("SELECT count(*) FROM bench_booking")).scalar_one())
        connection.execute(text("DROP TABLE bench_booking"))
    engine.dispose()
    return _pgbench_figures(finished.stdout, inserted)


EQUIVALENT_SCRIPT = Path(__file__).with_name("server_booking_equivalent.sql")
#: Slots of bench_slots for the free-slot load (one in a million asked twice).
FREE_SLOTS = 1_000_000
BENCH_SLOTS = """
DROP TABLE IF EXISTS bench_slots;
CREATE TABLE bench_slots (n integer PRIMARY KEY, provider_id text NOT NULL,
                          room_id text NOT NULL, patient_id text NOT NULL,
                          start_at timestamptz NOT NULL, end_at timestamptz NOT NULL);
INSERT INTO bench_slots
SELECT n, (CAST(:providers AS text[]))[1 + n % :provider_count],
       (CAST(:rooms AS text[]))[1 + n % :provider_count],
       (CAST(:patients AS text[]))[1 + (n::bigint * 7919) % :patient_count],
       CASE WHEN n < :contested THEN timestamptz '2040-01-02 09:00+00'
                                     + (n / :provider_count) * interval '30 minutes'
            ELSE timestamptz '2050-01-03 09:00+00' + n * interval '30 minutes' END,
       CASE WHEN n < :contested THEN timestamptz '2040-01-02 09:30+00'
                                     + (n / :provider_count) * interval '30 minutes'
            ELSE timestamptz '2050-01-03 09:30+00' + n * interval '30 minutes' END
  FROM generate_series(0, :contested + :free - 1) AS n;
ANALYZE bench_slots;
"""


def run_equivalent(binary: str, url: str, clinic: Any, clients: int, seconds: int,
                   slots: int, threads: int) -> tuple[PgbenchRun, PgbenchRun]:
    """The API's booking transaction as plain SQL (:data:`EQUIVALENT_SCRIPT`) with pgbench
    on the same database: (contested slots, free slots)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        user_id = connection.execute(text("SELECT id FROM users WHERE email = :email"),
                                     {"email": clinic.user_email}).scalar_one()
        for statement in BENCH_SLOTS.split(";"):
            if statement.strip():
                connection.execute(text(statement), {
                    "providers": clinic.provider_ids, "rooms": clinic.room_ids,
                    "patients": clinic.patient_ids, "provider_count": len(clinic.provider_ids),
                    "patient_count": len(clinic.patient_ids), "contested": slots,
                    "free": FREE_SLOTS})
    parsed = make_url(url)
    runs = []
    for low, high in ((0, slots - 1), (slots, slots + FREE_SLOTS - 1)):
        with engine.connect() as connection:
            before = connection.execute(text("SELECT count(*) FROM appointments")).scalar_one()
        command = [binary, "-n", "-M", "prepared", "-f", str(EQUIVALENT_SCRIPT),
                   "-c", str(clients), "-j", str(threads), "-T", str(seconds),
                   "-D", f"org={clinic.org_id}", "-D", f"clinic={clinic.clinic_id}",
                   "-D", f"type_id={clinic.type_id}", "-D", f"user_id={user_id}",
                   "-D", f"lo={low}", "-D", f"hi={high}",
                   "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
                   "-U", parsed.username or "postgres", parsed.database or "postgres"]
        finished = subprocess.run(command, capture_output=True, text=True,
                                  timeout=seconds + 60, check=False)
        if finished.returncode != 0:
            raise RuntimeError(f"pgbench failed: {finished.stderr.strip()[-2000:]}")
        with engine.connect() as connection:
            after = connection.execute(text("SELECT count(*) FROM appointments")).scalar_one()
        runs.append(_pgbench_figures(finished.stdout, int(after - before)))
    engine.dispose()
    return runs[0], runs[1]


def _pgbench_figures(out: str, inserted: int) -> PgbenchRun:
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"transactions actually processed: (\d+)", out).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
    return PgbenchRun(tps, done, inserted, latency)


def api_figures(run: ApiRun, name: str) -> dict[str, Any]:
    ordered = sorted(run.latencies)
    return {f"{name}_tps": run.tps, f"{name}_transactions": run.transactions,
            f"{name}_seconds": run.seconds, f"{name}_booked": run.statuses[201],
            f"{name}_refused": run.statuses[409],
            f"{name}_other": {s: n for s, n in run.statuses.items() if s not in (201, 409)},
            f"{name}_p50_ms": percentile(ordered, 0.50) * 1000,
            f"{name}_p95_ms": percentile(ordered, 0.95) * 1000}


def measure(backend: str, clients: int, seconds: float, slots: int, providers: int,
            workers: int, pgbench: bool) -> dict[str, Any]:
    """Run the API part (and pgbench) and return the figures."""
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="clinicdesk-bench-") as temporary:
        work = Path(temporary)
        with database(backend, work) as url:
            clinic = seeded_clinic(url, work, providers=providers, rooms=providers,
                                   patients=200, codes=1)
            pool = slot_pool(clinic, slots)
            env = {"CLINICDESK_DB_POOL_SIZE": str(max(10, clients))}
            with ServerProcess(url, work, workers=workers, env=env) as server:
                headers = login(server.url, clinic)
                api = asyncio.run(run_api(server.port, headers, clinic, pool, clients, seconds))
                free = asyncio.run(run_api(server.port, headers, clinic,
                                           FreeSlots(clinic, 2 * slots + 4 * clients),
                                           clients, seconds, warm_up=False))
                health = asyncio.run(run_health(server.port, clients, min(5.0, seconds)))
            figures.update(api_figures(api, "api"), **api_figures(free, "free"),
                           health_tps=health.statuses[200] / health.seconds
                           if health.seconds else 0.0)
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


def _api_line(figures: dict[str, Any], name: str, title: str) -> str:
    return (f"{title}: {figures[f'{name}_tps']:.1f} transactions/s "
            f"({figures[f'{name}_transactions']} in {figures[f'{name}_seconds']:.1f} s: "
            f"{figures[f'{name}_booked']} booked, {figures[f'{name}_refused']} refused; "
            f"other statuses {figures[f'{name}_other'] or 'none'}; latency p50 "
            f"{figures[f'{name}_p50_ms']:.1f} ms, p95 {figures[f'{name}_p95_ms']:.1f} ms "
            f"(goal p95 <= {GOAL_P95_MS:.0f} ms: "
            f"{'met' if figures[f'{name}_p95_ms'] <= GOAL_P95_MS else 'missed'}))")


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"command: {command_line()}")
    print(f"setup: {args.database}, {args.workers} server worker(s), {args.clients} clients, "
          f"{args.seconds:g} s, {args.slots} contested slots over {args.providers} providers")
    print(_api_line(figures, "api", "API booking, contested slots"))
    print(_api_line(figures, "free", "API booking, free slots (each request a new slot)"))
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
              f"{figures[f'{name}_latency_ms']:.2f} ms)")
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
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--no-pgbench", action="store_true",
                        help="skip the pgbench comparison (it needs PostgreSQL)")
    args = parser.parse_args(argv)
    if args.database == "sqlite":
        args.workers = 1  # SQLite serializes writes: one process
    pgbench = not args.no_pgbench and args.database == "postgresql"
    if pgbench:
        pg_server_url()  # fail early on a bad CLINICDESK_BENCH_PG_URL
    figures = measure(args.database, args.clients, args.seconds, args.slots, args.providers,
                      args.workers, pgbench)
    report(figures, args)
    return 0 if not figures["api_other"] and not figures["free_other"] else 1


if __name__ == "__main__":
    sys.exit(main())
