"""Two desks in separate processes against a real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.db.models import Appointment
from tests.e2e.conftest import Desk
from tests.e2e.server_side import Clinic, appointment_ids, needs_sync

pytestmark = needs_sync


def test_an_offline_booking_of_a_slot_taken_meanwhile_is_refused_and_both_desks_converge(
    desks: Callable[[str], Desk], clinic: Clinic, db: Session
) -> None:
    a, b = desks("a"), desks("b")
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    assert a.book([a.booking(0, mine, patient=1)])["booked"] == [mine]  # A is offline
    assert b.book([b.booking(0, theirs, patient=2)])["booked"] == [theirs]
    assert b.sync()["pending"] == 0

    reconnected = a.sync()
    assert reconnected["pending"] == 0 and reconnected["conflicts"] == 1
    synced_b = b.sync()
    assert "error" not in synced_b, synced_b

    desk_a, desk_b = a.dump(), b.dump()
    [conflict] = desk_a["conflicts"]
    assert conflict["attempted"]["name"] == "appointment.book"
    assert conflict["attempted"]["args"]["appointment_id"] == mine
    assert conflict["code"] and conflict["message_id"]
    assert len(conflict["alternatives"]) >= 1
    assert mine not in desk_a["appointments"]
    assert desk_a["appointments"] == desk_b["appointments"]  # record by record
    assert desk_a["appointments"][theirs]["pending_mutation_id"] is None

    provider, start = clinic.slot(0)
    at_x = db.scalars(select(Appointment.id).where(
        Appointment.organization_id == clinic.org_id, Appointment.provider_id == provider,
        Appointment.start_at == start, Appointment.active.is_(True))).all()
    assert at_x == [theirs]


def test_five_hundred_offline_changes_reach_the_server_and_the_other_desk(
    desks: Callable[[str], Desk], clinic: Clinic, db: Session
) -> None:
    a, b = desks("a"), desks("b")
    ids = [str(uuid.uuid4()) for _ in range(500)]
    booked = a.book([a.booking(i, ids[i], patient=i) for i in range(500)])
    assert len(booked["booked"]) == 500, booked["refused"][:3]
    assert a.sync()["pending"] == 0
    assert sorted(appointment_ids(db, clinic.org_id)) == sorted(ids)
    synced_b = b.sync()
    assert "error" not in synced_b, synced_b
    desk_a, desk_b = a.dump(), b.dump()
    assert set(desk_b["appointments"]) == set(ids)
    assert desk_a["appointments"] == desk_b["appointments"]



def test_the_server_audits_a_desk_change_in_the_name_of_the_user_signed_in_on_it(
    desks: Callable[[str], Desk], clinic: Clinic, db: Session
) -> None:
    """Issue 18 item 13: the desk sends its signed-in user with each change."""
    from sync_server.db.models import AuditEntry, User

    a = desks("a")
    mine = str(uuid.uuid4())
    assert a.book([a.booking(3, mine)])["booked"] == [mine]
    assert a.sync()["pending"] == 0
    db.rollback()
    user_id = db.scalars(select(User.id).where(User.organization_id == clinic.org_id,
                                               User.email == clinic.user_email)).one()
    actors = db.execute(select(AuditEntry.actor_user_id, AuditEntry.actor_device_id).where(
        AuditEntry.target_id == mine, AuditEntry.intent == "appointment.book")).all()
    assert len(actors) == 1 and actors[0][0] == user_id and actors[0][1] is not None
    db.rollback()
