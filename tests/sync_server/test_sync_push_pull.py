"""Push and pull: idempotency, gaps, client clocks, conflicts, invalid mutations, pagination."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import intents
from scheduling.sync_protocol import INVALID_MUTATION, PullResponse
from sync_server.core.config import Settings
from sync_server.db import models
from tests.sync_server.booking_setup import (
    Booked,
    Desk,
    active_overlaps,
    counts,
    enroll_desk,
    seed_booked,
    slot,
)
from tests.sync_server.conftest import Clock, Tenants

PUSH, PULL = "/api/v1/sync/push", "/api/v1/sync/pull"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


@pytest.fixture
def desk(db: Session, booked: Booked, clock: Clock) -> Desk:
    return enroll_desk(db, booked.clinic, clock)


def book_args(booked: Booked, start: datetime, *, patient: int = 0, provider: int = 0,
              appointment_id: str | None = None) -> dict[str, Any]:
    return {
        "appointment_id": appointment_id or str(uuid.uuid4()),
        "clinic_id": booked.clinic.clinic_id,
        "patient_id": booked.clinic.patient_ids[patient],
        "appointment_type_id": booked.clinic.type_id,
        "provider_id": booked.clinic.provider_ids[provider],
        "start": start.isoformat(), "end": None, "room_id": None,
    }


def push(client: TestClient, desk: Desk, mutations: list[dict[str, Any]]) -> Any:
    return client.post(PUSH, json=desk.push_body(mutations), headers=desk.headers)


def pull_all(client: TestClient, desk: Desk, limit: int = 1000) -> list[PullResponse]:
    pages, cursor = [], 0
    while True:
        answer = client.get(PULL, params={"cursor": cursor, "limit": limit},
                            headers=desk.headers)
        assert answer.status_code == 200, answer.text
        page = PullResponse.from_json(answer.json())
        pages.append(page)
        cursor = page.cursor
        if not page.has_more:
            return pages


def server_state(db: Session, org_id: str) -> list[tuple[Any, ...]]:
    """The organization's appointments as comparable tuples (ids, times, status, version)."""
    db.rollback()
    rows = db.execute(select(
        models.Appointment.id, models.Appointment.provider_id, models.Appointment.start_at,
        models.Appointment.end_at, models.Appointment.status, models.Appointment.version,
    ).where(models.Appointment.organization_id == org_id).order_by(models.Appointment.id)).all()
    db.rollback()
    return [tuple(r) for r in rows]


def last_mutation(db: Session, desk: Desk) -> int:
    db.rollback()
    value = db.scalar(select(models.ClientMutation.last_mutation_id)
                      .where(models.ClientMutation.client_id == desk.client_id))
    db.rollback()
    return int(value or 0)


def sample_mutations(booked: Booked, desk: Desk) -> list[dict[str, Any]]:
    """Book two, move one, book a clash (refused), cancel the other."""
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    return [
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), appointment_id=first)),
        desk.mutation(intents.APPOINTMENT_BOOK,
                      book_args(booked, slot(2), patient=1, appointment_id=second)),
        desk.mutation(intents.APPOINTMENT_MOVE, {"appointment_id": first,
                                                 "start": slot(4).isoformat(),
                                                 "base_version": 1}),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(4), patient=2)),
        desk.mutation(intents.APPOINTMENT_CANCEL, {"appointment_id": second,
                                                   "reason": "called", "base_version": 1}),
    ]


def test_the_same_push_three_times_gives_the_state_of_one(
    client: TestClient, booked: Booked, desk: Desk, db: Session
) -> None:
    mutations = sample_mutations(booked, desk)
    first = push(client, desk, mutations)
    assert first.status_code == 200, first.text
    assert [r["status"] for r in first.json()["results"]] == [
        "applied", "applied", "applied", "refused", "applied"]
    state, before = server_state(db, booked.org_id), counts(db, booked.org_id)
    for _ in range(2):
        again = push(client, desk, mutations)
        assert again.status_code == 200
        assert {r["status"] for r in again.json()["results"]} == {"skipped"}
        assert again.json()["last_mutation_id"] == 5
    assert server_state(db, booked.org_id) == state
    assert counts(db, booked.org_id) == before


