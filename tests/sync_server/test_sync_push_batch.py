"""A push is processed in runs of mutations sharing one transaction (``sync.CHUNK``):
per-mutation outcomes, versions, conflicts and the audit chain stay as if each mutation
had committed on its own."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling import intents
from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.services import audit
from sync_server.services import sync as sync_service
from sync_server.services.booking import push_run
from tests.sync_server.booking_setup import (
    FIRST_DAY,
    Booked,
    Desk,
    active_overlaps,
    enroll_desk,
    seed_booked,
    slot,
)
from tests.sync_server.conftest import Clock, Tenants
from tests.sync_server.test_sync_push_pull import (
    book_args,
    last_mutation,
    pull_all,
    push,
)


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


@pytest.fixture
def desk(db: Session, booked: Booked, clock: Clock) -> Desk:
    return enroll_desk(db, booked.clinic, clock)


def mixed(booked: Booked, desk: Desk) -> tuple[list[dict[str, Any]], list[str]]:
    """Applied, refused (clash), invalid, duplicate id, cancel: 11 mutations."""
    first = str(uuid.uuid4())
    out = [
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), appointment_id=first)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=1)),
        desk.mutation("appointment.teleport", {"appointment_id": "x"}),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(2), patient=2,
                                                          appointment_id=first)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(2), patient=2)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(4), patient=3)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(4), patient=4)),
        desk.mutation(intents.APPOINTMENT_CANCEL, {"appointment_id": first, "reason": "x"}),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=5)),
        desk.mutation(intents.APPOINTMENT_MOVE, {"appointment_id": str(uuid.uuid4()),
                                                 "start": slot(6).isoformat()}),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(6), patient=6)),
    ]
    expected = ["applied", "refused", "invalid", "refused", "applied", "applied", "refused",
                "applied", "applied", "refused", "applied"]
    return out, expected


@pytest.mark.parametrize(("chunk", "run_seconds"), [(1, 60.0), (3, 60.0), (200, 60.0), (200, 0.0)])
def test_runs_of_mutations_keep_per_mutation_outcomes_versions_and_audit(
    client: TestClient, booked: Booked, desk: Desk, db: Session,
    monkeypatch: pytest.MonkeyPatch, chunk: int, run_seconds: float,
) -> None:
    """Runs end at ``CHUNK`` mutations or after ``RUN_SECONDS`` (0: after each one)."""
    monkeypatch.setattr(sync_service, "CHUNK", chunk)
    monkeypatch.setattr(sync_service, "RUN_SECONDS", run_seconds)
    runs: list[int] = []
    real_run = sync_service._push_run

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(sync_service, "_push_run", counted)
    org = booked.org_id
    db.rollback()
    version_before = int(db.scalar(select(models.OrgVersion.version)
                               .where(models.OrgVersion.organization_id == org)) or 0)
    entries_before = int(db.scalar(select(func.count()).select_from(models.AuditEntry)
                                   .where(models.AuditEntry.organization_id == org)) or 0)
    db.rollback()
    mutations, expected = mixed(booked, desk)

    answer = push(client, desk, mutations)

    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == expected
    assert answer.json()["last_mutation_id"] == len(mutations) == last_mutation(db, desk)
    assert len(runs) == (len(mutations) if run_seconds == 0 else -(-len(mutations) // chunk))
    # Every mutation moved the version on its own (a change or a conflict each).
    log = db.execute(select(models.ChangeLogEntry.version, models.ChangeLogEntry.entity_id)
                     .where(models.ChangeLogEntry.organization_id == org,
                            models.ChangeLogEntry.version > version_before)).all()
    conflicts = db.execute(select(models.Conflict.created_version, models.Conflict.mutation_id)
                           .where(models.Conflict.client_id == desk.client_id)).all()
    versions = sorted({v for v, _ in log} | {v for v, _ in conflicts})
    assert len(versions) == len(mutations)
    head = db.scalar(select(models.OrgVersion.version)
                     .where(models.OrgVersion.organization_id == org))
    assert head == versions[-1] == version_before + len(mutations)
    assert sorted(m for _, m in conflicts) == [
        i + 1 for i, status in enumerate(expected) if status != "applied"]
    entries_after = db.scalar(select(func.count()).select_from(models.AuditEntry)
                              .where(models.AuditEntry.organization_id == org))
    assert entries_after == entries_before + len(mutations)
    assert audit.verify(db, org) is None
    db.rollback()
    assert active_overlaps(db) == 0

    again = push(client, desk, mutations)
    assert [r["status"] for r in again.json()["results"]] == ["skipped"] * len(mutations)
    pages = pull_all(client, desk)
    assert len([c for p in pages for c in p.conflicts]) == expected.count("refused") + \
        expected.count("invalid")


def test_a_gap_after_a_run_keeps_what_came_before(
    client: TestClient, booked: Booked, desk: Desk, db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sync_service, "CHUNK", 4)
    mutations, _expected = mixed(booked, desk)
    answer = push(client, desk, mutations[:6] + mutations[7:])
    assert answer.status_code == 409
    assert answer.json()["error"]["last_mutation_id"] == 6
    assert last_mutation(db, desk) == 6
    db.rollback()
    assert audit.verify(db, booked.org_id) is None
    db.rollback()


def test_bookings_judged_on_the_runs_shared_state_see_every_earlier_change_of_the_run(
    client: TestClient, booked: Booked, desk: Desk, db: Session,
) -> None:
    """A run judges its plain bookings on one calendar state it keeps current: a booking
    sees the run's earlier bookings, and a move (another kind of mutation) in between is
    never missed, near the run's first booking or weeks away from it."""
    far = FIRST_DAY + timedelta(days=28)
    moved = str(uuid.uuid4())
    mutations = [
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=1,
                                                          appointment_id=moved)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(1), patient=2)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(1), patient=3)),
        desk.mutation(intents.APPOINTMENT_MOVE, {"appointment_id": moved,
                                                 "start": slot(3).isoformat()}),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(3), patient=5)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=6)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0, far), patient=4)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0, far), patient=7)),
    ]

    answer = push(client, desk, mutations)

    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == [
        "applied", "applied", "refused", "applied", "refused", "applied", "applied",
        "refused"]
    db.rollback()
    assert active_overlaps(db) == 0
    start = db.scalar(select(models.Appointment.start_at).where(models.Appointment.id == moved))
    assert start is not None and start == slot(3)


@pytest.mark.only_backend("postgresql")
def test_the_exclusion_constraint_stops_a_run_whose_shared_state_went_wrong(
    client: TestClient, booked: Booked, desk: Desk, db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL only (SQLite has no exclusion constraint): if the run's state missed a
    booking of the run, the database refuses the clash when the run writes; the run is
    redone one mutation per transaction and the clash is refused, not double-booked."""
    monkeypatch.setattr(push_run.PushRun, "booked", lambda _self, _appointments: None)
    mutations = [
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=1)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=2)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(1), patient=3)),
    ]

    answer = push(client, desk, mutations)

    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["applied", "refused", "applied"]
    assert last_mutation(db, desk) == 3
    db.rollback()
    assert active_overlaps(db) == 0
    assert audit.verify(db, booked.org_id) is None
