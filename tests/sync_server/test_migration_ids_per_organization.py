"""Migration 0023 (ids unique per organization) on a database holding two organizations.

A database at 0022 gets every table the migration rebuilds (SQLite) or alters in place
(PostgreSQL) filled for two organizations; after the upgrade every row is still there
with its organization, the keys are ``(id, organization_id)``, the foreign keys name
both columns (a reference across organizations is refused), and organization B may
now hold a record with one of A's ids. While no id is shared yet, the downgrade to 0022
and the upgrade again keep every row too. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync_server.db import models
from sync_server.db.migrate import alembic_config, current_revision, upgrade
from sync_server.db.session import make_engine
from sync_server.feeds.models import BusyBlock, BusyCalendar
from sync_server.telemedicine.models import VideoRoom
from sync_server.waitlist.models import PatientNoShow
from tests.e2e.server_side import Clinic, seed_clinic
from tests.sync_server.conftest import make_settings

BEFORE = "0022_fee_waivers"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEYED = {"patients": "id", "series": "id", "appointments": "id", "blockouts": "id",
         "waitlist_entries": "id", "busy_blocks": "blockout_id",
         "video_rooms": "appointment_id"}
TABLES = (models.Patient, models.Series, models.Appointment, models.AppointmentResource,
          models.AppointmentFinancials, models.FeeWaiver, models.Blockout,
          models.WaitlistEntry, BusyCalendar, BusyBlock, VideoRoom, PatientNoShow)


def _fill(session: Session, clinic: Clinic) -> None:
    """One row in each table the migration changes, for ``clinic``'s organization."""
    org, patient, provider = clinic.org_id, clinic.patient_ids[0], clinic.provider_ids[0]
    series, appointment, blockout, calendar = (str(uuid.uuid4()) for _ in range(4))
    end = AT + timedelta(minutes=30)
    session.add(models.Series(
        id=series, organization_id=org, clinic_id=clinic.clinic_id, patient_id=patient,
        appointment_type_id=clinic.type_id, rrule="FREQ=WEEKLY;COUNT=2",
        first_local=datetime(2026, 3, 2, 10, 0), duration_seconds=1800, exdates=[]))
    session.add(models.Blockout(id=blockout, organization_id=org, clinic_id=clinic.clinic_id,
                                resource_id=provider, start_at=AT, end_at=end))
    session.add(models.WaitlistEntry(
        id=str(uuid.uuid4()), organization_id=org, clinic_id=clinic.clinic_id,
        patient_id=patient, appointment_type_id=clinic.type_id, created_at=AT,
        preferred_provider_ids=[], preferred_weekdays=[], preferred_times=[]))
    session.add(BusyCalendar(id=calendar, organization_id=org, provider_id=provider,
                             clinic_id=clinic.clinic_id, url="https://cal.example/x.ics",
                             created_at=AT))
    session.flush()
    session.add(models.Appointment(
        id=appointment, organization_id=org, clinic_id=clinic.clinic_id, patient_id=patient,
        appointment_type_id=clinic.type_id, provider_id=provider, room_id=None,
        equipment_ids=[], start_at=AT, end_at=end, block_start=AT, block_end=end,
        status="booked", source="desk", series_id=series, created_at=AT, updated_at=AT))
    session.add(BusyBlock(blockout_id=blockout, busy_calendar_id=calendar, organization_id=org,
                          start_at=AT, end_at=end))
    session.flush()
    session.add(models.AppointmentResource(
        id=str(uuid.uuid4()), organization_id=org, appointment_id=appointment,
        resource_id=provider, block_start=AT, block_end=end))
    session.add(models.AppointmentFinancials(id=str(uuid.uuid4()), organization_id=org,
                                             appointment_id=appointment))
    session.add(models.FeeWaiver(id=str(uuid.uuid4()), organization_id=org,
                                 appointment_id=appointment, amount=Decimal("5.00"),
                                 reason="goodwill", waived_at=AT))
    session.add(VideoRoom(appointment_id=appointment, organization_id=org,
                          room=uuid.uuid4().hex, created_at=AT))
    session.add(PatientNoShow(id=str(uuid.uuid4()), organization_id=org, patient_id=patient,
                              appointment_id=appointment, missed_at=AT, recorded_at=AT))


