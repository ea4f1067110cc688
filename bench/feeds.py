"""A provider's calendar feed of ``--events`` appointments served by a real uvicorn server.

The end-to-end suite's clinic (Madrid) gets ``--events`` appointments for one
provider over the feed's window (written straight into the database), and a
``busy`` feed of that provider. A real sync server process (uvicorn, loopback)
serves it to one keep-alive client:

* first GET: the feed built from nothing (every VEVENT rendered);
* full GET ×``--requests`` (no ``If-None-Match``): p50/p95;
* 304 ×``--requests`` (``If-None-Match`` = the ETag): p50/p95;
  (full GET, 304 and the floor below are taken in turn, one of each per round);
* one changed event ×``--changes``: an appointment moved through the change-log
  write (which moves the feed's version), then a GET: p50/p95 — one VEVENT is
  rendered again, the other fragments are reused;
* floor: ``GET /api/v1/health`` (one ``SELECT 1``) on the same connection;
* baseline, in this process and run: the same events built naively with
  ``icalendar`` (one Calendar, one Event per appointment, ``to_ical()``): median.

Goals: full GET p95 ≤ 100 ms, 304 p95 ≤ 5 ms, one changed event re-served ≤ 20 ms.

    .venv/bin/python bench/feeds.py [--events 5000] [--requests 200] [--database sqlite]
    .venv/bin/python bench/feeds.py --events 200 --requests 20 --changes 3   # smoke size
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._server import (  # noqa: E402
    ServerProcess,
    command_line,
    database,
    percentile,
    seeded_clinic,
)

GOALS = {"full": 100.0, "not_modified": 5.0, "changed": 20.0}
TZ = "Europe/Madrid"


def seed_events(url: str, clinic: Any, count: int) -> tuple[str, list[str]]:
    """``count`` appointments of provider 0 from tomorrow on (14 a day, 08:00-22:00 local),
    and a busy feed of that provider: (feed token, appointment ids)."""
    from sqlalchemy import insert

    from sync_server.db import models as db
    from sync_server.db.session import make_engine, make_session_factory
    from sync_server.feeds import service

    now = datetime.now(UTC)
    first_day = now.astimezone(ZoneInfo(TZ)).date() + timedelta(days=1)
    rows, ids = [], []
    for index in range(count):
        day = first_day + timedelta(days=index // 14)
        start = datetime.combine(day, clock_time(8), ZoneInfo(TZ)).astimezone(UTC) \
            + timedelta(hours=index % 14)
        appointment_id = str(uuid.uuid4())
        ids.append(appointment_id)
        rows.append({
            "id": appointment_id, "organization_id": clinic.org_id,
            "clinic_id": clinic.clinic_id, "patient_id": clinic.patient_ids[index % 20],
            "appointment_type_id": clinic.type_id, "provider_id": clinic.provider_ids[0],
            "room_id": clinic.room_ids[index % 2], "equipment_ids": [],
            "start_at": start, "end_at": start + timedelta(minutes=30),
            "block_start": start, "block_end": start + timedelta(minutes=30),
            "status": "booked", "source": "staff", "notes": "", "patient_notes": "",
            "series_id": None, "original_start": None, "deleted": False, "active": True,
            "overridden": False, "version": 1, "reschedule_count": 0, "created_at": now,
            "updated_at": now})
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            session.execute(insert(db.Appointment), rows)
            created = service.create_feed(session, clinic.org_id, clinic.provider_ids[0], now)
            session.commit()
            return created.token, ids
    finally:
        engine.dispose()


def change_one(url: str, org_id: str, appointment_id: str) -> None:
    """Move one appointment by 15 minutes through the change-log write (as a booking
    service does), which moves the provider's feed version."""
    from sqlalchemy import select

    from scheduling.wire import to_wire
    from sync_server.db import models as db
    from sync_server.db.session import make_engine, make_session_factory
    from sync_server.feeds import versions as feed_versions
    from sync_server.services import changes
    from sync_server.services.calendar import appointment_record

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            row = session.scalars(select(db.Appointment)
                                  .where(db.Appointment.id == appointment_id)).one()
            row.start_at += timedelta(minutes=15)
            row.end_at += timedelta(minutes=15)
            row.block_start, row.block_end = row.start_at, row.end_at
            row.version += 1
            row.updated_at = datetime.now(UTC)
            session.flush()
            version = changes.bump_version(session, org_id)
            record = appointment_record(row)
            changes.record_change(session, org_id, version, "appointment", row.id, "upsert",
                                  to_wire(record))
            # What the unit of work's AppointmentMoved handler does for a booking service.
            feed_versions.note_appointment_change(session, org_id,
                                                  [record.provider_id, record.room_id or ""])
            session.commit()
    finally:
        engine.dispose()


