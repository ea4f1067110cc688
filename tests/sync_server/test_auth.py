"""Sign-in, lockout, TOTP, token expiry, refresh rotation and permissions."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from fastapi.testclient import TestClient

from tests.sync_server.conftest import Clock, Tenants, bearer, sign_in

LOGIN = "/api/v1/auth/login"


def test_signing_in_returns_a_short_lived_access_token_and_a_refresh_token(
    client: TestClient, tenants: Tenants, clock: Clock
) -> None:
    who = tenants.organization()
    response = client.post(LOGIN, json=who.login_body())
    assert response.status_code == 200
    body = response.json()
    assert body["access_token"] and len(body["refresh_token"]) >= 43
    lifetime = body["access_expires_at"]
    assert lifetime.startswith((clock.now + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M"))


def test_me_lists_the_roles_and_permissions_of_the_signed_in_user(
    client: TestClient, tenants: Tenants
) -> None:
    who = tenants.organization(role="receptionist")
    me = client.get("/api/v1/auth/me", headers=sign_in(client, who)).json()
    assert me["roles"] == ["receptionist"]
    assert "booking:create_appointment" in me["permissions"]
    assert "admin:devices" not in me["permissions"]


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: TestClient, tenants: Tenants
) -> None:
    who = tenants.organization()
    wrong_password = client.post(LOGIN, json=who.login_body(password="not the password"))
    unknown_email = client.post(LOGIN, json=who.login_body(email="nobody@clinic.example"))
    unknown_org = client.post(LOGIN, json=who.login_body(organization="no-such-org"))
    assert wrong_password.status_code == unknown_email.status_code == unknown_org.status_code == 401
    assert wrong_password.json() == unknown_email.json() == unknown_org.json()
    assert wrong_password.json()["error"]["code"] == "invalid_credentials"


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    client: TestClient, tenants: Tenants, settings: object
) -> None:
    who = tenants.organization()
    for _ in range(5):
        assert client.post(LOGIN, json=who.login_body(password="wrong-password")).status_code == 401
    locked = client.post(LOGIN, json=who.login_body())
    assert locked.status_code == 401
    assert "locked" in locked.json()["error"]["message"]


def test_a_locked_account_opens_again_after_the_lockout_period(
    client: TestClient, tenants: Tenants, clock: Clock
) -> None:
    who = tenants.organization()
    for _ in range(5):
        client.post(LOGIN, json=who.login_body(password="wrong-password"))
    clock.advance(timedelta(minutes=15, seconds=1))
    assert client.post(LOGIN, json=who.login_body()).status_code == 200


def test_an_account_with_totp_needs_the_current_code(
    client: TestClient, tenants: Tenants, clock: Clock
) -> None:
    secret = pyotp.random_base32()
    org = tenants.organization()
    who = tenants.user(org.org_id, org.org_slug, totp_secret=secret)
    missing = client.post(LOGIN, json=who.login_body())
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "totp_required"
    code = pyotp.TOTP(secret).at(clock.now)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert client.post(LOGIN, json=who.login_body(totp=wrong)).status_code == 401
    assert client.post(LOGIN, json=who.login_body(totp=code)).status_code == 200


def test_an_access_token_stops_working_after_fifteen_minutes(
    client: TestClient, tenants: Tenants, clock: Clock
) -> None:
    headers = sign_in(client, tenants.organization())
    clock.advance(timedelta(minutes=14, seconds=59))
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    clock.advance(timedelta(seconds=1))
    expired = client.get("/api/v1/auth/me", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "invalid_token"


def test_a_forged_access_token_is_refused(client: TestClient, tenants: Tenants) -> None:
    headers = sign_in(client, tenants.organization())
    token = headers["Authorization"].removeprefix("Bearer ")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.get("/api/v1/auth/me", headers=bearer(forged)).status_code == 401


def test_refreshing_rotates_the_refresh_token(client: TestClient, tenants: Tenants) -> None:
    first = client.post(LOGIN, json=tenants.organization().login_body()).json()
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(second.json()["access_token"])).is_success
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401


def test_reusing_a_rotated_refresh_token_ends_every_session_of_the_user(
    client: TestClient, tenants: Tenants
) -> None:
    first = client.post(LOGIN, json=tenants.organization().login_body()).json()
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    latest = second.json()["refresh_token"]
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": latest}).status_code == 401


def test_logging_out_revokes_the_refresh_token(client: TestClient, tenants: Tenants) -> None:
    tokens = client.post(LOGIN, json=tenants.organization().login_body()).json()
    body = {"refresh_token": tokens["refresh_token"]}
    assert client.post("/api/v1/auth/logout", json=body).status_code == 204
    assert client.post("/api/v1/auth/refresh", json=body).status_code == 401


def test_a_refresh_token_expires(client: TestClient, tenants: Tenants, clock: Clock) -> None:
    tokens = client.post(LOGIN, json=tenants.organization().login_body()).json()
    clock.advance(timedelta(days=31))
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401


def test_an_endpoint_needing_a_permission_refuses_a_role_without_it(
    client: TestClient, tenants: Tenants
) -> None:
    headers = sign_in(client, tenants.organization(role="viewer"))
    response = client.post("/api/v1/devices/enrollment-codes", json={}, headers=headers)
    assert response.status_code == 403
    assert "admin:devices" in response.json()["error"]["message"]


def test_a_request_without_a_token_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
