"""The append-only, hash-chained audit log (one chain per organization).

Each entry stores ``prev_hash`` (the previous entry's hash, or 64 zeros for
the first) and ``hash`` = SHA-256 over a canonical JSON of all its fields
including ``prev_hash``. ``audit_heads`` keeps each chain's last position: its
row lock serializes appends, and it reveals a deleted last entry. Entries
hold ids, codes and short non-PHI reasons only — never names or phone numbers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.db.models import AuditEntry, AuditHead
from sync_server.services.unit_of_work import AuditChain, unit_of

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str | None = None
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class BrokenEntry:
    """Where an organization's chain stops verifying."""

    organization_id: str
    seq: int
    entry_id: int | None
    problem: str

    def describe(self) -> str:
        where = f"entry #{self.seq}" + (f" (id {self.entry_id})" if self.entry_id else "")
        return (
            f"audit chain of organization {self.organization_id} broken at {where}: {self.problem}"
        )


def entry_hash(entry: AuditEntry) -> str:
    return _hash({name: getattr(entry, name) for name in _HASHED})


#: The columns an entry's hash covers (all but its id and its own hash).
_HASHED = ("seq", "at", "organization_id", "actor_user_id", "actor_device_id", "intent",
           "target_type", "target_id", "outcome", "reason", "prev_hash")


def _hash(values: dict[str, Any]) -> str:
    fields = {name: values[name] for name in _HASHED}
    fields["at"] = values["at"].isoformat(timespec="microseconds")
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def start_chain(session: Session, organization_id: str) -> None:
    """Create the empty chain of a new organization (same transaction as the organization)."""
    session.add(AuditHead(organization_id=organization_id, seq=0, hash=GENESIS_HASH))


def append(
    session: Session,
    organization_id: str,
    *,
    at: datetime,
    actor: Actor,
    intent: str,
    outcome: str,
    target_type: str | None = None,
    target_id: str | None = None,
    reason: str | None = None,
) -> None:
    """Append one entry in the caller's transaction (which the caller commits).

    In a batch (:meth:`UnitOfWork.run_batch
    <sync_server.services.unit_of_work.UnitOfWork.run_batch>`) each chain's head is
    locked once and the entries kept in memory until the unit of work's ``flush``."""
    uow = unit_of(session)
    if uow.deferred is not None:  # written by the statement before the commit
        uow.deferred.append({
            "organization_id": organization_id, "at": at, "actor_user_id": actor.user_id,
            "actor_device_id": actor.device_id, "intent": intent, "outcome": outcome,
            "target_type": target_type, "target_id": target_id, "reason": reason})
        return
    batch = uow.audit_chains
    chain = batch.get(organization_id) if batch is not None else None
    if chain is None:
        head = session.scalars(
            select(AuditHead).where(AuditHead.organization_id == organization_id)
            .with_for_update().execution_options(populate_existing=True)
        ).one()
        chain = AuditChain(head, head.seq, head.hash, [])
        if batch is not None:
            batch[organization_id] = chain
    values: dict[str, Any] = {
        "organization_id": organization_id,
        "seq": chain.seq + 1,
        "at": at.astimezone(UTC),  # as it reads back, so the hash recomputes
        "actor_user_id": actor.user_id,
        "actor_device_id": actor.device_id,
        "intent": intent,
        "target_type": target_type,
        "target_id": target_id,
        "outcome": outcome,
        "reason": reason,
        "prev_hash": chain.hash,
    }
    values["hash"] = _hash(values)
    chain.seq, chain.hash = values["seq"], values["hash"]
    if batch is not None:
        chain.pending.append(values)  # plain values: no ORM object per entry in a batch
        return
    chain.head.seq, chain.head.hash = chain.seq, chain.hash
    session.add(AuditEntry(**values))
    session.flush()


def verify(session: Session, organization_id: str) -> BrokenEntry | None:
    """Walk the chain; return the first changed, inserted or deleted entry, or None."""
    expected_seq, expected_prev = 1, GENESIS_HASH
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.organization_id == organization_id)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=1000)
    )
    for entry in entries:
        if entry.seq != expected_seq:
            return BrokenEntry(organization_id, expected_seq, None, "the entry is missing")
        if entry.prev_hash != expected_prev:
            return BrokenEntry(
                organization_id, entry.seq, entry.id, "it does not follow the previous entry"
            )
        if entry_hash(entry) != entry.hash:
            return BrokenEntry(organization_id, entry.seq, entry.id, "its content was changed")
        expected_seq, expected_prev = entry.seq + 1, entry.hash
    head = session.get(AuditHead, organization_id)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != expected_prev):
        return BrokenEntry(organization_id, head.seq, None, "the latest entries are missing")
    return None
