"""An organization's data as files it can take elsewhere: CSV per table and FHIR R4 NDJSON.

``clinicdesk-server export --org SLUG FOLDER`` writes ``FOLDER/csv/<table>.csv``
for every table that holds the organization's records (credentials left out:
password hashes, TOTP secrets, device token hashes, refresh tokens, enrollment
codes; and the sync machinery: change log, client mutation ids, counters) and
``FOLDER/fhir/{Patient,Practitioner,Location,Appointment}.ndjson`` (FHIR R4,
one resource a line, as Bulk Data exports are). ``--patient ID`` exports one
patient's record and appointments only (a patient's request for their data), with
their appointments' financial records and fee waivers, and ``patient_money.csv``:
each appointment's charge, coverage, copay, payments, late-cancellation fee and
amount due as exact decimals.

The files hold patient data by design: write them only to an encrypted place
and hand them over as the clinic's policy says. Only counts are printed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Select, Table, and_, select
from sqlalchemy.orm import Session

from scheduling.financials import CENT, ZERO, Financials
from scheduling.model import AppointmentStatus
from scheduling.status import FHIR_STATUS
from sync_server.db.models import Base

#: Credentials and sync bookkeeping: not the organization's data.
LEFT_OUT_TABLES = frozenset({
    "refresh_tokens", "enrollment_codes", "client_mutations", "change_log", "org_versions",
    "config_versions", "audit_heads",
})
SECRET_COLUMNS: dict[str, frozenset[str]] = {
    "users": frozenset({"password_hash", "totp_secret"}),
    "devices": frozenset({"token_hash"}),
}
#: With ``--patient``: the tables that hold that patient's records, and the column naming them.
PATIENT_TABLES = {"patients": "id", "appointments": "patient_id", "series": "patient_id",
                  "waitlist_entries": "patient_id"}
#: With ``--patient``: the tables that belong to that patient's appointments (their money).
PATIENT_APPOINTMENT_TABLES = frozenset({"appointment_financials", "fee_waivers"})
#: The money of each appointment of the patient, one line each (``--patient``).
PATIENT_MONEY_COLUMNS = ("appointment_id", "start", "status", "total_charge",
                         "insurance_coverage", "copay_amount", "amount_paid", "payment_date",
                         "late_cancellation", "late_cancellation_fee", "fee_waived",
                         "amount_due", "payment_status")


@dataclass
class ExportSummary:
    """How many rows went to each file (no contents)."""

    csv_rows: dict[str, int] = field(default_factory=dict)
    fhir_resources: dict[str, int] = field(default_factory=dict)


def organization_tables() -> list[Table]:
    """Every table with an ``organization_id`` column that the export writes, in FK order."""
    return [table for table in Base.metadata.sorted_tables
            if "organization_id" in table.columns and table.name not in LEFT_OUT_TABLES]


def export_organization(session: Session, organization_id: str, folder: Path, *,
                        patient_id: str | None = None) -> ExportSummary:
    summary = ExportSummary()
    (folder / "csv").mkdir(parents=True, exist_ok=True)
    (folder / "fhir").mkdir(parents=True, exist_ok=True)
    for table in organization_tables():
        if patient_id is not None and table.name not in {*PATIENT_TABLES,
                                                         *PATIENT_APPOINTMENT_TABLES}:
            continue
        columns = [c for c in table.columns
                   if c.name not in SECRET_COLUMNS.get(table.name, frozenset())]
        query = select(*columns).where(table.c.organization_id == organization_id)
        if patient_id is not None and table.name in PATIENT_APPOINTMENT_TABLES:
            query = query.where(table.c.appointment_id.in_(
                _patient_appointments(organization_id, patient_id)))
        elif patient_id is not None:
            query = query.where(table.c[PATIENT_TABLES[table.name]] == patient_id)
        query = query.order_by(*table.primary_key.columns)
        with (folder / "csv" / f"{table.name}.csv").open("w", newline="",
                                                          encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow([c.name for c in columns])
            count = 0
            for row in session.execute(query):
                writer.writerow([_cell(value) for value in row])
                count += 1
        summary.csv_rows[table.name] = count
    if patient_id is not None:
        summary.csv_rows["patient_money"] = _write_patient_money(
            session, organization_id, patient_id, folder / "csv" / "patient_money.csv")
    resources = {
        "Patient": _patients(session, organization_id, patient_id),
        "Appointment": _appointments(session, organization_id, patient_id),
    }
    if patient_id is None:
        resources["Practitioner"] = _practitioners(session, organization_id)
        resources["Location"] = _locations(session, organization_id)
    for name, items in resources.items():
        summary.fhir_resources[name] = _write_ndjson(folder / "fhir" / f"{name}.ndjson", items)
    return summary


def _patient_appointments(organization_id: str, patient_id: str) -> Select[tuple[str]]:
    appointments = _table("appointments")
    return select(appointments.c.id).where(appointments.c.organization_id == organization_id,
                                           appointments.c.patient_id == patient_id)


def _write_patient_money(session: Session, organization_id: str, patient_id: str,
                         path: Path) -> int:
    """Each of the patient's appointments with its charge, coverage, copay, payments,
    late-cancellation fee (and what was waived of it) and amount due, as exact decimals
    with two places (zeros where nothing was entered)."""
    appointments, money = _table("appointments"), _table("appointment_financials")
    query = (select(appointments.c.id, appointments.c.start_at, appointments.c.status,
                    money.c.total_charge, money.c.insurance_coverage, money.c.copay_amount,
                    money.c.amount_paid, money.c.payment_date, money.c.late_cancellation,
                    money.c.late_cancellation_fee, money.c.fee_waived)
             .select_from(appointments.outerjoin(
                 money, and_(money.c.appointment_id == appointments.c.id,
                             money.c.organization_id == appointments.c.organization_id)))
             .where(appointments.c.organization_id == organization_id,
                    appointments.c.patient_id == patient_id)
             .order_by(appointments.c.start_at, appointments.c.id))
    count = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(PATIENT_MONEY_COLUMNS)
        for row in session.execute(query):
            amounts = Financials(
                total_charge=amount(row.total_charge),
                insurance_coverage=amount(row.insurance_coverage),
                copay_amount=amount(row.copay_amount),
                late_cancellation_fee=amount(row.late_cancellation_fee),
                amount_paid=amount(row.amount_paid))
            writer.writerow([
                row.id, _cell(row.start_at), row.status, amounts.total_charge,
                amounts.insurance_coverage, amounts.copay_amount, amounts.amount_paid,
                _cell(row.payment_date), "true" if row.late_cancellation else "false",
                amounts.late_cancellation_fee, amount(row.fee_waived), amounts.amount_due,
                amounts.payment_status])
            count += 1
    return count


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return amount(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def amount(value: object) -> Decimal:
    """A stored amount with exactly two places (NULL: nothing entered, zero)."""
    return ZERO if value is None else Decimal(str(value)).quantize(CENT)


def _write_ndjson(path: Path, resources: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for resource in resources:
            out.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _instant(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _patients(session: Session, org: str, patient_id: str | None) -> Iterator[dict[str, Any]]:
    patients = _table("patients")
    query = select(patients).where(patients.c.organization_id == org).order_by(patients.c.id)
    if patient_id is not None:
        query = query.where(patients.c.id == patient_id)
    for row in session.execute(query).mappings():
        telecom = [{"system": system, "value": row[column]}
                   for system, column in (("phone", "phone"), ("email", "email"))
                   if row[column]]
        resource: dict[str, Any] = {
            "resourceType": "Patient", "id": row["id"], "active": bool(row["active"]),
            "name": [{"family": row["family_name"], "given": [row["given_name"]]}],
            "communication": [{"language": {"coding": [
                {"system": "urn:ietf:bcp:47", "code": row["preferred_language"]}]}}],
        }
        if telecom:
            resource["telecom"] = telecom
        if row["date_of_birth"] is not None:
            resource["birthDate"] = row["date_of_birth"].isoformat()
        if row["address"]:
            resource["address"] = [{"text": row["address"]}]
        yield resource


def _practitioners(session: Session, org: str) -> Iterator[dict[str, Any]]:
    resources = _table("resources")
    query = (select(resources).where(resources.c.organization_id == org,
                                     resources.c.kind == "provider")
             .order_by(resources.c.id))
    for row in session.execute(query).mappings():
        yield {"resourceType": "Practitioner", "id": row["id"], "active": bool(row["active"]),
               "name": [{"text": row["name"]}]}


def _locations(session: Session, org: str) -> Iterator[dict[str, Any]]:
    clinics = _table("clinics")
    query = select(clinics).where(clinics.c.organization_id == org).order_by(clinics.c.id)
    for row in session.execute(query).mappings():
        yield {"resourceType": "Location", "id": row["id"], "name": row["name"],
               "status": "active" if row["active"] else "inactive", "mode": "instance"}


def _appointments(session: Session, org: str, patient_id: str | None,
                  ) -> Iterator[dict[str, Any]]:
    appointments = _table("appointments")
    query = (select(appointments)
             .where(appointments.c.organization_id == org, appointments.c.deleted.is_(False))
             .order_by(appointments.c.start_at, appointments.c.id))
    if patient_id is not None:
        query = query.where(appointments.c.patient_id == patient_id)
    for row in session.execute(query).mappings():
        participants = [
            {"actor": {"reference": f"Patient/{row['patient_id']}"}, "status": "accepted"},
            {"actor": {"reference": f"Practitioner/{row['provider_id']}"},
             "status": "accepted"},
            {"actor": {"reference": f"Location/{row['clinic_id']}"}, "status": "accepted"},
        ]
        resource: dict[str, Any] = {
            "resourceType": "Appointment", "id": row["id"],
            "status": FHIR_STATUS[AppointmentStatus(row["status"])],
            "start": _instant(row["start_at"]), "end": _instant(row["end_at"]),
            "created": _instant(row["created_at"]),
            "appointmentType": {"coding": [{"code": row["appointment_type_id"]}]},
            "participant": participants,
        }
        if row["notes"]:
            resource["comment"] = row["notes"]
        if row["patient_notes"]:
            resource["patientInstruction"] = row["patient_notes"]
        if row["cancel_reason"]:
            resource["cancelationReason"] = {"text": row["cancel_reason"]}
        yield resource
