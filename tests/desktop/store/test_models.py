"""The local schema keeps the domain's values faithfully."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, StatementError

from desktop.store.engine import Store
from desktop.store.models import AppointmentRow, ConflictRow, LocalAuditEntry

START = datetime(2025, 3, 30, 8, 30, tzinfo=UTC)


def _appointment(**changes: object) -> AppointmentRow:
    fields: dict[str, object] = {
        "id": "a1",
        "organization_id": "org",
        "clinic_id": "c1",
        "patient_id": "p1",
        "appointment_type_id": "t1",
        "provider_id": "d1",
        "start": START,
        "end": START + timedelta(minutes=30),
    }
    fields.update(changes)
    return AppointmentRow(**fields)


def test_instants_come_back_aware_in_utc(store: Store) -> None:
    madrid = timezone(timedelta(hours=2))
    with store.write() as session:
        session.add(_appointment(start=START.astimezone(madrid)))
    with store.session() as session:
        row = session.get(AppointmentRow, "a1")
        assert row is not None
        assert row.start == START
        assert row.start.tzinfo is UTC


def test_a_naive_instant_is_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="aware"), store.write() as session:
        session.add(_appointment(start=datetime(2025, 3, 30, 8, 30)))
        session.flush()


def test_an_optimistic_appointment_is_marked_pending_until_confirmed(store: Store) -> None:
    with store.write() as session:
        session.add(_appointment(pending_mutation_id=7, equipment_ids=["x-ray"]))
    with store.session() as session:
        row = session.get(AppointmentRow, "a1")
        assert row is not None
        assert row.is_pending
        assert row.equipment_ids == ["x-ray"]


def test_a_conflict_keeps_what_was_tried_and_the_alternatives(store: Store) -> None:
    with store.write() as session:
        session.add(
            ConflictRow(
                mutation_id=3,
                attempted={"name": "book", "args": {"start": START.isoformat()}},
                code="PROVIDER_BUSY",
                message_id="refusal.provider_busy",
                params={"provider": "d1"},
                alternatives=[{"start": (START + timedelta(hours=1)).isoformat()}],
                received_at=START,
            )
        )
    with store.session() as session:
        conflict = session.query(ConflictRow).one()
        assert conflict.code == "PROVIDER_BUSY"
        assert conflict.alternatives[0]["start"].startswith("2025-03-30T09:30")
        assert conflict.dismissed_at is None


def test_the_local_audit_is_append_only(store: Store) -> None:
    with store.write() as session:
        session.add(LocalAuditEntry(at=START, user_id="u1", intent="sign_in", outcome="ok"))
    for statement in ("UPDATE local_audit SET outcome = 'forged'", "DELETE FROM local_audit"):
        with pytest.raises(DBAPIError, match="append-only"), store.write() as session:
            session.execute(text(statement))
    with store.session() as session:
        assert session.query(LocalAuditEntry).one().outcome == "ok"
