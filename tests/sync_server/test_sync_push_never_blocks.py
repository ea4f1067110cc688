"""A push never blocks a desk: it answers within a bounded time with what it processed,
a mutation the database refuses is an ``invalid`` conflict and the push goes on, a 5xx
is given only when nothing of the push was committed and names the desk's position,
and the run's fast path decides every mutation as the one-by-one path does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from scheduling import intents
from scheduling.sync_protocol import INVALID_MUTATION
from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.services import audit, booking
from sync_server.services import sync as sync_service
from sync_server.services.unit_of_work import unit_of
from tests.support.records import by_id
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
from tests.sync_server.test_sync_push_pull import book_args, last_mutation, pull_all, push


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


@pytest.fixture
def desk(db: Session, booked: Booked, clock: Clock) -> Desk:
    return enroll_desk(db, booked.clinic, clock)


def statuses(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [r["status"] for r in answer.json()["results"]]


# --------------------------------------------------------------------------- bounded time


def test_a_mostly_refused_push_answers_with_what_it_processed_and_the_next_push_goes_on(
    client: TestClient, booked: Booked, desk: Desk, db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a budget of one run per push and one mutation per run (the budget, not the
    clock, decides), each answer covers a prefix; sending the rest goes on from the
    answer's ``last_mutation_id`` until every mutation is processed exactly once."""
    monkeypatch.setattr(sync_service, "RUN_SECONDS", 0.0)
    monkeypatch.setattr(sync_service, "PUSH_SECONDS", 0.0)
    outbox = [desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=0))]
    outbox += [desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=p))
               for p in range(1, 8)]  # the same time again: refused
    outbox.append(desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(1), patient=1)))

    first = push(client, desk, outbox)

    assert statuses(first) == ["applied"]
    assert first.json()["last_mutation_id"] == 1
    seen: list[str] = []
    answers = 1
    while (done := last_mutation(db, desk)) < len(outbox):
        answer = push(client, desk, outbox[done:])
        answers += 1
        seen += statuses(answer)
        assert answer.json()["last_mutation_id"] == done + len(answer.json()["results"])
    assert answers == len(outbox)
    assert ["applied", *seen] == ["applied"] + ["refused"] * 7 + ["applied"]
    conflicts = pull_all(client, desk)[-1].conflicts
    assert sorted(c.mutation_id for c in conflicts) == list(range(2, 9))


def test_a_push_within_its_budget_answers_every_mutation_across_runs(
    client: TestClient, booked: Booked, desk: Desk, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sync_service, "RUN_SECONDS", 0.0)  # one mutation per run
    outbox = [desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(i), patient=i))
              for i in range(6)]

    answer = push(client, desk, outbox)

    assert statuses(answer) == ["applied"] * 6
    assert answer.json()["last_mutation_id"] == 6


# --------------------------------------------------------------------------- database refusals


def _engine(db: Session) -> Engine:
    db.rollback()
    bind = db.get_bind()
    assert isinstance(bind, Engine)
    return bind


@contextmanager
def trigger(db: Session, backend: str, table: str, event: str, condition: str
            ) -> Iterator[None]:
    """A trigger on ``table`` that fails the ``event`` (INSERT or UPDATE) of a row meeting
    ``condition`` (SQL on ``NEW``), on either backend, for the block."""
    name = f"fail_{table}"
    with _engine(db).begin() as connection:
        if backend == "postgresql":
            connection.execute(text(
                f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                f"IF {condition} THEN RAISE EXCEPTION 'refused by the database'; "
                "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"))
            connection.execute(text(f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
                                    f"FOR EACH ROW EXECUTE FUNCTION {name}()"))
        else:
            connection.execute(text(
                f"CREATE TRIGGER {name} BEFORE {event} ON {table} WHEN {condition} BEGIN "
                "SELECT RAISE(ABORT, 'refused by the database'); END"))
    try:
        yield
    finally:
        with _engine(db).begin() as connection:
            connection.execute(text(f"DROP TRIGGER {name}" +
                                    (f" ON {table}" if backend == "postgresql" else "")))
            if backend == "postgresql":
                connection.execute(text(f"DROP FUNCTION {name}()"))


@pytest.fixture
def refusing_patients(db: Session, backend: str) -> Iterator[str]:
    """The database refuses a patient named ``Refused`` (a refusal the rules cannot
    foresee, like a value the column cannot hold)."""
    with trigger(db, backend, "patients", "INSERT", "NEW.given_name = 'Refused'"):
        yield "Refused"


