"""Admin API of hand-off / FHIR clients (both databases): register shows the secret once,
list, change return URLs, deactivate; only ``admin:config``; bad URLs refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.db import models
from sync_server.fhir import handoff
from sync_server.fhir.handoff import HandoffRefused
from tests.sync_server.conftest import Tenants, sign_in

URL = "/api/v1/fhir-clients"


def test_register_list_update_and_deactivate(client: TestClient, tenants: Tenants,
                                             db: Session) -> None:
    admin = tenants.organization("administrator")
    headers = sign_in(client, admin)
    created = client.post(URL, headers=headers, json={
        "name": "Ride app", "return_urls": ["https://ride.example/back"]})
    assert created.status_code == 201, created.text
    body = created.json()
    secret, row_id = body["client_secret"], body["id"]
    assert len(secret) >= 40 and body["active"] is True
    listed = client.get(URL, headers=headers).json()
    assert [c["id"] for c in listed] == [row_id]
    assert secret not in client.get(URL, headers=headers).text
    stored = db.scalars(select(models.AuditEntry.intent).where(
        models.AuditEntry.organization_id == admin.org_id,
        models.AuditEntry.target_id == row_id)).all()
    db.rollback()
    assert stored == ["fhir_client.create"]
    token = client.post(f"/fhir/{admin.org_slug}/auth/token", data={
        "grant_type": "client_credentials", "client_id": body["client_id"],
        "client_secret": secret})
    assert token.status_code == 200, token.text
    changed = client.patch(f"{URL}/{row_id}", headers=headers, json={
        "return_urls": ["https://ride.example/v2/*"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["return_urls"] == ["https://ride.example/v2/*"]
    assert handoff.begin(db, admin.org_id, "https://ride.example/v2/done", "s1").id
    db.commit()
    with pytest.raises(HandoffRefused):
        handoff.begin(db, admin.org_id, "https://ride.example/back", "s2")
    gone = client.patch(f"{URL}/{row_id}", headers=headers, json={"active": False})
    assert gone.status_code == 200 and gone.json()["active"] is False
    with pytest.raises(HandoffRefused):
        handoff.begin(db, admin.org_id, "https://ride.example/v2/done", "s3")
    refused = client.post(f"/fhir/{admin.org_slug}/auth/token", data={
        "grant_type": "client_credentials", "client_id": body["client_id"],
        "client_secret": secret})
    assert refused.status_code == 401
    intents = db.scalars(select(models.AuditEntry.intent).where(
        models.AuditEntry.organization_id == admin.org_id,
        models.AuditEntry.target_id == row_id).order_by(models.AuditEntry.seq)).all()
    db.rollback()
    assert intents == ["fhir_client.create", "fhir_client.update", "fhir_client.deactivate"]


@pytest.mark.parametrize("urls", [
    ["http://ride.example/back"], ["https://user:pw@ride.example/"], ["ftp://ride.example/"],
    ["https://ride.example/a*b"], ["https://ride.example/#x"], ["not a url"],
    ["https://ride.example/?q=1*"],
])
def test_bad_return_urls_are_refused(client: TestClient, tenants: Tenants,
                                     urls: list[str]) -> None:
    headers = sign_in(client, tenants.organization("administrator"))
    answer = client.post(URL, headers=headers, json={"name": "X", "return_urls": urls})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "return_url_invalid"


def test_other_roles_and_other_organizations_cannot_manage_clients(
        client: TestClient, tenants: Tenants) -> None:
    admin = tenants.organization("administrator")
    headers = sign_in(client, admin)
    row_id = client.post(URL, headers=headers, json={
        "name": "A", "return_urls": ["https://a.example/r"]}).json()["id"]
    reception = sign_in(client, tenants.user(admin.org_id, admin.org_slug, "receptionist"))
    assert client.get(URL, headers=reception).status_code == 403
    other = sign_in(client, tenants.organization("administrator"))
    assert client.get(URL, headers=other).json() == []
    assert client.patch(f"{URL}/{row_id}", headers=other,
                        json={"name": "mine"}).status_code == 404
    assert client.patch(f"{URL}/{row_id}", headers=other,
                        json={"active": False}).status_code == 404
    assert client.post(URL, headers=headers, json={
        "name": "B", "return_urls": [], "scopes": ["system/Patient.read"]}).status_code == 422
