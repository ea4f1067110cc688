"""The schema and the database-level guards, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync_server.db import models
from sync_server.db.migrate import current_revision
from sync_server.services import organizations
from sync_server.services.changes import bump_version, record_change
from tests.support.records import by_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def booking_scaffold(db: Session) -> tuple[str, str, str]:
    """An organization with one clinic, patient, type, provider and appointment."""
    org = organizations.create_organization(db, "Scaffold", T0, f"s-{uuid.uuid4().hex[:8]}")
    clinic = models.Clinic(id=new_id(), organization_id=org.id, name="Main", time_zone="UTC")
    patient = models.Patient(
        id=new_id(), organization_id=org.id, given_name="A", family_name="B", updated_at=T0
    )
    provider = models.Resource(id=new_id(), organization_id=org.id, kind="provider", name="Dr")
    kind = models.AppointmentType(
        id=new_id(),
        organization_id=org.id,
        name="Checkup",
        default_duration_seconds=1800,
        min_duration_seconds=900,
        max_duration_seconds=3600,
        requirement={},
    )
    db.add_all([clinic, patient, provider, kind])
    db.flush()
    appointment = models.Appointment(
        id=new_id(),
        organization_id=org.id,
        clinic_id=clinic.id,
        patient_id=patient.id,
        appointment_type_id=kind.id,
        provider_id=provider.id,
        equipment_ids=[],
        start_at=T0,
        end_at=T0 + timedelta(hours=4),
        block_start=T0,
        block_end=T0 + timedelta(hours=4),
        status="booked",
        source="staff",
        created_at=T0,
        updated_at=T0,
    )
    db.add(appointment)
    db.commit()
    return org.id, provider.id, appointment.id


def occupy(
    db: Session,
    org_id: str,
    resource_id: str,
    appointment_id: str,
    start_minutes: int,
    end_minutes: int,
    **flags: bool,
) -> None:
    db.add(
        models.AppointmentResource(
            id=new_id(),
            organization_id=org_id,
            appointment_id=appointment_id,
            resource_id=resource_id,
            block_start=T0 + timedelta(minutes=start_minutes),
            block_end=T0 + timedelta(minutes=end_minutes),
            **flags,
        )
    )
    db.flush()


def second_appointment(db: Session, appointment_id: str) -> str:
    original = by_id(db, models.Appointment, appointment_id)
    assert original is not None
    copy = models.Appointment(
        **{c.key: getattr(original, c.key) for c in models.Appointment.__table__.columns}
    )
    copy.id = new_id()
    db.add(copy)
    db.flush()
    return copy.id


def test_migrations_bring_the_database_to_the_head_revision(database_url: str) -> None:
    from alembic.script import ScriptDirectory

    from sync_server.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert head is not None and current_revision(database_url) == head


def test_the_schema_has_every_table_of_the_model(db: Session) -> None:
    tables = set(inspect(db.get_bind()).get_table_names())
    assert set(models.Base.metadata.tables) <= tables


def test_the_permission_catalogue_is_seeded(db: Session) -> None:
    codes = set(db.scalars(text("SELECT code FROM permissions")))
    assert {
        "booking:view_calendar",
        "booking:create_appointment",
        "booking:modify_appointment",
        "booking:cancel_appointment",
        "booking:override",
        "admin:audit",
    } <= codes


@pytest.mark.only_backend("postgresql")  # SQLite serializes writes instead
def test_overlapping_active_occupations_of_one_resource_are_rejected_by_postgresql(
    db: Session,
) -> None:
    org_id, provider_id, appointment_id = booking_scaffold(db)
    other = second_appointment(db, appointment_id)
    occupy(db, org_id, provider_id, appointment_id, 0, 30)
    with pytest.raises(IntegrityError, match="ex_appointment_resources_no_overlap"):
        occupy(db, org_id, provider_id, other, 15, 45)
    db.rollback()


def test_touching_occupations_are_allowed_because_ranges_are_half_open(
    db: Session, backend: str
) -> None:
    org_id, provider_id, appointment_id = booking_scaffold(db)
    other = second_appointment(db, appointment_id)
    occupy(db, org_id, provider_id, appointment_id, 0, 30)
    occupy(db, org_id, provider_id, other, 30, 60)
    db.commit()


@pytest.mark.parametrize("flag", ["active", "overridden", "group_member"])
def test_inactive_overridden_and_group_member_rows_stay_outside_the_guard(
    db: Session, flag: str
) -> None:
    org_id, provider_id, appointment_id = booking_scaffold(db)
    other = second_appointment(db, appointment_id)
    occupy(db, org_id, provider_id, appointment_id, 0, 30)
    value = flag != "active"  # active=False, or overridden/group_member=True
    occupy(db, org_id, provider_id, other, 0, 30, **{flag: value})
    db.commit()


def test_an_empty_block_is_rejected_on_every_backend(db: Session) -> None:
    org_id, provider_id, appointment_id = booking_scaffold(db)
    with pytest.raises(IntegrityError):
        occupy(db, org_id, provider_id, appointment_id, 30, 30)
    db.rollback()


def test_foreign_keys_are_enforced_on_every_backend(db: Session) -> None:
    org_id, _provider_id, appointment_id = booking_scaffold(db)
    with pytest.raises(IntegrityError):
        occupy(db, org_id, new_id(), appointment_id, 0, 30)
    db.rollback()


@pytest.mark.only_backend("sqlite")
def test_sqlite_transactions_take_the_write_lock_at_begin(db: Session, database_url: str) -> None:
    db.execute(text("SELECT 1"))  # only a read, yet the transaction holds the write lock
    other = sqlite3.connect(make_url(database_url).database or "", timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        db.rollback()


@pytest.mark.only_backend("sqlite")
def test_sqlite_runs_in_wal_mode(db: Session) -> None:
    assert db.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_versions_increase_per_organization_and_log_changes(db: Session) -> None:
    org_id, _provider_id, appointment_id = booking_scaffold(db)
    first = bump_version(db, org_id)
    record_change(db, org_id, first, "appointment", appointment_id, "upsert", {"id": "x"})
    db.commit()
    second = bump_version(db, org_id)
    record_change(db, org_id, second, "appointment", appointment_id, "delete")
    db.commit()
    assert (first, second) == (1, 2)
    rows = db.execute(
        text("SELECT version, op FROM change_log WHERE organization_id = :o ORDER BY version"),
        {"o": org_id},
    ).all()
    assert [tuple(r) for r in rows] == [(1, "upsert"), (2, "delete")]


def test_instants_read_back_as_aware_utc(db: Session) -> None:
    org_id, _provider_id, appointment_id = booking_scaffold(db)
    db.expire_all()
    appointment = by_id(db, models.Appointment, appointment_id)
    assert appointment is not None
    assert appointment.start_at == T0
    assert appointment.start_at.tzinfo is not None
    assert org_id
