"""Golden tests: a provider's feed across DST changes, with a series that has moved and
cancelled occurrences and cancelled single visits, read by three iCalendar readers
(icalendar, recurring-ical-events, vobject), each giving exactly the scheduling
core's occurrence set (start and end in UTC, status)."""

from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from tests.sync_server.conftest import START, Tenants
from tests.sync_server.feeds_setup import (
    CANCELLED,
    MOVED,
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

