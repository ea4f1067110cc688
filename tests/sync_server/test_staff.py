"""Users and roles administered through the API (``admin:users``)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.sync_server.conftest import PASSWORD, Tenants, sign_in


def role_id(client: TestClient, headers: dict[str, str], name: str) -> str:
    roles = client.get("/api/v1/admin/roles", headers=headers).json()
    return next(r["id"] for r in roles if r["name"] == name)


def test_an_administrator_creates_a_user_and_changes_their_roles(
    client: TestClient, tenants: Tenants
) -> None:
    admin = tenants.organization()
    headers = sign_in(client, admin)
    created = client.post("/api/v1/admin/users", headers=headers, json={
        "email": "New.Nurse@clinic.example", "display_name": "Nurse", "password": PASSWORD,
        "roles": ["viewer"]})
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["email"], user["roles"], user["mfa_enrolled"]) == (
        "new.nurse@clinic.example", ["viewer"], False)
    changed = client.patch(f"/api/v1/admin/users/{user['id']}", headers=headers,
                           json={"roles": ["receptionist", "provider"]})
    assert changed.json()["roles"] == ["provider", "receptionist"]
    listed = {u["email"]: u for u in client.get("/api/v1/admin/users", headers=headers).json()}
    assert listed["new.nurse@clinic.example"]["roles"] == ["provider", "receptionist"]


def test_a_role_change_removing_the_last_administrator_is_refused(
    client: TestClient, tenants: Tenants
) -> None:
    admin = tenants.organization()
    headers = sign_in(client, admin)
    refused = client.patch(f"/api/v1/admin/users/{admin.user_id}", headers=headers,
                           json={"roles": ["receptionist"]})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "last_administrator"
    administrator = role_id(client, headers, "administrator")
    stripped = client.patch(f"/api/v1/admin/roles/{administrator}", headers=headers,
                            json={"permissions": ["booking:view_calendar"]})
    assert stripped.json()["error"]["code"] == "last_administrator"
    me = client.get("/api/v1/auth/me", headers=headers).json()
    assert "admin:users" in me["permissions"] and me["roles"] == ["administrator"]


def test_with_a_second_administrator_the_first_may_step_down(
    client: TestClient, tenants: Tenants
) -> None:
    admin = tenants.organization()
    tenants.user(admin.org_id, admin.org_slug)
    headers = sign_in(client, admin)
    stepped = client.patch(f"/api/v1/admin/users/{admin.user_id}", headers=headers,
                           json={"roles": ["receptionist"]})
    assert stepped.status_code == 200 and stepped.json()["roles"] == ["receptionist"]


def test_a_role_gets_only_permissions_of_the_catalogue(
    client: TestClient, tenants: Tenants
) -> None:
    headers = sign_in(client, tenants.organization())
    catalogue = client.get("/api/v1/admin/permissions", headers=headers).json()
    assert "booking:create_appointment" in catalogue and "booking:create" not in catalogue
    refused = client.post("/api/v1/admin/roles", headers=headers, json={
        "name": "clerk", "permissions": ["booking:create"]})
    assert refused.status_code == 422 and "booking:create" in refused.json()["error"]["message"]
    created = client.post("/api/v1/admin/roles", headers=headers, json={
        "name": "physician", "permissions": ["booking:view_calendar", "schedule:own"]})
    assert created.status_code == 201
    assert created.json()["permissions"] == ["booking:view_calendar", "schedule:own"]


def test_users_of_another_organization_are_not_found(
    client: TestClient, tenants: Tenants
) -> None:
    other = tenants.organization()
    headers = sign_in(client, tenants.organization())
    answer = client.patch(f"/api/v1/admin/users/{other.user_id}", headers=headers,
                          json={"active": False})
    assert answer.status_code == 404


def test_a_receptionist_cannot_manage_users(client: TestClient, tenants: Tenants) -> None:
    headers = sign_in(client, tenants.organization(role="receptionist"))
    assert client.get("/api/v1/admin/users", headers=headers).status_code == 403
