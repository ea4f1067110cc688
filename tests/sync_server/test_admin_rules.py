"""Configuration rules across records: overlapping weekly blocks, a holiday over booked
appointments, providers' own schedules (``schedule:own``), provider and clinic fields."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from tests.sync_server.booking_setup import FIRST_DAY, Booked, seed_booked, slot
from tests.sync_server.conftest import Tenants, sign_in


def block(booked: Booked, provider: int = 0, **values: Any) -> dict[str, Any]:
    return {"provider_id": booked.clinic.provider_ids[provider],
            "clinic_id": booked.clinic.clinic_id, "weekday": 5, "start": "09:00",
            "end": "12:00", **values}


def test_an_overlapping_weekly_block_is_refused_and_nothing_is_saved(
    client: TestClient, db: Session, settings: Settings, tenants: Tenants
) -> None:
    booked = seed_booked(client, db, settings, tenants)
    first = client.post("/api/v1/admin/weekly-schedules", headers=booked.admin,
                        json=block(booked))
    assert first.status_code == 201, first.text
    refused = client.post("/api/v1/admin/weekly-schedules", headers=booked.admin,
                          json=block(booked, start="11:00", end="14:00"))
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "overlapping_schedule"
    assert "09:00-12:00" in refused.json()["error"]["message"]
    later = client.post("/api/v1/admin/weekly-schedules", headers=booked.admin,
                        json=block(booked, start="12:00", end="14:00"))
    assert later.status_code == 201  # touching is fine


def test_a_holiday_over_booked_appointments_lists_them_until_kept_on_purpose(
    client: TestClient, db: Session, settings: Settings, tenants: Tenants
) -> None:
    booked = seed_booked(client, db, settings, tenants)
    made = client.post("/api/v1/appointments", headers=booked.reception,
                       json=booked.book_body(slot(2)))
    assert made.status_code == 201, made.text
    holiday = {"clinic_id": booked.clinic.clinic_id, "day": FIRST_DAY.isoformat(),
               "name": "Local feast"}
    refused = client.post("/api/v1/admin/holidays", headers=booked.admin, json=holiday)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "appointments_on_holiday" and "10:00" in error["message"]
    assert client.get("/api/v1/admin/holidays", headers=booked.admin).json() == []
    kept = client.post("/api/v1/admin/holidays", headers=booked.admin,
                       json={**holiday, "keep_appointments": True})
    assert kept.status_code == 201, kept.text


def test_a_provider_with_schedule_own_manages_only_their_own_schedule(
    client: TestClient, db: Session, settings: Settings, tenants: Tenants
) -> None:
    booked = seed_booked(client, db, settings, tenants)
    doctor = tenants.user(booked.org_id, booked.clinic.org_slug, "provider")
    own, other = booked.clinic.provider_ids[:2]
    linked = client.patch(f"/api/v1/admin/resources/{own}", headers=booked.admin,
                          json={"user_id": doctor.user_id, "specialty": "Cardiology",
                                "licence_number": "MAD-28-1234"})
    assert linked.status_code == 200, linked.text
    assert (linked.json()["specialty"], linked.json()["licence_number"]) == (
        "Cardiology", "MAD-28-1234")
    headers = sign_in(client, doctor)
    mine = client.post("/api/v1/admin/schedule-exceptions", headers=headers, json={
        "provider_id": own, "clinic_id": booked.clinic.clinic_id, "kind": "time_off",
        "start": "2026-04-01T07:00:00Z", "end": "2026-04-01T15:00:00Z"})
    assert mine.status_code == 201, mine.text
    theirs = client.post("/api/v1/admin/weekly-schedules", headers=headers,
                         json=block(booked, provider=1))
    assert theirs.status_code == 403
    assert "schedule:own" in theirs.json()["error"]["message"]
    listed = client.get("/api/v1/admin/weekly-schedules", headers=headers).json()
    assert listed and {s["provider_id"] for s in listed} == {own}
    assert other not in {s["provider_id"] for s in listed}
    assert client.post("/api/v1/admin/clinics", headers=headers,
                       json={"name": "X", "time_zone": "UTC"}).status_code == 403


def test_a_clinic_keeps_its_address_and_opening_hours(
    client: TestClient, tenants: Tenants
) -> None:
    headers = sign_in(client, tenants.organization())
    created = client.post("/api/v1/admin/clinics", headers=headers, json={
        "name": "Centro", "time_zone": "Europe/Madrid", "address": "Calle Mayor 1\nMadrid",
        "opening_hours": "Mon-Fri 08:00-20:00"})
    assert created.status_code == 201, created.text
    read = client.get(f"/api/v1/admin/clinics/{created.json()['id']}", headers=headers).json()
    assert (read["address"], read["opening_hours"]) == ("Calle Mayor 1\nMadrid",
                                                        "Mon-Fri 08:00-20:00")
