"""Issue 19 item 6 over REST and sync push, on SQLite and PostgreSQL: changing an
appointment's type or notes after booking (re-validated), cancellation categories,
the duplicate endpoint, upcoming appointments by patient, which clinics have room on
a date, the EHR encounter reference and named slot templates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import intents
from sync_server.core.config import Settings
from sync_server.db import models
from tests.support.records import by_id
from tests.sync_server.booking_setup import (
    FIRST_DAY,
    Booked,
    active_overlaps,
    book,
    counts,
    enroll_desk,
    local,
    seed_booked,
    slot,
)
from tests.sync_server.conftest import Clock, Tenants

API = "/api/v1"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def long_type(client: TestClient, booked: Booked, **extra: object) -> str:
    """A 60-minute type needing one of the clinic's rooms, created by the administrator."""
    body = {"name": "Long consultation", "default_duration_seconds": 3600,
            "min_duration_seconds": 1800, "max_duration_seconds": 7200,
            "requirement": {"rooms": booked.clinic.room_ids}, **extra}
    created = client.post(f"{API}/admin/appointment-types", json=body, headers=booked.admin)
    assert created.status_code == 201, created.text
    type_id: str = created.json()["id"]
    return type_id


# --------------------------------------------------------------------------- type and notes


def test_notes_change_alone_keeps_time_type_and_resources(
    client: TestClient, booked: Booked, db: Session
) -> None:
    appointment = book(client, booked, **booked.book_body(slot(0), notes="old"))
    answer = client.post(f"{API}/appointments/{appointment['id']}/details",
                         json={"notes": "bring x-rays", "patient_notes": "fasting"},
                         headers=booked.reception)
    assert answer.status_code == 200, answer.text
    changed = answer.json()["appointments"][0]
    assert (changed["notes"], changed["patient_notes"]) == ("bring x-rays", "fasting")
    assert {k: changed[k] for k in ("start", "end", "appointment_type_id", "room_id")} == {
        k: appointment[k] for k in ("start", "end", "appointment_type_id", "room_id")}
    assert changed["version"] == appointment["version"] + 1
    entry = db.scalars(select(models.AuditEntry).where(
        models.AuditEntry.target_id == appointment["id"],
        models.AuditEntry.intent == "appointment.change_details")).one()
    assert entry.outcome == "accepted"
    db.rollback()


def test_a_new_type_is_judged_again_and_takes_its_own_length(
    client: TestClient, booked: Booked
) -> None:
    longer = long_type(client, booked)
    appointment = book(client, booked, **booked.book_body(slot(0)))
    answer = client.post(f"{API}/appointments/{appointment['id']}/details",
                         json={"appointment_type_id": longer}, headers=booked.reception)
    assert answer.status_code == 200, answer.text
    changed = answer.json()["appointments"][0]
    assert changed["appointment_type_id"] == longer
    assert changed["start"] == slot(0).isoformat()
    assert changed["end"] == slot(2).isoformat()  # the new type's 60 minutes
    assert changed["room_id"] in booked.clinic.room_ids


def test_a_new_type_that_no_longer_fits_is_refused_and_nothing_changes(
    client: TestClient, booked: Booked, db: Session
) -> None:
    longer = long_type(client, booked)
    first = book(client, booked, **booked.book_body(slot(0), patient=0))
    book(client, booked, **booked.book_body(slot(1), patient=1))  # the provider's next 30 min
    before = counts(db, booked.org_id)
    answer = client.post(f"{API}/appointments/{first['id']}/details",
                         json={"appointment_type_id": longer, "notes": "x"},
                         headers=booked.reception)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "PROVIDER_BUSY"
    after = counts(db, booked.org_id)
    assert after["changes"] == before["changes"] and after["appointments"] == before["appointments"]
    kept = client.get(f"{API}/appointments/{first['id']}", headers=booked.reception).json()
    assert (kept["appointment_type_id"], kept["end"], kept["notes"]) == (
        booked.clinic.type_id, slot(1).isoformat(), "")
    assert active_overlaps(db) == 0


