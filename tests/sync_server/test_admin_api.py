"""Administration API on SQLite and PostgreSQL: configuration, patients, waitlist.

Every write must leave three traces in one transaction: the row, an audit entry and a
change-log entry whose payload is the record's wire form (what desks pull), which
``scheduling.wire.from_wire`` must read back strictly.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.wire import from_wire
from sync_server.db import models
from tests.sync_server.conftest import Tenants, sign_in

API = "/api/v1"


class Admin:
    """An organization with a signed-in administrator and a small configuration."""

    def __init__(self, client: TestClient, tenants: Tenants) -> None:
        self.client = client
        self.user = tenants.organization("administrator")
        self.headers = sign_in(client, self.user)
        self.clinic = self.create("/admin/clinics", {"name": "Retiro",
                                                     "time_zone": "Europe/Madrid"})
        self.provider = self.create("/admin/resources", {
            "kind": "provider", "name": "Dr. Vega", "clinic_ids": [self.clinic["id"]]})
        self.room = self.create("/admin/resources", {
            "kind": "room", "name": "Room 1", "clinic_ids": [self.clinic["id"]]})

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(API + path, json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, API + path, headers=self.headers, **kwargs)


@pytest.fixture
def org(client: TestClient, tenants: Tenants) -> Admin:
    return Admin(client, tenants)


def bodies(org: Admin) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Per path: a create body and a PATCH body."""
    clinic, provider, room = org.clinic["id"], org.provider["id"], org.room["id"]
    return {
        "/admin/clinics": ({"name": "Salamanca", "time_zone": "America/Bogota",
                            "locale": "es_CO"}, {"name": "Salamanca Norte"}),
        "/admin/departments": ({"clinic_id": clinic, "name": "Dental"}, {"name": "Dentistry"}),
        "/admin/resources": (
            {"kind": "equipment", "name": "X-ray", "clinic_ids": [clinic],
             "restriction": {"requires_approval": True, "min_lead_time_seconds": 3600}},
            {"restriction": None, "active": False}),
        "/admin/outages": ({"resource_id": room, "start": "2026-04-01T08:00:00+02:00",
                            "end": "2026-04-01T12:00:00+02:00", "reason": "painting"},
                           {"end": "2026-04-01T13:00:00+02:00"}),
        "/admin/appointment-types": (
            {"name": "Check-up", "default_duration_seconds": 1800,
             "min_duration_seconds": 900, "max_duration_seconds": 3600,
             "buffer_after_seconds": 300, "requirement": {"providers": [provider],
                                                          "rooms": [room]},
             "capacity": 1, "max_days_ahead": 90, "color": "#aa3300"},
            {"capacity": 4, "telemedicine": True}),
        "/admin/weekly-schedules": (
            {"provider_id": provider, "clinic_id": clinic, "weekday": 0, "start": "09:00",
             "end": "17:00", "breaks": [{"start": "13:00", "end": "14:00"}],
             "valid_from": "2026-01-01"},
            {"breaks": [], "end": "15:00:00"}),
        "/admin/schedule-exceptions": (
            {"provider_id": provider, "clinic_id": clinic, "kind": "time_off",
             "start": "2026-05-04T07:00:00Z", "end": "2026-05-05T07:00:00Z"},
            {"kind": "extra_hours"}),
        "/admin/holidays": ({"clinic_id": clinic, "day": "2026-05-01", "name": "Labour Day"},
                            {"day": "2026-05-02"}),
        "/admin/blockouts": ({"clinic_id": clinic, "resource_id": room,
                              "start": "2026-04-02T08:00:00Z", "end": "2026-04-02T09:00:00Z"},
                             {"resource_id": None}),
        "/admin/quotas": ({"clinic_id": clinic, "period": "day", "max_count": 12,
                           "provider_id": provider}, {"period": "week", "max_count": 50}),
    }


ENTITY = {
    "/admin/clinics": "clinic", "/admin/departments": "department",
    "/admin/resources": "resource", "/admin/outages": "outage",
    "/admin/appointment-types": "appointment_type",
    "/admin/weekly-schedules": "weekly_schedule",
    "/admin/schedule-exceptions": "schedule_exception", "/admin/holidays": "holiday",
    "/admin/blockouts": "blockout", "/admin/quotas": "quota",
}


