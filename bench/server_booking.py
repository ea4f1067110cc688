"""Contended booking transactions per second through the real API, next to pgbench.

A real uvicorn sync server (its own process, ``--workers`` processes) over a fresh
PostgreSQL database with the end-to-end suite's clinic (``--providers`` providers
and as many rooms, a 30-minute check-up that needs a room). ``--clients``
concurrent clients, each on one keep-alive connection, book for ``--seconds``
through ``POST /api/v1/appointments`` into ``--slots`` contested slots (provider ×
half hour), chosen at random: a slot that is taken is refused (409 with the
reason and alternatives), which is a transaction too (it writes its audit entry).

Then, on the same database in the same run, ``pgbench`` runs the equivalent
single-insert transaction with the same client count and duration: one
``INSERT … ON CONFLICT DO NOTHING`` into a table guarded by the same
``EXCLUDE USING gist (resource_id WITH =, tstzrange(start, end, '[)') WITH &&)``
constraint, at a random one of the same number of slots over the same number of
resources (a taken slot inserts nothing, as a refused booking books nothing).

Prints both rates and their ratio (goal ≥ 0.5), and for scale the server's HTTP floor:
``GET /api/v1/health`` (one ``SELECT 1``) with the same clients for up to 5 s.

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

GOAL_RATIO = 0.5
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


async def api_client(port: int, headers: dict[str, str], clinic: Any, pool: list[tuple[str, str]],
                     seed: int, deadline: float, run: ApiRun) -> None:
    pick = random.Random(seed)
    connection = RawConnection(port, headers)
    await connection.open()
    try:
        while time.perf_counter() < deadline:
            provider, start = pick.choice(pool)
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


async def run_api(port: int, headers: dict[str, str], clinic: Any, pool: list[tuple[str, str]],
                  clients: int, seconds: float) -> ApiRun:
    # Warm up every worker and connection path on slots outside the contested pool.
    warm = slot_pool(clinic, len(pool) + 4 * clients)[len(pool):]
    warm_run = ApiRun(1.0)
    warm_deadline = time.perf_counter() + min(3.0, seconds / 3)
    await asyncio.gather(*(api_client(port, headers, clinic, warm, 10_000 + i, warm_deadline,
                                      warm_run) for i in range(clients)))
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
    out = finished.stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"transactions actually processed: (\d+)", out).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
    with engine.connect() as connection:
        inserted = int(connection.execute(text("SELECT count(*) FROM bench_booking")).scalar_one())
        connection.execute(text("DROP TABLE bench_booking"))
    engine.dispose()
    return PgbenchRun(tps, done, inserted, latency)


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
                health = asyncio.run(run_health(server.port, clients, min(5.0, seconds)))
            ordered = sorted(api.latencies)
            figures.update(
                api_tps=api.tps, api_transactions=api.transactions, api_seconds=api.seconds,
                api_booked=api.statuses[201], api_refused=api.statuses[409],
                api_other={s: n for s, n in api.statuses.items() if s not in (201, 409)},
                api_p50_ms=percentile(ordered, 0.50) * 1000,
                api_p95_ms=percentile(ordered, 0.95) * 1000,
                health_tps=health.statuses[200] / health.seconds if health.seconds else 0.0)
            if pgbench:
                binary = pgbench_binary()
                if binary is None:
                    raise RuntimeError("pgbench is not installed (it comes with PostgreSQL)")
                per_resource = -(-slots // providers)
                duration = max(1, round(seconds))
                bench = run_pgbench(binary, url, work, clients, duration, providers,
                                    per_resource, threads=min(clients, 2))
                figures.update(pgbench_tps=bench.tps, pgbench_transactions=bench.transactions,
                               pgbench_inserted=bench.inserted,
                               pgbench_latency_ms=bench.latency_ms,
                               ratio=api.tps / bench.tps if bench.tps else 0.0)
                # The same insert where every transaction finds its slot free and commits a
                # row (a slot space far larger than can fill): the cost of a committed write.
                writes = run_pgbench(binary, url, work, clients, duration, providers,
                                     10_000_000, threads=min(clients, 2))
                figures.update(pgbench_write_tps=writes.tps,
                               pgbench_write_inserted=writes.inserted,
                               pgbench_write_latency_ms=writes.latency_ms,
                               write_ratio=api.tps / writes.tps if writes.tps else 0.0)
    return figures


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"command: {command_line()}")
    print(f"setup: {args.database}, {args.workers} server worker(s), {args.clients} clients, "
          f"{args.seconds:g} s, {args.slots} contested slots over {args.providers} providers")
    print(f"API booking: {figures['api_tps']:.1f} transactions/s "
          f"({figures['api_transactions']} in {figures['api_seconds']:.1f} s: "
          f"{figures['api_booked']} booked, {figures['api_refused']} refused; "
          f"other statuses {figures['api_other'] or 'none'}; "
          f"latency p50 {figures['api_p50_ms']:.1f} ms, p95 {figures['api_p95_ms']:.1f} ms)")
    print(f"HTTP floor, GET /api/v1/health (one SELECT 1), same clients: "
          f"{figures['health_tps']:.1f} requests/s")
    if "pgbench_tps" in figures:
        print(f"pgbench single insert: {figures['pgbench_tps']:.1f} transactions/s "
              f"({figures['pgbench_transactions']} transactions, "
              f"{figures['pgbench_inserted']} rows inserted, "
              f"latency average {figures['pgbench_latency_ms']:.2f} ms)")
        verdict = "met" if figures["ratio"] >= GOAL_RATIO else "missed"
        print(f"ratio API / pgbench = {figures['ratio']:.4f} (goal >= {GOAL_RATIO}: {verdict})")
        print(f"pgbench single insert, every slot free (each transaction commits a row): "
              f"{figures['pgbench_write_tps']:.1f} transactions/s "
              f"({figures['pgbench_write_inserted']} rows inserted, "
              f"latency average {figures['pgbench_write_latency_ms']:.2f} ms)")
        print(f"ratio API / committing pgbench = {figures['write_ratio']:.4f}")


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
    return 0 if not figures["api_other"] else 1


if __name__ == "__main__":
    sys.exit(main())