def test_a_mutation_the_database_refuses_is_an_invalid_conflict_and_the_next_one_applies(
    client: TestClient, booked: Booked, desk: Desk, db: Session, refusing_patients: str,
) -> None:
    refused_id = str(uuid.uuid4())
    outbox = [
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=0)),
        desk.mutation(intents.PATIENT_CREATE, {"patient_id": refused_id,
                                               "given_name": refusing_patients,
                                               "family_name": "Doe"}),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(1), patient=1)),
        desk.mutation(intents.PATIENT_CREATE, {"patient_id": str(uuid.uuid4()),
                                               "given_name": "Accepted"}),
    ]

    answer = push(client, desk, outbox)

    assert statuses(answer) == ["applied", "invalid", "applied", "applied"]
    assert answer.json()["results"][1]["code"] == INVALID_MUTATION
    assert answer.json()["last_mutation_id"] == 4
    [conflict] = pull_all(client, desk)[-1].conflicts
    assert (conflict.mutation_id, conflict.code) == (2, INVALID_MUTATION)
    assert "refused" in conflict.params["problem"]
    assert refusing_patients not in str(conflict.params)  # no submitted value echoed
    db.rollback()
    assert by_id(db, models.Patient, refused_id) is None
    assert audit.verify(db, booked.org_id) is None


def test_a_mutation_the_server_fails_on_is_an_invalid_conflict_and_the_next_one_applies(
    client: TestClient, booked: Booked, desk: Desk, db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server fault on one mutation (planted: creating the patient named ``Crash``
    raises) must not make the desk send it again forever."""
    real = sync_service.booking.patient_create

    def failing(session: Session, caller: Any, request: Any, now: Any) -> Any:
        if request.given_name == "Crash":
            raise RuntimeError("planted fault")
        return real(session, caller, request, now)

    monkeypatch.setattr(sync_service.booking, "patient_create", failing)
    outbox = [
        desk.mutation(intents.PATIENT_CREATE, {"patient_id": str(uuid.uuid4()),
                                               "given_name": "Crash"}),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=0)),
    ]

    answer = push(client, desk, outbox)

    assert statuses(answer) == ["invalid", "applied"]
    [conflict] = pull_all(client, desk)[-1].conflicts
    assert conflict.params["problem"] == "the server failed on it"
    assert audit.verify(db, booked.org_id) is None


def test_a_fault_on_the_runs_fast_path_is_redone_one_mutation_at_a_time(
    client: TestClient, booked: Booked, desk: Desk, db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fast path failing (planted: on the third booking) rolls its run back; the
    push goes on one mutation per savepoint and every booking is decided as usual."""
    real = sync_service.booking.book_in_run
    outbox = [desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(i), patient=i))
              for i in range(4)]
    outbox.append(desk.mutation(intents.APPOINTMENT_BOOK,
                                book_args(booked, slot(0), patient=5)))  # a clash
    planted = outbox[2]["args"]["appointment_id"]

    def failing(session: Session, caller: Any, command: Any, *rest: Any) -> Any:
        if command.appointment_id == planted and unit_of(session).run is not None:
            raise RuntimeError("planted fault")
        return real(session, caller, command, *rest)

    monkeypatch.setattr(sync_service.booking, "book_in_run", failing)

    answer = push(client, desk, outbox)

    assert statuses(answer) == ["applied"] * 4 + ["refused"]
    assert last_mutation(db, desk) == 5
    db.rollback()
    assert active_overlaps(db) == 0


# --------------------------------------------------------------------------- 5xx


@pytest.fixture
def failing_advance(db: Session, backend: str) -> Iterator[int]:
    """Any commit moving a desk's position to 5 or beyond fails: a fault outside every
    mutation's savepoint, which no mutation can be blamed for."""
    with trigger(db, backend, "client_mutations", "UPDATE", "NEW.last_mutation_id >= 5"):
        yield 5


def test_a_failure_before_anything_committed_is_a_5xx_naming_the_last_processed_id(
    client: TestClient, booked: Booked, desk: Desk, db: Session, failing_advance: int,
) -> None:
    outbox = [desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(i), patient=i))
              for i in range(failing_advance + 1)]
    assert statuses(push(client, desk, outbox[:failing_advance - 1])) == ["applied"] * 4

    answer = push(client, desk, outbox)

    assert answer.status_code == 500, answer.text
    error = answer.json()["error"]
    assert error["code"] == "internal_error"
    assert error["last_mutation_id"] == failing_advance - 1
    assert f"up to change {failing_advance - 1}" in error["message"]
    assert last_mutation(db, desk) == failing_advance - 1


def test_a_failure_after_a_committed_run_answers_what_was_processed(
    client: TestClient, booked: Booked, desk: Desk, db: Session, failing_advance: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sync_service, "RUN_SECONDS", 0.0)  # one mutation per run
    outbox = [desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(i), patient=i))
              for i in range(failing_advance + 1)]

    answer = push(client, desk, outbox)

    assert statuses(answer) == ["applied"] * (failing_advance - 1)
    assert answer.json()["last_mutation_id"] == failing_advance - 1
    assert last_mutation(db, desk) == failing_advance - 1


