"""A bookable clinic for the booking and sync tests, relative to the test clock.

The clinic comes from the end-to-end suite's seeder (Madrid; two providers working
Mon-Fri 09:00-17:00 with a 13:00-14:00 break; two rooms; a 30-minute check-up that
needs a room; twenty patients; a receptionist; enrollment codes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from scheduling.commands import Actor
from scheduling.sync_protocol import DEVICE_TOKEN_HEADER
from sync_server.core.config import Settings
from sync_server.db import models as db
from sync_server.services import accounts, devices
from sync_server.services.booking import Caller
from tests.e2e.server_side import TZ, Clinic, seed_clinic
from tests.sync_server.conftest import START, Clock, OrgUser, Tenants, sign_in

#: The Monday a week after the test clock's start: every slot below is in the future.
FIRST_DAY = START.date() + timedelta(days=7)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, clock_time(hour, minute), ZoneInfo(TZ)).astimezone(UTC)


def slot(index: int, day: date = FIRST_DAY) -> datetime:
    """The ``index``-th half hour from 09:00 on ``day`` (mornings only: index < 8)."""
    return local(day, 9) + timedelta(minutes=30 * index)


@dataclass
class Booked:
    """A seeded clinic plus signed-in headers for its receptionist and an administrator."""

    clinic: Clinic
    reception: dict[str, str]
    admin: dict[str, str]
    admin_user: OrgUser

    @property
    def org_id(self) -> str:
        return self.clinic.org_id

    def book_body(self, start: datetime, *, provider: int = 0, patient: int = 0,
                  **extra: Any) -> dict[str, Any]:
        return {
            "clinic_id": self.clinic.clinic_id,
            "patient_id": self.clinic.patient_ids[patient],
            "appointment_type_id": self.clinic.type_id,
            "provider_id": self.clinic.provider_ids[provider],
            "start": start.isoformat(),
            **extra,
        }


def seed_booked(client: TestClient, db_session: Session, settings: Settings,
                tenants: Tenants) -> Booked:
    clinic = seed_clinic(db_session, settings)
    reception = sign_in(client, OrgUser(clinic.org_id, clinic.org_slug, "", clinic.user_email))
    admin = tenants.user(clinic.org_id, clinic.org_slug, "administrator")
    return Booked(clinic, reception, sign_in(client, admin), admin)


@contextmanager
def statements(client: TestClient) -> Iterator[list[str]]:
    """The statements sent while the block runs."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = client.app.state.context.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


@dataclass
class Desk:
    client_id: str
    headers: dict[str, str]
    next_id: int = 1

    def mutation(self, name: str, args: dict[str, Any], *, mutation_id: int | None = None,
                 client_time: str | None = None) -> dict[str, Any]:
        if mutation_id is None:
            mutation_id, self.next_id = self.next_id, self.next_id + 1
        return {"id": mutation_id, "name": name, "args": args, "client_time": client_time}

    def push_body(self, mutations: list[dict[str, Any]]) -> dict[str, Any]:
        return {"client_id": self.client_id, "mutations": mutations}


def enroll_desk(db_session: Session, clinic: Clinic, clock: Clock) -> Desk:
    code = clinic.codes.pop()
    enrollment = devices.enroll(db_session, code, "Front desk", clock())
    db_session.rollback()
    return Desk(enrollment.client_id, {DEVICE_TOKEN_HEADER: enrollment.device_token})


def counts(db_session: Session, org_id: str) -> dict[str, int]:
    """How many rows of each kind the organization has (to prove nothing was written)."""
    db_session.rollback()  # see the latest commits; hold no SQLite write lock afterwards
    tables = {"appointments": db.Appointment, "occupations": db.AppointmentResource,
              "changes": db.ChangeLogEntry, "conflicts": db.Conflict, "audit": db.AuditEntry,
              "series": db.Series}
    found = {
        name: int(db_session.scalar(select(func.count()).select_from(table)
                                    .where(table.organization_id == org_id)) or 0)
        for name, table in tables.items()
    }
    db_session.rollback()
    return found


def active_overlaps(db_session: Session) -> int:
    """Overlapping active, exclusive occupations of one resource (must always be 0)."""
    a, b = db.AppointmentResource, db.AppointmentResource.__table__.alias("other")
    db_session.rollback()
    found = int(db_session.scalar(
        select(func.count()).select_from(a).join(b, (a.resource_id == b.c.resource_id)
                                                 & (a.id < b.c.id))
        .where(a.active.is_(True), b.c.active.is_(True),
               a.group_member.is_(False), b.c.group_member.is_(False),
               a.overridden.is_(False), b.c.overridden.is_(False),
               a.block_start < b.c.block_end, b.c.block_start < a.block_end)) or 0)
    db_session.rollback()
    return found


API = "/api/v1"


def book(client: TestClient, booked: Booked, **body: object) -> dict[str, Any]:
    """Book over REST as the receptionist; the appointment's wire form (201 expected)."""
    response = client.post(f"{API}/appointments", json=body, headers=booked.reception)
    assert response.status_code == 201, response.text
    appointment: dict[str, Any] = response.json()["appointments"][0]
    return appointment


def staff_caller(sessions: Any, booked: Booked) -> Caller:
    """The receptionist as the booking services see a REST caller."""
    with sessions() as session:
        user_id = session.scalar(select(db.User.id).where(
            db.User.organization_id == booked.org_id, db.User.email == booked.clinic.user_email))
        assert user_id is not None
        principal = accounts.load_principal(session, user_id, booked.org_id)
        assert principal is not None
    return Caller(booked.org_id, Actor(principal.user_id, None, principal.permissions),
                  principal.actor)
