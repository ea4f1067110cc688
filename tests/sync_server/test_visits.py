"""Visits over REST on SQLite and PostgreSQL: several appointments of one patient booked,
moved and cancelled together, all or nothing — also against a concurrent booking that
takes one part's slot (real threads started together by a barrier)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import intents
from scheduling.commands import BookAppointment
from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.db.session import make_engine, make_session_factory
from sync_server.services import booking
from sync_server.services.booking import BookingResult
from tests.e2e.server_side import TZ
from tests.support.records import by_id
from tests.sync_server.booking_setup import (
    Booked,
    active_overlaps,
    counts,
    seed_booked,
    slot,
    staff_caller,
)
from tests.sync_server.conftest import Clock, Tenants

API = "/api/v1"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def visit_body(booked: Booked, *parts: tuple[int, int], patient: int = 0) -> dict[str, Any]:
    """A visit of ``parts`` = (slot index, provider index) for one patient."""
    return {"appointments": [booked.book_body(slot(index), provider=provider, patient=patient)
                             for index, provider in parts]}


def visit_rows(db: Session, visit_id: str) -> list[models.Appointment]:
    db.rollback()
    rows = list(db.scalars(select(models.Appointment).where(
        models.Appointment.visit_id == visit_id).order_by(models.Appointment.start_at)))
    db.rollback()
    return rows


def test_a_visit_is_booked_moved_and_cancelled_together(
    client: TestClient, booked: Booked, db: Session
) -> None:
    made = client.post(f"{API}/visits", json=visit_body(booked, (0, 0), (1, 1)),
                       headers=booked.reception)
    assert made.status_code == 201, made.text
    parts = made.json()["appointments"]
    visit_id = parts[0]["visit_id"]
    assert len(parts) == 2 and {p["visit_id"] for p in parts} == {visit_id}
    listed = client.get(f"{API}/visits/{visit_id}", headers=booked.reception).json()
    assert [a["start"] for a in listed["appointments"]] == [slot(0).isoformat(),
                                                            slot(1).isoformat()]
    moved = client.post(f"{API}/visits/{visit_id}/move", json={"start": slot(1).isoformat()},
                        headers=booked.reception)
    assert moved.status_code == 200, moved.text  # the second part's old place is free to take
    assert sorted(a["start"] for a in moved.json()["appointments"]) == [
        slot(1).isoformat(), slot(2).isoformat()]
    cancelled = client.post(f"{API}/visits/{visit_id}/cancel", headers=booked.reception,
                            json={"reason": "car broke down", "category": "no_transport"})
    assert cancelled.status_code == 200, cancelled.text
    rows = visit_rows(db, visit_id)
    assert [(r.status, r.cancel_category, r.active) for r in rows] == [
        ("cancelled", "no_transport", False)] * 2
    entries = db.scalars(select(models.AuditEntry.intent).where(
        models.AuditEntry.target_id == visit_id)).all()
    assert sorted(entries) == ["visit.book", "visit.cancel", "visit.move"]
    db.rollback()


def test_a_refused_part_refuses_the_visit_and_nothing_is_kept(
    client: TestClient, booked: Booked, db: Session
) -> None:
    other = client.post(f"{API}/appointments", headers=booked.reception,
                        json=booked.book_body(slot(1), provider=1, patient=5))
    assert other.status_code == 201
    before = counts(db, booked.org_id)
    refused = client.post(f"{API}/visits", json=visit_body(booked, (0, 0), (1, 1)),
                          headers=booked.reception)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "PROVIDER_BUSY" and error["params"]["part"] == 1
    after = counts(db, booked.org_id)
    assert (after["appointments"], after["occupations"], after["changes"]) == (
        before["appointments"], before["occupations"], before["changes"])
    assert after["audit"] == before["audit"] + 1  # the refusal is audited


def test_a_visit_move_that_one_part_cannot_make_moves_nothing(
    client: TestClient, booked: Booked, db: Session
) -> None:
    made = client.post(f"{API}/visits", json=visit_body(booked, (0, 0), (1, 1)),
                       headers=booked.reception).json()
    visit_id = made["appointments"][0]["visit_id"]
    client.post(f"{API}/appointments", headers=booked.reception,
                json=booked.book_body(slot(3), provider=1, patient=5))
    refused = client.post(f"{API}/visits/{visit_id}/move", json={"start": slot(2).isoformat()},
                          headers=booked.reception)
    assert refused.status_code == 409 and refused.json()["error"]["params"]["part"] == 1
    assert [r.start_at for r in visit_rows(db, visit_id)] == [slot(0), slot(1)]


def test_a_visit_is_one_patient_at_one_clinic_and_ids_are_unique(
    client: TestClient, booked: Booked
) -> None:
    mixed = visit_body(booked, (0, 0))
    mixed["appointments"].append(booked.book_body(slot(1), provider=1, patient=3))
    assert client.post(f"{API}/visits", json=mixed, headers=booked.reception).status_code == 422
    made = client.post(f"{API}/visits", json=visit_body(booked, (0, 0)),
                       headers=booked.reception).json()
    again = visit_body(booked, (4, 0)) | {"visit_id": made["appointments"][0]["visit_id"]}
    assert client.post(f"{API}/visits", json=again, headers=booked.reception).status_code == 409
    assert client.get(f"{API}/visits/{uuid.uuid4()}",
                      headers=booked.reception).status_code == 404
    unknown = client.post(f"{API}/visits/{uuid.uuid4()}/cancel", json={"reason": "x"},
                          headers=booked.reception)
    assert unknown.status_code == 409 and unknown.json()["error"]["code"] == "UNKNOWN_RECORD"


# --------------------------------------------------------------------------- under a race


class Racer:
    """Books through the booking services in its own session and engine, as the API does."""

    def __init__(self, database_url: str, booked: Booked, clock: Clock) -> None:
        self.engine = make_engine(database_url)
        self.sessions = make_session_factory(self.engine)
        self.booked, self.clock = booked, clock
        self.caller = staff_caller(self.sessions, booked)

    def command(self, index: int, provider: int, patient: int) -> BookAppointment:
        body = {**self.booked.book_body(slot(index), provider=provider, patient=patient),
                "appointment_id": str(uuid.uuid4())}
        decoded = intents.decode(intents.APPOINTMENT_BOOK, body, self.caller.actor)
        assert isinstance(decoded.request, BookAppointment)
        return decoded.request

    def run(self, work: Any) -> BookingResult:
        with self.sessions() as session:
            result: BookingResult = work(session)
            session.commit()
            return result

    def visit(self, visit_id: str, parts: list[BookAppointment]) -> BookingResult:
        return self.run(lambda s: booking.book_visit(s, self.caller, visit_id, parts,
                                                     self.clock()))

    def single(self, command: BookAppointment) -> BookingResult:
        return self.run(lambda s: booking.book(s, self.caller, command, self.clock()))


@pytest.fixture
def racer(database_url: str, booked: Booked, clock: Clock) -> Iterator[Racer]:
    made = Racer(database_url, booked, clock)
    yield made
    made.engine.dispose()


def race(*jobs: Any) -> list[Any]:
    """Run ``jobs`` in threads released together by a barrier; their results in order."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def runner(index: int) -> None:
        barrier.wait(30)
        try:
            results[index] = jobs[index]()
        except BaseException as error:  # noqa: BLE001 — reported below
            results[index] = error

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a racer never finished"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


