"""The outbox: intents waiting for the server, numbered gap-free per client.

Call these inside the caller's write unit of work (``Store.write()``, which
begins ``IMMEDIATE``): the new id is computed from the table in the same
transaction as the optimistic change, so two writers can never take the same
number and a rolled-back action leaves no hole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from desktop.store.models import SYNC_STATE_ID, OutboxEntry, OutboxState, SyncState


def _last_acknowledged(session: Session) -> int:
    value = session.scalar(select(SyncState.last_mutation_id).where(SyncState.id == SYNC_STATE_ID))
    return value or 0


def next_mutation_id(session: Session) -> int:
    """One more than the highest id ever issued (queued or already acknowledged)."""
    highest_queued = session.scalar(select(func.max(OutboxEntry.mutation_id))) or 0
    return max(highest_queued, _last_acknowledged(session)) + 1


def append(
    session: Session, name: str, args: Mapping[str, Any], *, now: datetime | None = None,
    user_id: str | None = None,
) -> int:
    """Queue intent ``name`` with JSON-able ``args`` made by ``user_id`` (the signed-in
    user, sent with the mutation); returns its mutation id."""
    mutation_id = next_mutation_id(session)
    session.add(
        OutboxEntry(
            mutation_id=mutation_id,
            name=name,
            args=dict(args),
            created_at=now or datetime.now(UTC),
            state=OutboxState.QUEUED,
            user_id=user_id,
        )
    )
    session.flush()
    return mutation_id


def pending(session: Session) -> Sequence[OutboxEntry]:
    """Entries not yet acknowledged by the server, in the order they must be pushed."""
    return session.scalars(select(OutboxEntry).order_by(OutboxEntry.mutation_id)).all()


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxEntry)) or 0


def mark_pushed(session: Session, up_to: int) -> None:
    """Record that entries up to ``up_to`` were sent (they stay until acknowledged)."""
    session.execute(
        update(OutboxEntry).where(OutboxEntry.mutation_id <= up_to).values(state=OutboxState.PUSHED)
    )


def acknowledge(session: Session, up_to: int) -> None:
    """The server has processed every mutation up to ``up_to``: drop them, remember the mark.

    The mark only moves forward, so ids are never reissued even when the outbox is empty.
    """
    session.execute(delete(OutboxEntry).where(OutboxEntry.mutation_id <= up_to))
    session.execute(
        update(SyncState)
        .where(SyncState.id == SYNC_STATE_ID, SyncState.last_mutation_id < up_to)
        .values(last_mutation_id=up_to)
    )
