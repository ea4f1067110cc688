"""The REST booking API: book, change, list, series, availability, refusals and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db import models
from tests.support.records import by_id
from tests.sync_server.booking_setup import (
    FIRST_DAY,
    Booked,
    active_overlaps,
    book,
    counts,
    seed_booked,
    slot,
)
from tests.sync_server.conftest import Tenants

API = "/api/v1"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def test_a_booking_is_stored_with_its_occupations_audit_and_change(
    client: TestClient, booked: Booked, db: Session
) -> None:
    appointment = book(client, booked, **booked.book_body(slot(0)))
    assert appointment["status"] == "booked"
    assert appointment["room_id"] in booked.clinic.room_ids  # the rules chose a free room
    row = by_id(db, models.Appointment, appointment["id"])
    assert row is not None and row.active
    occupied = db.scalars(select(models.AppointmentResource.resource_id).where(
        models.AppointmentResource.appointment_id == row.id)).all()
    assert set(occupied) == {booked.clinic.provider_ids[0], appointment["room_id"]}
    db.rollback()  # end the read (SQLite: release the write lock it took)
    fetched = client.get(f"{API}/appointments/{appointment['id']}", headers=booked.reception)
    assert fetched.status_code == 200 and fetched.json()["start"] == slot(0).isoformat()
    entry = db.scalars(select(models.AuditEntry).where(
        models.AuditEntry.target_id == appointment["id"])).one()
    assert (entry.intent, entry.outcome) == ("appointment.book", "accepted")
    db.rollback()


def test_booking_a_taken_slot_answers_409_with_code_message_and_alternatives(
    client: TestClient, booked: Booked, db: Session
) -> None:
    book(client, booked, **booked.book_body(slot(0), patient=1))
    before = counts(db, booked.org_id)
    response = client.post(f"{API}/appointments", json=booked.book_body(slot(0), patient=2),
                           headers=booked.reception)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "PROVIDER_BUSY"
    assert "provider 0 is already booked" in error["message"]
    assert "Given" not in error["message"] and "Family" not in error["message"]  # no PHI
    assert error["params"]["provider"] == booked.clinic.provider_ids[0]
    assert error["alternatives"], "a busy provider comes with nearby free times"
    first = error["alternatives"][0]
    assert {"start", "end", "provider_id", "room_id", "equipment_ids"} <= set(first)
    after = counts(db, booked.org_id)
    assert after["appointments"] == before["appointments"]
    assert after["audit"] == before["audit"] + 1  # the refusal is audited
    taken = client.post(f"{API}/appointments", headers=booked.reception,
                        json=booked.book_body(slot(0), patient=2) | {
                            "start": first["start"], "provider_id": first["provider_id"]})
    assert taken.status_code == 201, taken.text  # an offered alternative can be booked


def test_an_alternative_offered_is_really_free(
    client: TestClient, booked: Booked
) -> None:
    for index in range(8):  # the whole morning of provider 0
        book(client, booked, **booked.book_body(slot(index), patient=index))
    refused = client.post(f"{API}/appointments", json=booked.book_body(slot(3), patient=10),
                          headers=booked.reception).json()["error"]
    for alternative in refused["alternatives"]:
        body = booked.book_body(slot(0), patient=10) | {
            "start": alternative["start"], "provider_id": alternative["provider_id"]}
        answer = client.post(f"{API}/appointments", json=body, headers=booked.reception)
        assert answer.status_code == 201, answer.text
        client.post(f"{API}/appointments/{answer.json()['appointments'][0]['id']}/cancel",
                    json={"reason": "test"}, headers=booked.reception)


def test_move_resize_status_undo_and_cancel_change_one_appointment(
    client: TestClient, booked: Booked, db: Session
) -> None:
    appointment = book(client, booked, **booked.book_body(slot(0)))
    path = f"{API}/appointments/{appointment['id']}"
    moved = client.post(f"{path}/move", json={"start": slot(2).isoformat()},
                        headers=booked.reception)
    assert moved.status_code == 200, moved.text
    assert moved.json()["appointments"][0]["start"] == slot(2).isoformat()
    resized = client.post(f"{path}/resize",
                          json={"end": (slot(2) + timedelta(minutes=45)).isoformat()},
                          headers=booked.reception)
    assert resized.status_code == 200, resized.text
    confirmed = client.post(f"{path}/status", json={"status": "confirmed"},
                            headers=booked.reception)
    assert confirmed.json()["appointments"][0]["status"] == "confirmed"
    undone = client.post(f"{path}/undo-status", json={}, headers=booked.reception)
    assert undone.json()["appointments"][0]["status"] == "booked"
    stale = client.post(f"{path}/move", json={"start": slot(4).isoformat(), "base_version": 1},
                        headers=booked.reception)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "STALE_VERSION"
    cancelled = client.post(f"{path}/cancel", json={"reason": "patient called"},
                            headers=booked.reception)
    assert cancelled.json()["appointments"][0]["status"] == "cancelled"
    rebooked = client.post(f"{API}/appointments", json=booked.book_body(slot(2), patient=3),
                           headers=booked.reception)
    assert rebooked.status_code == 201, "a cancelled booking frees its time"
    assert active_overlaps(db) == 0
    listed = client.get(f"{API}/appointments", headers=booked.reception, params={
        "from": slot(0).isoformat(), "to": (slot(0) + timedelta(days=1)).isoformat(),
        "provider_id": booked.clinic.provider_ids[0]})
    assert listed.status_code == 200
    assert {a["status"] for a in listed.json()["appointments"]} == {"cancelled", "booked"}


def test_an_override_needs_the_permission_and_a_reason_and_is_audited(
    client: TestClient, booked: Booked, db: Session
) -> None:
    book(client, booked, **booked.book_body(slot(0), patient=1))
    body = booked.book_body(slot(0), patient=2, override_reason="urgent")
    refused = client.post(f"{API}/appointments", json=body, headers=booked.reception)
    assert refused.json()["error"]["code"] == "OVERRIDE_NOT_PERMITTED"
    accepted = client.post(f"{API}/appointments", json=body, headers=booked.admin)
    assert accepted.status_code == 201, accepted.text
    assert "PROVIDER_BUSY" in accepted.json()["overridden"]
    row = by_id(db, models.Appointment, accepted.json()["appointments"][0]["id"])
    assert row is not None and row.overridden
    db.rollback()
    assert active_overlaps(db) == 0  # the overridden occupation is outside the guard


def test_a_series_is_booked_and_edited_for_all_occurrences(
    client: TestClient, booked: Booked
) -> None:
    body = {k: v for k, v in booked.book_body(slot(0)).items() if k != "start"} | {
        "rrule": "FREQ=WEEKLY;COUNT=4", "first_local": f"{FIRST_DAY.isoformat()}T10:00:00"}
    created = client.post(f"{API}/series", json=body, headers=booked.reception)
    assert created.status_code == 201, created.text
    occurrences = created.json()["appointments"]
    assert len(occurrences) == 4 and not created.json()["refused_occurrences"]
    series_id = created.json()["series"][0]["id"]
    edited = client.post(f"{API}/series/{series_id}/edit", headers=booked.reception, json={
        "appointment_id": occurrences[0]["id"], "scope": "all", "action": "move",
        "start": (slot(0) + timedelta(hours=2)).isoformat()})
    assert edited.status_code == 200, edited.text
    assert len(edited.json()["appointments"]) == 4
    cancelled = client.post(f"{API}/series/{series_id}/edit", headers=booked.reception, json={
        "appointment_id": occurrences[2]["id"], "scope": "following", "action": "cancel",
        "reason": "treatment finished"})
    assert cancelled.status_code == 200, cancelled.text
    assert [a["status"] for a in cancelled.json()["appointments"]] == ["cancelled"] * 2


def test_free_slots_leave_out_booked_times_and_next_available_is_the_first(
    client: TestClient, booked: Booked
) -> None:
    provider = booked.clinic.provider_ids[0]
    book(client, booked, **booked.book_body(slot(0)))
    params = {"clinic_id": booked.clinic.clinic_id, "appointment_type_id": booked.clinic.type_id,
              "provider_id": provider}
    slots = client.get(f"{API}/availability", headers=booked.reception, params=params | {
        "from": FIRST_DAY.isoformat(), "to": FIRST_DAY.isoformat()})
    assert slots.status_code == 200, slots.text
    starts = [s["start"] for s in slots.json()["slots"]]
    assert slot(0).isoformat() not in starts and slot(1).isoformat() in starts
    nxt = client.get(f"{API}/availability/next", headers=booked.reception,
                     params=params | {"after": slot(0).isoformat()})
    assert nxt.json()["slot"]["start"] == slot(1).isoformat()


def test_next_available_follows_configuration_changes_made_between_requests(
    client: TestClient, booked: Booked
) -> None:
    """The server keeps an organization's configuration between availability requests
    (``calendar.kept_config``); an administrator's change is seen at once."""
    provider = booked.clinic.provider_ids[0]
    params = {"clinic_id": booked.clinic.clinic_id, "appointment_type_id": booked.clinic.type_id,
              "provider_id": provider, "after": slot(0).isoformat()}

    def next_start() -> str | None:
        answer = client.get(f"{API}/availability/next", headers=booked.reception,
                            params=params)
        assert answer.status_code == 200, answer.text
        slot_json = answer.json()["slot"]
        return None if slot_json is None else str(slot_json["start"])

    assert next_start() == slot(0).isoformat()
    assert next_start() == slot(0).isoformat()  # asked again: served from the kept one

    schedules = client.get(f"{API}/admin/weekly-schedules", headers=booked.admin)
    assert schedules.status_code == 200, schedules.text
    monday = next(s for s in schedules.json()
                  if s["provider_id"] == provider and s["weekday"] == FIRST_DAY.weekday())
    later = client.patch(f"{API}/admin/weekly-schedules/{monday['id']}",
                         headers=booked.admin, json={"start": "11:00"})
    assert later.status_code == 200, later.text
    assert next_start() == slot(4).isoformat()  # 11:00: the new start of the day

    off = client.patch(f"{API}/admin/resources/{provider}", headers=booked.admin,
                       json={"active": False})
    assert off.status_code == 200, off.text
    assert next_start() is None


