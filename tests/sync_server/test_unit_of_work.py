"""The unit of work and its domain events: every accepted change emits its events, their
handlers run in the change's transaction, a refusal emits none, a push run emits one per
applied mutation, in order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import intents
from scheduling.model import Appointment, AppointmentStatus
from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.services import handlers
from sync_server.services import sync as sync_service
from sync_server.services.events import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentMoved,
    ChangeAccepted,
    Event,
    PatientChanged,
    Placement,
    StatusChanged,
    appointment_event,
)
from sync_server.services.unit_of_work import UnitOfWork, unit_of
from tests.support.records import by_id
from tests.sync_server.booking_setup import (
    Booked,
    Desk,
    counts,
    enroll_desk,
    seed_booked,
    slot,
)
from tests.sync_server.conftest import Clock, Tenants
from tests.sync_server.test_sync_push_pull import book_args, last_mutation

API = "/api/v1"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


@pytest.fixture
def desk(db: Session, booked: Booked, clock: Clock) -> Desk:
    return enroll_desk(db, booked.clinic, clock)


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Event]]:
    """Every event emitted, as a handler registered for the base class hears them."""
    seen: list[Event] = []

    def listen(_uow: UnitOfWork, event: Event) -> None:
        seen.append(event)

    monkeypatch.setitem(handlers.HANDLERS, Event, [listen])
    yield seen


def _appointment_events(seen: list[Event]) -> list[AppointmentChanged]:
    return [e for e in seen if isinstance(e, AppointmentChanged)]


def _org_version(db: Session, org: str) -> int:
    db.rollback()
    value = db.scalar(select(models.OrgVersion.version)
                      .where(models.OrgVersion.organization_id == org))
    db.rollback()
    return int(value or 0)


def test_a_booking_emits_its_bookkeeping_then_its_domain_event(
    client: TestClient, booked: Booked, heard: list[Event],
) -> None:
    answer = client.post(f"{API}/appointments", json=booked.book_body(slot(0)),
                         headers=booked.reception)
    assert answer.status_code == 201, answer.text
    appointment_id = answer.json()["appointments"][0]["id"]
    assert [type(e) for e in heard] == [ChangeAccepted, AppointmentBooked]
    change, event = heard
    assert isinstance(change, ChangeAccepted) and isinstance(event, AppointmentBooked)
    assert change.intent == "appointment.book" and change.target_id == appointment_id
    assert event.organization_id == booked.org_id
    assert event.appointment_id == appointment_id
    assert event.clinic_id == booked.clinic.clinic_id
    assert event.before is None
    assert event.after.provider_id == booked.clinic.provider_ids[0]
    assert event.after.start == slot(0)
    assert event.after.status is AppointmentStatus.BOOKED


def test_a_move_carries_where_the_appointment_stood_before_and_after(
    client: TestClient, booked: Booked, heard: list[Event],
) -> None:
    answer = client.post(f"{API}/appointments", json=booked.book_body(slot(0)),
                         headers=booked.reception)
    path = f"{API}/appointments/{answer.json()['appointments'][0]['id']}"
    heard.clear()
    moved = client.post(f"{path}/move", headers=booked.reception,
                        json={"start": slot(2).isoformat(),
                              "provider_id": booked.clinic.provider_ids[1]})
    assert moved.status_code == 200, moved.text
    (event,) = _appointment_events(heard)
    assert isinstance(event, AppointmentMoved)
    assert event.before is not None
    assert (event.before.start, event.before.provider_id) \
        == (slot(0), booked.clinic.provider_ids[0])
    assert (event.after.start, event.after.provider_id) \
        == (slot(2), booked.clinic.provider_ids[1])
    assert set(booked.clinic.provider_ids[:2]) <= event.resource_ids
    heard.clear()
    confirmed = client.post(f"{path}/status", json={"status": "confirmed"},
                            headers=booked.reception)
    assert confirmed.status_code == 200, confirmed.text
    (status,) = _appointment_events(heard)
    assert isinstance(status, StatusChanged)
    assert status.before is not None and status.before.status is AppointmentStatus.BOOKED
    assert status.after.status is AppointmentStatus.CONFIRMED


def test_a_refused_intent_emits_no_event(
    client: TestClient, booked: Booked, heard: list[Event],
) -> None:
    assert client.post(f"{API}/appointments", json=booked.book_body(slot(0)),
                       headers=booked.reception).status_code == 201
    heard.clear()
    clash = client.post(f"{API}/appointments", json=booked.book_body(slot(0), patient=1),
                        headers=booked.reception)
    assert clash.status_code == 409, clash.text
    assert heard == []


def test_a_handler_that_raises_rolls_back_the_whole_change(
    client: TestClient, booked: Booked, db: Session, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(_uow: UnitOfWork, _event: AppointmentBooked) -> None:
        raise RuntimeError("a later feature's handler failed")

    monkeypatch.setitem(handlers.HANDLERS, AppointmentBooked, [fail])
    before, version = counts(db, booked.org_id), _org_version(db, booked.org_id)
    quiet = TestClient(client.app, raise_server_exceptions=False)
    answer = quiet.post(f"{API}/appointments", json=booked.book_body(slot(0)),
                        headers=booked.reception)
    assert answer.status_code == 500
    # The appointment, its occupations, change log and audit entry, and the version bump
    # (all written before the failing handler ran) are gone.
    assert counts(db, booked.org_id) == before
    assert _org_version(db, booked.org_id) == version
    monkeypatch.setitem(handlers.HANDLERS, AppointmentBooked, [])
    assert client.post(f"{API}/appointments", json=booked.book_body(slot(0)),
                       headers=booked.reception).status_code == 201


def test_a_handler_that_raises_in_a_push_run_rolls_back_the_run(
    client: TestClient, booked: Booked, desk: Desk, db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A handler raising inside a push run rolls the whole run back; the push then goes
    one mutation at a time, so the failing change alone is rolled back and answered as
    ``invalid`` (nothing of it kept), and the others are applied once each."""
    mutations = [desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(i), patient=i))
                 for i in range(4)]
    failing = mutations[2]["args"]["appointment_id"]
    calls: list[str] = []

    def fail_on_the_third(_uow: UnitOfWork, event: AppointmentBooked) -> None:
        calls.append(event.appointment_id)
        if event.appointment_id == failing:
            raise RuntimeError("a later feature's handler failed")

    monkeypatch.setitem(handlers.HANDLERS, AppointmentBooked, [fail_on_the_third])
    monkeypatch.setattr(sync_service, "RUN_SECONDS", 60.0)  # the four in one run
    before = counts(db, booked.org_id)
    quiet = TestClient(client.app, raise_server_exceptions=False)
    answer = quiet.post("/api/v1/sync/push", json=desk.push_body(mutations),
                        headers=desk.headers)
    assert answer.status_code == 200, answer.text
    statuses = [result["status"] for result in answer.json()["results"]]
    assert statuses == ["applied", "applied", "invalid", "applied"]
    # the run (three calls, the third raising) and then one call per mutation
    assert calls[:3] == [m["args"]["appointment_id"] for m in mutations[:3]]
    assert calls[3:] == [m["args"]["appointment_id"] for m in mutations]
    after = counts(db, booked.org_id)
    assert after["appointments"] == before["appointments"] + 3  # each applied one once
    assert by_id(db, models.Appointment, failing) is None
    db.rollback()
    assert last_mutation(db, desk) == 4


