"""A push run's fast path (one calendar state, staged rows) answers and writes exactly
what the usual path (each mutation through the booking services on its own) does, for
a desk's mixed backlog: bookings (some clashing), moves (some into taken places),
resizes, cancellations, a status change, patient creates and updates."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling import intents
from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.notifications.models import Notification
from sync_server.services import audit
from sync_server.services import sync as sync_service
from sync_server.waitlist.models import FreedSlot
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
from tests.sync_server.test_sync_push_pull import push


def backlog(booked: Booked, desk: Desk, seed: int) -> tuple[list[dict[str, Any]], list[str]]:
    """~160 mutations over three weeks of mornings in random order, and the ids of the
    appointments they book and the patients they create (by the order they were
    queued)."""
    rng = random.Random(seed)
    clinic = booked.clinic
    days = [FIRST_DAY + timedelta(days=n) for n in range(21)
            if (FIRST_DAY + timedelta(days=n)).weekday() < 5]
    providers = sorted(clinic.provider_ids)  # the rules try rooms in id order: so do names
    places = [(p, day, i) for p in range(2) for day in days for i in range(8)]
    rng.shuffle(places)
    booked_ids: list[str] = []
    active: dict[str, tuple[int, date, int]] = {}
    patients = list(clinic.patient_ids)
    out: list[dict[str, Any]] = []
    created: list[str] = []

    def book_args(place: tuple[int, date, int], patient: str) -> dict[str, Any]:
        provider, day, index = place
        appointment_id = str(uuid.uuid4())
        booked_ids.append(appointment_id)
        return {"appointment_id": appointment_id, "clinic_id": clinic.clinic_id,
                "patient_id": patient, "appointment_type_id": clinic.type_id,
                "provider_id": providers[provider], "start": slot(index, day)
                .isoformat(), "end": None, "room_id": None}

    while len(out) < 160:
        roll = rng.random()
        if roll < 0.55 or len(active) < 5:
            if rng.random() < 0.25 and active:  # a clash: a taken place, or a busy patient
                place = active[rng.choice(list(active))]
            else:
                place = places.pop()
            args = book_args(place, rng.choice(patients))
            active[args["appointment_id"]] = place
            out.append(desk.mutation(intents.APPOINTMENT_BOOK, args))
        elif roll < 0.72:
            appointment_id = rng.choice(booked_ids)
            provider, day, index = place = places.pop() if rng.random() < 0.8 \
                else active[rng.choice(list(active))]
            active[appointment_id] = place
            out.append(desk.mutation(intents.APPOINTMENT_MOVE, {
                "appointment_id": appointment_id, "start": slot(index, day).isoformat(),
                "provider_id": providers[provider]}))
        elif roll < 0.77:
            appointment_id = rng.choice(booked_ids)
            _provider, day, index = active.get(appointment_id, places[-1])
            out.append(desk.mutation(intents.APPOINTMENT_RESIZE, {
                "appointment_id": appointment_id,
                "end": (slot(index, day) + timedelta(minutes=rng.choice((15, 45, 60))))
                .isoformat()}))
        elif roll < 0.88:
            appointment_id = rng.choice(booked_ids)
            active.pop(appointment_id, None)
            out.append(desk.mutation(intents.APPOINTMENT_CANCEL, {
                "appointment_id": appointment_id, "reason": "patient called"}))
        elif roll < 0.90:
            out.append(desk.mutation(intents.APPOINTMENT_CHANGE_STATUS, {
                "appointment_id": rng.choice(booked_ids), "status": "confirmed",
                "reason": ""}))
        elif roll < 0.95:
            patient_id = str(uuid.uuid4())
            patients.append(patient_id)
            created.append(patient_id)
            out.append(desk.mutation(intents.PATIENT_CREATE, {
                "patient_id": patient_id, "given_name": "New", "family_name": f"P{len(out)}"}))
        else:
            out.append(desk.mutation(intents.PATIENT_UPDATE, {
                "patient_id": rng.choice(patients),
                "changes": {"phone": f"+34 600 {len(out):06d}"}}))
    return out, booked_ids + created


def outcome(client: TestClient, db: Session, booked: Booked, desk: Desk,
            mutations: list[dict[str, Any]], ids: list[str]) -> dict[str, Any]:
    """What the push answered and wrote, with this organization's ids replaced by
    names that are the same in every organization seeded alike."""
    clinic = booked.clinic
    org = clinic.org_id
    db.rollback()
    seq = db.scalar(select(func.max(models.AuditEntry.seq)).where(
        models.AuditEntry.organization_id == org))
    version = db.scalar(select(models.OrgVersion.version).where(
        models.OrgVersion.organization_id == org))
    db.rollback()
    answer = push(client, desk, mutations)
    assert answer.status_code == 200, answer.text
    names = {org: "org", clinic.clinic_id: "clinic", clinic.type_id: "type",
             **{p: f"provider{i}" for i, p in enumerate(sorted(clinic.provider_ids))},
             **{r: f"room{i}" for i, r in enumerate(sorted(clinic.room_ids))},
             **{p: f"patient{i}" for i, p in enumerate(clinic.patient_ids)},
             **{a: f"record{i}" for i, a in enumerate(ids)}}

    def plain(value: Any) -> Any:
        if isinstance(value, str):
            return names.get(value, value)
        if isinstance(value, dict):
            return {plain(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    db.rollback()
    table, held = models.Appointment, models.AppointmentResource
    written = {
        "answers": [(r["status"], r["code"]) for r in answer.json()["results"]],
        "appointments": sorted(plain([
            row.id, row.provider_id, row.room_id, row.start_at, row.end_at, row.block_start,
            row.block_end, row.status, row.active, row.overridden, row.version,
            row.reschedule_count, row.cancel_reason, row.last_status_previous])
            for row in db.scalars(select(table).where(table.organization_id == org))),
        "occupations": sorted(plain([
            row.appointment_id, row.resource_id, row.block_start, row.block_end, row.active,
            row.overridden, row.group_member])
            for row in db.scalars(select(held).where(held.organization_id == org))),
        "conflicts": [plain([row.mutation_id, row.code, row.params, row.alternatives,
                             row.created_version - version])
                      for row in db.scalars(select(models.Conflict).where(
                          models.Conflict.organization_id == org)
                          .order_by(models.Conflict.mutation_id))],
        "audit": [plain([row.seq - seq, row.intent, row.outcome, row.target_type,
                         row.target_id, row.reason])
                  for row in db.scalars(select(models.AuditEntry).where(
                      models.AuditEntry.organization_id == org, models.AuditEntry.seq > seq)
                      .order_by(models.AuditEntry.seq))],
        "changes": sorted(plain([row.version - version, row.entity, row.entity_id, row.op])
                          for row in db.scalars(select(models.ChangeLogEntry).where(
                              models.ChangeLogEntry.organization_id == org,
                              models.ChangeLogEntry.version > version))),
        "notifications": sorted(plain([row.appointment_id, row.kind, row.occurrence_start,
                                       row.offset_minutes, row.state])
                                for row in db.scalars(select(Notification).where(
                                    Notification.organization_id == org))),
        "freed": sorted(plain([row.provider_id, row.start_at, row.end_at, row.reason,
                               row.state, row.source_appointment_id])
                        for row in db.scalars(select(FreedSlot).where(
                            FreedSlot.organization_id == org))),
    }
    assert active_overlaps(db) == 0
    assert audit.verify(db, org) is None
    db.rollback()
    return written


@pytest.mark.parametrize("seed", [3, 11])
def test_a_mixed_backlog_gets_the_same_answers_and_rows_on_the_fast_path_as_one_by_one(
    client: TestClient, db: Session, settings: Settings, tenants: Tenants, clock: Clock,
    monkeypatch: pytest.MonkeyPatch, seed: int,
) -> None:
    fast_org = seed_booked(client, db, settings, tenants)
    fast_desk = enroll_desk(db, fast_org.clinic, clock)
    slow_org = seed_booked(client, db, settings, tenants)
    slow_desk = enroll_desk(db, slow_org.clinic, clock)
    mutations, ids = backlog(fast_org, fast_desk, seed)
    fast = outcome(client, db, fast_org, fast_desk, mutations, ids)
    slow_mutations, slow_ids = backlog(slow_org, slow_desk, seed)

    # The usual path: no run state, every mutation through the booking services.
    monkeypatch.setattr(sync_service.booking, "prepare_run", lambda *_a, **_k: None)
    slow = outcome(client, db, slow_org, slow_desk, slow_mutations, slow_ids)

    statuses = {status for status, _code in fast["answers"]}
    assert statuses == {"applied", "refused"}  # the backlog exercises both
    for key in fast:
        assert fast[key] == slow[key], key