def test_a_type_change_respects_the_length_bounds_and_the_stale_version(
    client: TestClient, booked: Booked
) -> None:
    longer = long_type(client, booked)
    appointment = book(client, booked, **booked.book_body(slot(0)))
    path = f"{API}/appointments/{appointment['id']}/details"
    too_long = client.post(path, headers=booked.reception, json={
        "appointment_type_id": booked.clinic.type_id,
        "end": (slot(0) + timedelta(hours=2)).isoformat()})
    assert too_long.status_code == 409
    assert too_long.json()["error"]["code"] == "DURATION_TOO_LONG"
    stale = client.post(path, headers=booked.reception,
                        json={"appointment_type_id": longer, "base_version": 0})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "STALE_VERSION"


def test_a_desk_pushes_change_details_and_the_server_judges_it_again(
    client: TestClient, booked: Booked, db: Session, clock: Clock
) -> None:
    longer = long_type(client, booked)
    first = book(client, booked, **booked.book_body(slot(0), patient=0))
    second = book(client, booked, **booked.book_body(slot(4), patient=1))
    book(client, booked, **booked.book_body(slot(5), patient=2))
    desk = enroll_desk(db, booked.clinic, clock)
    pushed = client.post(f"{API}/sync/push", headers=desk.headers, json=desk.push_body([
        desk.mutation(intents.APPOINTMENT_CHANGE_DETAILS, {
            "appointment_id": first["id"], "appointment_type_id": longer, "notes": "scan",
            "patient_notes": None, "end": None, "override_reason": None, "base_version": 1}),
        desk.mutation(intents.APPOINTMENT_CHANGE_DETAILS, {
            "appointment_id": second["id"], "appointment_type_id": longer}),
    ]))
    assert pushed.status_code == 200, pushed.text
    results = {r["id"]: r for r in pushed.json()["results"]}
    assert results[1]["status"] == "applied"
    assert results[2]["status"] == "refused"  # slot(5) is taken: the longer type no longer fits
    row = by_id(db, models.Appointment, first["id"])
    assert row is not None and (row.appointment_type_id, row.notes) == (longer, "scan")
    kept = by_id(db, models.Appointment, second["id"])
    assert kept is not None and kept.appointment_type_id == booked.clinic.type_id
    db.rollback()


# --------------------------------------------------------------------------- cancel categories


def test_a_cancellation_keeps_its_category_and_free_text(
    client: TestClient, booked: Booked, db: Session
) -> None:
    appointment = book(client, booked, **booked.book_body(slot(0)))
    path = f"{API}/appointments/{appointment['id']}/cancel"
    wrong = client.post(path, json={"reason": "flu", "category": "bored"},
                        headers=booked.reception)
    assert wrong.status_code == 422
    answer = client.post(path, json={"reason": "flu since Monday", "category": "illness"},
                         headers=booked.reception)
    assert answer.status_code == 200, answer.text
    cancelled = answer.json()["appointments"][0]
    assert (cancelled["cancel_category"], cancelled["cancel_reason"]) == (
        "illness", "flu since Monday")
    row = by_id(db, models.Appointment, appointment["id"])
    assert row is not None and row.cancel_category == "illness"
    db.rollback()
    undone = client.post(f"{API}/appointments/{appointment['id']}/undo-status", json={},
                         headers=booked.reception)
    assert undone.json()["appointments"][0]["cancel_category"] is None


# --------------------------------------------------------------------------- duplicate


def test_duplicate_books_a_copy_at_another_time_judged_like_a_booking(
    client: TestClient, booked: Booked
) -> None:
    source = book(client, booked, **booked.book_body(slot(0), notes="bring forms"))
    book(client, booked, **booked.book_body(slot(6), patient=3))
    path = f"{API}/appointments/{source['id']}/duplicate"
    copy = client.post(path, json={"start": slot(2).isoformat()}, headers=booked.reception)
    assert copy.status_code == 201, copy.text
    made = copy.json()["appointments"][0]
    assert made["id"] != source["id"] and made["start"] == slot(2).isoformat()
    assert (made["patient_id"], made["appointment_type_id"], made["notes"]) == (
        source["patient_id"], source["appointment_type_id"], "bring forms")
    taken = client.post(path, json={"start": slot(6).isoformat()}, headers=booked.reception)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "PROVIDER_BUSY"


