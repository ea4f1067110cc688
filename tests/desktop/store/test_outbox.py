"""The outbox numbers intents gap-free and forgets them only when acknowledged."""

from __future__ import annotations

import threading

import pytest

from desktop.store import outbox
from desktop.store.engine import Store
from desktop.store.models import OutboxState, PatientRow, SyncState


def test_mutation_ids_start_at_one_and_have_no_gaps(store: Store) -> None:
    ids = []
    for number in range(5):
        with store.write() as session:
            ids.append(outbox.append(session, "book", {"n": number}))
    assert ids == [1, 2, 3, 4, 5]


def test_a_rolled_back_action_leaves_no_gap(store: Store) -> None:
    with store.write() as session:
        outbox.append(session, "book", {})
    with pytest.raises(RuntimeError), store.write() as session:
        outbox.append(session, "book", {})
        raise RuntimeError("the optimistic change failed")
    with store.write() as session:
        assert outbox.append(session, "book", {}) == 2


def test_the_optimistic_change_and_its_intent_commit_together(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as session:
        mutation_id = outbox.append(session, "create_patient", {"id": "p1"})
        session.add(
            PatientRow(
                id="p1",
                organization_id="org",
                given_name="Ana",
                family_name="Ruiz",
                pending_mutation_id=mutation_id,
            )
        )
        session.flush()
        raise RuntimeError("crash before commit")
    with store.session() as session:
        assert session.get(PatientRow, "p1") is None
        assert outbox.pending_count(session) == 0


def test_pending_entries_come_back_in_push_order_with_their_arguments(store: Store) -> None:
    with store.write() as session:
        outbox.append(session, "book", {"slot": "09:00"})
        outbox.append(session, "move", {"slot": "10:00"})
    with store.session() as session:
        entries = outbox.pending(session)
        assert [(e.mutation_id, e.name, e.args) for e in entries] == [
            (1, "book", {"slot": "09:00"}),
            (2, "move", {"slot": "10:00"}),
        ]
        assert all(e.state == OutboxState.QUEUED for e in entries)
        assert all(e.created_at.tzinfo is not None for e in entries)


def test_acknowledged_entries_leave_the_outbox(store: Store) -> None:
    with store.write() as session:
        for _ in range(3):
            outbox.append(session, "book", {})
    with store.write() as session:
        outbox.acknowledge(session, 2)
    with store.session() as session:
        assert [e.mutation_id for e in outbox.pending(session)] == [3]
        assert session.get(SyncState, 1).last_mutation_id == 2  # type: ignore[union-attr]


def test_ids_are_never_reissued_after_the_outbox_empties(store: Store) -> None:
    with store.write() as session:
        outbox.append(session, "book", {})
        outbox.append(session, "book", {})
    with store.write() as session:
        outbox.acknowledge(session, 2)
    with store.write() as session:
        assert outbox.append(session, "book", {}) == 3


def test_the_acknowledged_mark_never_moves_back(store: Store) -> None:
    with store.write() as session:
        outbox.append(session, "book", {})
        outbox.append(session, "book", {})
    with store.write() as session:
        outbox.acknowledge(session, 2)
        outbox.acknowledge(session, 1)  # a stale, replayed answer
    with store.session() as session:
        assert session.get(SyncState, 1).last_mutation_id == 2  # type: ignore[union-attr]


def test_marking_entries_pushed_keeps_them_queued_for_resend(store: Store) -> None:
    with store.write() as session:
        outbox.append(session, "book", {})
        outbox.append(session, "book", {})
    with store.write() as session:
        outbox.mark_pushed(session, 1)
    with store.session() as session:
        assert [e.state for e in outbox.pending(session)] == [
            OutboxState.PUSHED,
            OutboxState.QUEUED,
        ]


def test_concurrent_writers_get_distinct_consecutive_ids(store: Store) -> None:
    issued: list[int] = []
    lock = threading.Lock()

    def write_some() -> None:
        for _ in range(20):
            with store.write() as session:
                mutation_id = outbox.append(session, "book", {})
            with lock:
                issued.append(mutation_id)

    threads = [threading.Thread(target=write_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(issued) == list(range(1, 81))
