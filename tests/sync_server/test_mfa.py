"""Enrolling a second factor, recovery codes, and roles that require one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.db.models import RecoveryCode, User
from tests.sync_server.conftest import Clock, OrgUser, Tenants, sign_in


def enrol(client: TestClient, who: OrgUser, clock: Clock) -> tuple[str, list[str]]:
    started = client.post("/api/v1/auth/mfa/start", json=who.login_body())
    assert started.status_code == 200, started.text
    secret = started.json()["secret"]
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/")
    code = pyotp.TOTP(secret).at(clock())
    confirmed = client.post("/api/v1/auth/mfa/confirm", json=who.login_body(code=code))
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


def login(client: TestClient, who: OrgUser, **extra: Any) -> Any:
    return client.post("/api/v1/auth/login", json=who.login_body(**extra))


def test_an_enrolled_user_signs_in_with_the_code_only(
    client: TestClient, tenants: Tenants, clock: Clock
) -> None:
    who = tenants.organization(role="receptionist")
    secret, _codes = enrol(client, who, clock)
    assert login(client, who).json()["error"]["code"] == "totp_required"
    clock.advance(timedelta(seconds=60))
    assert login(client, who, totp=pyotp.TOTP(secret).at(clock())).status_code == 200


def test_a_wrong_confirmation_code_is_refused_clearly_and_changes_nothing(
    client: TestClient, tenants: Tenants, db: Session
) -> None:
    who = tenants.organization(role="receptionist")
    assert client.post("/api/v1/auth/mfa/start", json=who.login_body()).status_code == 200
    refused = client.post("/api/v1/auth/mfa/confirm", json=who.login_body(code="000000"))
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "wrong_code"
    assert "does not match" in refused.json()["error"]["message"]
    assert db.scalar(select(User.totp_secret).where(User.id == who.user_id)) is None
    db.rollback()
    assert login(client, who).status_code == 200  # still no second factor


def test_enrolment_needs_the_password(client: TestClient, tenants: Tenants) -> None:
    who = tenants.organization(role="receptionist")
    answer = client.post("/api/v1/auth/mfa/start", json={**who.login_body(), "password": "no"})
    assert answer.status_code == 401


def test_recovery_codes_are_stored_hashed_and_work_once(
    client: TestClient, tenants: Tenants, clock: Clock, db: Session
) -> None:
    who = tenants.organization(role="receptionist")
    _secret, codes = enrol(client, who, clock)
    assert len(codes) == len(set(codes)) == 10
    stored = set(db.scalars(select(RecoveryCode.code_hash)
                            .where(RecoveryCode.user_id == who.user_id)))
    db.rollback()
    assert len(stored) == 10 and not stored & set(codes)
    assert login(client, who, totp=codes[0].upper()).status_code == 200
    assert login(client, who, totp=codes[0]).status_code == 401
    assert login(client, who, totp=codes[1]).status_code == 200


def test_a_role_requiring_mfa_refuses_sign_in_until_the_user_enrols(
    client: TestClient, tenants: Tenants, clock: Clock
) -> None:
    admin = tenants.organization()
    headers = sign_in(client, admin)
    receptionist = tenants.user(admin.org_id, admin.org_slug, role="receptionist")
    [role] = [r for r in client.get("/api/v1/admin/roles", headers=headers).json()
              if r["name"] == "receptionist"]
    changed = client.patch(f"/api/v1/admin/roles/{role['id']}", headers=headers,
                           json={"mfa_required": True})
    assert changed.status_code == 200 and changed.json()["mfa_required"] is True
    refused = login(client, receptionist)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "mfa_enrolment_required"
    assert "Enrol" in refused.json()["error"]["message"]
    assert login(client, receptionist, password="wrong").json()["error"]["code"] == (
        "invalid_credentials")  # the requirement is told after a correct password only
    secret, _codes = enrol(client, receptionist, clock)
    clock.advance(timedelta(seconds=60))
    assert login(client, receptionist, totp=pyotp.TOTP(secret).at(clock())).status_code == 200
