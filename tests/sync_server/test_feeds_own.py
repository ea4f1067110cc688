"""A provider manages the feeds of their own calendar (``schedule:own``) without
administrator rights: their own provider only; another provider's calendar, feed or
busy calendar is a 403 (audited), another organization's feed a 404 (audited). And a
fetch's log line names the route, never the token."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db import models as db
from tests.sync_server.booking_setup import enroll_desk
from tests.sync_server.conftest import Clock, Tenants, sign_in
from tests.sync_server.feeds_setup import Calendar, create_feed, empty_calendar


def _doctor(client: TestClient, cal: Calendar, tenants: Tenants) -> tuple[str, dict[str, str]]:
    """A user with the provider role, linked by an administrator to provider 0."""
    doctor = tenants.user(cal.clinic.org_id, cal.clinic.org_slug, "provider")
    linked = client.patch(f"/api/v1/admin/resources/{cal.provider_id}", headers=cal.admin,
                          json={"user_id": doctor.user_id})
    assert linked.status_code == 200, linked.text
    return doctor.user_id, sign_in(client, doctor)


def _refusals(db_session: Session, org_id: str) -> list[tuple[str, str, str]]:
    db_session.rollback()
    rows = db_session.execute(select(db.AuditEntry.intent, db.AuditEntry.outcome,
                                     db.AuditEntry.reason).where(
        db.AuditEntry.organization_id == org_id, db.AuditEntry.outcome == "refused")
        .order_by(db.AuditEntry.seq)).all()
    db_session.rollback()
    return [tuple(row) for row in rows]


def test_a_provider_creates_lists_and_revokes_feeds_of_their_own_calendar_only(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    own, other = cal.clinic.provider_ids[:2]
    _user, doctor = _doctor(client, cal, tenants)

    mine = create_feed(client, doctor, own, label="Phone")
    assert client.get(mine["url"].removeprefix("http://testserver")).status_code == 200
    theirs = create_feed(client, cal.admin, other)  # made by an administrator

    refused = client.post("/api/v1/feeds", headers=doctor, json={"resource_id": other})
    assert refused.status_code == 403
    assert "schedule:own" in refused.json()["error"]["message"]
    room = client.post("/api/v1/feeds", headers=doctor,
                       json={"resource_id": cal.clinic.room_ids[0]})
    assert room.status_code == 403
    assert client.post(f"/api/v1/feeds/{theirs['feed']['id']}/revoke",
                       headers=doctor).status_code == 403
    assert _refusals(db, cal.clinic.org_id) == [
        ("permission_denied", "refused", "missing_permission")] * 3

    listed = client.get("/api/v1/feeds", headers=doctor).json()["feeds"]
    assert [f["id"] for f in listed] == [mine["feed"]["id"]]
    assert [r["id"] for r in client.get("/api/v1/feeds/resources",
                                        headers=doctor).json()["resources"]] == [own]
    everything = client.get("/api/v1/feeds/resources", headers=cal.admin).json()["resources"]
    assert {own, other, cal.clinic.room_ids[0]} <= {r["id"] for r in everything}
    assert len(client.get("/api/v1/feeds", headers=cal.admin).json()["feeds"]) == 2

    revoked = client.post(f"/api/v1/feeds/{mine['feed']['id']}/revoke", headers=doctor)
    assert revoked.status_code == 200 and revoked.json()["feed"]["revoked_at"]
    assert client.get(mine["url"].removeprefix("http://testserver")).status_code == 404
    assert client.get(theirs["url"].removeprefix("http://testserver")).status_code == 200
    # The organization's policy is the administrators': readable, not changeable.
    assert client.get("/api/v1/feeds/policy", headers=doctor).status_code == 200
    assert client.put("/api/v1/feeds/policy", headers=doctor,
                      json={"allow_full": True}).status_code == 403


def test_another_organizations_feed_is_a_404_and_audited_for_a_provider(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    other = empty_calendar(client, db, settings, tenants)
    _user, doctor = _doctor(client, cal, tenants)
    theirs = create_feed(client, other.admin, other.provider_id)

    answer = client.post(f"/api/v1/feeds/{theirs['feed']['id']}/revoke", headers=doctor)
    assert answer.status_code == 404
    assert _refusals(db, cal.clinic.org_id) == [
        ("access_denied", "refused", "other_organization")]
    created = client.post("/api/v1/feeds", headers=doctor,
                          json={"resource_id": other.provider_id})
    assert created.status_code == 403  # not their own: the same answer as any other id
    assert client.get(theirs["url"].removeprefix("http://testserver")).status_code == 200


def test_a_provider_without_a_linked_calendar_or_the_permission_gets_nothing(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    unlinked = sign_in(client, tenants.user(cal.clinic.org_id, cal.clinic.org_slug, "provider"))
    assert client.get("/api/v1/feeds", headers=unlinked).json()["feeds"] == []
    assert client.get("/api/v1/feeds/resources", headers=unlinked).json()["resources"] == []
    assert client.post("/api/v1/feeds", headers=unlinked,
                       json={"resource_id": cal.provider_id}).status_code == 403
    viewer = sign_in(client, tenants.user(cal.clinic.org_id, cal.clinic.org_slug, "viewer"))
    assert client.get("/api/v1/feeds", headers=viewer).status_code == 403


def test_a_provider_subscribes_only_their_own_busy_calendar(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    own, other = cal.clinic.provider_ids[:2]
    _user, doctor = _doctor(client, cal, tenants)
    body: dict[str, Any] = {"clinic_id": cal.clinic.clinic_id,
                            "url": "http://127.0.0.1:9/never.ics"}  # refused at once
    mine = client.post("/api/v1/feeds/busy-calendars", headers=doctor,
                       json={**body, "provider_id": own})
    assert mine.status_code == 201 and mine.json()["ok"] is False  # the failure is shown
    assert client.post("/api/v1/feeds/busy-calendars", headers=doctor,
                       json={**body, "provider_id": other}).status_code == 403
    theirs = client.post("/api/v1/feeds/busy-calendars", headers=cal.admin,
                         json={**body, "provider_id": other}).json()
    assert client.post(f"/api/v1/feeds/busy-calendars/{theirs['id']}/refresh",
                       headers=doctor).status_code == 403
    listed = client.get("/api/v1/feeds/busy-calendars", headers=doctor).json()
    assert [s["provider_id"] for s in listed["busy_calendars"]] == [own]


def test_an_enrolled_desk_manages_the_feeds_of_its_signed_in_providers_calendar(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants,
        clock: Clock) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    user_id, _headers = _doctor(client, cal, tenants)
    desk = enroll_desk(db, cal.clinic, clock)
    headers = {**desk.headers, "X-ClinicDesk-User": user_id}
    assert client.post("/api/v1/feeds", headers=headers,
                       json={"resource_id": cal.provider_id}).status_code == 201
    assert client.post("/api/v1/feeds", headers=headers,
                       json={"resource_id": cal.clinic.provider_ids[1]}).status_code == 403


def test_a_fetch_logs_the_route_never_the_token(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants,
        caplog: pytest.LogCaptureFixture) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    feed = create_feed(client, cal.admin, cal.provider_id)
    with caplog.at_level(logging.DEBUG):
        assert client.get(feed["url"].removeprefix("http://testserver")).status_code == 200
        assert client.get("/feeds/" + feed["token"][::-1] + ".ics").status_code == 404
    server = [r for r in caplog.records if not r.name.startswith("httpx")]  # not the client's
    paths = [getattr(r, "path", "") for r in server if getattr(r, "event", "") == "request"]
    assert paths == ["/feeds/{token}.ics"] * 2
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in server)
    assert feed["token"] not in logged and feed["token"][::-1] not in logged
