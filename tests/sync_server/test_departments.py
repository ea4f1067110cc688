"""Departments on SQLite and PostgreSQL (seed 000, 002): a user of the Dental department
holding a department-scoped role sees, lists and books only Dental's providers; anything
of Physio answers 404 and is audited; a quota may count one department; and a scope
that would hide a user's own appointments is refused, nothing saved."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import intents
from sync_server.core.config import Settings
from sync_server.db import models
from tests.sync_server.booking_setup import FIRST_DAY, Booked, enroll_desk, seed_booked, slot
from tests.sync_server.conftest import PASSWORD, Clock, OrgUser, Tenants, sign_in

API = "/api/v1"
SCOPED_PERMISSIONS = ["booking:view_calendar", "booking:create_appointment",
                      "booking:cancel_appointment", "booking:modify_appointment",
                      "patient:view"]


@dataclass
class Departments:
    booked: Booked
    client: TestClient
    dental: str
    physio: str
    user_id: str
    headers: dict[str, str]  # the Dental receptionist (department-scoped role)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, API + path, headers=self.booked.admin, **kwargs)

    def scoped(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, API + path, headers=self.headers, **kwargs)

    @property
    def dental_provider(self) -> str:
        return self.booked.clinic.provider_ids[0]

    @property
    def physio_provider(self) -> str:
        return self.booked.clinic.provider_ids[1]


def created(answer: Any) -> dict[str, Any]:
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture
def org(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Departments:
    booked = seed_booked(client, db, settings, tenants)

    def admin(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return created(client.request(method, API + path, json=body, headers=booked.admin))

    clinic = booked.clinic.clinic_id
    dental = admin("POST", "/admin/departments", {"clinic_id": clinic, "name": "Dental"})["id"]
    physio = admin("POST", "/admin/departments", {"clinic_id": clinic, "name": "Physio"})["id"]
    for provider, department in zip(booked.clinic.provider_ids, (dental, physio), strict=False):
        admin("PATCH", f"/admin/resources/{provider}", {"department_id": department})
    admin("POST", "/admin/roles", {"name": "dental desk", "department_scoped": True,
                                   "permissions": SCOPED_PERMISSIONS})
    email = "dental-desk@clinic.example"
    user = admin("POST", "/admin/users", {"email": email, "password": PASSWORD,
                                          "roles": ["dental desk"], "department_ids": [dental]})
    assert user["department_ids"] == [dental]
    headers = sign_in(client, OrgUser(booked.org_id, booked.clinic.org_slug, user["id"], email))
    return Departments(booked, client, dental, physio, user["id"], headers)


def book_body(org: Departments, provider: str, index: int = 0) -> dict[str, Any]:
    return org.booked.book_body(slot(index), provider=org.booked.clinic.provider_ids.index(
        provider))


def denied(db: Session, org_id: str) -> list[tuple[str, str | None, str | None]]:
    db.rollback()
    found = [(r.target_type or "", r.target_id, r.reason) for r in db.scalars(
        select(models.AuditEntry).where(models.AuditEntry.organization_id == org_id,
                                        models.AuditEntry.intent == "access_denied"))]
    db.rollback()
    return found  # type: ignore[return-value]


def test_a_scoped_user_books_their_departments_provider_only(org: Departments,
                                                             db: Session) -> None:
    assert org.scoped("POST", "/appointments",
                      json=book_body(org, org.dental_provider)).status_code == 201
    refused = org.scoped("POST", "/appointments", json=book_body(org, org.physio_provider, 2))
    assert refused.status_code == 404
    assert ("resource", org.physio_provider, "other_department") in denied(
        db, org.booked.org_id)


def test_lists_and_reads_leave_out_another_departments_appointments(
        org: Departments, db: Session) -> None:
    physio = created(org.admin("POST", "/appointments",
                               json=book_body(org, org.physio_provider, 2)))
    physio_id = physio["appointments"][0]["id"]
    dental = created(org.scoped("POST", "/appointments",
                                json=book_body(org, org.dental_provider)))
    start, end = slot(0) - timedelta(hours=2), slot(0) + timedelta(hours=8)
    params = {"from": start.isoformat(), "to": end.isoformat()}
    listed = org.scoped("GET", "/appointments", params=params).json()["appointments"]
    assert [a["id"] for a in listed] == [dental["appointments"][0]["id"]]
    everyone = org.admin("GET", "/appointments", params=params).json()["appointments"]
    assert len(everyone) == 2
    assert org.scoped("GET", f"/appointments/{physio_id}").status_code == 404
    assert org.scoped("POST", f"/appointments/{physio_id}/cancel",
                      json={"reason": "x"}).status_code == 404
    assert ("appointment", physio_id, "other_department") in denied(db, org.booked.org_id)


def test_a_patients_money_of_another_department_is_hidden(org: Departments,
                                                          db: Session) -> None:
    physio = created(org.admin("POST", "/appointments",
                               json=book_body(org, org.physio_provider, 2)))
    physio_id = physio["appointments"][0]["id"]
    dental = created(org.scoped("POST", "/appointments",
                                json=book_body(org, org.dental_provider)))
    patient = org.booked.clinic.patient_ids[0]
    listed = org.scoped("GET", f"/patients/{patient}/appointments").json()
    assert [a["id"] for a in listed] == [dental["appointments"][0]["id"]]
    assert len(org.admin("GET", f"/patients/{patient}/appointments").json()) == 2
    assert org.scoped("GET", f"/appointments/{physio_id}/financials").status_code == 404
    assert ("appointment", physio_id, "other_department") in denied(db, org.booked.org_id)


def test_free_slots_follow_the_users_departments(org: Departments) -> None:
    params = {"clinic_id": org.booked.clinic.clinic_id,
              "appointment_type_id": org.booked.clinic.type_id,
              "from": FIRST_DAY.isoformat(), "to": FIRST_DAY.isoformat()}
    mine = org.scoped("GET", "/availability", params=params).json()["slots"]
    everyone = org.admin("GET", "/availability", params=params).json()["slots"]
    assert mine and {s["provider_id"] for s in mine} == {org.dental_provider}
    assert {s["provider_id"] for s in everyone} >= {org.dental_provider, org.physio_provider}
    asked = org.scoped("GET", "/availability",
                       params={**params, "provider_id": org.physio_provider})
    assert asked.status_code == 404


def test_a_department_quota_counts_only_that_departments_providers(org: Departments) -> None:
    created(org.admin("POST", "/admin/quotas", json={
        "clinic_id": org.booked.clinic.clinic_id, "period": "day", "max_count": 1,
        "department_id": org.dental}))
    assert org.admin("POST", "/appointments",
                     json=book_body(org, org.dental_provider, 0)).status_code == 201
    second = org.admin("POST", "/appointments", json=book_body(org, org.dental_provider, 2))
    assert second.status_code == 409 and second.json()["error"]["code"] == "QUOTA_REACHED"
    assert org.admin("POST", "/appointments",
                     json=book_body(org, org.physio_provider, 2)).status_code == 201


def test_a_scope_hiding_the_users_own_appointments_is_refused(org: Departments) -> None:
    linked = org.admin("PATCH", f"/admin/resources/{org.physio_provider}",
                       json={"user_id": org.user_id})
    assert linked.status_code == 422
    assert "hide the linked user's own appointments" in linked.json()["error"]["message"]
    created(org.admin("PATCH", f"/admin/resources/{org.dental_provider}",
                      json={"user_id": org.user_id}))
    moved = org.admin("PATCH", f"/admin/users/{org.user_id}",
                      json={"department_ids": [org.physio]})
    assert moved.status_code == 422
    assert "would hide a user's own appointments" in moved.json()["error"]["message"]
    users = org.admin("GET", "/admin/users").json()
    assert next(u for u in users if u["id"] == org.user_id)["department_ids"] == [org.dental]


def test_making_a_role_scoped_that_would_hide_own_appointments_is_refused(
        org: Departments) -> None:
    role = created(org.admin("POST", "/admin/roles", json={
        "name": "physio desk", "permissions": SCOPED_PERMISSIONS}))
    email = "physio@clinic.example"
    created(org.admin("POST", "/admin/users", json={"email": email, "password": PASSWORD,
                                                    "roles": ["physio desk"]}))
    user_id = next(u["id"] for u in org.admin("GET", "/admin/users").json()
                   if u["email"] == email)
    created(org.admin("PATCH", f"/admin/resources/{org.physio_provider}",
                      json={"user_id": user_id}))
    scoped = org.admin("PATCH", f"/admin/roles/{role['id']}", json={"department_scoped": True})
    assert scoped.status_code == 422
    roles = org.admin("GET", "/admin/roles").json()
    assert not next(r for r in roles if r["id"] == role["id"])["department_scoped"]


def test_a_department_of_another_organization_is_404(org: Departments,
                                                     tenants: Tenants) -> None:
    stranger = tenants.organization("administrator")
    headers = sign_in(org.client, stranger)
    answer = org.client.patch(f"{API}/admin/users/{stranger.user_id}",
                              json={"department_ids": [org.dental]}, headers=headers)
    assert answer.status_code == 404


def test_a_desk_push_by_a_scoped_user_books_their_department_and_not_another(
        org: Departments, db: Session, clock: Clock) -> None:
    desk = enroll_desk(db, org.booked.clinic, clock)

    def push(provider: str, index: int) -> dict[str, Any]:
        mutation = desk.mutation(intents.APPOINTMENT_BOOK, {
            **book_body(org, provider, index), "appointment_id": str(uuid.uuid4()),
            "end": None, "room_id": None})
        mutation["user_id"] = org.user_id
        answer = org.client.post(f"{API}/sync/push", json=desk.push_body([mutation]),
                                 headers=desk.headers)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()["results"][0]
        return result

    own, other = push(org.dental_provider, 0), push(org.physio_provider, 2)
    assert (own["status"], other["status"], other["code"]) == (
        "applied", "refused", "UNKNOWN_RECORD")
    conflicts = org.client.get(f"{API}/sync/pull", params={"cursor": 0},
                               headers=desk.headers).json()["conflicts"]
    [conflict] = conflicts
    assert (conflict["code"], conflict["params"]) == ("UNKNOWN_RECORD", {"kind": "provider"})
    assert "was not found" in conflict["message_id"]


def test_the_account_answer_names_the_departments_a_scoped_user_sees(org: Departments) -> None:
    mine = org.scoped("GET", "/auth/me").json()
    everyone = org.admin("GET", "/auth/me").json()
    assert mine["department_context"] == [
        {"id": org.dental, "name": "Dental", "clinic_id": org.booked.clinic.clinic_id}]
    assert everyone["department_context"] is None
