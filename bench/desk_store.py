"""The desk store's cost of encryption: one workload on SQLCipher and on plain SQLite.

    .venv/bin/python bench/desk_store.py [--appointments 5000] [--queries 300]

Both databases have the desk's own schema (desktop/store/models.py) and run the
same work in one process: insert appointments one transaction at a time (as
offline bookings do), then query provider-day views. Prints each figure and
the SQLCipher/SQLite ratio (goal ≤ 1.3).
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

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session

from desktop.store.engine import create_database_file, make_engine
from desktop.store.models import AppointmentRow, Base

PROVIDERS = [f"prov-{i}" for i in range(20)]
DAY0 = datetime(2026, 6, 1, 13, tzinfo=UTC)


def plain_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def pragmas(connection: object, _record: object) -> None:
        cursor = connection.cursor()  # type: ignore[attr-defined]
        for pragma in ("journal_mode=WAL", "secure_delete=ON", "temp_store=MEMORY",
                       "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return engine


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
    engine = make(folder / f"{label}.db")
    try:
        return workload(engine, args.appointments, args.queries, args.seed)
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    key = bytes(range(32))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def cipher(path: Path) -> Engine:
            create_database_file(path, key)
            return make_engine(path, key)

        plain = run("plain", plain_engine, folder, args)
        encrypted = run("sqlcipher", cipher, folder, args)
    print(f"# bench/desk_store.py: {args.appointments} bookings, {args.queries} queries, "
          f"seed {args.seed}")
    for name in plain:
        ratio = encrypted[name] / plain[name]
        print(f"{name}: sqlcipher {encrypted[name]:.3f} / sqlite {plain[name]:.3f} "
              f"= ratio {ratio:.2f} (goal ≤ 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