# Each read starts and ends with a rollback: the test sees the latest commits and, on
# SQLite (every transaction is BEGIN IMMEDIATE), never holds the write lock afterwards.


def latest_change(db_session: Session, entity_id: str) -> models.ChangeLogEntry:
    db_session.rollback()
    entry = db_session.scalars(select(models.ChangeLogEntry).where(
        models.ChangeLogEntry.entity_id == entity_id).order_by(models.ChangeLogEntry.version.desc())
    ).first()
    assert entry is not None
    db_session.expunge(entry)
    db_session.rollback()
    return entry


def version(db_session: Session, org_id: str) -> int:
    db_session.rollback()
    value = db_session.scalar(select(models.OrgVersion.version).where(
        models.OrgVersion.organization_id == org_id))
    db_session.rollback()
    return int(value or 0)


def audit_intents(db_session: Session, org_id: str) -> list[str]:
    db_session.rollback()
    intents = list(db_session.scalars(select(models.AuditEntry.intent).where(
        models.AuditEntry.organization_id == org_id).order_by(models.AuditEntry.seq)))
    db_session.rollback()
    return intents


@pytest.mark.parametrize("path", list(ENTITY))
def test_configuration_round_trips_with_audit_and_a_pullable_change(
    org: Admin, db: Session, path: str
) -> None:
    create_body, patch_body = bodies(org)[path]
    before = version(db, org.user.org_id)

    created = org.create(path, create_body)
    assert org.call("GET", f"{path}/{created['id']}").json() == created
    assert created["id"] in [r["id"] for r in org.call("GET", path).json()]
    change = latest_change(db, created["id"])
    assert (change.entity, change.op, change.version) == (ENTITY[path], "upsert", before + 1)
    assert from_wire(ENTITY[path], change.payload or {}).id == created["id"]

    patched = org.call("PATCH", f"{path}/{created['id']}", json=patch_body)
    assert patched.status_code == 200, patched.text
    expected = {**created, **patch_body}
    for key in ("end", "start"):  # times come back in their canonical form
        if key in patch_body and path == "/admin/weekly-schedules":
            expected[key] = "15:00:00"
    if path == "/admin/outages":
        expected["end"] = "2026-04-01T11:00:00Z"
    if path == "/admin/holidays":
        expected["day"] = "2026-05-02"
    assert patched.json() == expected
    assert org.call("GET", f"{path}/{created['id']}").json() == expected
    change = latest_change(db, created["id"])
    assert change.version == before + 2
    assert from_wire(ENTITY[path], change.payload or {}).id == created["id"]
    intents = audit_intents(db, org.user.org_id)[-2:]
    assert intents == [f"{ENTITY[path]}.create", f"{ENTITY[path]}.update"]


@pytest.mark.parametrize("path", ["/admin/departments", "/admin/outages",
                                  "/admin/weekly-schedules", "/admin/schedule-exceptions",
                                  "/admin/holidays", "/admin/blockouts", "/admin/quotas"])
def test_deleting_leaves_a_tombstone_for_desks(org: Admin, db: Session, path: str) -> None:
    created = org.create(path, bodies(org)[path][0])
    assert org.call("DELETE", f"{path}/{created['id']}").status_code == 204
    assert org.call("GET", f"{path}/{created['id']}").status_code == 404
    change = latest_change(db, created["id"])
    assert (change.op, change.payload) == ("delete", None)
    assert audit_intents(db, org.user.org_id)[-1] == f"{ENTITY[path]}.delete"