# --------------------------------------------------------------------------- upcoming


def test_upcoming_appointments_of_a_patient_soonest_first_without_cancelled(
    client: TestClient, booked: Booked, db: Session
) -> None:
    patient = booked.clinic.patient_ids[0]
    later = book(client, booked, **booked.book_body(slot(4)))
    sooner = book(client, booked, **booked.book_body(slot(1)))
    gone = book(client, booked, **booked.book_body(slot(6)))
    book(client, booked, **booked.book_body(slot(2), patient=1))
    client.post(f"{API}/appointments/{gone['id']}/cancel", json={"reason": "r"},
                headers=booked.reception)
    answer = client.get(f"{API}/appointments/upcoming", params={"patient_id": patient},
                        headers=booked.reception)
    assert answer.status_code == 200, answer.text
    assert [a["id"] for a in answer.json()["appointments"]] == [sooner["id"], later["id"]]
    read = db.scalars(select(models.AuditEntry).where(
        models.AuditEntry.intent == "read", models.AuditEntry.target_id == patient)).all()
    assert read, "reading a patient's appointments is audited"
    db.rollback()
    unknown = client.get(f"{API}/appointments/upcoming", params={"patient_id": "nope"},
                         headers=booked.reception)
    assert unknown.status_code == 404


# --------------------------------------------------------------------------- clinics with room


def test_available_clinics_lists_those_with_a_free_slot_earliest_first(
    client: TestClient, booked: Booked
) -> None:
    day = FIRST_DAY.isoformat()
    answer = client.get(f"{API}/availability/clinics", headers=booked.reception,
                        params={"appointment_type_id": booked.clinic.type_id, "day": day})
    assert answer.status_code == 200, answer.text
    clinics = answer.json()["clinics"]
    assert [c["clinic_id"] for c in clinics] == [booked.clinic.clinic_id]
    assert clinics[0]["first"]["start"] == slot(0).isoformat()
    full = clinics[0]["free_slots"]
    book(client, booked, **booked.book_body(slot(0)))
    again = client.get(f"{API}/availability/clinics", headers=booked.reception,
                       params={"appointment_type_id": booked.clinic.type_id, "day": day}).json()
    assert again["clinics"][0]["free_slots"] < full
    sunday = (FIRST_DAY + timedelta(days=6)).isoformat()  # nobody works on Sundays
    closed = client.get(f"{API}/availability/clinics", headers=booked.reception,
                        params={"appointment_type_id": booked.clinic.type_id, "day": sunday})
    assert closed.json()["clinics"] == []


# --------------------------------------------------------------------------- encounter


