"""The booking path's occupation insert (``_occupy``, Core on the table): rows written
with every column, and on PostgreSQL a row the exclusion guard refuses names its
resource instead of failing the transaction (SQLite has no such guard)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import model
from sync_server.db import models
from sync_server.services.booking.occupancy import _occupy
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