# --------------------------------------------------------------------------- fast path = one by one


def backlog(booked: Booked, desk: Desk) -> list[dict[str, Any]]:
    """A desk's mixed backlog: bookings over two months (far ones beyond the old two-week
    span of a run), refusals (same time, same patient), moves and cancels followed by
    bookings of the times they freed or took, a patient created then booked."""
    far = FIRST_DAY + timedelta(days=42)
    later = FIRST_DAY + timedelta(days=63)
    ids = [str(uuid.uuid4()) for _ in range(6)]
    new_patient = str(uuid.uuid4())

    def book(start: Any, patient: int = 0, provider: int = 0, appointment_id: str | None = None
             ) -> dict[str, Any]:
        return desk.mutation(intents.APPOINTMENT_BOOK, book_args(
            booked, start, patient=patient, provider=provider, appointment_id=appointment_id))

    new_booking = book_args(booked, slot(6, far), patient=0)
    new_booking["patient_id"] = new_patient
    return [
        book(slot(0), 0, appointment_id=ids[0]),
        book(slot(0, far), 1, appointment_id=ids[1]),
        book(slot(0), 2),                      # provider busy: refused
        book(slot(0), 0, provider=1),          # the same patient at the same time: refused
        book(slot(2, later), 3, appointment_id=ids[2]),
        desk.mutation(intents.APPOINTMENT_MOVE, {"appointment_id": ids[0],
                                                 "start": slot(3).isoformat()}),
        book(slot(0), 4, appointment_id=ids[3]),   # the time the move freed
        book(slot(3), 5),                      # the time the move took: refused
        desk.mutation(intents.APPOINTMENT_CANCEL, {"appointment_id": ids[1],
                                                   "reason": "called"}),
        book(slot(0, far), 6, appointment_id=ids[4]),  # the time the cancel freed
        desk.mutation(intents.APPOINTMENT_MOVE, {"appointment_id": ids[2],
                                                 "start": slot(0, far).isoformat()}),  # taken
        desk.mutation(intents.PATIENT_CREATE, {"patient_id": new_patient,
                                               "given_name": "Nueva"}),
        desk.mutation(intents.APPOINTMENT_BOOK, new_booking),
        desk.mutation(intents.PATIENT_UPDATE, {"patient_id": booked.clinic.patient_ids[7],
                                               "changes": {"phone": "+34 600 000 001"}}),
        book(slot(4, far), 7, appointment_id=ids[5]),
        desk.mutation(intents.APPOINTMENT_CANCEL, {"appointment_id": ids[5],
                                                   "reason": "called"}),
        book(slot(4, far), 8),                 # the time that cancel freed
        book(slot(6, far), 9),                 # the new patient's time: refused
    ]


def final_state(db: Session, org_id: str) -> list[tuple[Any, ...]]:
    db.rollback()
    table = models.Appointment
    rows = db.execute(select(table.provider_id, table.patient_id, table.start_at,
                             table.status, table.active)
                      .where(table.organization_id == org_id)).all()
    db.rollback()
    return sorted((str(r[0]), str(r[1]), r[2].isoformat(), r[3], r[4]) for r in rows)


def test_the_runs_fast_path_decides_a_mixed_backlog_as_the_one_by_one_path_does(
    client: TestClient, db: Session, settings: Settings, tenants: Tenants, clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcomes = []
    for fast in (True, False):
        with monkeypatch.context() as patched:
            if not fast:  # no shared state: every mutation takes the usual path
                patched.setattr(booking.push_run_prepare, "prepare_run", lambda *_a, **_k: None)
                patched.setattr(sync_service.booking, "prepare_run", lambda *_a, **_k: None)
            booked = seed_booked(client, db, settings, tenants)
            desk = enroll_desk(db, booked.clinic, clock)
            answer = push(client, desk, backlog(booked, desk))
            # The same outbox per seeded clinic: compare by position, not by ids
            patients = {p: n for n, p in enumerate(booked.clinic.patient_ids)}
            providers = {p: n for n, p in enumerate(booked.clinic.provider_ids)}
            state = [(str(providers.get(p, p)), str(patients.get(q, "new")), *rest)
                     for p, q, *rest in final_state(db, booked.org_id)]
            outcomes.append((statuses(answer), sorted(state)))
            db.rollback()
            assert active_overlaps(db) == 0
            assert audit.verify(db, booked.org_id) is None
    (fast_statuses, fast_state), (slow_statuses, slow_state) = outcomes
    assert fast_statuses == slow_statuses
    assert fast_statuses.count("refused") == 5 and "invalid" not in fast_statuses
    assert fast_state == slow_state
