"""Organization isolation of the booking and sync endpoints."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import intents
from sync_server.core.config import Settings
from sync_server.db import models
from tests.sync_server.booking_setup import (
    FIRST_DAY,
    Booked,
    enroll_desk,
    seed_booked,
    slot,
)
from tests.sync_server.conftest import Clock, Tenants

API = "/api/v1"


@pytest.fixture
def two_orgs(client: TestClient, db: Session, settings: Settings,
             tenants: Tenants) -> tuple[Booked, Booked, str, str]:
    """Organizations A and B; B has an appointment and a series (their ids are returned)."""
    a, b = (seed_booked(client, db, settings, tenants) for _ in range(2))
    booked = client.post(f"{API}/appointments", json=b.book_body(slot(0)), headers=b.reception)
    assert booked.status_code == 201, booked.text
    body = {k: v for k, v in b.book_body(slot(0)).items() if k != "start"} | {
        "rrule": "FREQ=WEEKLY;COUNT=2", "first_local": f"{FIRST_DAY.isoformat()}T11:00:00"}
    series = client.post(f"{API}/series", json=body, headers=b.reception)
    assert series.status_code == 201, series.text
    return a, b, booked.json()["appointments"][0]["id"], series.json()["series"][0]["id"]


def denied(db: Session, org_id: str, target_id: str) -> int:
    db.rollback()
    found = db.scalars(select(models.AuditEntry).where(
        models.AuditEntry.organization_id == org_id, models.AuditEntry.intent == "access_denied",
        models.AuditEntry.target_id == target_id)).all()
    db.rollback()
    return len(found)


ID_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/appointments/{appointment}", None),
    ("POST", "/appointments/{appointment}/move", {"start": "2026-03-10T09:00:00+00:00"}),
    ("POST", "/appointments/{appointment}/resize", {"end": "2026-03-09T09:45:00+01:00"}),
    ("POST", "/appointments/{appointment}/cancel", {"reason": "x"}),
    ("POST", "/appointments/{appointment}/status", {"status": "confirmed"}),
    ("POST", "/appointments/{appointment}/undo-status", {}),
    ("POST", "/series/{series}/edit", {"appointment_id": "{appointment}", "scope": "all",
                                       "action": "cancel", "reason": "x"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ID_ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in ID_ENDPOINTS])
def test_another_organizations_id_is_a_404_and_an_access_denied_entry(
    client: TestClient, db: Session, two_orgs: tuple[Booked, Booked, str, str], method: str,
    path: str, body: dict[str, Any] | None,
) -> None:
    a, b, appointment_id, series_id = two_orgs
    target = series_id if "{series}" in path else appointment_id
    url = API + path.format(appointment=appointment_id, series=series_id)
    if body is not None:
        body = {k: (v.format(appointment=appointment_id) if isinstance(v, str) else v)
                for k, v in body.items()}
    answer = client.request(method, url, json=body, headers=a.admin)
    assert answer.status_code == 404, answer.text
    assert appointment_id not in answer.text
    assert denied(db, a.org_id, target) == 1
    untouched = client.get(f"{API}/appointments/{appointment_id}", headers=b.reception)
    assert untouched.json()["status"] == "booked" and untouched.json()["version"] == 1


def test_a_desk_of_one_organization_cannot_pull_or_change_anothers_data(
    client: TestClient, db: Session, two_orgs: tuple[Booked, Booked, str, str], clock: Clock
) -> None:
    a, b, appointment_id, _series = two_orgs
    desk = enroll_desk(db, a.clinic, clock)
    page = client.get(f"{API}/sync/pull", params={"cursor": 0, "limit": 5000},
                      headers=desk.headers).json()
    ids = {c["id"] for c in page["changes"]}
    assert appointment_id not in ids and b.clinic.clinic_id not in ids
    assert a.clinic.clinic_id in ids
    move = desk.mutation(intents.APPOINTMENT_CANCEL, {"appointment_id": appointment_id,
                                                      "reason": "x"})
    answer = client.post(f"{API}/sync/push", json=desk.push_body([move]), headers=desk.headers)
    assert answer.json()["results"][0] == {"id": 1, "status": "refused",
                                           "code": "UNKNOWN_RECORD"}
    assert denied(db, a.org_id, appointment_id) == 1
    theirs = client.get(f"{API}/appointments/{appointment_id}", headers=b.reception)
    assert theirs.json()["status"] == "booked"


def test_booking_with_another_organizations_clinic_or_patient_is_refused(
    client: TestClient, two_orgs: tuple[Booked, Booked, str, str]
) -> None:
    a, b, _appointment, _series = two_orgs
    body = a.book_body(slot(3)) | {"patient_id": b.clinic.patient_ids[0],
                                   "appointment_id": str(uuid.uuid4())}
    answer = client.post(f"{API}/appointments", json=body, headers=a.reception)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "UNKNOWN_RECORD"
    listed = client.get(f"{API}/appointments", headers=a.reception, params={
        "from": slot(0).isoformat(), "to": (slot(0) + timedelta(days=1)).isoformat()})
    assert listed.json()["appointments"] == []
    slots = client.get(f"{API}/availability", headers=a.reception, params={
        "clinic_id": b.clinic.clinic_id, "appointment_type_id": b.clinic.type_id,
        "from": FIRST_DAY.isoformat(), "to": FIRST_DAY.isoformat()})
    assert slots.status_code == 404
