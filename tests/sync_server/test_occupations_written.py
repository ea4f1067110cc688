"""The booking path's occupation insert (``_occupy``, Core on the table): rows written
with every column, and on PostgreSQL a row the exclusion guard refuses names its
resource instead of failing the transaction (SQLite has no such guard)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import model
from sync_server.db import models
from sync_server.services.booking.occupancy import _insert_new, _occupy
from tests.sync_server.test_database import T0, booking_scaffold, occupy, second_appointment

KIND = model.AppointmentType(
    "t",
    "o",
    "Checkup",
    timedelta(minutes=30),
    timedelta(minutes=15),
    timedelta(hours=1),
    buffer_after=timedelta(minutes=5),
)


def _record(db: Session, appointment_id: str, start: int, end: int) -> model.Appointment:
    row = db.scalars(
        select(models.Appointment).where(models.Appointment.id == appointment_id)
    ).one()
    assert row is not None
    return model.Appointment(
        row.id,
        row.organization_id,
        row.clinic_id,
        row.patient_id,
        row.appointment_type_id,
        row.provider_id,
        T0 + timedelta(minutes=start),
        T0 + timedelta(minutes=end),
    )


def test_occupations_are_written_with_their_block_and_flags(db: Session) -> None:
    org_id, provider_id, appointment_id = booking_scaffold(db)
    refused = _occupy(db, org_id, _record(db, appointment_id, 60, 90), KIND, overridden=True)
    assert refused is None
    rows = db.scalars(
        select(models.AppointmentResource).where(
            models.AppointmentResource.appointment_id == appointment_id
        )
    ).all()
    assert [
        (r.resource_id, r.block_start, r.block_end, r.active, r.overridden, r.group_member)
        for r in rows
    ] == [(provider_id, T0 + timedelta(minutes=60), T0 + timedelta(minutes=95), True, True, False)]
    db.rollback()


def test_an_occupation_the_guard_refuses_is_named(db: Session) -> None:
    org_id, provider_id, appointment_id = booking_scaffold(db)
    other = second_appointment(db, appointment_id)
    occupy(db, org_id, provider_id, appointment_id, 0, 30)
    clash = _record(db, other, 15, 45)
    if db.get_bind().dialect.name == "postgresql":
        assert _occupy(db, org_id, clash, KIND, overridden=False) == provider_id
        # the transaction goes on: a later occupation is still written
        assert _occupy(db, org_id, _record(db, other, 120, 150), KIND, overridden=False) is None
    else:  # SQLite has no exclusion guard: its writers are serialized (the write lock
        # at BEGIN) and the rules judge under it
        assert _occupy(db, org_id, clash, KIND, overridden=False) is None
    db.rollback()


class _Kinds:
    """The one method of a calendar state that the lone insert asks."""

    def appointment_type(self, _type_id: str) -> model.AppointmentType:
        return KIND


def _new_record(db: Session, like: str, start: int, end: int) -> model.Appointment:
    record = _record(db, like, start, end)
    return dataclasses.replace(record, id=str(uuid.uuid4()))


def _rows(db: Session, appointment_id: str) -> tuple[int, int]:
    appointments = db.scalars(
        select(models.Appointment.id).where(models.Appointment.id == appointment_id)).all()
    held = db.scalars(select(models.AppointmentResource.id).where(
        models.AppointmentResource.appointment_id == appointment_id)).all()
    return len(appointments), len(held)


def test_a_lone_new_appointment_is_inserted_with_its_row_and_occupation(db: Session) -> None:
    """A REST booking's one new appointment: its row (every value of the record) and its
    occupation, written with Core and no savepoint."""
    org_id, _provider, appointment_id = booking_scaffold(db)
    record = _new_record(db, appointment_id, 60, 90)
    now = T0 - timedelta(days=1)
    assert _insert_new(db, org_id, record, _Kinds(), now, overridden=True) is None  # type: ignore[arg-type]
    row = db.scalars(select(models.Appointment).where(models.Appointment.id == record.id)).one()
    assert (row.start_at, row.end_at, row.block_start, row.block_end, row.overridden,
            row.created_at, row.patient_id, row.status) == (
        record.start, record.end, record.start - KIND.buffer_before,
        record.end + KIND.buffer_after, True, now, record.patient_id, record.status.value)
    assert _rows(db, record.id) == (1, 1)
    db.rollback()


def test_a_lone_new_appointment_the_guard_refuses_leaves_no_row(db: Session) -> None:
    """On PostgreSQL, when the guard refuses the occupation, the new row is deleted again
    (its occupations cascade) and the transaction goes on; without the delete the row
    would stay, booked with no occupation."""
    org_id, provider_id, appointment_id = booking_scaffold(db)
    occupy(db, org_id, provider_id, appointment_id, 0, 30)
    clash = _new_record(db, appointment_id, 15, 45)
    refused = _insert_new(db, org_id, clash, _Kinds(), T0, overridden=False)  # type: ignore[arg-type]
    if db.get_bind().dialect.name == "postgresql":
        assert refused == (provider_id, clash)
        assert _rows(db, clash.id) == (0, 0)
    else:  # no exclusion guard on SQLite: its writers are serialized, the rules judge
        assert refused is None
        assert _rows(db, clash.id) == (1, 1)
    later = _new_record(db, appointment_id, 120, 150)
    assert _insert_new(db, org_id, later, _Kinds(), T0, overridden=False) is None  # type: ignore[arg-type]
    assert _rows(db, later.id) == (1, 1)
    db.rollback()