def _push_mix(booked: Booked, desk: Desk) -> tuple[list[dict[str, Any]], list[str]]:
    """Bookings (fast path and one by one), a clash (refused), a move, a cancel, a patient
    update; and the appointment ids the applied appointment mutations touch, in order."""
    ids = [str(uuid.uuid4()) for _ in range(4)]
    patient = booked.clinic.patient_ids[5]
    mutations = [
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), appointment_id=ids[0])),
        desk.mutation(intents.APPOINTMENT_BOOK,
                      book_args(booked, slot(1), patient=1, appointment_id=ids[1])),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=2)),  # clash
        desk.mutation(intents.APPOINTMENT_MOVE, {"appointment_id": ids[0],
                                                 "start": slot(3).isoformat()}),
        desk.mutation(intents.APPOINTMENT_BOOK,
                      book_args(booked, slot(0), patient=3, appointment_id=ids[2])),
        desk.mutation(intents.PATIENT_UPDATE, {"patient_id": patient,
                                               "changes": {"phone": "+34 600 000 000"}}),
        desk.mutation(intents.APPOINTMENT_CANCEL, {"appointment_id": ids[1], "reason": "x"}),
        desk.mutation(intents.APPOINTMENT_BOOK,
                      book_args(booked, slot(5), patient=4, appointment_id=ids[3])),
    ]
    return mutations, [ids[0], ids[1], ids[0], ids[2], ids[1], ids[3]]


