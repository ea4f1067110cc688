"""Busy-time import: an external calendar (a real HTTP server on a loopback port) becomes
blockouts of the provider; a failing source is reported, never silently ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.feeds import busy
from tests.support.http_servers import MisbehavingServer
from tests.sync_server.conftest import START, Tenants
from tests.sync_server.feeds_setup import Calendar, empty_calendar

MONDAY = (START + timedelta(days=7)).date()


def external_calendar(cal: Calendar) -> bytes:
    """Busy Monday 10:00-11:00 weekly (3 weeks), plus a free (TRANSPARENT) and a
    cancelled event that must not block anything."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Elsewhere//EN")
    calendar.add("version", "2.0")
    for number, (hour, extra) in enumerate([(10, {"rrule": {"freq": "WEEKLY", "count": 3}}),
                                            (12, {"transp": "TRANSPARENT"}),
                                            (15, {"status": "CANCELLED"})]):
        event = icalendar.Event()
        event.add("uid", f"e{number}@elsewhere")
        event.add("dtstamp", START)
        event.add("summary", "Private; never imported")
        event.add("dtstart", cal.local(MONDAY, hour))
        event.add("dtend", cal.local(MONDAY, hour + 1))
        for key, value in extra.items():
            event.add(key, value)
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def subscribe(client: TestClient, cal: Calendar, url: str) -> dict[str, Any]:
    response = client.post("/api/v1/feeds/busy-calendars", headers=cal.admin, json={
        "provider_id": cal.provider_id, "clinic_id": cal.clinic.clinic_id, "url": url})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def blockouts(db_session: Session, cal: Calendar) -> list[tuple[datetime, datetime, str]]:
    rows = db_session.execute(select(models.Blockout.start_at, models.Blockout.end_at,
                                     models.Blockout.reason)
                              .where(models.Blockout.resource_id == cal.provider_id)
                              .order_by(models.Blockout.start_at)).all()
    db_session.rollback()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def slot_starts(client: TestClient, cal: Calendar) -> set[datetime]:
    found = client.get("/api/v1/availability", headers=cal.reception, params={
        "clinic_id": cal.clinic.clinic_id, "appointment_type_id": cal.clinic.type_id,
        "from": MONDAY.isoformat(), "to": MONDAY.isoformat(),
        "provider_id": [cal.provider_id]})
    assert found.status_code == 200, found.text
    return {datetime.fromisoformat(s["start"]).astimezone(UTC) for s in found.json()["slots"]}


