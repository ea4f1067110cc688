"""A clinic with a calendar worth publishing, booked through the real API.

:func:`seed_calendar` seeds the end-to-end clinic in a given zone and books, for
provider 0: a Mon/Thu 09:00 series of 70 occurrences over both DST changes of
2026, three occurrences moved (one to another day), two cancelled, single visits
on the days right after the DST changes and a cancelled single visit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.ical import ICAL_STATUS
from scheduling.recurrence import expand
from scheduling.series import occurrence_id
from sync_server.core.config import Settings
from sync_server.db import models as db
from tests.e2e.server_side import Clinic, seed_clinic
from tests.support.records import by_id
from tests.sync_server.conftest import OrgUser, Tenants, sign_in

SERIES_RULE = "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=70"
SERIES_FIRST = datetime(2026, 3, 5, 9, 0)  # a Thursday, before both spring changes
MOVED = (1, 8, 60)  # occurrence indexes: after NY's and Madrid's spring change, in October
CANCELLED = (2, 40)
#: Mondays right after the DST changes of each zone.
AFTER_DST = {"America/New_York": (date(2026, 3, 9), date(2026, 11, 2)),
             "Europe/Madrid": (date(2026, 3, 30), date(2026, 10, 26))}


@dataclass
class Calendar:
    clinic: Clinic
    tz: str
    reception: dict[str, str]
    admin: dict[str, str]
    series_id: str = ""
    occurrence_ids: list[str] = field(default_factory=list)
    single_ids: list[str] = field(default_factory=list)

    @property
    def provider_id(self) -> str:
        return self.clinic.provider_ids[0]

    def local(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), ZoneInfo(self.tz)).astimezone(UTC)


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def empty_calendar(client: TestClient, db_session: Session, settings: Settings,
                   tenants: Tenants, tz: str = "Europe/Madrid") -> Calendar:
    """The seeded clinic with nothing booked, its receptionist's and an admin's headers."""
    clinic = seed_clinic(db_session, settings, tz=tz)
    reception = sign_in(client, OrgUser(clinic.org_id, clinic.org_slug, "", clinic.user_email))
    admin = sign_in(client, tenants.user(clinic.org_id, clinic.org_slug, "administrator"))
    return Calendar(clinic, tz, reception, admin)


def seed_calendar(client: TestClient, db_session: Session, settings: Settings,
                  tenants: Tenants, tz: str) -> Calendar:
    cal = empty_calendar(client, db_session, settings, tenants, tz)
    clinic, reception = cal.clinic, cal.reception
    booked = _ok(client.post("/api/v1/series", headers=reception, json={
        "clinic_id": clinic.clinic_id, "patient_id": clinic.patient_ids[0],
        "appointment_type_id": clinic.type_id, "provider_id": cal.provider_id,
        "room_id": clinic.room_ids[0], "rrule": SERIES_RULE,
        "first_local": SERIES_FIRST.isoformat(), "notes": "Knee, left; follow-up"}))
    cal.series_id = booked["series"][0]["id"]
    occurrences = expand(SERIES_RULE, SERIES_FIRST, tz)
    cal.occurrence_ids = [occurrence_id(cal.series_id, o.original_local) for o in occurrences]
    for number, index in enumerate(MOVED):
        day = occurrences[index].local_start.date() + timedelta(days=1 if number == 1 else 0)
        move(client, cal, cal.occurrence_ids[index], cal.local(day, (11, 10, 15)[number]))
    for index in CANCELLED:
        _ok(client.post(f"/api/v1/series/{cal.series_id}/edit", headers=reception, json={
            "appointment_id": cal.occurrence_ids[index], "scope": "this", "action": "cancel",
            "reason": "Patient travelling"}))
    for day in AFTER_DST[tz]:
        cal.single_ids.append(book(client, cal, cal.local(day, 15), patient=1))
    cancelled = book(client, cal, cal.local(AFTER_DST[tz][0] + timedelta(days=1), 15),
                     patient=2)
    _ok(client.post(f"/api/v1/appointments/{cancelled}/cancel", headers=reception,
                    json={"reason": "Rescheduling by phone"}))
    cal.single_ids.append(cancelled)
    return cal


def book(client: TestClient, cal: Calendar, start: datetime, *, patient: int = 0,
         provider: int = 0, **extra: Any) -> str:
    body = _ok(client.post("/api/v1/appointments", headers=cal.reception, json={
        "clinic_id": cal.clinic.clinic_id, "patient_id": cal.clinic.patient_ids[patient],
        "appointment_type_id": cal.clinic.type_id,
        "provider_id": cal.clinic.provider_ids[provider], "start": start.isoformat(),
        **extra}))
    appointment_id: str = body["appointments"][0]["id"]
    return appointment_id


def move(client: TestClient, cal: Calendar, appointment_id: str, start: datetime,
         **extra: Any) -> dict[str, Any]:
    return _ok(client.post(f"/api/v1/appointments/{appointment_id}/move",
                           headers=cal.reception, json={"start": start.isoformat(), **extra}))


def create_feed(client: TestClient, headers: dict[str, str], resource_id: str,
                **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/feeds", headers=headers,
                           json={"resource_id": resource_id, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def expected_occurrences(db_session: Session, cal: Calendar) -> set[tuple[datetime, datetime, str]]:
    """What the provider's feed must show, from the core: the series' expansion (every
    occurrence's row by its core id) and the single appointments, with their status."""
    db_session.rollback()
    series = by_id(db_session, db.Series, cal.series_id)
    assert series is not None
    ids = [occurrence_id(series.id, o.original_local)
           for o in expand(series.rrule, series.first_local, cal.tz)]
    rows = {row.id: row for row in db_session.scalars(select(db.Appointment).where(
        db.Appointment.id.in_(ids + cal.single_ids)))}
    db_session.rollback()
    found = set()
    for appointment_id in ids + cal.single_ids:
        row = rows[appointment_id]
        status = ICAL_STATUS[row.status]
        if status is not None and row.provider_id == cal.provider_id:
            found.add((row.start_at, row.end_at, status))
    return found
