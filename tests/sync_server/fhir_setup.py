"""A clinic with a registered hand-off client, for the hand-off and FHIR tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
