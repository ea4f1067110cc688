"""Deferred bookkeeping (REST bookings): version bump, change log and audit entry written
by one statement before the commit, identical to what the classic handlers write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.services import audit, bookkeeping
from sync_server.services.events import ChangeAccepted
from sync_server.services.unit_of_work import unit_of
from tests.sync_server.booking_setup import Booked, seed_booked, slot
from tests.sync_server.conftest import Tenants

API = "/api/v1"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def test_rest_bookings_refusals_and_changes_keep_versions_change_log_and_audit_chain(
    client: TestClient, booked: Booked, db: Session
) -> None:
    first = client.post(f"{API}/appointments", json=booked.book_body(slot(0)),
                        headers=booked.reception)
    assert first.status_code == 201, first.text
    taken = client.post(f"{API}/appointments", json=booked.book_body(slot(0), patient=1),
                        headers=booked.reception)
    assert taken.status_code == 409, taken.text
    appointment = first.json()["appointments"][0]
    moved = client.post(f"{API}/appointments/{appointment['id']}/move",
                        json={"start": slot(2).isoformat()}, headers=booked.reception)
    assert moved.status_code == 200, moved.text
    versions = [first.json()["version"], moved.json()["version"]]
    assert versions[1] == versions[0] + 1
    db.rollback()
    assert db.get(models.OrgVersion, booked.org_id).version == versions[1]  # type: ignore[union-attr]
    logged = db.scalars(select(models.ChangeLogEntry).where(
        models.ChangeLogEntry.organization_id == booked.org_id,
        models.ChangeLogEntry.entity_id == appointment["id"])
        .order_by(models.ChangeLogEntry.id)).all()
    assert [(e.version, e.op, e.payload["start"]) for e in logged] == [  # type: ignore[index]
        (versions[0], "upsert", slot(0).isoformat()),
        (versions[1], "upsert", slot(2).isoformat())]
    entries = db.scalars(select(models.AuditEntry).where(
        models.AuditEntry.organization_id == booked.org_id,
        models.AuditEntry.intent.in_(["appointment.book", "appointment.move"]))
        .order_by(models.AuditEntry.seq)).all()
    assert [(e.intent, e.outcome) for e in entries] == [
        ("appointment.book", "accepted"), ("appointment.book", "refused"),
        ("appointment.move", "accepted")]
    assert entries[1].reason == taken.json()["error"]["code"]
    assert audit.verify(db, booked.org_id) is None  # hashes recompute in Python
    db.rollback()


def test_more_than_one_pending_entry_is_replayed_in_order_on_the_classic_path(
    booked: Booked, db: Session, backend: str
) -> None:
    """Two refusals and an accepted change in one transaction: the fast statement covers
    one entry only, so all three go through the classic handlers, in order."""
    db.rollback()
    before = db.get(models.OrgVersion, booked.org_id).version  # type: ignore[union-attr]
    bookkeeping.defer(db)
    at = datetime(2030, 1, 7, 9, tzinfo=UTC)
    for target in ("a", "b"):
        audit.append(db, booked.org_id, at=at, actor=audit.Actor(), intent="test.intent",
                     outcome="refused", target_type="appointment", target_id=target,
                     reason="because")
    unit_of(db).emit(ChangeAccepted(booked.org_id, at, None, None, "test.intent", "test",
                                    "c"))
    pending = unit_of(db).deferred
    # PostgreSQL defers (three pending); SQLite never does (written at once)
    assert (len(pending) if pending is not None else None) == \
        (3 if backend == "postgresql" else None)
    db.commit()
    assert unit_of(db).deferred is None
    assert db.get(models.OrgVersion, booked.org_id).version == before + 1  # type: ignore[union-attr]
    targets = db.scalars(select(models.AuditEntry.target_id).where(
        models.AuditEntry.organization_id == booked.org_id,
        models.AuditEntry.intent == "test.intent").order_by(models.AuditEntry.seq)).all()
    assert targets == ["a", "b", "c"]
    assert audit.verify(db, booked.org_id) is None
    db.rollback()


def test_a_rolled_back_request_leaves_no_bookkeeping(
    booked: Booked, db: Session
) -> None:
    db.rollback()
    before = db.get(models.OrgVersion, booked.org_id).version  # type: ignore[union-attr]
    entries = len(db.scalars(select(models.AuditEntry.id).where(
        models.AuditEntry.organization_id == booked.org_id)).all())
    bookkeeping.defer(db)
    unit_of(db).emit(ChangeAccepted(booked.org_id, datetime(2030, 1, 7, 9, tzinfo=UTC), None,
                                    None, "test.intent", "test", "c"))
    db.rollback()
    assert unit_of(db).deferred is None
    db.commit()
    assert db.get(models.OrgVersion, booked.org_id).version == before  # type: ignore[union-attr]
    assert len(db.scalars(select(models.AuditEntry.id).where(
        models.AuditEntry.organization_id == booked.org_id)).all()) == entries
    db.rollback()


def test_an_entry_hashed_by_the_database_verifies_with_any_text_in_it(
    booked: Booked, db: Session
) -> None:
    """The one statement hashes the canonical JSON in SQL: quotes, backslashes, non-ASCII
    text and empty fields hash as the Python verifier computes them."""
    db.rollback()
    bookkeeping.defer(db)
    audit.append(db, booked.org_id, at=datetime(2030, 1, 7, 9, 30, 0, 123456, tzinfo=UTC),
                 actor=audit.Actor(None, "desk-1"), intent="test.intent", outcome="refused",
                 target_type=None, target_id='a"b\\c', reason="más «raro» \u2603")
    db.commit()
    entry = db.scalars(select(models.AuditEntry).where(
        models.AuditEntry.organization_id == booked.org_id,
        models.AuditEntry.intent == "test.intent")).one()
    assert (entry.target_id, entry.reason, entry.actor_device_id) == (
        'a"b\\c', "más «raro» \u2603", "desk-1")
    assert audit.entry_hash(entry) == entry.hash
    assert audit.verify(db, booked.org_id) is None
    db.rollback()
