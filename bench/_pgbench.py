"""pgbench beside a server benchmark: the booking transaction as plain SQL
(``server_booking_equivalent.sql``) and a single guarded insert, run on the benchmark's
own database; the PostgreSQL backends' CPU time is measured around each run
(:mod:`bench._cpu`). Used by ``bench/server_booking.py``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench._cpu import CpuMeter, postgres_backends

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
class PgbenchRun:
    tps: float
    transactions: int
    inserted: int
    latency_ms: float
    cpu: dict[str, float] = field(default_factory=dict)


def pgbench_binary() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    return str(candidates[-1]) if candidates else None


def run_pgbench(binary: str, url: str, work: Path, clients: int, seconds: int,
                resources: int, per_resource: int, threads: int) -> PgbenchRun:
    from sqlalchemy import create_engine, text

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
                   "-D", f"rooms={{{','.join(clinic.room_ids)}}}",
                   "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
                   "-U", parsed.username or "postgres", parsed.database or "postgres"]
        with CpuMeter({"postgres": lambda: postgres_backends(str(parsed.database))}) as meter:
            finished = subprocess.run(command, capture_output=True, text=True,
                                      timeout=seconds + 60, check=False)
        if finished.returncode != 0:
            raise RuntimeError(f"pgbench failed: {finished.stderr.strip()[-2000:]}")
        with engine.connect() as connection:
            after = connection.execute(text("SELECT count(*) FROM appointments")).scalar_one()
        runs.append(_pgbench_figures(finished.stdout, int(after - before)))
        runs[-1].cpu = meter.spent()
    engine.dispose()
    return runs[0], runs[1]


def _pgbench_figures(out: str, inserted: int) -> PgbenchRun:
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"transactions actually processed: (\d+)", out).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
    return PgbenchRun(tps, done, inserted, latency)