def naive_rebuild(url: str, org_id: str, provider_id: str) -> float:
    """Seconds to read the same appointments and build the calendar with ``icalendar``
    from scratch, the way a feed without fragments or ETag would on every poll."""
    import icalendar
    from sqlalchemy import select

    from scheduling.ical import vtimezone
    from sync_server.db import models as db
    from sync_server.db.session import make_engine, make_session_factory

    engine = make_engine(url)
    zone = ZoneInfo(TZ)
    try:
        with make_session_factory(engine)() as session:
            started = time.perf_counter()
            rows = session.execute(select(db.Appointment).where(
                db.Appointment.organization_id == org_id,
                db.Appointment.provider_id == provider_id)).scalars().all()
            calendar = icalendar.Calendar()
            calendar.add("prodid", "-//naive//EN")
            calendar.add("version", "2.0")
            calendar.add_component(vtimezone(TZ, 2025, 2028))
            for row in rows:
                event = icalendar.Event()
                event.add("uid", f"{row.id}@clinicdesk")
                event.add("dtstamp", row.updated_at)
                event.add("last-modified", row.updated_at)
                event.add("sequence", row.version)
                event.add("dtstart", row.start_at.astimezone(zone))
                event.add("dtend", row.end_at.astimezone(zone))
                event.add("status", "CONFIRMED")
                event.add("transp", "OPAQUE")
                event.add("summary", "Busy")
                event.add("location", "Retiro")
                event.add("class", "PRIVATE")
                calendar.add_component(event)
            calendar.to_ical()
            elapsed = time.perf_counter() - started
            session.rollback()
            return elapsed
    finally:
        engine.dispose()


def timed(client: Any, path: str, headers: dict[str, str] | None = None) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.get(path, headers=headers or {})
    return (time.perf_counter() - started) * 1000, response


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    return f"p50 {percentile(ordered, 0.5):.2f} ms, p95 {percentile(ordered, 0.95):.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()

    import httpx

    print(f"command: {command_line()}")
    with tempfile.TemporaryDirectory() as tmp, database(args.database, Path(tmp)) as url:
        work = Path(tmp)
        clinic = seeded_clinic(url, work)
        token, ids = seed_events(url, clinic, args.events)
        path = f"/feeds/{token}.ics"
        with ServerProcess(url, work) as server, httpx.Client(base_url=server.url,
                                                              timeout=60) as client:
            cold, first = timed(client, path)
            assert first.status_code == 200, first.status_code
            events = first.content.count(b"BEGIN:VEVENT")
            etag = first.headers["ETag"]
            print(f"setup: {args.database}, one provider feed of {events} events "
                  f"({len(first.content) / 1e6:.2f} MB), busy privacy, {args.requests} requests")
            print(f"first GET (built from nothing): {cold:.1f} ms")
            # Interleaved (full GET, 304, health floor, in turn), so the three see the
            # same moments of a shared machine and their ratios compare like with like.
            full, cached, floor = [], [], []
            for _ in range(args.requests):
                elapsed, response = timed(client, path)
                assert response.status_code == 200 and len(response.content) == len(first.content)
                full.append(elapsed)
                elapsed, response = timed(client, path, {"If-None-Match": etag})
                assert response.status_code == 304
                cached.append(elapsed)
                elapsed, response = timed(client, "/api/v1/health")
                assert response.status_code == 200
                floor.append(elapsed)
            changed = []
            for number in range(args.changes):
                change_one(url, clinic.org_id, ids[(number * 7919) % len(ids)])
                elapsed, response = timed(client, path, {"If-None-Match": etag})
                assert response.status_code == 200 and response.headers["ETag"] != etag
                etag = response.headers["ETag"]
                changed.append(elapsed)
        naive = [naive_rebuild(url, clinic.org_id, clinic.provider_ids[0]) * 1000
                 for _ in range(3)]
    naive_ms = statistics.median(naive)
    floor_p50 = percentile(sorted(floor), 0.5)
    print(f"floor, GET /api/v1/health (one SELECT 1) on the same connection: {summary(floor)}")
    for label, values, goal in (("full GET", full, GOALS["full"]),
                                ("304 Not Modified", cached, GOALS["not_modified"]),
                                ("one changed event re-served", changed, GOALS["changed"])):
        p95 = percentile(sorted(values), 0.95)
        verdict = "met" if p95 <= goal else "NOT met"
        p50 = percentile(sorted(values), 0.5)
        print(f"{label}: {summary(values)} (goal p95 <= {goal:g} ms: {verdict}); "
              f"naive rebuild / p50 = {naive_ms / p50:.1f}x; p50 / health floor = "
              f"{p50 / floor_p50:.1f}x")
    print(f"baseline, naive icalendar rebuild of the same events (read + build, in process): "
          f"median {naive_ms:.1f} ms of {len(naive)}")
    print(f"ratio first GET / naive rebuild = {cold / naive_ms:.2f}")
    print(f"load average at the end: {Path('/proc/loadavg').read_text().split()[0]}"
          if Path("/proc/loadavg").exists() else "")


if __name__ == "__main__":
    main()
