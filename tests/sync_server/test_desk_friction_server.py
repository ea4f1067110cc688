"""Issue 18 items 13-15 on the server (both databases): a desk push is judged and audited
as the signed-in user who made each change; series records follow "all" edits and a
split-off tail records its exceptions at its own times; a staff request marked online
still needs an online-bookable type; naming another organization's patient is audited
as an access attempt."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import intents
from scheduling.recurrence import expand
from scheduling.timeutil import to_local
from sync_server.core.config import Settings
from sync_server.db import models
from tests.e2e.server_side import TZ, seed_clinic
from tests.support.records import by_id
from tests.sync_server.booking_setup import (
    FIRST_DAY,
    Booked,
    Desk,
    enroll_desk,
    seed_booked,
    slot,
)
from tests.sync_server.conftest import Clock, Tenants

API, PUSH = "/api/v1", "/api/v1/sync/push"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


@pytest.fixture
def desk(db: Session, booked: Booked, clock: Clock) -> Desk:
    return enroll_desk(db, booked.clinic, clock)


def book_args(booked: Booked, start: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "appointment_id": str(uuid.uuid4()), "clinic_id": booked.clinic.clinic_id,
        "patient_id": booked.clinic.patient_ids[0],
        "appointment_type_id": booked.clinic.type_id,
        "provider_id": booked.clinic.provider_ids[0], "start": start.isoformat(),
        "end": None, "room_id": None, **extra,
    }


def push_as(client: TestClient, desk: Desk, user_id: str | None,
            name: str, args: dict[str, Any]) -> str:
    mutation = desk.mutation(name, args)
    if user_id is not None:
        mutation["user_id"] = user_id
    answer = client.post(PUSH, json=desk.push_body([mutation]), headers=desk.headers)
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    return str(result["status"]) if result["code"] is None else str(result["code"])


def audit_of(db: Session, target_id: str) -> list[tuple[str | None, str | None, str, str]]:
    db.rollback()
    rows = db.execute(select(models.AuditEntry.actor_user_id, models.AuditEntry.actor_device_id,
                             models.AuditEntry.intent, models.AuditEntry.outcome)
                      .where(models.AuditEntry.target_id == target_id)
                      .order_by(models.AuditEntry.seq)).all()
    db.rollback()
    return [tuple(r) for r in rows]  # type: ignore[misc]


# --------------------------------------------------------------------------- item 13


def test_a_push_is_judged_with_the_permissions_of_the_user_who_made_the_change(
    client: TestClient, booked: Booked, desk: Desk, tenants: Tenants, db: Session
) -> None:
    reception = tenants.user(booked.org_id, booked.clinic.org_slug, "receptionist")
    taken = book_args(booked, slot(0))
    assert push_as(client, desk, reception.user_id, intents.APPOINTMENT_BOOK, taken) == "applied"
    clash = {"override_reason": "emergency fitted in"}
    # A receptionist may not double-book; the administrator (override) may.
    assert push_as(client, desk, reception.user_id, intents.APPOINTMENT_BOOK,
                   book_args(booked, slot(0), patient_id=booked.clinic.patient_ids[1],
                             **clash)) == "OVERRIDE_NOT_PERMITTED"
    forced = book_args(booked, slot(0), patient_id=booked.clinic.patient_ids[2], **clash)
    admin = booked.admin_user.user_id
    assert push_as(client, desk, admin, intents.APPOINTMENT_BOOK, forced) == "applied"
    row = by_id(db, models.Appointment, forced["appointment_id"])
    assert row is not None and row.overridden
    db.rollback()
    # A viewer's change is refused, and an unknown user has no permissions at all.
    viewer = tenants.user(booked.org_id, booked.clinic.org_slug, "viewer")
    assert push_as(client, desk, viewer.user_id, intents.APPOINTMENT_BOOK,
                   book_args(booked, slot(3))) == "NOT_PERMITTED"
    assert push_as(client, desk, "no-such-user", intents.APPOINTMENT_BOOK,
                   book_args(booked, slot(4))) == "NOT_PERMITTED"


def test_an_administrator_role_change_is_seen_by_the_next_push(
    client: TestClient, booked: Booked, desk: Desk, tenants: Tenants, db: Session
) -> None:
    """The user's role as it is now on the server (an override granted by the
    administrator counts), not the role the desk cached."""
    reception = tenants.user(booked.org_id, booked.clinic.org_slug, "receptionist")
    push_as(client, desk, reception.user_id, intents.APPOINTMENT_BOOK, book_args(booked, slot(0)))
    role = db.scalars(select(models.Role).where(
        models.Role.organization_id == booked.org_id,
        models.Role.name == "receptionist")).one()
    db.add(models.RolePermission(role_id=role.id, permission="booking:override",
                                  organization_id=booked.org_id))
    db.commit()
    assert push_as(client, desk, reception.user_id, intents.APPOINTMENT_BOOK, book_args(
        booked, slot(0), patient_id=booked.clinic.patient_ids[1],
        override_reason="emergency")) == "applied"


def test_the_audit_of_a_desk_change_names_the_user_and_the_device(
    client: TestClient, booked: Booked, desk: Desk, tenants: Tenants, db: Session
) -> None:
    reception = tenants.user(booked.org_id, booked.clinic.org_slug, "receptionist")
    args = book_args(booked, slot(1))
    assert push_as(client, desk, reception.user_id, intents.APPOINTMENT_BOOK, args) == "applied"
    [(user_id, device_id, intent, outcome)] = audit_of(db, args["appointment_id"])
    assert (user_id, intent, outcome) == (reception.user_id, "appointment.book", "accepted")
    assert device_id is not None
    # A desk from before mutations named their user: the device alone, as before.
    older = book_args(booked, slot(2))
    assert push_as(client, desk, None, intents.APPOINTMENT_BOOK, older) == "applied"
    [(user_id, device_id, _, _)] = audit_of(db, older["appointment_id"])
    assert user_id is None and device_id is not None


# --------------------------------------------------------------------------- item 14


def new_series(client: TestClient, booked: Booked) -> tuple[str, list[dict[str, Any]]]:
    body = {k: v for k, v in booked.book_body(slot(0)).items() if k != "start"} | {
        "rrule": "FREQ=WEEKLY;COUNT=4", "first_local": f"{FIRST_DAY.isoformat()}T10:00:00"}
    created = client.post(f"{API}/series", json=body, headers=booked.reception)
    assert created.status_code == 201, created.text
    return created.json()["series"][0]["id"], created.json()["appointments"]


def test_after_an_all_edit_the_series_record_has_the_new_time(
    client: TestClient, booked: Booked, db: Session
) -> None:
    series_id, occurrences = new_series(client, booked)
    moved = client.post(f"{API}/series/{series_id}/edit", headers=booked.reception, json={
        "appointment_id": occurrences[0]["id"], "scope": "all", "action": "move",
        "start": (slot(0) + timedelta(hours=2)).isoformat()})
    assert moved.status_code == 200, moved.text
    db.rollback()
    row = by_id(db, models.Series, series_id)
    assert row is not None and row.first_local.hour == 11  # 10:00 + 1 h (slot(0) is 09:00)
    starts = {o.start for o in expand(row.rrule, row.first_local, TZ)}
    assert starts == {datetime.fromisoformat(a["start"]) for a in moved.json()["appointments"]}
    db.rollback()


def test_cancelling_one_occurrence_of_a_split_off_tail_keeps_it_cancelled_on_expansion(
    client: TestClient, booked: Booked, db: Session
) -> None:
    series_id, occurrences = new_series(client, booked)
    tail_id = str(uuid.uuid4())
    second = datetime.fromisoformat(occurrences[1]["start"])
    split = client.post(f"{API}/series/{series_id}/edit", headers=booked.reception, json={
        "appointment_id": occurrences[1]["id"], "scope": "following", "action": "move",
        "start": (second + timedelta(hours=1)).isoformat(), "new_series_id": tail_id})
    assert split.status_code == 200, split.text
    tail = sorted(split.json()["appointments"], key=lambda a: a["start"])
    assert len(tail) == 3
    cancel = client.post(f"{API}/series/{tail_id}/edit", headers=booked.reception, json={
        "appointment_id": tail[1]["id"], "scope": "this", "action": "cancel",
        "reason": "patient away"})
    assert cancel.status_code == 200, cancel.text
    db.rollback()
    row = by_id(db, models.Series, tail_id)
    assert row is not None
    exdates = {datetime.fromisoformat(d) for d in row.exdates}
    cancelled_at = datetime.fromisoformat(tail[1]["start"])
    assert exdates == {to_local(cancelled_at, TZ)}
    starts = [o.start for o in expand(row.rrule, row.first_local, TZ, exdates=exdates)]
    assert cancelled_at not in starts and len(starts) == 2
    db.rollback()


# --------------------------------------------------------------------------- item 15


def test_a_staff_request_marked_online_still_needs_an_online_bookable_type(
    client: TestClient, booked: Booked, db: Session
) -> None:
    body = booked.book_body(slot(0), source="online")
    refused = client.post(f"{API}/appointments", json=body, headers=booked.reception)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "NOT_ONLINE_BOOKABLE"
    kind = db.get(models.AppointmentType, booked.clinic.type_id)
    assert kind is not None
    kind.online_bookable = True
    db.commit()
    accepted = client.post(f"{API}/appointments", json=body, headers=booked.reception)
    assert accepted.status_code == 201, accepted.text


@pytest.mark.parametrize("path", ["rest", "push"])
def test_a_booking_naming_another_organizations_patient_is_audited_as_an_access_attempt(
    client: TestClient, booked: Booked, desk: Desk, db: Session, settings: Settings,
    path: str,
) -> None:
    other = seed_clinic(db, settings)
    foreign = other.patient_ids[0]
    if path == "rest":
        answer = client.post(f"{API}/appointments", headers=booked.reception,
                             json=booked.book_body(slot(0)) | {"patient_id": foreign})
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "UNKNOWN_RECORD"
    else:
        assert push_as(client, desk, booked.admin_user.user_id, intents.APPOINTMENT_BOOK,
                       book_args(booked, slot(0), patient_id=foreign)) == "UNKNOWN_RECORD"
    entries = audit_of(db, foreign)
    assert [(intent, outcome) for _, _, intent, outcome in entries] == [
        ("access_denied", "refused")]
    db.rollback()
    reason = db.scalars(select(models.AuditEntry.reason).where(
        models.AuditEntry.target_id == foreign)).one()
    assert reason == "other_organization"
    assert db.scalars(select(models.AuditEntry.organization_id).where(
        models.AuditEntry.target_id == foreign)).one() == booked.org_id
    db.rollback()


# --------------------------------------------------------------------------- edit dialog


def test_a_desk_edit_of_type_and_notes_is_judged_again_by_the_server(
    client: TestClient, booked: Booked, desk: Desk, db: Session
) -> None:
    rooms = booked.clinic.room_ids
    for type_id, room_ids in (("type-long", rooms), ("type-room-b", [rooms[1]])):
        db.add(models.AppointmentType(
            id=type_id, organization_id=booked.org_id, name=type_id,
            default_duration_seconds=1800, min_duration_seconds=900,
            max_duration_seconds=3600, buffer_after_seconds=600,
            requirement={"providers": [], "rooms": sorted(room_ids), "equipment": []}))
    db.commit()
    args = book_args(booked, slot(0), room_id=rooms[0])
    admin = booked.admin_user.user_id
    assert push_as(client, desk, admin, intents.APPOINTMENT_BOOK, args) == "applied"
    target = args["appointment_id"]

    def edit(**change: Any) -> str:
        return push_as(client, desk, admin, intents.APPOINTMENT_CHANGE_DETAILS,
                       {"appointment_id": target, "base_version": None} | change)

    # a type whose room is another: the rules place it in that room
    assert edit(appointment_type_id="type-room-b") == "applied"
    db.rollback()
    moved_room = by_id(db, models.Appointment, target)
    assert moved_room is not None and moved_room.room_id == rooms[1]
    db.rollback()
    assert edit(notes="Bring the X-rays") == "applied"
    assert edit(appointment_type_id="type-long") == "applied"
    db.rollback()
    row = by_id(db, models.Appointment, target)
    assert row is not None
    assert (row.appointment_type_id, row.notes) == ("type-long", "Bring the X-rays")
    # the occupations follow the new type's buffer (10 minutes after)
    ends = set(db.scalars(select(models.AppointmentResource.block_end).where(
        models.AppointmentResource.appointment_id == target,
        models.AppointmentResource.active.is_(True))))
    assert {e.replace(tzinfo=None) for e in ends} == {
        (row.end_at + timedelta(minutes=10)).replace(tzinfo=None)}
    db.rollback()
