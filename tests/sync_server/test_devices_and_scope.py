"""Desk enrollment, device tokens, and organization scoping of ids."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.sync_protocol import DEVICE_TOKEN_HEADER
from sync_server.db.models import AuditEntry
from tests.sync_server.conftest import Clock, OrgUser, Tenants, sign_in


def enrollment_code(client: TestClient, headers: dict[str, str], **body: object) -> str:
    response = client.post("/api/v1/devices/enrollment-codes", json=body, headers=headers)
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


def enroll(client: TestClient, admin: OrgUser) -> dict[str, str]:
    code = enrollment_code(client, sign_in(client, admin))
    response = client.post("/api/v1/devices/enroll", json={"code": code, "name": "Front desk"})
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


def test_an_enrollment_code_gives_a_desk_its_credential_and_client_id(
    client: TestClient, tenants: Tenants
) -> None:
    admin = tenants.organization()
    desk = enroll(client, admin)
    assert desk["organization_id"] == admin.org_id
    me = client.get("/api/v1/devices/me", headers={DEVICE_TOKEN_HEADER: desk["device_token"]})
    assert me.status_code == 200
    assert me.json()["client_id"] == desk["client_id"]


def test_an_enrollment_code_works_only_once(client: TestClient, tenants: Tenants) -> None:
    code = enrollment_code(client, sign_in(client, tenants.organization()))
    assert client.post("/api/v1/devices/enroll", json={"code": code}).status_code == 201
    again = client.post("/api/v1/devices/enroll", json={"code": code})
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_enrollment_code"


def test_an_enrollment_code_is_accepted_without_dashes_and_in_lowercase(
    client: TestClient, tenants: Tenants
) -> None:
    code = enrollment_code(client, sign_in(client, tenants.organization()))
    typed = code.replace("-", " ").lower()
    assert client.post("/api/v1/devices/enroll", json={"code": typed}).status_code == 201


def test_an_expired_enrollment_code_is_refused(
    client: TestClient, tenants: Tenants, clock: Clock
) -> None:
    code = enrollment_code(client, sign_in(client, tenants.organization()), ttl_hours=1)
    clock.advance(timedelta(hours=1))
    assert client.post("/api/v1/devices/enroll", json={"code": code}).status_code == 401


def test_a_revoked_desk_is_refused_with_401(client: TestClient, tenants: Tenants) -> None:
    admin = tenants.organization()
    desk = enroll(client, admin)
    revoked = client.post(
        f"/api/v1/devices/{desk['device_id']}/revoke", headers=sign_in(client, admin)
    )
    assert revoked.status_code == 200
    me = client.get("/api/v1/devices/me", headers={DEVICE_TOKEN_HEADER: desk["device_token"]})
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "device_revoked"


def test_an_unknown_device_token_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/devices/me", headers={DEVICE_TOKEN_HEADER: "x" * 43})
    assert response.status_code == 401


def test_another_organizations_device_id_answers_404_and_is_audited(
    client: TestClient, tenants: Tenants, db: Session
) -> None:
    victim = tenants.organization()
    desk = enroll(client, victim)
    intruder = tenants.organization()
    response = client.post(
        f"/api/v1/devices/{desk['device_id']}/revoke", headers=sign_in(client, intruder)
    )
    assert response.status_code == 404
    unknown = client.post(
        "/api/v1/devices/no-such-device/revoke", headers=sign_in(client, intruder)
    )
    assert response.json() == unknown.json()  # indistinguishable from an unknown id
    entries = db.execute(
        select(AuditEntry.actor_user_id, AuditEntry.target_id, AuditEntry.outcome).where(
            AuditEntry.organization_id == intruder.org_id, AuditEntry.intent == "access_denied"
        )
    ).all()
    db.rollback()  # release SQLite's write lock before the next request
    assert [tuple(e) for e in entries] == [(intruder.user_id, desk["device_id"], "refused")]
    me = client.get("/api/v1/devices/me", headers={DEVICE_TOKEN_HEADER: desk["device_token"]})
    assert me.status_code == 200  # the victim's desk was not touched
