"""A clinic with a registered hand-off client, for the hand-off and FHIR tests."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.db import models as db
from sync_server.fhir import clients

RETURN_URL = "https://app.example/return"
PREFIX = "https://app.example/booking/*"


@dataclass(frozen=True)
class Registered:
    id: str
    client_id: str
    secret: str


def register(session: Session, org_id: str, *, urls: tuple[str, ...] = (RETURN_URL, PREFIX),
             name: str = "Ride app", scopes: list[str] | None = None) -> Registered:
    new = clients.register(session, org_id, name=name, return_urls=list(urls), scopes=scopes,
                           now=datetime.now(UTC))
    session.commit()
    return Registered(new.client.id, new.client.client_id, new.secret)


def audit_reasons(session: Session, org_id: str, intent: str) -> list[str | None]:
    try:
        return list(session.scalars(select(db.AuditEntry.reason).where(
            db.AuditEntry.organization_id == org_id, db.AuditEntry.intent == intent,
            db.AuditEntry.outcome == "refused").order_by(db.AuditEntry.seq)))
    finally:
        session.rollback()


def plain_appointment(session: Session, org_id: str, clinic_id: str, provider_id: str,
                      type_id: str, patient_id: str, start: datetime) -> str:
    """An appointment row written directly (for tests of the hand-off bookkeeping only)."""
    now = datetime.now(UTC)
    end = start + timedelta(minutes=30)
    appointment_id = str(uuid.uuid4())
    session.add(db.Appointment(
        id=appointment_id, organization_id=org_id, clinic_id=clinic_id, patient_id=patient_id,
        appointment_type_id=type_id, provider_id=provider_id, equipment_ids=[],
        start_at=start, end_at=end, block_start=start, block_end=end, status="booked",
        source="online", created_at=now, updated_at=now))
    session.commit()
    return appointment_id


def make_online(session: Session, org_id: str, phone: str = "+34 910 000 111") -> None:
    """Every appointment type of the organization bookable online; the clinic's phone set."""
    from sync_server.notifications.models import NotificationSettings

    for kind in session.scalars(select(db.AppointmentType).where(
            db.AppointmentType.organization_id == org_id)):
        kind.online_bookable = True
    session.add(NotificationSettings(organization_id=org_id, reminder_offsets=[],
                                     type_offsets={}, clinic_phone=phone,
                                     updated_at=datetime.now(UTC)))
    session.commit()


def ndjson_lines(text: str) -> list[dict[str, Any]]:
    assert text.endswith("\n") or text == ""
    return [json.loads(line) for line in text.splitlines()]


R4B_MODELS = ("Location", "Schedule", "Slot", "Appointment", "Practitioner", "Bundle",
              "OperationOutcome")


def validate_r4(resource: dict[str, Any]) -> None:
    """Validate against the FHIR structures (fhir.resources.R4B; see docs/integration.md)."""
    import importlib

    kind = resource["resourceType"]
    assert kind in R4B_MODELS, kind
    module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
    getattr(module, kind).model_validate(resource)
