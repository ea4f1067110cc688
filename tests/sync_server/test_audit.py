"""The audit chain finds changed and deleted entries."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sync_server.db.models import AuditEntry, Patient
from sync_server.services import audit
from tests.sync_server.conftest import Clock, Tenants


def chain_of(db: Session, tenants: Tenants, clock: Clock, entries: int = 5) -> str:
    org_id = tenants.organization().org_id
    for number in range(entries):
        clock.advance(timedelta(seconds=1))
        audit.append(
            db,
            org_id,
            at=clock(),
            actor=audit.Actor(user_id="u1"),
            intent="book",
            outcome="done",
            target_type="appointment",
            target_id=f"a{number}",
        )
    db.commit()
    return org_id


def seq_of(db: Session, org_id: str, intent: str, target: str) -> int:
    return db.scalars(
        select(AuditEntry.seq).where(
            AuditEntry.organization_id == org_id,
            AuditEntry.intent == intent,
            AuditEntry.target_id == target,
        )
    ).one()


def test_an_untouched_chain_verifies(db: Session, tenants: Tenants, clock: Clock) -> None:
    assert audit.verify(db, chain_of(db, tenants, clock)) is None


def test_a_changed_entry_is_found(db: Session, tenants: Tenants, clock: Clock) -> None:
    org_id = chain_of(db, tenants, clock)
    seq = seq_of(db, org_id, "book", "a2")
    db.execute(
        update(AuditEntry)
        .where(AuditEntry.organization_id == org_id, AuditEntry.seq == seq)
        .values(outcome="refused")
    )
    db.commit()
    broken = audit.verify(db, org_id)
    assert broken is not None and broken.seq == seq and "changed" in broken.problem


def test_a_deleted_entry_is_found(db: Session, tenants: Tenants, clock: Clock) -> None:
    org_id = chain_of(db, tenants, clock)
    seq = seq_of(db, org_id, "book", "a1")
    db.execute(
        delete(AuditEntry).where(AuditEntry.organization_id == org_id, AuditEntry.seq == seq)
    )
    db.commit()
    broken = audit.verify(db, org_id)
    assert broken is not None and broken.seq == seq and "missing" in broken.problem


def test_a_deleted_last_entry_is_found(db: Session, tenants: Tenants, clock: Clock) -> None:
    org_id = chain_of(db, tenants, clock)
    seq = seq_of(db, org_id, "book", "a4")
    db.execute(
        delete(AuditEntry).where(AuditEntry.organization_id == org_id, AuditEntry.seq == seq)
    )
    db.commit()
    assert audit.verify(db, org_id) is not None


def test_a_rewritten_chain_with_a_recomputed_hash_is_still_found(
    db: Session, tenants: Tenants, clock: Clock
) -> None:
    org_id = chain_of(db, tenants, clock)
    seq = seq_of(db, org_id, "book", "a2")
    entry = db.scalars(
        select(AuditEntry).where(AuditEntry.organization_id == org_id, AuditEntry.seq == seq)
    ).one()
    entry.outcome = "refused"
    entry.hash = audit.entry_hash(entry)  # a careful forger fixes this entry's own hash …
    db.commit()
    broken = audit.verify(db, org_id)  # … but the next entry still points at the old one
    assert broken is not None and broken.seq == seq + 1


def test_audit_entries_hold_ids_not_patient_data(
    db: Session, tenants: Tenants, clock: Clock
) -> None:
    columns = {c.key for c in AuditEntry.__table__.columns}
    phi = {c.key for c in Patient.__table__.columns} - {
        "id",
        "organization_id",
        "version",
        "active",
        "updated_at",
    }
    assert columns.isdisjoint(phi)
