"""An organization takes its data elsewhere: CSV per table and FHIR R4 NDJSON, both backends."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync_server.cli import main as server_cli
from sync_server.core.config import Settings
from sync_server.core.security import Passwords, password_hasher
from sync_server.db import models
from sync_server.services.demo import DEMO_SLUG, seed_demo

FHIR_APPOINTMENT_STATUSES = {"proposed", "pending", "booked", "arrived", "fulfilled",
                             "cancelled", "noshow", "entered-in-error", "checked-in",
                             "waitlist"}


@pytest.fixture
def demo_org(db: Session, settings: Settings) -> str:
    org = db.scalar(select(models.Organization).where(models.Organization.slug == DEMO_SLUG))
    if org is None:
        seed_demo(db, Passwords(password_hasher(settings)), datetime.now(UTC))
        org = db.scalar(select(models.Organization).where(models.Organization.slug == DEMO_SLUG))
    assert org is not None
    db.commit()  # end the fixture's read: the CLI opens its own connection
    return org.id


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def ndjson(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_export_holds_every_appointment_as_csv_and_fhir_without_credentials(
    database_url: str, db: Session, demo_org: str, tmp_path: Path,
) -> None:
    assert server_cli(["--database-url", database_url, "export", "--org", DEMO_SLUG,
                       str(tmp_path)]) == 0
    in_db = db.scalar(select(func.count()).select_from(models.Appointment)
                      .where(models.Appointment.organization_id == demo_org))
    live = db.scalar(select(func.count()).select_from(models.Appointment)
                     .where(models.Appointment.organization_id == demo_org,
                            models.Appointment.deleted.is_(False)))
    db.commit()
    assert len(rows(tmp_path / "csv" / "appointments.csv")) == in_db
    users = rows(tmp_path / "csv" / "users.csv")
    assert users and "password_hash" not in users[0] and "totp_secret" not in users[0]
    assert not (tmp_path / "csv" / "refresh_tokens.csv").exists()

    patients = ndjson(tmp_path / "fhir" / "Patient.ndjson")
    appointments = ndjson(tmp_path / "fhir" / "Appointment.ndjson")
    assert len(appointments) == live
    patient_refs = {f"Patient/{p['id']}" for p in patients}
    practitioners = {f"Practitioner/{p['id']}"
                     for p in ndjson(tmp_path / "fhir" / "Practitioner.ndjson")}
    for appointment in appointments:
        assert appointment["resourceType"] == "Appointment"
        assert appointment["status"] in FHIR_APPOINTMENT_STATUSES
        actors = {p["actor"]["reference"] for p in appointment["participant"]}  # type: ignore[index, union-attr]
        assert actors & patient_refs and actors & practitioners
        assert str(appointment["start"]).endswith("Z")


def test_a_patients_request_exports_only_their_record_and_appointments(
    database_url: str, db: Session, demo_org: str, tmp_path: Path,
) -> None:
    patient_id = db.scalar(select(models.Appointment.patient_id)
                           .where(models.Appointment.organization_id == demo_org).limit(1))
    assert patient_id is not None
    db.commit()
    assert server_cli(["--database-url", database_url, "export", "--org", DEMO_SLUG,
                       "--patient", patient_id, str(tmp_path)]) == 0
    assert [p["id"] for p in ndjson(tmp_path / "fhir" / "Patient.ndjson")] == [patient_id]
    theirs = ndjson(tmp_path / "fhir" / "Appointment.ndjson")
    assert theirs
    assert all(f"Patient/{patient_id}" in {p["actor"]["reference"]  # type: ignore[index]
                                           for p in a["participant"]}  # type: ignore[union-attr]
               for a in theirs)
    assert {row["patient_id"] for row in rows(tmp_path / "csv" / "appointments.csv")} == {
        patient_id}
    assert not (tmp_path / "csv" / "users.csv").exists()


def test_a_patients_export_holds_each_appointments_money_in_exact_decimals(
    database_url: str, db: Session, demo_org: str, tmp_path: Path,
) -> None:
    appointment = db.scalars(select(models.Appointment).where(
        models.Appointment.organization_id == demo_org).limit(1)).one()
    patient_id, appointment_id = appointment.patient_id, appointment.id
    others = db.scalars(select(models.Appointment.id).where(
        models.Appointment.organization_id == demo_org,
        models.Appointment.patient_id == patient_id)).all()
    db.add(models.AppointmentFinancials(
        id="money-1", organization_id=demo_org, appointment_id=appointment_id,
        total_charge=Decimal("120.10"), insurance_coverage=Decimal("90.05"),
        copay_amount=Decimal("10.00"), amount_paid=Decimal("20.00"),
        late_cancellation=True, late_cancellation_fee=Decimal("14.50"),
        fee_waived=Decimal("10.50"), amount_due=Decimal("24.55"), payment_status="partial"))
    db.add(models.FeeWaiver(id="waiver-1", organization_id=demo_org,
                            appointment_id=appointment_id, amount=Decimal("10.50"),
                            reason="bus strike", waived_by=None,
                            waived_at=datetime(2026, 3, 2, tzinfo=UTC)))
    db.commit()
    assert server_cli(["--database-url", database_url, "export", "--org", DEMO_SLUG,
                       "--patient", patient_id, str(tmp_path)]) == 0
    money = {row["appointment_id"]: row for row in rows(tmp_path / "csv" / "patient_money.csv")}
    assert set(money) == set(others)
    entered = money[appointment_id]
    assert [entered[c] for c in ("total_charge", "insurance_coverage", "copay_amount",
                                 "amount_paid", "late_cancellation_fee", "fee_waived",
                                 "amount_due", "payment_status", "late_cancellation")] == [
        "120.10", "90.05", "10.00", "20.00", "14.50", "10.50", "24.55", "partial", "true"]
    assert all(row["amount_due"] == "0.00" for key, row in money.items()
               if key != appointment_id)
    [record] = rows(tmp_path / "csv" / "appointment_financials.csv")
    assert (record["appointment_id"], record["total_charge"]) == (appointment_id, "120.10")
    [waiver] = rows(tmp_path / "csv" / "fee_waivers.csv")
    assert (waiver["amount"], waiver["reason"]) == ("10.50", "bus strike")
