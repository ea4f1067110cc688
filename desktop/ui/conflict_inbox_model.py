"""The conflict inbox's rows: each action the server refused, said in plain words.

The entries come from :func:`desktop.services.conflict_inbox.load_conflicts`; this
module only words them, so the inbox can say "Book Ana García for a Check-up with
Dr Ruiz on Tue, 4 Mar 2025, 10:00" rather than an intent name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from desktop.services.clinic_reference import ClinicReference
from desktop.services.conflict_inbox import ConflictEntry, parse_instant
from desktop.ui.text import N_, _, format_when, render_message
from scheduling import intents

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()

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
    intents.APPOINTMENT_CHANGE_DETAILS: N_(
        "Change the type or notes of the appointment of {patient}"),
    intents.PATIENT_CREATE: N_("Register the patient {patient}"),
    intents.PATIENT_UPDATE: N_("Update the details of {patient}"),
}
_OTHER = N_("A change made on this desk")


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
    params = {key: parse_instant(value) or value for key, value in entry.conflict.params.items()}
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