def test_next_available_sees_the_providers_booking_at_another_clinic(
    client: TestClient, booked: Booked
) -> None:
    """A provider who also works at a second clinic is busy here while booked there (the
    state reads other clinics' appointments through their occupations)."""
    provider = booked.clinic.provider_ids[0]

    def admin(method: str, path: str, body: dict[str, object]) -> dict[str, object]:
        answer = client.request(method, f"{API}/admin/{path}", headers=booked.admin,
                                json=body)
        assert answer.status_code in (200, 201), answer.text
        result: dict[str, object] = answer.json()
        return result

    other = admin("POST", "clinics", {"name": "Annex", "time_zone": "Europe/Madrid",
                                      "locale": "es_ES"})
    admin("PATCH", f"resources/{provider}",
          {"clinic_ids": [booked.clinic.clinic_id, other["id"]]})
    room = booked.clinic.room_ids[0]  # shared too: the type names its rooms
    admin("PATCH", f"resources/{room}", {"clinic_ids": [booked.clinic.clinic_id, other["id"]]})
    admin("POST", "weekly-schedules", {
        "provider_id": provider, "clinic_id": other["id"], "weekday": FIRST_DAY.weekday(),
        "start": "09:00", "end": "10:00", "valid_from": "2020-01-01"})
    there = client.post(f"{API}/appointments", headers=booked.reception, json={
        **booked.book_body(slot(0)), "clinic_id": other["id"], "room_id": room})
    assert there.status_code in (200, 201), there.text

    nxt = client.get(f"{API}/availability/next", headers=booked.reception, params={
        "clinic_id": booked.clinic.clinic_id, "appointment_type_id": booked.clinic.type_id,
        "provider_id": provider, "after": slot(0).isoformat()})
    assert nxt.status_code == 200, nxt.text
    assert nxt.json()["slot"]["start"] == slot(1).isoformat()


