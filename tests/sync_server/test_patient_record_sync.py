"""Seed 002's patient record through desk sync, on SQLite and PostgreSQL: a pushed edit of
the date of birth (ISO text on the wire, a date in the database), address and insurance
applies; a stale date of birth is an edit conflict showing both values; a malformed one
is refused before anything is written; the pull gives the record back."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from scheduling import intents
from scheduling.wire import from_wire
from sync_server.core.config import Settings
from sync_server.db import models
from tests.support.records import by_id
from tests.sync_server.booking_setup import Booked, Desk, enroll_desk, seed_booked
from tests.sync_server.conftest import Clock, Tenants

PUSH, PULL = "/api/v1/sync/push", "/api/v1/sync/pull"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


@pytest.fixture
def desks(db: Session, booked: Booked, clock: Clock) -> tuple[Desk, Desk]:
    return enroll_desk(db, booked.clinic, clock), enroll_desk(db, booked.clinic, clock)


def push(client: TestClient, desk: Desk, args: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(PUSH, headers=desk.headers, json=desk.push_body(
        [desk.mutation(intents.PATIENT_UPDATE, args)]))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["results"][0]
    return result


def stored(db: Session, patient_id: str) -> tuple[date | None, str, str, str]:
    db.expire_all()
    row = by_id(db, models.Patient, patient_id)
    assert row is not None
    found = (row.date_of_birth, row.address, row.insurance_provider, row.insurance_id)
    db.rollback()
    return found


def test_the_record_fields_apply_and_come_back_in_the_pull(
        client: TestClient, booked: Booked, desks: tuple[Desk, Desk], db: Session) -> None:
    patient = booked.clinic.patient_ids[0]
    changes = {"date_of_birth": "1984-02-29", "address": "Calle Mayor 1\n28013 Madrid",
               "insurance_provider": "Sanitas", "insurance_id": "SAN-1"}
    result = push(client, desks[0], intents.patient_update(
        patient, changes, {"date_of_birth": "", "address": "", "insurance_provider": "",
                           "insurance_id": ""}))
    assert result["status"] == "applied", result
    assert stored(db, patient) == (date(1984, 2, 29), "Calle Mayor 1\n28013 Madrid",
                                   "Sanitas", "SAN-1")
    records = [from_wire("patient", c["data"]) for c in pulled(client, desks[1])
               if c["entity"] == "patient" and c["id"] == patient]
    assert [(r.date_of_birth, r.insurance_id) for r in records] == [
        (date(1984, 2, 29), "SAN-1")]


def pulled(client: TestClient, desk: Desk) -> list[dict[str, Any]]:
    """Every change a new desk pulls, page after page."""
    changes: list[dict[str, Any]] = []
    cursor, more = 0, True
    while more:
        page = client.get(PULL, headers=desk.headers, params={"cursor": cursor}).json()
        changes.extend(page["changes"])
        cursor, more = page["cursor"], page["has_more"]
    return changes


def test_a_stale_date_of_birth_is_an_edit_conflict_with_both_values(
        client: TestClient, booked: Booked, desks: tuple[Desk, Desk], db: Session) -> None:
    patient = booked.clinic.patient_ids[1]
    first, second = desks
    assert push(client, second, intents.patient_update(
        patient, {"date_of_birth": "1990-01-01"}, {"date_of_birth": ""}))["status"] == "applied"
    result = push(client, first, intents.patient_update(
        patient, {"date_of_birth": "1991-01-01"}, {"date_of_birth": ""}))
    assert (result["status"], result["code"]) == ("refused", "EDIT_CONFLICT")
    conflicts = client.get(PULL, headers=first.headers, params={"cursor": 0}).json()["conflicts"]
    [conflict] = [c for c in conflicts if c["code"] == "EDIT_CONFLICT"]
    assert conflict["params"] == {"fields": "date_of_birth", "mine_date_of_birth": "1991-01-01",
                                  "theirs_date_of_birth": "1990-01-01"}
    assert stored(db, patient)[0] == date(1990, 1, 1)


@pytest.mark.parametrize("bad", ["29/02/1984", "1984-02-30", "1850-01-01"])
def test_a_malformed_date_of_birth_is_refused_and_nothing_is_written(
        client: TestClient, booked: Booked, desks: tuple[Desk, Desk], db: Session,
        bad: str) -> None:
    patient = booked.clinic.patient_ids[2]
    result = push(client, desks[0], intents.patient_update(patient, {"date_of_birth": bad}))
    assert result["status"] != "applied", result
    assert stored(db, patient)[0] is None
