"""The desk store's cost of encryption: one workload on SQLCipher and on plain SQLite.

    .venv/bin/python bench/desk_store.py [--appointments 5000] [--queries 300]

Both databases have the desk's own schema (desktop/store/models.py) and run the
same work in one process: insert appointments one transaction at a time (as
offline bookings do), then query provider-day views. Prints each figure and
the SQLCipher/SQLite ratio (goal ≤ 1.3).

The machine's speed drifts over minutes, so the two are run in ``--rounds``
alternating rounds (fresh files each round, the order swapped every round) and
each figure is the median over the rounds; the ratio is taken between medians.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlcipher3.dbapi2 as sqlcipher
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from desktop.store.engine import create_database_file, engine_with, make_engine
from desktop.store.models import AppointmentRow, Base

PROVIDERS = [f"prov-{i}" for i in range(20)]
DAY0 = datetime(2026, 6, 1, 13, tzinfo=UTC)


def plain_engine(path: Path) -> Engine:
    """The desk's engine (pool, transaction discipline, pragmas) over the same driver and
    SQLite build without a key: a plain SQLite file, so the ratio is encryption alone."""

    def connect() -> object:
        connection = sqlcipher.connect(str(path), check_same_thread=False,
                                       isolation_level=None)
        for pragma in ("journal_mode=WAL", "secure_delete=ON", "temp_store=MEMORY",
                       "foreign_keys=ON"):
            connection.execute(f"PRAGMA {pragma}").fetchall()
        return connection

    return engine_with(connect)


def workload(engine: Engine, appointments: int, queries: int, seed: int) -> dict[str, float]:
    Base.metadata.create_all(engine)
    rng = random.Random(seed)
    started = time.perf_counter()
    for index in range(appointments):
        start = DAY0 + timedelta(days=index // 200, minutes=15 * (index % 200))
        with Session(engine) as session, session.begin():
            session.add(AppointmentRow(
                id=f"a-{index}", organization_id="org", clinic_id="c", patient_id=f"p-{index}",
                appointment_type_id="consult", provider_id=rng.choice(PROVIDERS), start=start,
                end=start + timedelta(minutes=15), notes="Follow-up on blood pressure",
            ))
    insert_seconds = time.perf_counter() - started
    timings = []
    days = max(appointments // 200, 1)
    for _ in range(queries):
        day = DAY0 + timedelta(days=rng.randrange(days))
        provider = rng.choice(PROVIDERS)
        began = time.perf_counter()
        with Session(engine) as session:
            rows = session.scalars(
                select(AppointmentRow)
                .where(AppointmentRow.provider_id == provider)
                .where(AppointmentRow.start >= day)
                .where(AppointmentRow.start < day + timedelta(days=1))
                .order_by(AppointmentRow.start)
            ).all()
            assert all(row.provider_id == provider for row in rows)
        timings.append(time.perf_counter() - began)
    return {"insert_ms_per_booking": insert_seconds * 1000 / appointments,
            "query_ms_p50": statistics.median(timings) * 1000,
            "query_ms_p95": sorted(timings)[int(0.95 * (len(timings) - 1))] * 1000}


def run(label: str, make: Callable[[Path], Engine], folder: Path, args: argparse.Namespace
        ) -> dict[str, float]:
    path = folder / f"{label}.db"
    engine = make(path)
    try:
        figures = workload(engine, args.appointments, args.queries, args.seed)
    finally:
        engine.dispose()
    wanted = "plain" if label.startswith("sqlite") else "encrypted"
    found = "plain" if path.read_bytes()[:16] == b"SQLite format 3\0" else "encrypted"
    if found != wanted:
        raise SystemExit(f"{path.name}: {found} pages where {wanted} ones were expected")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    key = bytes(range(32))

    def cipher(path: Path) -> Engine:
        create_database_file(path, key)
        return make_engine(path, key)

    kinds: dict[str, Callable[[Path], Engine]] = {"sqlite": plain_engine, "sqlcipher": cipher}
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in kinds}
    for round_ in range(args.rounds):
        order = list(kinds) if round_ % 2 == 0 else list(reversed(kinds))
        with tempfile.TemporaryDirectory() as tmp:
            for name in order:
                figures[name].append(run(f"{name}-{round_}", kinds[name], Path(tmp), args))
    plain = {k: statistics.median(f[k] for f in figures["sqlite"]) for k in figures["sqlite"][0]}
    encrypted = {k: statistics.median(f[k] for f in figures["sqlcipher"]) for k in plain}
    print(f"# bench/desk_store.py: {args.appointments} bookings, {args.queries} queries, "
          f"seed {args.seed}, median of {args.rounds} alternating rounds")
    for name, base in plain.items():
        ratio = encrypted[name] / base
        print(f"{name}: sqlcipher {encrypted[name]:.3f} / sqlite {base:.3f} "
              f"= ratio {ratio:.2f} (goal ≤ 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