ROUNDS = 6


def test_a_visit_racing_a_booking_for_one_of_its_slots_is_all_or_nothing(
    racer: Racer, booked: Booked, db: Session, clock: Clock
) -> None:
    """Each round a two-part visit (provider 0, then provider 1 half an hour later) races
    a single booking of another patient for the second part's slot: exactly one of them
    wins that slot; a refused visit keeps none of its parts; no resource is double-booked."""
    outcomes: set[str] = set()
    for round_index in range(ROUNDS):
        first = 2 * (round_index % 4)
        day_shift = timedelta(days=round_index // 4)
        visit_id = str(uuid.uuid4())
        parts = [replace(racer.command(index, provider, 0), start=slot(index) + day_shift)
                 for index, provider in ((first, 0), (first + 1, 1))]
        single = replace(racer.command(first + 1, 1, round_index + 1),
                         start=slot(first + 1) + day_shift)
        visit, other = race(partial(racer.visit, visit_id, parts),
                            partial(racer.single, single))
        assert (visit.refused is None) != (other.refused is None), "exactly one wins the slot"
        stored = visit_rows(db, visit_id)
        if visit.refused is None:
            outcomes.add("visit")
            assert len(stored) == 2 and all(r.active for r in stored)
            assert by_id(db, models.Appointment, single.appointment_id) is None
        else:
            outcomes.add("single")
            assert visit.refused.params.get("part") == 1
            assert stored == [], "a refused visit keeps none of its parts"
            assert by_id(db, models.Appointment, single.appointment_id) is not None
        db.rollback()
        assert active_overlaps(db) == 0
    assert outcomes, "the race ran"


def test_a_visit_after_a_committed_booking_of_its_slot_keeps_nothing(
    racer: Racer, booked: Booked, db: Session, clock: Clock
) -> None:
    """The ordering the race above may not hit: the single booking commits first."""
    assert racer.single(racer.command(1, 1, 7)).refused is None
    visit_id = str(uuid.uuid4())
    parts = [racer.command(0, 0, 0), racer.command(1, 1, 0)]
    result = racer.visit(visit_id, parts)
    assert result.refused is not None and result.refused.params["part"] == 1
    assert visit_rows(db, visit_id) == []
    assert by_id(db, models.Appointment, parts[0].appointment_id) is None
    db.rollback()


def test_a_series_moved_a_week_on_takes_its_own_next_places(
    client: TestClient, booked: Booked, db: Session
) -> None:
    """Appointments changed together vacate their old places before taking new ones: a
    weekly series moved by a week lands each occurrence on the next one's old place
    (before, PostgreSQL's exclusion constraint refused the first of them)."""
    made = client.post(f"{API}/series", headers=booked.reception, json={
        **{k: v for k, v in booked.book_body(slot(0)).items() if k != "start"},
        "room_id": booked.clinic.room_ids[0], "rrule": "FREQ=WEEKLY;COUNT=3",
        "first_local": slot(0).astimezone(ZoneInfo(TZ)).replace(tzinfo=None).isoformat()})
    assert made.status_code == 201, made.text
    occurrences = sorted(made.json()["appointments"], key=lambda a: a["start"])
    series_id = made.json()["series"][0]["id"]
    moved = client.post(f"{API}/series/{series_id}/edit", headers=booked.reception, json={
        "appointment_id": occurrences[0]["id"], "scope": "all", "action": "move",
        "start": (slot(0) + timedelta(days=7)).isoformat()})
    assert moved.status_code == 200, moved.text
    starts = sorted(a["start"] for a in moved.json()["appointments"])
    assert starts == [(slot(0) + timedelta(days=7 * n)).isoformat() for n in (1, 2, 3)]
    assert active_overlaps(db) == 0
