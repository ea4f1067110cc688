"""The conflict inbox's rows: each action the server refused, said in plain words.

:func:`load_conflicts` reads the inbox (:func:`desktop.services.agenda.conflict_inbox`)
and, read-only, what each refused intent asked for (its arguments, the patient's
name, the appointment it touched), so the inbox can say "Book Ana García for a
Check-up with Dr Ruiz on Tue, 4 Mar 2025, 10:00" rather than an intent name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from sqlalchemy import select

from desktop.services import agenda
from desktop.services.context import DeskContext
from desktop.services.dto import ConflictDTO
from desktop.store.models import AppointmentRow, ConflictRow, PatientRow
from desktop.ui.clinic_reference import ClinicReference
from desktop.ui.text import N_, _, format_when, render_message
from scheduling import intents

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()

#: Intents whose alternatives are booked as a new appointment, or as a move.
BOOKINGS = frozenset({intents.APPOINTMENT_BOOK, intents.WAITLIST_BOOK, intents.SERIES_BOOK})
MOVES = frozenset({intents.APPOINTMENT_MOVE, intents.SERIES_EDIT})

_ATTEMPTS: Mapping[str, str] = {
    intents.APPOINTMENT_BOOK: N_("Book {patient} for {appointment_type} with {provider} on "
                                 "{time}"),
    intents.WAITLIST_BOOK: N_("Book {patient} from the waitlist for {appointment_type} with "
                              "{provider} on {time}"),
    intents.SERIES_BOOK: N_("Book a series for {patient}: {appointment_type} with {provider}"),
    intents.APPOINTMENT_MOVE: N_("Move the appointment of {patient} to {time}"),
    intents.SERIES_EDIT: N_("Change the series of {patient}"),
    intents.APPOINTMENT_RESIZE: N_("Change the length of the appointment of {patient}"),
    intents.APPOINTMENT_CANCEL: N_("Cancel the appointment of {patient}"),
    intents.APPOINTMENT_CHANGE_STATUS: N_("Change the status of the appointment of {patient}"),
    intents.APPOINTMENT_UNDO_STATUS: N_("Undo a status change of the appointment of {patient}"),
    intents.PATIENT_CREATE: N_("Register the patient {patient}"),
    intents.PATIENT_UPDATE: N_("Update the details of {patient}"),
}
_OTHER = N_("A change made on this desk")


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
            start = _instant(args.get("start"))
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


def describe_attempt(entry: ConflictEntry, reference: ClinicReference) -> str:
    """What was tried, in plain words, with the clinic's local time."""
    args = entry.args
    names = reference.names
    when = ("" if entry.start is None
            else format_when(entry.start, reference.time_zone, reference.locale))
    text = _(_ATTEMPTS.get(entry.conflict.intent, _OTHER))
    return text.format(
        patient=entry.patient_name or _("a patient"),
        appointment_type=names.get(str(args.get("appointment_type_id")), _("an appointment")),
        provider=names.get(str(args.get("provider_id")), _("any provider")),
        time=when,
    )


def describe_reason(entry: ConflictEntry, reference: ClinicReference) -> str:
    """Why the server refused it, translated, ids shown as names."""
    names = dict(reference.names)
    if entry.patient_id:
        names[entry.patient_id] = entry.patient_name
    # Parameters come back from the server as JSON: instants are ISO text there.
    params = {key: _instant(value) or value for key, value in entry.conflict.params.items()}
    return render_message(entry.conflict.message_id, params, tz=reference.time_zone,
                          clinic_locale=reference.locale, names=names)


class ConflictInboxModel(QAbstractListModel):
    """One row per conflict: what was tried (display), why it lost (tooltip)."""

    def __init__(self, reference_for: Callable[[ConflictEntry], ClinicReference],
                 parent: Any = None) -> None:
        """``reference_for(entry)`` gives the clinic an entry is shown in."""
        super().__init__(parent)
        self._reference_for = reference_for
        self._entries: tuple[ConflictEntry, ...] = ()

    def set_entries(self, entries: Sequence[ConflictEntry]) -> None:
        self.beginResetModel()
        self._entries = tuple(entries)
        self.endResetModel()

    def entry(self, row: int) -> ConflictEntry | None:
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def retranslate(self) -> None:
        if self._entries:
            self.dataChanged.emit(self.index(0), self.index(len(self._entries) - 1))

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        entry = self.entry(index.row()) if index.isValid() else None
        if entry is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return describe_attempt(entry, self._reference_for(entry))
        if role == Qt.ItemDataRole.ToolTipRole:
            return describe_reason(entry, self._reference_for(entry))
        if role == Qt.ItemDataRole.UserRole:
            return entry
        return None


def _instant(value: object) -> datetime | None:
    """An aware ISO-8601 instant as a UTC datetime; anything else None."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None
