"""The conflict inbox's entries: each action the server refused, with what it asked for.

:func:`load_conflicts` reads the inbox (:func:`desktop.services.agenda.conflict_inbox`)
and, read-only, what each refused intent asked for (its arguments, the patient's
name, the appointment it touched), so the inbox can say "Book Ana García for a
Check-up with Dr Ruiz on Tue, 4 Mar 2025, 10:00" rather than an intent name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from desktop.services import agenda
from desktop.services.context import DeskContext
from desktop.services.dto import ConflictDTO
from desktop.store.models import AppointmentRow, ConflictRow, PatientRow
from scheduling import intents

#: Intents whose alternatives are booked as a new appointment, or as a move.
BOOKINGS = frozenset({intents.APPOINTMENT_BOOK, intents.WAITLIST_BOOK, intents.SERIES_BOOK})
MOVES = frozenset({intents.APPOINTMENT_MOVE, intents.SERIES_EDIT})


@dataclass(frozen=True, slots=True)
class ConflictEntry:
    """One inbox row: the service's conflict plus what the refused intent asked for."""

    conflict: ConflictDTO
    args: Mapping[str, Any]
    patient_id: str | None
    patient_name: str
    start: datetime | None  # the time asked for, or of the appointment touched

    @property
    def can_book_alternative(self) -> bool:
        intent = self.conflict.intent
        return bool(self.conflict.alternatives) and (
            (intent in BOOKINGS and bool(self.args.get("patient_id")))
            or (intent in MOVES and bool(self.args.get("appointment_id")))
        )


def load_conflicts(ctx: DeskContext) -> tuple[ConflictEntry, ...]:
    """The undismissed conflicts, oldest first, with their intents' details."""
    conflicts = agenda.conflict_inbox(ctx)  # checks the session and the permission
    if not conflicts:
        return ()
    with ctx.store.session() as session:
        rows = session.scalars(select(ConflictRow).where(
            ConflictRow.id.in_([c.id for c in conflicts])))
        attempted = {row.id: dict(row.attempted.get("args") or {}) for row in rows}
        entries = []
        for conflict in conflicts:
            args = attempted.get(conflict.id, {})
            patient_id = args.get("patient_id")
            start = parse_instant(args.get("start"))
            target = (session.get(AppointmentRow, args["appointment_id"])
                      if args.get("appointment_id") else None)
            if target is not None:
                patient_id = patient_id or target.patient_id
                start = start or target.start
            patient = session.get(PatientRow, patient_id) if patient_id else None
            name = (f"{patient.given_name} {patient.family_name}".strip() if patient else
                    " ".join(str(args.get(k, "")) for k in ("given_name", "family_name")).strip())
            entries.append(ConflictEntry(conflict, args, patient_id, _shown(name), start))
    return tuple(entries)


#: Longer names are cut for display: a change the server could not read may carry one
#: far longer than any real name, which would widen the inbox past the screen.
_NAME_SHOWN = 60


def _shown(name: str) -> str:
    return name if len(name) <= _NAME_SHOWN else name[:_NAME_SHOWN - 1] + "…"


def parse_instant(value: object) -> datetime | None:
    """An aware ISO-8601 instant as a UTC datetime; anything else None."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None
