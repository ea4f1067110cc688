"""The clinic-wide free-slot view's sweep gives the rules engine's answer, slot for slot.

A seeded calendar (both databases) full of what the rules look at: two types with
buffers (one's buffers grown after its appointments were booked), cancelled
appointments, a second clinic where a provider also works, time off, extra hours, a
holiday, blockouts, an outage, a restricted provider with a lead time, the type's
minimum notice and booking horizon, a daylight-saving change, the past. Every view
is compared with :func:`scheduling.availability.free_slots` judging each start on
the full calendar state.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from datetime import time as clock_time

import pytest
from sqlalchemy.orm import Session

from scheduling import model
from scheduling.availability import SlotQuery, free_slots
from scheduling.slot_sweep import sweepable
from sync_server.core.config import Settings
from sync_server.db import models as db
from sync_server.services.agenda import free_slots_between
from sync_server.services.calendar import Scope, load_state, write_appointment
from sync_server.services.calendar.state import bare_state
from tests.e2e.server_side import Clinic, seed_clinic
from tests.sync_server.booking_setup import local
from tests.sync_server.conftest import START

NOW = START + timedelta(hours=3)  # Monday 2026-03-02, 12:00 in Madrid
FIRST = START.date() - timedelta(days=2)
DAYS = 36  # across the switch to summer time (2026-03-29)


def _type(session: Session, org: str, name: str, minutes: int, before: int, after: int,
          **extra: object) -> str:
    type_id = str(uuid.uuid4())
    session.add(db.AppointmentType(
        id=type_id, organization_id=org, name=name, default_duration_seconds=minutes * 60,
        min_duration_seconds=600, max_duration_seconds=7200, buffer_before_seconds=before * 60,
        buffer_after_seconds=after * 60,
        requirement={"providers": [], "rooms": [], "equipment": []}, **extra))
    return type_id


def _book(session: Session, clinic: Clinic, clinic_id: str, provider: str, type_row: str,
          day: date, minute: int, length: int, status: model.AppointmentStatus,
          rng: random.Random) -> None:
    kind_row = session.get(db.AppointmentType, type_row)
    assert kind_row is not None
    kind = model.AppointmentType(
        type_row, clinic.org_id, kind_row.name,
        timedelta(seconds=kind_row.default_duration_seconds), timedelta(minutes=10),
        timedelta(hours=2),
        buffer_before=timedelta(seconds=kind_row.buffer_before_seconds),
        buffer_after=timedelta(seconds=kind_row.buffer_after_seconds))
    start = local(day, 0) + timedelta(minutes=minute)
    record = model.Appointment(
        str(uuid.uuid4()), clinic.org_id, clinic_id, rng.choice(clinic.patient_ids), type_row,
        provider, start, start + timedelta(minutes=length), status=status)
    row = write_appointment(session, record, kind, NOW, overridden=True, new=True)
    session.add(db.AppointmentResource(
        id=str(uuid.uuid4()), organization_id=clinic.org_id, appointment_id=record.id,
        resource_id=provider, block_start=row.block_start, block_end=row.block_end,
        active=row.active, overridden=True, group_member=False))


def _seed(session: Session, settings: Settings) -> tuple[Clinic, str, str]:
    """The calendar; the sweepable type's id and the restricted provider's id."""
    rng = random.Random(11)
    clinic = seed_clinic(session, settings, providers=3, rooms=1, patients=10, codes=0)
    org, first, second, third = clinic.org_id, *clinic.provider_ids
    consult = _type(session, org, "Consult", 20, 5, 10, min_notice_seconds=7200,
                    max_days_ahead=30)
    long_one = _type(session, org, "Long", 50, 0, 15)
    other = str(uuid.uuid4())
    session.add(db.Clinic(id=other, organization_id=org, name="Salamanca",
                          time_zone="Europe/Madrid", locale="es_ES"))
    session.flush()
    session.add(db.ResourceClinic(resource_id=first, clinic_id=other, organization_id=org))
    restricted = session.get(db.Resource, third)
    assert restricted is not None
    restricted.restricted, restricted.min_lead_time_seconds = True, 3 * 86400
    for weekday in (5,):  # the second provider works Saturday mornings too
        session.add(db.WeeklySchedule(
            id=str(uuid.uuid4()), organization_id=org, provider_id=second,
            clinic_id=clinic.clinic_id, weekday=weekday, start_time=clock_time(10),
            end_time=clock_time(13, 30), breaks=[]))
    day = FIRST + timedelta(days=9)
    session.add_all([
        db.ScheduleException(id=str(uuid.uuid4()), organization_id=org, provider_id=first,
                             clinic_id=clinic.clinic_id, kind="time_off",
                             start_at=local(day, 10, 15), end_at=local(day, 12, 40)),
        db.ScheduleException(id=str(uuid.uuid4()), organization_id=org, provider_id=second,
                             clinic_id=clinic.clinic_id, kind="extra_hours",
                             start_at=local(day, 17), end_at=local(day, 19, 10)),
        db.Holiday(id=str(uuid.uuid4()), organization_id=org, clinic_id=clinic.clinic_id,
                   day=day + timedelta(days=1), name="Fiesta"),
        db.Blockout(id=str(uuid.uuid4()), organization_id=org, clinic_id=clinic.clinic_id,
                    resource_id=None, start_at=local(day + timedelta(days=2), 11),
                    end_at=local(day + timedelta(days=2), 11, 50)),
        db.Blockout(id=str(uuid.uuid4()), organization_id=org, clinic_id=clinic.clinic_id,
                    resource_id=second, start_at=local(day + timedelta(days=3), 15, 5),
                    end_at=local(day + timedelta(days=3), 16, 20)),
        db.Outage(id=str(uuid.uuid4()), organization_id=org, resource_id=first,
                  start_at=local(day + timedelta(days=7), 9),
                  end_at=local(day + timedelta(days=7), 10)),
    ])
    statuses = [model.AppointmentStatus.BOOKED] * 6 + [model.AppointmentStatus.CANCELLED]
    for offset in range(DAYS + 2):
        each = FIRST + timedelta(days=offset)
        for provider in clinic.provider_ids:
            for _ in range(rng.randrange(4, 12)):
                where = other if provider == first and rng.random() < 0.2 else clinic.clinic_id
                kind = rng.choice([consult, long_one, clinic.type_id])
                _book(session, clinic, where, provider, kind, each,
                      rng.randrange(7 * 12, 20 * 12) * 5, rng.choice((10, 20, 30, 45, 75)),
                      rng.choice(statuses), rng)
    session.flush()
    grown = session.get(db.AppointmentType, long_one)
    assert grown is not None
    grown.buffer_before_seconds, grown.buffer_after_seconds = 10 * 60, 25 * 60
    session.commit()
    return clinic, consult, third


@pytest.fixture
def calendar(db: Session, settings: Settings) -> tuple[Clinic, str, str]:
    return _seed(db, settings)


@pytest.mark.parametrize(("start", "days", "providers"), [
    (0, 31, None), (5, 14, "first"), (20, 16, "second and third"), (9, 3, None)])
def test_the_view_lists_exactly_the_slots_the_rules_accept(
    db: Session, calendar: tuple[Clinic, str, str], start: int, days: int,
    providers: str | None,
) -> None:
    clinic, consult, _restricted = calendar
    first_day = FIRST + timedelta(days=start)
    last_day = first_day + timedelta(days=days - 1)
    chosen = {None: None, "first": clinic.provider_ids[:1],
              "second and third": clinic.provider_ids[1:]}[providers]
    asked = tuple(chosen) if chosen else None
    query = SlotQuery(clinic.clinic_id, consult, first_day, last_day, asked)
    scope = Scope(clinic.clinic_id, first_day, last_day)
    assert sweepable(bare_state(db, clinic.org_id, scope, keep_config=True), query)

    swept = free_slots_between(db, clinic.org_id, clinic.clinic_id, consult, first_day,
                               last_day, asked, NOW)
    db.rollback()
    judged = free_slots(load_state(db, clinic.org_id, scope), query, now=NOW)
    db.rollback()

    assert swept == judged
    assert len(judged) > 20


def test_the_view_of_a_type_needing_a_room_is_the_rules_answer_too(
    db: Session, calendar: tuple[Clinic, str, str],
) -> None:
    clinic, _consult, _restricted = calendar
    first_day, last_day = FIRST + timedelta(days=2), FIRST + timedelta(days=8)
    query = SlotQuery(clinic.clinic_id, clinic.type_id, first_day, last_day)
    scope = Scope(clinic.clinic_id, first_day, last_day)
    assert not sweepable(bare_state(db, clinic.org_id, scope, keep_config=True), query)

    listed = free_slots_between(db, clinic.org_id, clinic.clinic_id, clinic.type_id,
                                first_day, last_day, None, NOW)
    db.rollback()

    assert listed == free_slots(load_state(db, clinic.org_id, scope), query, now=NOW)
    assert listed


def test_the_calendar_is_busy_enough_to_tell(
    db: Session, calendar: tuple[Clinic, str, str],
) -> None:
    """The seeded calendar refuses starts for each reason the sweep reproduces."""
    clinic, consult, restricted = calendar
    first_day = FIRST + timedelta(days=2)
    last_day = first_day + timedelta(days=30)
    swept = free_slots_between(db, clinic.org_id, clinic.clinic_id, consult, first_day,
                               last_day, None, NOW)
    db.rollback()
    assert swept is not None
    by_provider = {p: [s for s in swept if s.provider_id == p] for p in clinic.provider_ids}
    assert min(s.start for s in by_provider[restricted]) >= NOW + timedelta(days=3)
    assert min(s.start for s in swept) >= NOW + timedelta(hours=2)
    assert max(s.start for s in swept).date() <= NOW.date() + timedelta(days=31)
    assert any(s.start.weekday() == 5 for s in by_provider[clinic.provider_ids[1]])