def test_an_ehr_integration_sets_the_encounter_reference_with_its_permission_only(
    client: TestClient, booked: Booked, db: Session
) -> None:
    appointment = book(client, booked, **booked.book_body(slot(0)))
    path = f"{API}/appointments/{appointment['id']}/encounter"
    refused = client.put(path, json={"encounter_ref": "enc-1"}, headers=booked.reception)
    assert refused.status_code == 403
    denied = db.scalars(select(models.AuditEntry).where(
        models.AuditEntry.intent == "permission_denied",
        models.AuditEntry.target_id == "ehr:encounter")).all()
    assert denied
    db.rollback()
    answer = client.put(path, json={"encounter_ref": "Encounter/123"}, headers=booked.admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["encounter_ref"] == "Encounter/123"
    assert answer.json()["status"] == appointment["status"]  # the status is not touched
    cleared = client.put(path, json={"encounter_ref": None}, headers=booked.admin)
    assert cleared.json()["encounter_ref"] is None
    assert cleared.json()["version"] == appointment["version"] + 2
    missing = client.put(f"{API}/appointments/nope/encounter", json={"encounter_ref": "x"},
                         headers=booked.admin)
    assert missing.status_code == 404


# --------------------------------------------------------------------------- slot templates


def template(client: TestClient, booked: Booked, **extra: object) -> dict[str, Any]:
    body = {"provider_id": booked.clinic.provider_ids[0], "clinic_id": booked.clinic.clinic_id,
            "weekday": FIRST_DAY.weekday(), "start": "09:00", "end": "10:00",
            "name": "New patient", **extra}
    created = client.post(f"{API}/admin/slot-templates", json=body, headers=booked.admin)
    assert created.status_code == 201, created.text
    made: dict[str, Any] = created.json()
    return made


def test_slot_templates_are_administered_and_refuse_bad_input(
    client: TestClient, booked: Booked
) -> None:
    made = template(client, booked)
    assert made["name"] == "New patient" and made["appointment_type_id"] is None
    listed = client.get(f"{API}/admin/slot-templates", headers=booked.admin).json()
    assert [t["id"] for t in listed] == [made["id"]]
    backwards = client.post(f"{API}/admin/slot-templates", headers=booked.admin, json={
        **{k: made[k] for k in ("provider_id", "clinic_id", "weekday", "name")},
        "start": "11:00", "end": "10:00"})
    assert backwards.status_code == 422
    renamed = client.patch(f"{API}/admin/slot-templates/{made['id']}",
                           json={"name": "Follow-up"}, headers=booked.admin)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Follow-up"
    forbidden = client.post(f"{API}/admin/slot-templates", headers=booked.reception, json={
        **{k: made[k] for k in ("provider_id", "clinic_id", "weekday", "name")},
        "start": "09:00", "end": "10:00"})
    assert forbidden.status_code == 403
    assert client.delete(f"{API}/admin/slot-templates/{made['id']}",
                         headers=booked.admin).status_code == 204


def test_booking_into_a_template_records_it_and_availability_filters_by_it(
    client: TestClient, booked: Booked
) -> None:
    made = template(client, booked, appointment_type_id=booked.clinic.type_id)
    inside = book(client, booked, **booked.book_body(slot(1), slot_template_id=made["id"]))
    assert inside["slot_template_id"] == made["id"]
    outside = client.post(f"{API}/appointments", headers=booked.reception,
                          json=booked.book_body(slot(3), patient=1,
                                                slot_template_id=made["id"]))
    assert outside.status_code == 409
    assert outside.json()["error"]["code"] == "OUTSIDE_SLOT_TEMPLATE"
    other_provider = client.post(f"{API}/appointments", headers=booked.reception,
                                 json=booked.book_body(slot(0), provider=1, patient=2,
                                                       slot_template_id=made["id"]))
    assert other_provider.json()["error"]["code"] == "OUTSIDE_SLOT_TEMPLATE"
    slots = client.get(f"{API}/availability", headers=booked.reception, params={
        "clinic_id": booked.clinic.clinic_id, "appointment_type_id": booked.clinic.type_id,
        "from": FIRST_DAY.isoformat(), "to": FIRST_DAY.isoformat(),
        "slot_template_id": made["id"]}).json()["slots"]
    starts = {s["start"] for s in slots}
    assert starts and all(local(FIRST_DAY, 9).isoformat() <= s < local(FIRST_DAY, 10)
                          .isoformat() for s in starts)
    assert {s["provider_id"] for s in slots} == {booked.clinic.provider_ids[0]}
    assert slot(1).isoformat() not in starts  # taken above


# --------------------------------------------------------------------------- names per language


def test_an_appointment_type_keeps_its_spanish_name(client: TestClient, booked: Booked) -> None:
    type_id = long_type(client, booked, names={"es": "Consulta larga"})
    path = f"{API}/admin/appointment-types/{type_id}"
    assert client.get(path, headers=booked.admin).json()["names"] == {"es": "Consulta larga"}
    renamed = client.patch(path, json={"names": {"es": "Consulta extensa"}},
                           headers=booked.admin)
    assert renamed.status_code == 200 and renamed.json()["names"] == {"es": "Consulta extensa"}
    assert client.get(path, headers=booked.admin).json()["name"] == "Long consultation"
