"""Golden tests: a provider's feed across DST changes, with a series that has moved and
cancelled occurrences and cancelled single visits, read by three iCalendar readers
(icalendar, recurring-ical-events, vobject), each giving exactly the scheduling
core's occurrence set (start and end in UTC, status)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.ical import ICAL_STATUS
from sync_server.core.config import Settings
from sync_server.db import models
from tests.support.records import by_id
from tests.sync_server.conftest import START, Tenants
from tests.sync_server.feeds_setup import (
    CANCELLED,
    MOVED,
    Calendar,
    create_feed,
    expected_occurrences,
    seed_calendar,
)
from tests.sync_server.ical_readers import (
    with_icalendar,
    with_recurring_ical_events,
    with_vobject,
)

WINDOW = (START - timedelta(days=30), START + timedelta(days=366))


@pytest.mark.parametrize("tz", ["America/New_York", "Europe/Madrid"])
def test_three_readers_see_the_cores_occurrences_across_dst(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants, tz: str) -> None:
    cal = seed_calendar(client, db, settings, tenants, tz)
    feed = create_feed(client, cal.admin, cal.provider_id, privacy="initials")
    response = client.get(feed["url"].removeprefix("http://testserver"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"

    expected = expected_occurrences(db, cal)
    assert len(expected) == 70 + 3  # 68 + 2 cancelled occurrences kept, 3 single visits
    assert sum(1 for *_times, status in expected if status == "CANCELLED") == 3
    for read in (with_icalendar, with_recurring_ical_events, with_vobject):
        assert read(response.content, *WINDOW) == expected, read.__name__


@pytest.mark.parametrize("tz", ["America/New_York", "Europe/Madrid"])
def test_the_series_is_one_rule_with_overrides_and_a_regular_vtimezone(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants, tz: str) -> None:
    cal = seed_calendar(client, db, settings, tenants, tz)
    feed = create_feed(client, cal.admin, cal.provider_id)
    calendar = icalendar.Calendar.from_ical(
        client.get(feed["url"].removeprefix("http://testserver")).content)

    events = calendar.walk("VEVENT")
    masters = [e for e in events if "RRULE" in e]
    overrides = [e for e in events if "RECURRENCE-ID" in e]
    assert len(masters) == 1
    assert {str(e["UID"]) for e in overrides} == {str(masters[0]["UID"])}
    assert len(overrides) == len(MOVED) + len(CANCELLED)
    assert sorted(str(e["STATUS"]) for e in overrides) == ["CANCELLED"] * 2 + ["CONFIRMED"] * 3
    assert "EXDATE" not in masters[0]  # cancelled occurrences stay visible as overrides
    assert masters[0]["DTSTART"].params["TZID"] == tz

    zones = calendar.walk("VTIMEZONE")
    assert [str(z["TZID"]) for z in zones] == [tz]
    observances = zones[0].walk("STANDARD") + zones[0].walk("DAYLIGHT")
    assert len(observances) == 2
    assert all("RRULE" in o and "RDATE" not in o for o in observances)



def _all_occurrences(db_session: Session, cal: Calendar) -> set[tuple[datetime, datetime, str]]:
    """What the provider's feed must show after a split: every occurrence row of the
    original series (head and split-off tail alike, by the ids the core gave them at
    booking) and the single visits, with their status."""
    db_session.rollback()
    rows = db_session.scalars(select(models.Appointment).where(
        models.Appointment.id.in_(cal.occurrence_ids + cal.single_ids))).all()
    db_session.rollback()
    assert len(rows) == len(cal.occurrence_ids) + len(cal.single_ids)
    return {(row.start_at, row.end_at, status) for row in rows
            if (status := ICAL_STATUS[row.status]) is not None
            and row.provider_id == cal.provider_id}


@pytest.mark.parametrize("tz", ["America/New_York", "Europe/Madrid"])
def test_a_series_split_this_and_following_reads_the_same_in_three_readers(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants, tz: str) -> None:
    """"This and following" moved an hour later from occurrence 50 (a new series), with
    occurrence 55 cancelled before the split (it stays in the first series) and the
    October move (60) carried into the tail: both series and their stray occurrences
    are in the feed once, as the core has them, in every reader."""
    cal = seed_calendar(client, db, settings, tenants, tz)
    edit = f"/api/v1/series/{cal.series_id}/edit"
    cancelled = client.post(edit, headers=cal.reception, json={
        "appointment_id": cal.occurrence_ids[55], "scope": "this", "action": "cancel",
        "reason": "Away"})
    assert cancelled.status_code == 200, cancelled.text
    anchor = by_id(db, models.Appointment, cal.occurrence_ids[50])
    assert anchor is not None
    later = anchor.start_at + timedelta(hours=1)
    db.rollback()
    split = client.post(edit, headers=cal.reception, json={
        "appointment_id": cal.occurrence_ids[50], "scope": "following", "action": "move",
        "start": later.isoformat(), "new_series_id": str(uuid.uuid4())})
    assert split.status_code == 200, split.text
    assert len(split.json()["series"]) == 2

    feed = create_feed(client, cal.admin, cal.provider_id, privacy="initials")
    body = client.get(feed["url"].removeprefix("http://testserver")).content
    expected = _all_occurrences(db, cal)
    assert sum(1 for *_times, status in expected if status == "CANCELLED") == 4
    for read in (with_icalendar, with_recurring_ical_events, with_vobject):
        assert read(body, *WINDOW) == expected, read.__name__

    events = icalendar.Calendar.from_ical(body).walk("VEVENT")
    uids = [str(e["UID"]) for e in events if "RECURRENCE-ID" not in e]
    assert len(uids) == len(set(uids))  # no event twice
    masters = [e for e in events if "RRULE" in e]
    assert str(masters[0]["UID"]) == f"series-{cal.series_id}@clinicdesk"  # the head stays a rule