def test_a_reordered_push_applies_nothing_twice_and_a_gap_changes_nothing(
    client: TestClient, booked: Booked, desk: Desk, db: Session
) -> None:
    mutations = sample_mutations(booked, desk)
    assert push(client, desk, mutations[:3]).status_code == 200
    state, before = server_state(db, booked.org_id), counts(db, booked.org_id)

    gap = push(client, desk, [mutations[4]])  # 5 before 4
    assert gap.status_code == 409
    assert gap.json()["error"]["code"] == "mutation_gap"
    assert gap.json()["error"]["last_mutation_id"] == 3
    assert server_state(db, booked.org_id) == state
    assert counts(db, booked.org_id) == before

    reordered = push(client, desk, [mutations[1], mutations[0], mutations[2], mutations[3],
                                    mutations[4]])
    assert reordered.status_code == 200, reordered.text
    assert [r["status"] for r in reordered.json()["results"]] == [
        "skipped", "skipped", "skipped", "refused", "applied"]

    reference_desk_state = server_state(db, booked.org_id)
    assert push(client, desk, mutations).json()["last_mutation_id"] == 5
    assert server_state(db, booked.org_id) == reference_desk_state


def test_a_gap_in_the_middle_applies_what_came_before_and_nothing_after(
    client: TestClient, booked: Booked, desk: Desk, db: Session
) -> None:
    mutations = sample_mutations(booked, desk)
    answer = push(client, desk, [mutations[0], mutations[1], mutations[3], mutations[4]])
    assert answer.status_code == 409
    assert last_mutation(db, desk) == 2


@pytest.mark.parametrize("skew", [timedelta(days=-1), timedelta(days=1)])
def test_client_clocks_a_day_off_change_neither_order_nor_outcome(
    client: TestClient, booked: Booked, db: Session, settings: Settings, tenants: Tenants,
    clock: Clock, skew: timedelta,
) -> None:
    honest, skewed = enroll_desk(db, booked.clinic, clock), enroll_desk(db, booked.clinic, clock)

    def run(desk: Desk, offset: timedelta, patients: range) -> list[Any]:
        mutations = [
            desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(5), patient=p),
                          client_time=(clock() + offset - timedelta(minutes=n)).isoformat())
            for n, p in enumerate(patients)
        ]
        answer = push(client, desk, mutations)
        assert answer.status_code == 200
        return [(r["status"], r["code"]) for r in answer.json()["results"]]

    outcome_honest = run(honest, timedelta(0), range(3))
    outcome_skewed = run(skewed, skew, range(3, 6))
    # The first pushed mutation wins its slot, whatever the desk's clock says.
    assert outcome_honest == [("applied", None), ("refused", "PROVIDER_BUSY"),
                              ("refused", "PROVIDER_BUSY")]
    assert outcome_skewed == [("refused", "PROVIDER_BUSY")] * 3


def test_a_refused_intent_is_a_conflict_in_the_next_pull_and_still_acknowledged(
    client: TestClient, booked: Booked, desk: Desk, db: Session, clock: Clock
) -> None:
    other = enroll_desk(db, booked.clinic, clock)
    assert push(client, other, [other.mutation(intents.APPOINTMENT_BOOK,
                                               book_args(booked, slot(1)))]).status_code == 200
    [first_page] = pull_all(client, desk)
    mine = book_args(booked, slot(1), patient=3)
    answer = push(client, desk, [desk.mutation(intents.APPOINTMENT_BOOK, mine)])
    assert answer.json()["results"][0]["status"] == "refused"
    [page] = pull_all_from(client, desk, first_page.cursor)
    assert page.last_mutation_id == 1
    [conflict] = page.conflicts
    assert conflict.mutation_id == 1 and conflict.code == "PROVIDER_BUSY"
    assert conflict.name == intents.APPOINTMENT_BOOK
    assert conflict.args is not None and conflict.args["appointment_id"] == mine["appointment_id"]
    assert "already booked" in conflict.message_id and conflict.params["provider"]
    assert conflict.alternatives and "start" in conflict.alternatives[0]
    [later] = pull_all_from(client, desk, page.cursor)
    assert later.conflicts == ()  # served once, after the cursor it was created at


