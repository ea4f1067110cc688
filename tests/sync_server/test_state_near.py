"""A judged command's state reads only the appointments around its blocks
(``Scope.near``), and the rules give the same verdict on it as on the padded days.

The calendar is :mod:`tests.sync_server.test_free_view`'s (both databases): two types
with buffers, one type's buffers grown after its appointments were booked, cancelled
appointments, a second clinic, time off, a holiday, blockouts, an outage. Each of a few
hundred seeded bookings — every type, every provider, starts on a 5-minute grid over
the working day and past it — is judged on the near state and on the full one.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import date, timedelta
from functools import partial

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from scheduling import model
from scheduling.commands import BookAppointment, Policy, Refused
from scheduling.rules import check
from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.services.calendar import Scope, add_appointments, load_state, write_appointment
from sync_server.services.calendar.state import _slot_margins
from tests.e2e.server_side import Clinic, seed_clinic
from tests.scheduling.calendar_fixtures import STAFF as ACTOR
from tests.sync_server.booking_setup import local
from tests.sync_server.test_free_view import FIRST, NOW, calendar  # noqa: F401 (fixture)

POLICY = Policy(max_alternatives=0)


def _verdict(outcome: object) -> tuple[object, ...]:
    if isinstance(outcome, Refused):
        return ("refused", outcome.code, tuple(sorted(outcome.params.items(), key=str)))
    return ("accepted", tuple((a.start, a.end, a.room_id) for a in outcome.appointments))  # type: ignore[attr-defined]


def test_the_rules_judge_a_booking_alike_on_its_near_state_and_on_the_padded_days(
    db: Session,
    calendar: tuple[Clinic, str, str],  # noqa: F811
) -> None:
    clinic, consult, _restricted = calendar
    rng = random.Random(7)
    types = [consult, clinic.type_id, *(t for t in _type_ids(db, clinic) if t != consult)]
    verdicts: set[str] = set()
    narrower = 0
    for _ in range(240):
        day, command = _random_booking(rng, clinic, types, (7, 21), (10, 20, 30, 45, 75))
        assert command.end is not None
        full = Scope(
            clinic.clinic_id,
            day - timedelta(days=1),
            day + timedelta(days=1),
            patient_ids=frozenset({command.patient_id}),
        )
        near = replace(full, near=(command.start, command.end))
        wide_state = load_state(db, clinic.org_id, full)
        near_state = load_state(db, clinic.org_id, near)
        db.rollback()
        narrower += len(near_state.appointments) < len(wide_state.appointments)
        expected = _verdict(check(command, wide_state, NOW, POLICY))
        assert _verdict(check(command, near_state, NOW, POLICY)) == expected, command
        verdicts.add(str(expected[0]) if expected[0] == "accepted" else str(expected[1]))
    # the calendar tells the reasons apart, and the near state is smaller
    wanted = {"accepted", "PROVIDER_BUSY", "BUFFER_CONFLICT", "PATIENT_DOUBLE_BOOKED"}
    assert wanted <= verdicts, verdicts
    assert narrower > 200


def test_the_near_window_reaches_every_buffer(
    db: Session,
    calendar: tuple[Clinic, str, str],  # noqa: F811
) -> None:
    """An appointment ending just inside the longest buffers before a booking's start is
    read; a booking hours later does not read it."""
    clinic, _consult, _restricted = calendar
    day = FIRST + timedelta(days=10)
    full = load_state(db, clinic.org_id, Scope(clinic.clinic_id, day, day))
    db.rollback()
    margin = _slot_margins(full.appointment_types.values())[0]
    ordered = sorted(
        (
            a
            for a in full.appointments.values()
            if a.clinic_id == clinic.clinic_id and a.is_active and a.start.date() == day
        ),
        key=lambda a: a.end,
    )
    target = ordered[len(ordered) // 2]
    just = target.end + margin - timedelta(seconds=1)
    near = load_state(
        db,
        clinic.org_id,
        Scope(clinic.clinic_id, day, day, near=(just, just + timedelta(minutes=30))),
    )
    db.rollback()
    assert target.id in near.appointments
    beyond = load_state(
        db,
        clinic.org_id,
        Scope(
            clinic.clinic_id,
            day,
            day,
            near=(just + timedelta(hours=2), just + timedelta(hours=2, minutes=30)),
        ),
    )
    db.rollback()
    assert target.id not in beyond.appointments


def _type_ids(db: Session, clinic: Clinic) -> list[str]:
    return list(
        db.scalars(
            select(models.AppointmentType.id).where(
                models.AppointmentType.organization_id == clinic.org_id
            )
        )
    )


def test_a_long_appointment_reaching_into_the_window_is_read_with_the_longest_block(
    db: Session,
    settings: Settings,
) -> None:
    """On PostgreSQL the appointments' lower bound (the organization's longest block)
    is read in the same statement as the appointments; an 18-hour appointment started
    the day before still reaches the near window, on both databases."""
    clinic = seed_clinic(db, settings, providers=1, rooms=0, patients=2, codes=0)
    day = FIRST + timedelta(days=3)
    kind = model.AppointmentType(
        clinic.type_id,
        clinic.org_id,
        "Long",
        timedelta(hours=1),
        timedelta(minutes=10),
        timedelta(hours=20),
    )
    start = local(day - timedelta(days=1), 16)
    long_one = model.Appointment(
        str(uuid.uuid4()),
        clinic.org_id,
        clinic.clinic_id,
        clinic.patient_ids[0],
        clinic.type_id,
        clinic.provider_ids[0],
        start,
        start + timedelta(hours=18),
    )
    write_appointment(db, long_one, kind, NOW, overridden=True, new=True)
    db.commit()
    statements: list[str] = []
    engine = db.get_bind()
    listen = partial(event.listen, engine, "before_cursor_execute")
    remove = partial(event.remove, engine, "before_cursor_execute")

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    listen(seen)
    try:
        at = local(day, 9)
        state = load_state(
            db,
            clinic.org_id,
            Scope(clinic.clinic_id, day, day, near=(at, at + timedelta(minutes=30))),
        )
    finally:
        remove(seen)
        db.rollback()
    assert long_one.id in state.appointments
    separate = [s for s in statements if s.lstrip().upper().startswith("SELECT MAX(")]
    if engine.dialect.name == "postgresql":
        assert not separate  # read in the appointments' statement
    else:
        assert len(separate) == 1


def test_a_refusal_offers_the_same_alternatives_from_its_resources_horizon(
    db: Session,
    calendar: tuple[Clinic, str, str],  # noqa: F811
) -> None:
    """A refused booking's alternatives, searched on the near state extended over the
    horizon for the provider, the type's rooms and the patient only (what the server
    reads), are those searched on the clinic's whole horizon."""
    clinic, consult, _restricted = calendar
    rng = random.Random(3)
    types = [consult, clinic.type_id, *(t for t in _type_ids(db, clinic) if t != consult)]
    policy = Policy()
    compared = 0
    for _ in range(120):
        day, command = _random_booking(rng, clinic, types, (8, 19), (10, 20, 30))
        assert command.end is not None
        scope = Scope(clinic.clinic_id, day, day, patient_ids=frozenset({command.patient_id}))
        wide = replace(scope, pad_days=policy.alternatives_horizon_days + 1)
        whole = load_state(db, clinic.org_id, wide)
        expected = check(command, whole, NOW, policy)
        if not isinstance(expected, Refused) or not expected.alternatives:
            db.rollback()
            continue
        kind = whole.appointment_types[command.appointment_type_id]
        offered = {
            command.provider_id,
            *kind.requirement.rooms,
            *(e for group in kind.requirement.equipment for e in group),
        }
        near = load_state(
            db, clinic.org_id, replace(scope, near=(command.start, command.end)), dated_for=wide
        )
        add_appointments(
            db, near, replace(wide, resource_ids=frozenset(offered), only_resources=True), None
        )
        db.rollback()
        assert len(near.appointments) < len(whole.appointments)
        found = check(command, near, NOW, policy)
        assert isinstance(found, Refused)
        assert (found.code, found.alternatives) == (expected.code, expected.alternatives)
        compared += 1
    assert compared > 30


def _random_booking(
    rng: random.Random,
    clinic: Clinic,
    types: list[str],
    hours: tuple[int, int],
    minutes: tuple[int, ...],
) -> tuple[date, BookAppointment]:
    """A booking on a random day of the calendar, starting on the 5-minute grid
    between ``hours``, lasting one of ``minutes``."""
    day = FIRST + timedelta(days=rng.randrange(2, 30))
    start = local(day, 0) + timedelta(minutes=5 * rng.randrange(hours[0] * 12, hours[1] * 12))
    return day, BookAppointment(
        ACTOR,
        str(uuid.uuid4()),
        clinic.clinic_id,
        rng.choice(clinic.patient_ids),
        rng.choice(types),
        rng.choice(clinic.provider_ids),
        start,
        start + timedelta(minutes=rng.choice(minutes)),
    )
