"""A refusal's horizon keeps its appointment records between requests, by row version.

On PostgreSQL each record read for a refusal's alternatives is kept with its row's
``xmin`` and ``ctid``: read again unchanged, the kept record itself comes back; written
in any way (here a bare UPDATE that leaves the ``version`` column alone, and two writes
in one transaction, which share the ``xmin``), it is read again. SQLite keeps nothing.
The calendar is :mod:`tests.sync_server.test_free_view`'s.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from scheduling import model
from sync_server.db import models
from sync_server.services.calendar import Scope, add_appointments, load_state
from sync_server.services.calendar.kept_appointments import KEPT_APPOINTMENTS, KeptAppointments
from tests.e2e.server_side import Clinic
from tests.sync_server.booking_setup import local
from tests.sync_server.test_free_view import FIRST, calendar  # noqa: F401 (fixture)

HORIZON_DAYS = 14


def _horizon(db: Session, clinic: Clinic) -> dict[str, model.Appointment]:
    """The records a refusal on the calendar's tenth day adds over its horizon for the
    first provider (what the near state did not hold)."""
    day = FIRST + timedelta(days=10)
    start = local(day, 10)
    scope = Scope(clinic.clinic_id, day, day, patient_ids=frozenset({clinic.patient_ids[0]}))
    wide = replace(scope, pad_days=HORIZON_DAYS + 1)
    near = load_state(db, clinic.org_id, replace(scope, near=(start, start)), dated_for=wide)
    before = set(near.appointments)
    add_appointments(db, near, replace(
        wide, resource_ids=frozenset({clinic.provider_ids[0]}), only_resources=True), None)
    return {i: a for i, a in near.appointments.items() if i not in before}


def test_a_record_read_again_unchanged_is_the_kept_one_and_a_written_row_is_read_again(
    db: Session, calendar: tuple[Clinic, str, str],  # noqa: F811
) -> None:
    clinic = calendar[0]
    KEPT_APPOINTMENTS.clear()
    first = _horizon(db, clinic)
    db.rollback()
    assert len(first) > 10  # a busy provider's two weeks
    postgres = db.get_bind().dialect.name == "postgresql"
    assert len(KEPT_APPOINTMENTS) == (len(first) if postgres else 0)

    again = _horizon(db, clinic)
    db.rollback()
    assert again == first
    # The provider's (not the patient's: those come by the patient's own leg) are mapped
    # once, on PostgreSQL.
    occupying = [i for i, a in first.items() if a.patient_id != clinic.patient_ids[0]]
    assert len(occupying) > 10
    assert all((again[i] is first[i]) == postgres for i in occupying)

    written = occupying[0]
    db.execute(update(models.Appointment).where(models.Appointment.id == written)
               .values(notes="moved to the morning list"))  # the version column left alone
    db.commit()
    third = _horizon(db, clinic)
    db.rollback()
    assert third[written].notes == "moved to the morning list"
    assert third[written] is not first[written]
    assert all((third[i] is first[i]) == postgres for i in occupying if i != written)


def test_two_writes_of_one_row_in_one_transaction_are_two_versions(
    db: Session, calendar: tuple[Clinic, str, str],  # noqa: F811
) -> None:
    """Both writes share the transaction's ``xmin``; the kept record of the first must
    not stand for the second."""
    clinic = calendar[0]
    written = sorted(_horizon(db, clinic))[0]
    db.rollback()
    for notes in ("first write", "second write"):
        db.execute(update(models.Appointment).where(models.Appointment.id == written)
                   .values(notes=notes))
        assert _horizon(db, clinic)[written].notes == notes
    db.rollback()
    assert _horizon(db, clinic)[written].notes != "second write"
    db.rollback()


def test_the_kept_records_stay_within_their_limit_and_their_organization() -> None:
    kept = KeptAppointments(limit=4)
    start = local(FIRST, 9)
    records = [model.Appointment(
        id=f"a{n}", organization_id="org", clinic_id="c", patient_id="p",
        appointment_type_id="t", provider_id="r", start=start, end=start + timedelta(minutes=30),
    ) for n in range(6)]
    for record in records:
        kept.put("1/(0,1)", record)
    assert len(kept) <= 4
    assert kept.get("org", "a5", "1/(0,1)") is records[5]  # the newest stay
    assert kept.get("org", "a0", "1/(0,1)") is None  # the oldest went first
    assert kept.get("other org", "a5", "1/(0,1)") is None
    assert kept.get("org", "a5", "2/(0,1)") is None  # another version of the row
    assert kept.get("org", "a5", None) is None
