"""Quotas and booking policies set through the admin API, then each refusal code they
cause over the booking API (SQLite and PostgreSQL): QUOTA_REACHED (per provider, per
type, per week), TOO_SHORT_NOTICE, TOO_FAR_AHEAD, RESCHEDULE_LIMIT_REACHED, and the
LATE_CANCELLATION notice for staff."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from tests.sync_server.booking_setup import FIRST_DAY, Booked, seed_booked, slot
from tests.sync_server.conftest import Tenants

API = "/api/v1"
DAY = 24 * 3600


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def admin(client: TestClient, booked: Booked, method: str, path: str,
          body: dict[str, Any]) -> None:
    answer = client.request(method, f"{API}/admin/{path}", json=body, headers=booked.admin)
    assert answer.status_code in (200, 201), answer.text


def attempt(client: TestClient, booked: Booked, start: Any, **extra: Any) -> tuple[int, str]:
    answer = client.post(f"{API}/appointments", json=booked.book_body(start, **extra),
                         headers=booked.reception)
    code = answer.json()["error"]["code"] if answer.status_code == 409 else ""
    return answer.status_code, code


def policy(client: TestClient, booked: Booked, **fields: Any) -> None:
    admin(client, booked, "PATCH", f"appointment-types/{booked.clinic.type_id}", fields)


def test_a_daily_provider_quota_refuses_the_next_booking_that_day_only(
    client: TestClient, booked: Booked
) -> None:
    admin(client, booked, "POST", "quotas", {
        "clinic_id": booked.clinic.clinic_id, "period": "day", "max_count": 1,
        "provider_id": booked.clinic.provider_ids[0]})
    assert attempt(client, booked, slot(0)) == (201, "")
    assert attempt(client, booked, slot(2), patient=1) == (409, "QUOTA_REACHED")
    assert attempt(client, booked, slot(2), provider=1, patient=1) == (201, "")  # other provider
    assert attempt(client, booked, slot(2, FIRST_DAY + timedelta(days=1)), patient=1) == (
        201, "")  # another day


def test_a_weekly_type_quota_counts_the_whole_week(client: TestClient, booked: Booked) -> None:
    admin(client, booked, "POST", "quotas", {
        "clinic_id": booked.clinic.clinic_id, "period": "week", "max_count": 2,
        "appointment_type_id": booked.clinic.type_id})
    assert attempt(client, booked, slot(0)) == (201, "")
    assert attempt(client, booked, slot(0, FIRST_DAY + timedelta(days=2)), patient=1) == (
        201, "")
    assert attempt(client, booked, slot(0, FIRST_DAY + timedelta(days=4)), patient=2) == (
        409, "QUOTA_REACHED")
    assert attempt(client, booked, slot(0, FIRST_DAY + timedelta(days=7)), patient=2) == (
        201, "")  # the next week


def test_minimum_notice_and_maximum_window_refuse_with_their_codes(
    client: TestClient, booked: Booked
) -> None:
    policy(client, booked, min_notice_seconds=10 * DAY)  # slot(0) is 7 days after "now"
    assert attempt(client, booked, slot(0)) == (409, "TOO_SHORT_NOTICE")
    policy(client, booked, min_notice_seconds=0, max_days_ahead=3)
    assert attempt(client, booked, slot(0)) == (409, "TOO_FAR_AHEAD")
    policy(client, booked, max_days_ahead=30)
    assert attempt(client, booked, slot(0)) == (201, "")


def test_the_reschedule_limit_and_a_late_cancellation(
    client: TestClient, booked: Booked
) -> None:
    policy(client, booked, reschedule_limit=1, cancellation_period_seconds=30 * DAY)
    made = client.post(f"{API}/appointments", json=booked.book_body(slot(0)),
                       headers=booked.reception).json()["appointments"][0]
    path = f"{API}/appointments/{made['id']}"
    first = client.post(f"{path}/move", json={"start": slot(2).isoformat()},
                        headers=booked.reception)
    assert first.status_code == 200, first.text
    second = client.post(f"{path}/move", json={"start": slot(4).isoformat()},
                         headers=booked.reception)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "RESCHEDULE_LIMIT_REACHED"
    cancelled = client.post(f"{path}/cancel", json={"reason": "called"},
                            headers=booked.reception)
    assert cancelled.status_code == 200  # staff record it; a fee may apply (seed 003)
    assert cancelled.json()["notices"] == ["LATE_CANCELLATION"]