def test_busy_times_become_blockouts_that_availability_and_booking_respect(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    assert cal.local(MONDAY, 10) in slot_starts(client, cal)
    with MisbehavingServer(200, external_calendar(cal), content_type="text/calendar") as source:
        state = subscribe(client, cal, source.url + "/secret.ics")

    assert state["ok"] is True and state["error"] == "" and state["busy_count"] == 3
    assert blockouts(db, cal) == [(cal.local(MONDAY + timedelta(weeks=w), 10),
                                   cal.local(MONDAY + timedelta(weeks=w), 11),
                                   "External calendar") for w in range(3)]
    free = slot_starts(client, cal)
    assert cal.local(MONDAY, 10) not in free and cal.local(MONDAY, 10, 30) not in free
    assert cal.local(MONDAY, 12) in free and cal.local(MONDAY, 15) in free
    refused = client.post("/api/v1/appointments", headers=cal.reception, json={
        "clinic_id": cal.clinic.clinic_id, "patient_id": cal.clinic.patient_ids[0],
        "appointment_type_id": cal.clinic.type_id, "provider_id": cal.provider_id,
        "start": cal.local(MONDAY, 10).isoformat()})
    assert refused.status_code == 409
    assert "never imported" not in str(blockouts(db, cal))


def test_a_refresh_replaces_the_busy_times_and_keeps_equal_ones(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    with MisbehavingServer(200, external_calendar(cal), content_type="text/calendar") as source:
        state = subscribe(client, cal, source.url)
    first = db.scalars(select(models.Blockout.id).where(
        models.Blockout.resource_id == cal.provider_id).order_by(models.Blockout.start_at)).all()
    db.rollback()
    shorter = external_calendar(cal).replace(b"COUNT=3", b"COUNT=2")
    with MisbehavingServer(200, shorter, content_type="text/calendar") as source:
        _point(db, state["id"], source.url)
        again = client.post(f"/api/v1/feeds/busy-calendars/{state['id']}/refresh",
                            headers=cal.admin)
    assert again.status_code == 200 and again.json()["busy_count"] == 2
    second = db.scalars(select(models.Blockout.id).where(
        models.Blockout.resource_id == cal.provider_id).order_by(models.Blockout.start_at)).all()
    db.rollback()
    assert list(second) == list(first[:2])  # the same blockouts, the third one deleted


def _point(db_session: Session, source_id: str, url: str) -> None:
    from sync_server.feeds.models import BusyCalendar

    row = db_session.get(BusyCalendar, source_id)
    assert row is not None
    row.url = url
    db_session.commit()


@pytest.mark.parametrize(("status", "body", "code_words"), [
    (200, b"<html>Sign in to see this calendar</html>", "did not answer with a calendar"),
    (500, b"oops", "answered HTTP 500"),
    (200, b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:garbage\r\n", "could not be read"),
])
def test_a_failing_source_is_reported_and_keeps_its_last_busy_times(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants,
        status: int, body: bytes, code_words: str) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    with MisbehavingServer(200, external_calendar(cal), content_type="text/calendar") as good:
        state = subscribe(client, cal, good.url)
    with MisbehavingServer(status, body) as bad:
        _point(db, state["id"], bad.url)
        failed = client.post(f"/api/v1/feeds/busy-calendars/{state['id']}/refresh",
                             headers=cal.admin).json()
    assert failed["ok"] is False and code_words in failed["error"]
    assert len(blockouts(db, cal)) == 3  # the last good busy times still block
    listed = client.get("/api/v1/feeds/busy-calendars", headers=cal.admin,
                        params={"provider_id": cal.provider_id}).json()["busy_calendars"]
    assert [(s["ok"], s["error"]) for s in listed] == [(False, failed["error"])]


def test_a_huge_or_silent_source_is_cut_off(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    monkeypatch.setattr(busy, "MAX_BYTES", 4096)
    monkeypatch.setattr(busy, "TIMEOUT_SECONDS", 0.5)
    huge = b"BEGIN:VCALENDAR\r\n" + (b"X-FILL:" + b"x" * 70 + b"\r\n") * 1000
    with MisbehavingServer(200, huge, content_type="text/calendar") as source:
        state = subscribe(client, cal, source.url)
    assert state["ok"] is False and "larger than" in state["error"]
    with MisbehavingServer(hang_first=1) as silent:
        _point(db, state["id"], silent.url)
        timed_out = client.post(f"/api/v1/feeds/busy-calendars/{state['id']}/refresh",
                                headers=cal.admin).json()
    assert timed_out["ok"] is False and "did not answer in 0.5 seconds" in timed_out["error"]
    assert blockouts(db, cal) == []


def test_a_busy_calendar_needs_an_http_address_and_a_provider_of_the_org(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    bad = client.post("/api/v1/feeds/busy-calendars", headers=cal.admin, json={
        "provider_id": cal.provider_id, "clinic_id": cal.clinic.clinic_id,
        "url": "file:///etc/passwd"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_url"
    room = client.post("/api/v1/feeds/busy-calendars", headers=cal.admin, json={
        "provider_id": cal.clinic.room_ids[0], "clinic_id": cal.clinic.clinic_id,
        "url": "https://example.invalid/x.ics"})
    assert room.status_code == 404


def test_the_schedule_refreshes_only_sources_not_tried_lately(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    with MisbehavingServer(200, external_calendar(cal), content_type="text/calendar") as source:
        state = subscribe(client, cal, source.url)
        tried = datetime.fromisoformat(state["last_attempt_at"])
        assert [s.id for s in busy.refresh_due(db, tried + timedelta(minutes=29))
                if s.id == state["id"]] == []
        again = [s for s in busy.refresh_due(db, tried + timedelta(minutes=30))
                 if s.id == state["id"]]
        assert len(source.requests) == 2
    assert [(s.ok, s.busy_count) for s in again] == [(True, 3)]