def test_a_clinic_still_in_use_cannot_be_deleted_and_a_department_in_use_answers_409(
    org: Admin, db: Session
) -> None:
    department = org.create("/admin/departments", {"clinic_id": org.clinic["id"],
                                                   "name": "Physio"})
    org.call("PATCH", f"/admin/resources/{org.room['id']}",
             json={"department_id": department["id"]})
    before = version(db, org.user.org_id)
    response = org.call("DELETE", f"/admin/departments/{department['id']}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "in_use"
    assert version(db, org.user.org_id) == before
    assert org.call("DELETE", f"/admin/clinics/{org.clinic['id']}").status_code == 405


def test_patients_keep_the_insurance_fields_and_are_found_by_name_or_phone(
    org: Admin, db: Session
) -> None:
    patient = org.create("/patients", {
        "given_name": "Lucía", "family_name": "Martínez Ortega", "date_of_birth": "1984-02-29",
        "phone": "+34 (612) 345-678", "email": "lucia@example.org", "address": "Calle Mayor 1",
        "insurance_provider": "Sanitas", "insurance_id": "SAN-123", "preferred_language": "es"})
    assert org.call("GET", f"/patients/{patient['id']}").json() == patient
    for query in ("martínez", "LUCÍA MART", "612345", "612-345"):
        found = org.call("GET", "/patients", params={"q": query}).json()
        assert [p["id"] for p in found] == [patient["id"]], query
    assert org.call("GET", "/patients", params={"q": "nobody"}).json() == []

    updated = org.call("PATCH", f"/patients/{patient['id']}", json={"insurance_id": "SAN-9"})
    assert updated.json()["insurance_id"] == "SAN-9"
    change = latest_change(db, patient["id"])
    wire = from_wire("patient", change.payload or {})
    assert (wire.given_name, wire.phone) == ("Lucía", "+34 (612) 345-678")


def test_a_receptionist_manages_patients_and_the_waitlist_but_not_the_configuration(
    org: Admin, client: TestClient, tenants: Tenants, db: Session
) -> None:
    desk = sign_in(client, tenants.user(org.user.org_id, org.user.org_slug, "receptionist"))
    patient = client.post(f"{API}/patients", json={"given_name": "Ana", "family_name": "Gil"},
                          headers=desk)
    assert patient.status_code == 201
    kind = org.create("/admin/appointment-types", bodies(org)["/admin/appointment-types"][0])
    entry = client.post(f"{API}/waitlist", headers=desk, json={
        "clinic_id": org.clinic["id"], "patient_id": patient.json()["id"],
        "appointment_type_id": kind["id"], "priority": 5,
        "preferred_provider_ids": [org.provider["id"]], "preferred_weekdays": [0, 2],
        "preferred_times": [{"start": "09:00", "end": "12:00"}]})
    assert entry.status_code == 201, entry.text
    assert client.delete(f"{API}/waitlist/{entry.json()['id']}", headers=desk).status_code == 204
    again = client.get(f"{API}/waitlist/{entry.json()['id']}", headers=desk).json()
    assert again["active"] is False
    assert from_wire("waitlist_entry", latest_change(db, again["id"]).payload or {}).active is False

    refused = client.post(f"{API}/admin/clinics", headers=desk,
                          json={"name": "X", "time_zone": "UTC"})
    assert refused.status_code == 403


def test_another_organizations_ids_answer_404_and_are_audited(
    org: Admin, client: TestClient, tenants: Tenants, db: Session
) -> None:
    other = Admin(client, tenants)
    theirs = other.create("/admin/holidays", {"clinic_id": other.clinic["id"],
                                              "day": "2026-12-25"})
    attempts = [
        ("GET", f"/admin/holidays/{theirs['id']}", None),
        ("PATCH", f"/admin/holidays/{theirs['id']}", {"name": "mine now"}),
        ("DELETE", f"/admin/holidays/{theirs['id']}", None),
        ("POST", "/admin/departments", {"clinic_id": other.clinic["id"], "name": "Sneaky"}),
        ("POST", "/admin/resources", {"kind": "room", "name": "R",
                                      "clinic_ids": [org.clinic["id"], other.clinic["id"]]}),
    ]
    for method, path, body in attempts:
        response = org.call(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert audit_intents(db, org.user.org_id)[-1] == "access_denied"
    assert other.call("GET", f"/admin/holidays/{theirs['id']}").json()["name"] == ""
    db.rollback()
    departments = db.scalar(select(func.count(models.Department.id)).where(
        models.Department.organization_id == org.user.org_id))
    db.rollback()
    assert departments == 0


@pytest.mark.parametrize(("path", "body", "fragment"), [
    ("/admin/outages", {"start": "2026-04-01T08:00:00", "end": "2026-04-01T09:00:00Z"},
     "timezone"),
    ("/admin/outages", {"start": "2026-04-01T09:00:00Z", "end": "2026-04-01T09:00:00Z"},
     "end must be after"),
    ("/admin/outages", {"start": "2026-02-30T09:00:00Z", "end": "2026-04-01T09:00:00Z"},
     "start"),
    ("/admin/outages", {"start": "0001-01-01T00:00:00+14:00", "end": "2026-04-01T09:00:00Z"},
     "start"),
    ("/admin/clinics", {"time_zone": "Mars/Olympus_Mons"}, "Unknown time zone"),
    ("/admin/clinics", {"time_zone": "Europe/Madrid", "colour": "red"}, "colour"),
    ("/admin/clinics", {"time_zone": "Europe/Madrid", "name": "A\x00B"}, "NUL"),
    ("/admin/weekly-schedules", {"breaks": [{"start": "08:00", "end": "10:00"}]},
     "within the working hours"),
    ("/admin/weekly-schedules", {"start": "09:00+02:00"}, "wall-clock"),
    ("/admin/weekly-schedules", {"provider_id": "ROOM"}, "not a provider"),
    ("/admin/appointment-types", {"min_duration_seconds": 2400}, "minimum ≤ default"),
    ("/patients", {"date_of_birth": "2199-01-01"}, "future"),
])
def test_invalid_records_answer_422_with_a_clear_message_and_write_nothing(
    org: Admin, db: Session, path: str, body: dict[str, Any], fragment: str
) -> None:
    base = {**bodies(org).get(path, ({"given_name": "A", "family_name": "B"}, {}))[0]}
    if path == "/admin/clinics":
        base = {"name": "C"}
    body = {k: (org.room["id"] if v == "ROOM" else v) for k, v in body.items()}
    before = version(db, org.user.org_id)
    response = org.call("POST", path, json={**base, **body})
    assert response.status_code == 422, response.text
    assert fragment.lower() in response.json()["error"]["message"].lower()
    assert version(db, org.user.org_id) == before


def test_a_patch_that_would_break_a_rule_is_refused(org: Admin, db: Session) -> None:
    outage = org.create("/admin/outages", bodies(org)["/admin/outages"][0])
    before = version(db, org.user.org_id)
    response = org.call("PATCH", f"/admin/outages/{outage['id']}",
                        json={"end": "2026-04-01T05:00:00Z"})
    assert response.status_code == 422
    response = org.call("PATCH", f"/admin/outages/{outage['id']}", json={"reason": None})
    assert response.status_code == 422
    response = org.call("PATCH", f"/admin/outages/{outage['id']}", json={"unknown": 1})
    assert response.status_code == 422
    assert version(db, org.user.org_id) == before
    assert org.call("GET", f"/admin/outages/{outage['id']}").json() == outage


def test_unknown_ids_answer_404(org: Admin) -> None:
    assert org.call("GET", "/admin/quotas/nope").status_code == 404
    response = org.call("POST", "/admin/departments", json={"clinic_id": "nope", "name": "D"})
    assert response.status_code == 404
    assert "clinic" in response.json()["error"]["message"]


def test_an_appointment_type_is_named_per_language_and_desks_receive_the_names(
    org: Admin, db: Session
) -> None:
    """Issue 18: types named per language (the name stays for other languages)."""
    body = bodies(org)["/admin/appointment-types"][0] | {
        "names": {"es": "Revisión", "en": "Check-up"}}
    created = org.create("/admin/appointment-types", body)
    assert created["names"] == {"en": "Check-up", "es": "Revisión"}
    kind = from_wire("appointment_type", latest_change(db, created["id"]).payload or {})
    assert (kind.name_in("es"), kind.name_in("en"), kind.name_in("fr")) == (
        "Revisión", "Check-up", "Check-up")
    patched = org.call("PATCH", f"/admin/appointment-types/{created['id']}",
                       json={"names": {"es": "Control"}})
    assert patched.status_code == 200 and patched.json()["names"] == {"es": "Control"}
    refused = org.call("POST", "/admin/appointment-types",
                       json=body | {"names": {"spanish": "Revisión"}})
    assert refused.status_code == 422
