"""What the desk's undo history needs to know: how an appointment stands right now.

The history undoes only the change it recorded. Before it undoes (or redoes) a
step it compares the appointment's current placement and status with the ones
the step left behind; if anything else changed it since (another desk, a sync,
a later action), the step is dropped instead of reverting someone else's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from desktop.services.context import DeskContext
from desktop.store.models import AppointmentRow


@dataclass(frozen=True, slots=True)
class Standing:
    """An appointment's placement and status, compared before an undo or a redo."""

    start: datetime
    end: datetime
    provider_id: str
    room_id: str | None
    status: str


def standing(ctx: DeskContext, appointment_id: str) -> Standing | None:
    """How ``appointment_id`` stands in the local store (None: gone)."""
    ctx.user()
    with ctx.store.session() as session:
        row = session.get(AppointmentRow, appointment_id)
        if row is None or row.deleted:
            return None
        return Standing(_utc(row.start), _utc(row.end), row.provider_id, row.room_id, row.status)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


__all__ = ["Standing", "standing"]
