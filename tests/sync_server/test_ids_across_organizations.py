"""A desk of organization A pushing creates with organization B's record ids.

Ids are unique per organization (issue 12, item 7; migration 0023): A's create gets
the answer a fresh id gets (applied, a record of A's own), nothing of B changes, and
nothing of B reaches A (A's pull and audit trail carry no B data). Every record a desk
creates with an id of its own is covered: appointments, patients, series, waitlist
entries and blockouts. See the note in docs/protocol.md.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import intents
from sync_server.core.config import Settings
from sync_server.db import models
from tests.sync_server.booking_setup import FIRST_DAY, enroll_desk, seed_booked, slot
from tests.sync_server.conftest import Clock, Tenants

API = "/api/v1"


class Orgs:
    """A (with an enrolled desk) and B (with an appointment, a series, patients, a
    waitlist entry and a blockout)."""

    def __init__(self, client: TestClient, db: Session, settings: Settings, tenants: Tenants,
                 clock: Clock) -> None:
        self.a, self.b = (seed_booked(client, db, settings, tenants) for _ in range(2))
        booked = client.post(f"{API}/appointments", json=self.b.book_body(slot(0)),
                             headers=self.b.reception)
        assert booked.status_code == 201, booked.text
        self.appointment_id = booked.json()["appointments"][0]["id"]
        body = {k: v for k, v in self.b.book_body(slot(0)).items() if k != "start"} | {
            "rrule": "FREQ=WEEKLY;COUNT=2", "first_local": f"{FIRST_DAY.isoformat()}T11:00:00"}
        series = client.post(f"{API}/series", json=body, headers=self.b.reception)
        assert series.status_code == 201, series.text
        self.series_id = series.json()["series"][0]["id"]
        self.patient_id = self.b.clinic.patient_ids[0]
        self.entry_id, self.blockout_id = str(uuid.uuid4()), str(uuid.uuid4())
        db.add(models.WaitlistEntry(
            id=self.entry_id, organization_id=self.b.org_id, clinic_id=self.b.clinic.clinic_id,
            patient_id=self.patient_id, appointment_type_id=self.b.clinic.type_id,
            created_at=clock(), preferred_provider_ids=[], preferred_weekdays=[],
            preferred_times=[]))
        db.add(models.Blockout(
            id=self.blockout_id, organization_id=self.b.org_id,
            clinic_id=self.b.clinic.clinic_id, resource_id=self.b.clinic.provider_ids[0],
            start_at=slot(6), end_at=slot(7), reason="B"))
        db.commit()
        self.desk = enroll_desk(db, self.a.clinic, clock)


@pytest.fixture
def orgs(client: TestClient, db: Session, settings: Settings, tenants: Tenants,
         clock: Clock) -> Orgs:
    return Orgs(client, db, settings, tenants, clock)


def _book(orgs: Orgs, record_id: str) -> tuple[str, dict[str, Any]]:
    return intents.APPOINTMENT_BOOK, {
        "appointment_id": record_id, "clinic_id": orgs.a.clinic.clinic_id,
        "patient_id": orgs.a.clinic.patient_ids[1], "appointment_type_id": orgs.a.clinic.type_id,
        "provider_id": orgs.a.clinic.provider_ids[0], "start": slot(4).isoformat()}


def _patient(orgs: Orgs, record_id: str) -> tuple[str, dict[str, Any]]:
    return intents.PATIENT_CREATE, {"patient_id": record_id, "given_name": "Probe",
                                    "family_name": "Probe"}


def _series(orgs: Orgs, record_id: str) -> tuple[str, dict[str, Any]]:
    return intents.SERIES_BOOK, {
        "series_id": record_id, "clinic_id": orgs.a.clinic.clinic_id,
        "patient_id": orgs.a.clinic.patient_ids[2], "appointment_type_id": orgs.a.clinic.type_id,
        "provider_id": orgs.a.clinic.provider_ids[1], "rrule": "FREQ=WEEKLY;COUNT=2",
        "first_local": f"{FIRST_DAY.isoformat()}T15:00:00"}


def _waitlist(orgs: Orgs, record_id: str) -> tuple[str, dict[str, Any]]:
    return intents.WAITLIST_ADD, {
        "entry_id": record_id, "clinic_id": orgs.a.clinic.clinic_id,
        "patient_id": orgs.a.clinic.patient_ids[3], "appointment_type_id": orgs.a.clinic.type_id,
        "created_at": slot(0).isoformat(), "priority": 0, "preferred_provider_ids": [],
        "preferred_weekdays": [], "preferred_times": [], "note": ""}


def _blockout(orgs: Orgs, record_id: str) -> tuple[str, dict[str, Any]]:
    return intents.BLOCKOUT_CREATE, {
        "blockout_id": record_id, "clinic_id": orgs.a.clinic.clinic_id,
        "start": slot(8).isoformat(), "end": slot(9).isoformat(),
        "resource_id": orgs.a.clinic.provider_ids[1], "reason": "A"}


Make = Callable[[Orgs, str], tuple[str, dict[str, Any]]]
KINDS: dict[str, tuple[Make, Callable[[Orgs], str], type[models.Base]]] = {
    "appointment": (_book, lambda o: o.appointment_id, models.Appointment),
    "patient": (_patient, lambda o: o.patient_id, models.Patient),
    "series": (_series, lambda o: o.series_id, models.Series),
    "waitlist": (_waitlist, lambda o: o.entry_id, models.WaitlistEntry),
    "blockout": (_blockout, lambda o: o.blockout_id, models.Blockout),
}


def _push(client: TestClient, orgs: Orgs, name: str, args: dict[str, Any]) -> dict[str, Any]:
    desk = orgs.desk
    mutation = desk.mutation(name, args)
    if name == intents.BLOCKOUT_CREATE:  # an administrator's (admin:config), at the desk
        mutation["user_id"] = orgs.a.admin_user.user_id
    answer = client.post(f"{API}/sync/push", headers=desk.headers,
                         json=desk.push_body([mutation]))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["results"][0]
    result.pop("id")
    return result


def _row(db: Session, table: type[models.Base], org_id: str, record_id: str) -> dict[str, Any]:
    db.expire_all()
    row = models.get_in_org(db, table, org_id, record_id)
    assert row is not None
    values = {c.name: getattr(row, c.name) for c in table.__table__.columns}
    db.rollback()
    return values


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_nothing_of_the_other_organization_changes_or_reaches_the_desk(
    client: TestClient, db: Session, orgs: Orgs, kind: str
) -> None:
    make, theirs, table = KINDS[kind]
    before = _row(db, table, orgs.b.org_id, theirs(orgs))

    _push(client, orgs, *make(orgs, theirs(orgs)))

    assert _row(db, table, orgs.b.org_id, theirs(orgs)) == before
    mine = _row(db, table, orgs.a.org_id, theirs(orgs))  # A's own record, with that id
    assert mine["organization_id"] == orgs.a.org_id
    page = client.get(f"{API}/sync/pull", params={"cursor": 0, "limit": 5000},
                      headers=orgs.desk.headers).json()
    shown = str(page)
    for of_b in (orgs.b.org_id, orgs.b.clinic.clinic_id):  # the id is A's own record there
        assert of_b not in shown
    b_named = db.scalars(select(models.AuditEntry.id).where(
        models.AuditEntry.organization_id == orgs.a.org_id,
        models.AuditEntry.outcome != "accepted",
        models.AuditEntry.target_id == theirs(orgs))).all()
    db.rollback()
    assert b_named == []  # A's audit trail has its own create, no refusal naming B's


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_another_organizations_id_gets_the_answer_of_a_fresh_id(
    client: TestClient, orgs: Orgs, kind: str
) -> None:
    make, theirs, _table = KINDS[kind]
    # The create is conflict-free with a fresh id (see the test below): only the id differs.
    assert _push(client, orgs, *make(orgs, theirs(orgs))) == {"status": "applied",
                                                                   "code": None}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_same_create_with_a_fresh_id_is_applied(
    client: TestClient, orgs: Orgs, kind: str
) -> None:
    make, _theirs, _table = KINDS[kind]
    assert _push(client, orgs, *make(orgs, str(uuid.uuid4()))) == {"status": "applied",
                                                                       "code": None}