@pytest.mark.parametrize(
    ("content", "change"),
    [
        ("{not json", None),
        (None, {"colour": "red"}),
        (None, {"start": "2026-03-09T09:00:00"}),
        (None, {"start": "2026-02-30T09:00:00+01:00"}),
        (None, {"patient_id": 7}),
        (None, {"end": "yesterday"}),
    ],
    ids=["malformed-json", "unknown-field", "naive-datetime", "impossible-date", "wrong-type",
         "bad-end"],
)
def test_bad_booking_input_is_a_4xx_and_writes_nothing(
    client: TestClient, booked: Booked, db: Session, content: str | None,
    change: dict[str, object] | None,
) -> None:
    before = counts(db, booked.org_id)
    headers = booked.reception | {"Content-Type": "application/json"}
    if content is not None:
        response = client.post(f"{API}/appointments", content=content, headers=headers)
    else:
        body = booked.book_body(slot(0)) | (change or {})
        response = client.post(f"{API}/appointments", json=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert "error" in response.json()
    assert counts(db, booked.org_id) == before


def test_an_end_before_the_start_is_a_422(client: TestClient, booked: Booked) -> None:
    body = booked.book_body(slot(2), end=slot(1).isoformat())
    assert client.post(f"{API}/appointments", json=body,
                       headers=booked.reception).status_code == 422


def test_booking_needs_the_create_permission(
    client: TestClient, booked: Booked, tenants: Tenants
) -> None:
    from tests.sync_server.conftest import sign_in

    viewer = tenants.user(booked.org_id, booked.clinic.org_slug, "viewer")
    response = client.post(f"{API}/appointments", json=booked.book_body(slot(0)),
                           headers=sign_in(client, viewer))
    assert response.status_code == 403
