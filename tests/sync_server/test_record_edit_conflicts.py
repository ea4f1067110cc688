"""No silent lost update: a pushed patient edit carries, per field, the value it was based on.

When another desk moved that field since, the field is not applied but becomes an
``EDIT_CONFLICT`` for the desk's inbox with both values; the edit's other fields still
apply. A push without base values (an older desk) stays last-writer-wins.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import intents
from sync_server.core.config import Settings
from sync_server.db import models
from tests.support.records import by_id
from tests.sync_server.booking_setup import Booked, Desk, enroll_desk, seed_booked
from tests.sync_server.conftest import Clock, Tenants

PUSH, PULL = "/api/v1/sync/push", "/api/v1/sync/pull"
OLD_PHONE, OLD_EMAIL = "+34 600 000 001", "old@clinic.example"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


@pytest.fixture
def desks(db: Session, booked: Booked, clock: Clock) -> tuple[Desk, Desk]:
    return enroll_desk(db, booked.clinic, clock), enroll_desk(db, booked.clinic, clock)


@pytest.fixture
def patient(client: TestClient, booked: Booked, desks: tuple[Desk, Desk], db: Session) -> str:
    """A patient whose phone and e-mail are OLD_PHONE and OLD_EMAIL (set by a plain edit)."""
    patient_id = booked.clinic.patient_ids[0]
    _push(client, desks[0], intents.patient_update(
        patient_id, {"phone": OLD_PHONE, "email": OLD_EMAIL}))
    return patient_id


def _push(client: TestClient, desk: Desk, args: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(PUSH, headers=desk.headers, json=desk.push_body(
        [desk.mutation(intents.PATIENT_UPDATE, args)]))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["results"][0]
    return result


@dataclass(frozen=True)
class Stored:
    phone: str
    email: str
    version: int


def _row(db: Session, patient_id: str) -> Stored:
    """The server's patient (the read ends its transaction: on SQLite it holds the lock)."""
    db.expire_all()
    row = by_id(db, models.Patient, patient_id)
    assert row is not None
    stored = Stored(row.phone, row.email, row.version)
    db.rollback()
    return stored


def _conflicts(client: TestClient, desk: Desk) -> list[dict[str, Any]]:
    answer = client.get(PULL, headers=desk.headers, params={"cursor": 0})
    assert answer.status_code == 200, answer.text
    conflicts: list[dict[str, Any]] = answer.json()["conflicts"]
    return conflicts


def test_a_field_moved_since_the_desk_read_it_is_a_conflict_and_the_others_apply(
    client: TestClient, desks: tuple[Desk, Desk], patient: str, db: Session
) -> None:
    first, second = desks
    # The second desk changes the phone; the first, still on the old values, edits both.
    assert _push(client, second, intents.patient_update(
        patient, {"phone": "+34 600 000 002"}, {"phone": OLD_PHONE}))["status"] == "applied"
    result = _push(client, first, intents.patient_update(
        patient, {"phone": "+34 600 000 003", "email": "new@clinic.example"},
        {"phone": OLD_PHONE, "email": OLD_EMAIL}))

    assert result["status"] == "applied"  # the e-mail went through
    row = _row(db, patient)
    assert (row.phone, row.email) == ("+34 600 000 002", "new@clinic.example")
    [conflict] = [c for c in _conflicts(client, first) if c["code"] == "EDIT_CONFLICT"]
    assert conflict["mutation_id"] == result["id"]
    assert conflict["params"] == {"fields": "phone", "mine_phone": "+34 600 000 003",
                                  "theirs_phone": "+34 600 000 002"}
    assert not [c for c in _conflicts(client, second) if c["code"] == "EDIT_CONFLICT"]


def test_an_edit_whose_every_field_moved_is_refused_and_changes_nothing(
    client: TestClient, desks: tuple[Desk, Desk], patient: str, db: Session
) -> None:
    first, second = desks
    _push(client, second, intents.patient_update(patient, {"email": "b@clinic.example"},
                                                 {"email": OLD_EMAIL}))
    version = _row(db, patient).version

    result = _push(client, first, intents.patient_update(
        patient, {"email": "a@clinic.example"}, {"email": OLD_EMAIL}))

    assert (result["status"], result["code"]) == ("refused", "EDIT_CONFLICT")
    row = _row(db, patient)
    assert (row.email, row.version) == ("b@clinic.example", version)
    audit = db.scalars(select(models.AuditEntry.reason).where(
        models.AuditEntry.target_id == patient, models.AuditEntry.outcome == "refused")).all()
    db.rollback()
    assert audit == ["EDIT_CONFLICT"]  # the code only, never the values


def test_an_edit_based_on_the_current_value_or_reaching_the_same_value_applies(
    client: TestClient, desks: tuple[Desk, Desk], patient: str, db: Session
) -> None:
    first, second = desks
    assert _push(client, first, intents.patient_update(
        patient, {"phone": "+34 600 000 004"}, {"phone": OLD_PHONE}))["status"] == "applied"
    # The other desk, on the old value, makes the same change: nothing to choose between.
    assert _push(client, second, intents.patient_update(
        patient, {"phone": "+34 600 000 004"}, {"phone": OLD_PHONE}))["status"] == "applied"
    assert _row(db, patient).phone == "+34 600 000 004"
    assert not [c for c in _conflicts(client, second) if c["code"] == "EDIT_CONFLICT"]


def test_an_older_desk_without_base_values_stays_last_writer_wins(
    client: TestClient, desks: tuple[Desk, Desk], patient: str, db: Session
) -> None:
    first, second = desks
    _push(client, second, intents.patient_update(patient, {"phone": "+34 600 000 005"},
                                                 {"phone": OLD_PHONE}))
    result = _push(client, first, {"patient_id": patient,
                                   "changes": {"phone": "+34 600 000 006"}})
    assert result["status"] == "applied"
    assert _row(db, patient).phone == "+34 600 000 006"


@pytest.mark.parametrize("base", [
    "not an object", {"email": OLD_EMAIL}, {"phone": 5}, {"phone": "x" * 33},
    {"phone": "a\x00b"},
])
def test_base_values_are_checked_like_the_changes(
    client: TestClient, desks: tuple[Desk, Desk], patient: str, db: Session, base: Any
) -> None:
    result = _push(client, desks[0], {"patient_id": patient,
                                      "changes": {"phone": "+34 600 000 007"}, "base": base})
    assert (result["status"], result["code"]) == ("invalid", "INVALID_MUTATION")
    assert _row(db, patient).phone == OLD_PHONE