def _rows(engine: Engine) -> dict[str, list[str]]:
    """Every row of the changed tables, all its columns as text, sorted."""
    found: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for model in TABLES:
            table: Any = model.__table__
            found[table.name] = sorted(repr(tuple(row))
                                       for row in connection.execute(select(table)))
    return found


def test_the_upgrade_keeps_every_row_and_keys_ids_per_organization(
    unmigrated_url: str, tmp_path: Path
) -> None:
    upgrade(unmigrated_url, BEFORE)
    engine = make_engine(unmigrated_url)
    try:
        settings = make_settings(unmigrated_url, tmp_path)
        with Session(engine) as session:
            a, b = seed_clinic(session, settings), seed_clinic(session, settings)
            _fill(session, a)
            _fill(session, b)
            session.commit()
        before = _rows(engine)
        assert all(len(rows) >= 2 for rows in before.values())  # each organization's

        upgrade(unmigrated_url)

        assert _rows(engine) == before
        found = inspect(engine)
        for table, column in KEYED.items():
            assert found.get_pk_constraint(table)["constrained_columns"] == [
                column, "organization_id"]
        keys = {(fk["constrained_columns"][0], fk["referred_table"]): fk
                for fk in found.get_foreign_keys("appointments")}
        assert keys[("patient_id", "patients")]["referred_columns"] == ["id", "organization_id"]
        _foreign_keys_hold(engine)
        _downgrade_and_back(unmigrated_url, engine, before)
        _b_takes_an_id_of_a(engine, a, b)
    finally:
        engine.dispose()


def _foreign_keys_hold(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _downgrade_and_back(url: str, engine: Engine, before: dict[str, list[str]]) -> None:
    """While no two organizations share an id, 0023 goes down to one key per id and
    up again, every row kept both ways."""
    engine.dispose()  # SQLite rebuilds the tables: no connection of ours may hold them
    command.downgrade(alembic_config(url), BEFORE)
    assert current_revision(url) == BEFORE
    assert _rows(engine) == before
    found = inspect(engine)
    for table, column in KEYED.items():
        assert found.get_pk_constraint(table)["constrained_columns"] == [column]
    keys = {(fk["constrained_columns"][0], fk["referred_table"]): fk
            for fk in found.get_foreign_keys("appointments")}
    assert keys[("patient_id", "patients")]["referred_columns"] == ["id"]
    _foreign_keys_hold(engine)
    engine.dispose()
    upgrade(url)
    assert _rows(engine) == before
    assert inspect(engine).get_pk_constraint("appointments")["constrained_columns"] == [
        "id", "organization_id"]


def _b_takes_an_id_of_a(engine: Engine, a: Clinic, b: Clinic) -> None:
    """B may now hold a patient with one of A's ids; naming A's patient from B is refused."""
    with Session(engine) as session:
        session.add(models.Patient(id=a.patient_ids[1], organization_id=b.org_id,
                                   given_name="Same", family_name="Id", updated_at=AT))
        session.commit()
        assert models.get_in_org(session, models.Patient, b.org_id, a.patient_ids[1]) \
            is not None
        session.add(models.WaitlistEntry(
            id=str(uuid.uuid4()), organization_id=b.org_id, clinic_id=b.clinic_id,
            patient_id=a.patient_ids[2], appointment_type_id=b.type_id, created_at=AT,
            preferred_provider_ids=[], preferred_weekdays=[], preferred_times=[]))
        with pytest.raises(IntegrityError):
            session.commit()
