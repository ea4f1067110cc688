"""Next-available on the server with 500,000 appointments in PostgreSQL (goal p95 ≤ 20 ms).

The end-to-end suite's clinic (Europe/Madrid; providers working Mon-Fri
09:00-17:00 with a 13:00-14:00 break; a 30-minute check-up) with ``--providers``
providers, and ``--appointments`` appointments over ``--days`` days from today,
bulk-loaded with COPY (appointments and their resource occupations, as the
booking service writes them). Working hours are booked densely (mostly back to
back, now and then a 30-60 minute hole, so a free slot needs a search); the rest
are out-of-hours bookings (weekdays 06:00-09:00 and 17:00-22:00, weekends
08:00-18:00) that the searches never offer but the database must skip.

Timed: ``GET /api/v1/availability/next`` for the check-up across all providers,
``after`` a random instant of the period, against a real uvicorn server (its own
process), one request at a time after one untimed request; p50/p95/max. Then
``--views`` clinic-wide free-slot views (``GET /api/v1/availability``, every
provider over 28 days from a random day; goal p95 ≤ 100 ms). Then,
in process, the same query split into its two parts (loading the calendar
state from the database, and the search) for ``--split`` queries.

    .venv/bin/python bench/availability_db.py [--appointments 500000] [--queries 200]
    .venv/bin/python bench/availability_db.py --database sqlite --appointments 3000 --days 14
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._server import (
    ServerProcess,
    command_line,
    database,
    login,
    percentile,
    seeded_clinic,
)

GOAL_MS = 20.0
#: The clinic-wide free-slot view (issue 11 item 8): every provider over four weeks.
VIEW_DAYS = 28
VIEW_GOAL_MS = 100.0
TZ = ZoneInfo("Europe/Madrid")
WORKING = ((clock_time(9), clock_time(13)), (clock_time(14), clock_time(17)))
WEEKDAY_EXTRA = ((clock_time(6), clock_time(9)), (clock_time(17), clock_time(22)))
WEEKEND = ((clock_time(8), clock_time(18)),)
DURATIONS = (15, 20, 25, 30)
# Minutes left free before each in-hours appointment: mostly none, sometimes a bookable hole.
GAPS = (0,) * 24 + (5, 10, 15) + (30, 45, 60)

APPOINTMENT_COLUMNS = (
    "id", "organization_id", "clinic_id", "patient_id", "appointment_type_id", "provider_id",
    "equipment_ids", "start_at", "end_at", "block_start", "block_end", "status", "source",
    "notes", "patient_notes", "deleted", "active", "overridden", "version", "reschedule_count",
    "created_at", "updated_at",
)
OCCUPATION_COLUMNS = ("id", "organization_id", "appointment_id", "resource_id", "block_start",
                      "block_end", "active", "overridden", "group_member")


def _at(day: date, at: clock_time) -> datetime:
    return datetime.combine(day, at, TZ).astimezone(UTC)


def generate(providers: list[str], first_day: date, days: int, count: int,
             rng: random.Random) -> tuple[list[tuple[str, datetime, datetime]], int]:
    """(provider, start, end) of ``count`` non-overlapping bookings; how many are in hours."""
    in_hours: list[tuple[str, datetime, datetime]] = []
    spare: list[tuple[str, datetime, datetime]] = []  # out-of-hours windows
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        weekend = day.weekday() >= 5
        for provider in providers:
            for opens, closes in (WEEKEND if weekend else WEEKDAY_EXTRA):
                spare.append((provider, _at(day, opens), _at(day, closes)))
            if weekend:
                continue
            for opens, closes in WORKING:
                cursor, window_end = _at(day, opens), _at(day, closes)
                while True:
                    start = cursor + timedelta(minutes=rng.choice(GAPS))
                    end = start + timedelta(minutes=rng.choice(DURATIONS))
                    if end > window_end:
                        break
                    in_hours.append((provider, start, end))
                    cursor = end
    if len(in_hours) >= count:
        return rng.sample(in_hours, count), count
    booked = list(in_hours)
    windows = spare
    while len(booked) < count and windows:  # one more booking per open window per pass
        still_open = []
        for provider, cursor, closes in windows:
            if len(booked) == count:
                break
            end = cursor + timedelta(minutes=rng.choice(DURATIONS))
            if end <= closes:
                booked.append((provider, cursor, end))
                still_open.append((provider, end, closes))
        windows = still_open
    if len(booked) < count:
        raise SystemExit(f"only {len(booked):,} bookings fit; lower --appointments or add --days")
    return booked, len(in_hours)


def load(url: str, clinic: Any, bookings: list[tuple[str, datetime, datetime]],
         rng: random.Random) -> None:
    """Write the bookings as the booking service would (rows plus resource occupations)."""
    now = datetime.now(UTC)
    appointments, occupations = [], []
    for provider, start, end in bookings:
        appointment_id = str(uuid.uuid4())
        appointments.append((appointment_id, clinic.org_id, clinic.clinic_id,
                             rng.choice(clinic.patient_ids), clinic.type_id, provider, "[]",
                             start, end, start, end, "booked", "staff", "", "", False, True,
                             False, 1, 0, now, now))
        occupations.append((str(uuid.uuid4()), clinic.org_id, appointment_id, provider, start,
                            end, True, False, False))
    if url.startswith("postgresql"):
        _copy_postgresql(url, appointments, occupations)
    else:
        _insert_sqlite(url, appointments, occupations)


def _copy_postgresql(url: str, appointments: list[tuple[Any, ...]],
                     occupations: list[tuple[Any, ...]]) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                         dbname=parsed.database) as connection, connection.cursor() as cursor:
        for table, columns, rows in (("appointments", APPOINTMENT_COLUMNS, appointments),
                                     ("appointment_resources", OCCUPATION_COLUMNS, occupations)):
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        connection.commit()
        connection.autocommit = True
        # As after any bulk load or restore: statistics, visibility map and hint bits set
        # now, not by autovacuum and the first reads while the requests are timed.
        cursor.execute("VACUUM (ANALYZE) appointments")
        cursor.execute("VACUUM (ANALYZE) appointment_resources")


def _insert_sqlite(url: str, appointments: list[tuple[Any, ...]],
                   occupations: list[tuple[Any, ...]]) -> None:
    import sqlite3

    def plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
                     if isinstance(v, datetime) else v for v in row)

    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        for table, columns, rows in (("appointments", APPOINTMENT_COLUMNS, appointments),
                                     ("appointment_resources", OCCUPATION_COLUMNS, occupations)):
            marks = ", ".join("?" * len(columns))
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                [plain(r) for r in rows])


def time_endpoint(base_url: str, headers: dict[str, str], clinic: Any, first: datetime,
                  period: timedelta, queries: int, rng: random.Random) -> tuple[list[float], int]:
    """Sorted timings (ms) of ``queries`` next-available requests; how many found a slot."""
    found = 0
    timings = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
        for index in range(queries + 1):
            after = first + timedelta(seconds=rng.uniform(0, period.total_seconds()))
            params = {"clinic_id": clinic.clinic_id, "appointment_type_id": clinic.type_id,
                      "after": after.isoformat()}
            began = time.perf_counter()
            answer = http.get("/api/v1/availability/next", params=params)
            spent = (time.perf_counter() - began) * 1000
            answer.raise_for_status()
            if index == 0:
                continue  # untimed: first-use costs of the process
            timings.append(spent)
            found += answer.json()["slot"] is not None
    return sorted(timings), found


def time_clinic_wide(base_url: str, headers: dict[str, str], clinic: Any, first_day: date,
                     days: int, queries: int, rng: random.Random) -> tuple[list[float], int]:
    """Sorted timings (ms) of ``queries`` clinic-wide free-slot views: ``GET
    /api/v1/availability`` for the check-up, every provider, :data:`VIEW_DAYS` local days
    from a random day of the period; and the number of slots the last one listed."""
    timings = []
    listed = 0
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
        for index in range(queries + 1):
            start = first_day + timedelta(days=rng.randrange(max(1, days - VIEW_DAYS)))
            params = {"clinic_id": clinic.clinic_id, "appointment_type_id": clinic.type_id,
                      "from": start.isoformat(),
                      "to": (start + timedelta(days=VIEW_DAYS - 1)).isoformat()}
            began = time.perf_counter()
            answer = http.get("/api/v1/availability", params=params)
            spent = (time.perf_counter() - began) * 1000
            answer.raise_for_status()
            listed = len(answer.json()["slots"])
            if index:  # the first is untimed: first-use costs of the process
                timings.append(spent)
    return sorted(timings), listed


def time_parts(url: str, clinic: Any, first: datetime, period: timedelta, queries: int,
               rng: random.Random) -> dict[str, list[float]]:
    """In process, sorted timings (ms) of the search as the server runs it
    (:func:`~sync_server.services.calendar.next_available_in_windows`), and of the way it
    ran before: loading the whole 60-day horizon (``load``), then searching (``search``)."""
    from scheduling.availability import next_available
    from scheduling.timeutil import local_date
    from sync_server.api.routes.availability import NEXT_HORIZON_DAYS
    from sync_server.db.session import make_engine, make_session_factory
    from sync_server.services.calendar import Scope, load_state, next_available_in_windows

    engine = make_engine(url)
    timings: dict[str, list[float]] = {"windows": [], "load": [], "search": []}
    try:
        with make_session_factory(engine)() as session:
            for index in range(queries + 1):
                now = datetime.now(UTC)
                after = first + timedelta(seconds=rng.uniform(0, period.total_seconds()))
                began = time.perf_counter()
                windowed = next_available_in_windows(
                    session, clinic.org_id, clinic.clinic_id, clinic.type_id,
                    now=now, after=after, horizon_days=NEXT_HORIZON_DAYS)
                session.rollback()
                second = time.perf_counter()
                day = local_date(max(after, now), "Europe/Madrid")
                state = load_state(session, clinic.org_id, Scope(
                    clinic.clinic_id, day, day + timedelta(days=NEXT_HORIZON_DAYS)))
                third = time.perf_counter()
                whole = next_available(state, clinic.clinic_id, clinic.type_id, now=now,
                                       after=after, horizon_days=NEXT_HORIZON_DAYS)
                done = time.perf_counter()
                session.rollback()
                if windowed != whole:
                    raise AssertionError(f"windowed search found {windowed}, whole {whole}")
                if index:
                    timings["windows"].append((second - began) * 1000)
                    timings["load"].append((third - second) * 1000)
                    timings["search"].append((done - third) * 1000)
    finally:
        engine.dispose()
    return {name: sorted(values) for name, values in timings.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--appointments", type=int, default=500_000)
    parser.add_argument("--providers", type=int, default=50)
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--split", type=int, default=5,
                        help="queries timed in process, load and search apart (0: none)")
    parser.add_argument("--views", type=int, default=20,
                        help="clinic-wide free-slot views timed (0: none)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    print(f"command: {command_line()}")
    with tempfile.TemporaryDirectory(prefix="clinicdesk-bench-") as temporary:
        work = Path(temporary)
        with database(args.database, work) as url:
            began = time.perf_counter()
            clinic = seeded_clinic(url, work, providers=args.providers, rooms=0,
                                   patients=200, codes=0)
            first_day = datetime.now(TZ).date()
            bookings, in_hours = generate(clinic.provider_ids, first_day, args.days,
                                          args.appointments, rng)
            generated = time.perf_counter()
            load(url, clinic, bookings, rng)
            loaded = time.perf_counter()
            print(f"calendar: {args.providers} providers, {len(bookings):,} appointments over "
                  f"{args.days} days ({in_hours:,} in working hours, "
                  f"{len(bookings) - in_hours:,} out of hours); generated in "
                  f"{generated - began:.1f} s, loaded into {args.database} in "
                  f"{loaded - generated:.1f} s")
            first = datetime.now(UTC)
            period = timedelta(days=max(1, args.days - 1))
            with ServerProcess(url, work, workers=1) as server:
                headers = login(server.url, clinic)
                timings, found = time_endpoint(server.url, headers, clinic, first, period,
                                               args.queries, rng)
                views: list[float] = []
                if args.views:
                    views, listed = time_clinic_wide(server.url, headers, clinic, first_day,
                                                     args.days, args.views, rng)
            p50, p95 = percentile(timings, 0.50), percentile(timings, 0.95)
            verdict = "met" if p95 <= GOAL_MS else "missed"
            print(f"GET /api/v1/availability/next over HTTP: {len(timings)} queries, "
                  f"{found} found a slot; p50 = {p50:.1f} ms, p95 = {p95:.1f} ms, "
                  f"max = {timings[-1]:.1f} ms (goal p95 <= {GOAL_MS:.0f} ms: {verdict})")
            if views:
                v50, v95 = percentile(views, 0.50), percentile(views, 0.95)
                print(f"GET /api/v1/availability (clinic-wide view: {args.providers} providers "
                      f"x {VIEW_DAYS} days) over HTTP: {len(views)} queries, the last listed "
                      f"{listed} free slots; p50 = {v50:.1f} ms, p95 = {v95:.1f} ms, "
                      f"max = {views[-1]:.1f} ms (goal p95 <= {VIEW_GOAL_MS:.0f} ms: "
                      f"{'met' if v95 <= VIEW_GOAL_MS else 'missed'}; next-available p95 "
                      f"above = {p95:.1f} ms, ratio {v95 / p95:.1f}x)")
            if args.split:
                parts = time_parts(url, clinic, first, period, args.split, rng)
                print(f"in process, {args.split} queries, same answers both ways: "
                      f"windowed search (as the server runs it) p50 = "
                      f"{percentile(parts['windows'], 0.5):.1f} ms, "
                      f"p95 = {percentile(parts['windows'], 0.95):.1f} ms; before: load the "
                      f"60-day horizon p50 = {percentile(parts['load'], 0.5):.1f} ms, "
                      f"p95 = {percentile(parts['load'], 0.95):.1f} ms, then search p50 = "
                      f"{percentile(parts['search'], 0.5):.1f} ms, "
                      f"p95 = {percentile(parts['search'], 0.95):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