def test_a_push_run_emits_one_event_per_applied_mutation_in_order(
    client: TestClient, booked: Booked, desk: Desk, heard: list[Event],
) -> None:
    mutations, touched = _push_mix(booked, desk)
    answer = client.post("/api/v1/sync/push", json=desk.push_body(mutations),
                         headers=desk.headers)
    assert answer.status_code == 200, answer.text
    statuses = [r["status"] for r in answer.json()["results"]]
    assert statuses == ["applied", "applied", "refused", "applied", "applied", "applied",
                        "applied", "applied"]
    domain = [e for e in heard if not isinstance(e, ChangeAccepted)]
    assert [type(e) for e in domain] == [
        AppointmentBooked, AppointmentBooked, AppointmentMoved, AppointmentBooked,
        PatientChanged, AppointmentCancelled, AppointmentBooked]
    assert [e.appointment_id for e in domain if isinstance(e, AppointmentChanged)] == touched
    # One bookkeeping event per applied mutation, each before its domain event.
    changes = [e for e in heard if isinstance(e, ChangeAccepted)]
    assert len(changes) == statuses.count("applied")
    assert all(isinstance(heard[2 * i], ChangeAccepted) for i in range(len(changes)))


def test_a_rolled_back_savepoint_forgets_its_events(
    db: Session, heard: list[Event],
) -> None:
    uow = unit_of(db)
    kept = PatientChanged("org", "kept", created=True)
    uow.emit(kept)
    with pytest.raises(ValueError), uow.savepoint():
        uow.emit(PatientChanged("org", "undone", created=False))
        raise ValueError("the intent failed after emitting")
    with uow.savepoint() as savepoint:
        uow.emit(PatientChanged("org", "refused", created=False))
        savepoint.rollback()
    assert uow.events == [kept]
    assert [e.patient_id for e in heard if isinstance(e, PatientChanged)] \
        == ["kept", "undone", "refused"]  # their handlers ran, inside the undone savepoints
    db.rollback()


def _appointment(**changes: Any) -> Appointment:
    base = Appointment(id="a", organization_id="org", clinic_id="c", patient_id="p",
                       appointment_type_id="t", provider_id="dr-1", start=slot(0),
                       end=slot(0) + timedelta(minutes=30), series_id="s")
    return replace(base, **changes)


@pytest.mark.parametrize(("after", "kind"), [
    ({"start": slot(2), "end": slot(2) + timedelta(minutes=30)}, AppointmentMoved),
    ({"end": slot(0) + timedelta(minutes=45)}, AppointmentMoved),
    ({"provider_id": "dr-2"}, AppointmentMoved),
    ({"status": AppointmentStatus.CANCELLED}, AppointmentCancelled),
    ({"status": AppointmentStatus.CONFIRMED}, StatusChanged),
    ({"notes": "rewritten in place"}, StatusChanged),
])
def test_an_appointment_event_names_what_changed(
    after: dict[str, Any], kind: type[AppointmentChanged],
) -> None:
    before = Placement.of(_appointment())
    event = appointment_event("org", before, _appointment(**after))
    assert type(event) is kind
    assert (event.organization_id, event.appointment_id, event.series_id) == ("org", "a", "s")
    assert event.before == before
    assert event.after == Placement.of(_appointment(**after))
    assert type(appointment_event("org", None, _appointment())) is AppointmentBooked
