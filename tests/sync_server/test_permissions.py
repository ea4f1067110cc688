"""Seed 003's permission names, the 403 audit and the audit of patient reads."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from sync_server.db.migrate import upgrade
from sync_server.db.models import AuditEntry
from sync_server.db.session import make_engine
from sync_server.services.organizations import ALL_PERMISSIONS, DEFAULT_ROLES
from tests.sync_server.conftest import (
    START,
    Tenants,
    sign_in,
)

SEED_003 = ("booking:view_calendar", "booking:create_appointment",
            "booking:modify_appointment", "booking:cancel_appointment")
OLD_NAMES = ("booking:create", "booking:modify", "booking:cancel")


def audit_entries(db: Session, org_id: str, intent: str) -> list[AuditEntry]:
    entries = list(db.scalars(select(AuditEntry).where(AuditEntry.organization_id == org_id,
                                                       AuditEntry.intent == intent)
                              .order_by(AuditEntry.seq)))
    db.rollback()  # on SQLite an open transaction would hold the write lock
    return entries


def test_the_catalogue_and_default_roles_use_seed_003_names() -> None:
    assert set(SEED_003) <= set(ALL_PERMISSIONS)
    assert {"booking:override", "booking:approve", "admin:config", "admin:users",
            "schedule:own"} <= set(ALL_PERMISSIONS)
    granted = {p for permissions in DEFAULT_ROLES.values() for p in permissions}
    assert not granted & set(OLD_NAMES)
    assert "schedule:own" in DEFAULT_ROLES["provider"]


def test_the_database_catalogue_has_the_new_names_only(db: Session) -> None:
    codes = set(db.scalars(text("SELECT code FROM permissions")))
    assert set(SEED_003) | {"schedule:own"} <= codes
    assert not codes & set(OLD_NAMES)


def test_the_migration_gives_existing_roles_the_new_names(unmigrated_url: str) -> None:
    upgrade(unmigrated_url, "0007_notifications")
    engine = make_engine(unmigrated_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO organizations (id, name, slug, created_at) "
                "VALUES ('o1', 'Old clinic', 'old', :at)"), {"at": START})
            for role in ("receptionist", "provider"):
                connection.execute(text("INSERT INTO roles (id, organization_id, name) "
                                        "VALUES (:id, 'o1', :id)"), {"id": role})
            for permission in ("booking:view_calendar", *OLD_NAMES):
                connection.execute(text(
                    "INSERT INTO role_permissions (role_id, permission, organization_id) "
                    "VALUES ('receptionist', :p, 'o1')"), {"p": permission})
            connection.execute(text(
                "INSERT INTO role_permissions (role_id, permission, organization_id) "
                "VALUES ('provider', 'booking:modify', 'o1')"))
        upgrade(unmigrated_url)
        with engine.connect() as connection:
            held = {(r, p) for r, p in connection.execute(
                text("SELECT role_id, permission FROM role_permissions"))}
            codes = set(connection.scalars(text("SELECT code FROM permissions")))
    finally:
        engine.dispose()
    assert held == {("receptionist", p) for p in SEED_003} | {
        ("provider", "booking:modify_appointment"), ("provider", "schedule:own")}
    assert not codes & set(OLD_NAMES)


def test_a_missing_permission_is_a_403_naming_it_and_audited(
    client: TestClient, tenants: Tenants, db: Session
) -> None:
    viewer = tenants.organization(role="viewer")
    # A well-formed booking: the booking writes read their body before their caller's
    # rights (deps.Gate), so a malformed one would be a 422 first.
    body = {"clinic_id": "c1", "patient_id": "p1", "appointment_type_id": "t1",
            "provider_id": "dr", "start": "2030-01-07T09:00:00Z"}
    response = client.post("/api/v1/appointments", json=body, headers=sign_in(client, viewer))
    assert response.status_code == 403
    assert "booking:create_appointment" in response.json()["error"]["message"]
    [entry] = audit_entries(db, viewer.org_id, "permission_denied")
    assert (entry.actor_user_id, entry.outcome, entry.target_id) == (
        viewer.user_id, "refused", "booking:create_appointment")


def test_a_403_on_configuration_is_audited_and_changes_nothing(
    client: TestClient, tenants: Tenants, db: Session
) -> None:
    receptionist = tenants.organization(role="receptionist")
    response = client.post("/api/v1/admin/clinics", headers=sign_in(client, receptionist),
                           json={"name": "Sneaky", "time_zone": "UTC"})
    assert response.status_code == 403
    assert [e.target_id for e in audit_entries(db, receptionist.org_id,
                                               "permission_denied")] == ["admin:config"]
    assert client.get("/api/v1/admin/clinics",
                      headers=sign_in(client, tenants.user(
                          receptionist.org_id, receptionist.org_slug))).json() == []


def test_reading_a_patient_record_is_audited(
    client: TestClient, tenants: Tenants, db: Session
) -> None:
    admin = tenants.organization()
    headers = sign_in(client, admin)
    created = client.post("/api/v1/patients", headers=headers,
                          json={"given_name": "Ana", "family_name": "Ruiz"})
    assert created.status_code == 201, created.text
    patient_id = created.json()["id"]
    assert audit_entries(db, admin.org_id, "read") == []
    assert client.get(f"/api/v1/patients/{patient_id}", headers=headers).status_code == 200
    assert client.get("/api/v1/patients", params={"q": "ruiz"},
                      headers=headers).status_code == 200
    reads = audit_entries(db, admin.org_id, "read")
    assert [(e.target_type, e.target_id, e.actor_user_id) for e in reads] == [
        ("patient", patient_id, admin.user_id)] * 2