def pull_all_from(client: TestClient, desk: Desk, cursor: int) -> list[PullResponse]:
    answer = client.get(PULL, params={"cursor": cursor}, headers=desk.headers)
    assert answer.status_code == 200, answer.text
    return [PullResponse.from_json(answer.json())]


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("appointment.teleport", {"appointment_id": "x"}),
        (intents.APPOINTMENT_MOVE, {"appointment_id": "x"}),
        (intents.APPOINTMENT_MOVE, {"appointment_id": "x", "start": "2026-03-09T09:00:00"}),
        (intents.APPOINTMENT_MOVE, {"appointment_id": "x", "start": "2026-03-09T09:00:00Z",
                                    "colour": "red"}),
        (intents.APPOINTMENT_MOVE, {"appointment_id": 5, "start": "2026-03-09T09:00:00Z"}),
        (intents.APPOINTMENT_RESIZE, {"appointment_id": "x", "end": "2026-02-30T09:00:00Z"}),
    ],
    ids=["unknown-name", "missing-field", "naive-datetime", "unknown-field", "wrong-type",
         "impossible-date"],
)
def test_an_unreadable_mutation_is_an_invalid_mutation_conflict_and_does_not_block_the_desk(
    client: TestClient, booked: Booked, desk: Desk, db: Session, name: str,
    args: dict[str, Any],
) -> None:
    before = server_state(db, booked.org_id)
    answer = push(client, desk, [desk.mutation(name, args),
                                 desk.mutation(intents.APPOINTMENT_BOOK,
                                               book_args(booked, slot(6)))])
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["invalid", "applied"]
    assert len(server_state(db, booked.org_id)) == len(before) + 1
    [page] = pull_all(client, desk)
    [conflict] = page.conflicts
    assert conflict.code == INVALID_MUTATION and conflict.mutation_id == 1
    assert "problem" in conflict.params


@pytest.mark.parametrize(
    "body",
    [
        {"client_id": "x", "mutations": [{"id": "1", "name": "a", "args": {}}]},
        {"client_id": "x", "mutations": [{"id": 1, "name": "a", "args": {}, "extra": 1}]},
        {"client_id": "x", "mutations": [{"id": 1, "name": "a", "args": []}]},
        {"mutations": []},
    ],
    ids=["string-id", "unknown-envelope-field", "args-not-an-object", "no-client-id"],
)
def test_a_malformed_push_envelope_is_a_422_and_writes_nothing(
    client: TestClient, booked: Booked, desk: Desk, db: Session, body: dict[str, Any]
) -> None:
    if "client_id" in body:
        body = body | {"client_id": desk.client_id}
    before = counts(db, booked.org_id)
    answer = client.post(PUSH, json=body, headers=desk.headers)
    assert answer.status_code == 422, answer.text
    assert counts(db, booked.org_id) == before
    assert last_mutation(db, desk) == 0


def test_malformed_json_on_push_is_a_4xx(client: TestClient, desk: Desk) -> None:
    answer = client.post(PUSH, content="{oops", headers=desk.headers | {
        "Content-Type": "application/json"})
    assert answer.status_code == 422


def test_a_desk_cannot_push_for_another_client(
    client: TestClient, booked: Booked, desk: Desk
) -> None:
    body = {"client_id": str(uuid.uuid4()), "mutations": []}
    assert client.post(PUSH, json=body, headers=desk.headers).status_code == 403


def test_pull_pages_return_every_record_exactly_once_at_its_latest_state(
    client: TestClient, booked: Booked, desk: Desk, db: Session
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(12)]
    mutations = [desk.mutation(intents.APPOINTMENT_BOOK,
                               book_args(booked, slot(i % 8, day=_day(i)), patient=i,
                                         appointment_id=ids[i])) for i in range(12)]
    mutations.append(desk.mutation(intents.APPOINTMENT_CANCEL,
                                   {"appointment_id": ids[0], "reason": "x"}))
    assert push(client, desk, mutations).status_code == 200
    pages = pull_all(client, desk, limit=5)
    assert len(pages) > 3
    seen = [(c.entity, c.id) for p in pages for c in p.changes]
    assert len(seen) == len(set(seen)), "no record twice"
    appointments = {c.id: c.data for p in pages for c in p.changes if c.entity == "appointment"}
    assert set(appointments) == set(ids)
    assert appointments[ids[0]]["status"] == "cancelled"  # its latest state only
    cursors = [p.cursor for p in pages]
    assert cursors == sorted(cursors) and not pages[-1].has_more
    everything = [(c.entity, c.id) for c in pull_all(client, desk, limit=5000)[0].changes]
    assert sorted(everything) == sorted(seen)
    assert active_overlaps(db) == 0


def _day(index: int) -> Any:
    from tests.sync_server.booking_setup import FIRST_DAY

    return FIRST_DAY + timedelta(days=index // 8)


def test_a_pull_answers_the_desks_own_progress(
    client: TestClient, booked: Booked, desk: Desk
) -> None:
    push(client, desk, [desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(7)))])
    [page] = pull_all(client, desk)
    assert page.last_mutation_id == 1
    assert any(c.entity == "appointment" for c in page.changes)
    assert any(c.entity == "clinic" for c in page.changes)  # first download has the setup
