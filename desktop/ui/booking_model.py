"""Small item models behind the booking dialog: found patients, alternatives, series rows.

They hold service DTOs and format them when asked, in the current language and
the clinic's zone and locale, so :meth:`retranslate` only has to say "all
changed". ``Qt.UserRole`` gives back the DTO of a row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from desktop.services.dto import AlternativeDTO, OccurrenceDTO, PatientDTO
from desktop.ui.text import _, format_when, render_message

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


class PatientResultsModel(QAbstractListModel):
    """Patients found by a search: display name and phone."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._patients: tuple[PatientDTO, ...] = ()
        #: Writes a patient's next appointment time (None: not shown).
        self.describe_when: Callable[[datetime], str] | None = None

    def set_patients(self, patients: Sequence[PatientDTO]) -> None:
        self.beginResetModel()
        self._patients = tuple(patients)
        self.endResetModel()

    def patient(self, row: int) -> PatientDTO | None:
        return self._patients[row] if 0 <= row < len(self._patients) else None

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._patients)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        patient = self.patient(index.row()) if index.isValid() else None
        if patient is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            text = patient.display_name if not patient.phone else _("{name} · {phone}").format(
                name=patient.display_name, phone=patient.phone)
            if patient.next_appointment is not None and self.describe_when is not None:
                text = _("{patient} · next: {time}").format(
                    patient=text, time=self.describe_when(patient.next_appointment))
            return text
        if role == Qt.ItemDataRole.UserRole:
            return patient
        return None


def describe_alternative(alternative: AlternativeDTO, tz: str, clinic_locale: str,
                         names: Mapping[str, str]) -> str:
    """``Tue, 4 Mar 2025, 10:30 with Dr Ruiz in Room 1``."""
    when = format_when(alternative.start, tz, clinic_locale)
    provider = names.get(alternative.provider_id, alternative.provider_id)
    if alternative.room_id:
        room = names.get(alternative.room_id, alternative.room_id)
        return _("{time} with {provider} in {room}").format(time=when, provider=provider,
                                                            room=room)
    return _("{time} with {provider}").format(time=when, provider=provider)


class AlternativesModel(QAbstractListModel):
    """Free placements offered instead of a refused one (or found by "Find next available")."""

    def __init__(self, tz: str, clinic_locale: str, names: Mapping[str, str],
                 parent: Any = None) -> None:
        super().__init__(parent)
        self._tz, self._locale, self._names = tz, clinic_locale, names
        self._alternatives: tuple[AlternativeDTO, ...] = ()

    def set_alternatives(self, alternatives: Sequence[AlternativeDTO]) -> None:
        self.beginResetModel()
        self._alternatives = tuple(alternatives)
        self.endResetModel()

    def alternative(self, row: int) -> AlternativeDTO | None:
        return self._alternatives[row] if 0 <= row < len(self._alternatives) else None

    def retranslate(self) -> None:
        if self._alternatives:
            self.dataChanged.emit(self.index(0), self.index(len(self._alternatives) - 1))

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._alternatives)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        alternative = self.alternative(index.row()) if index.isValid() else None
        if alternative is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return describe_alternative(alternative, self._tz, self._locale, self._names)
        if role == Qt.ItemDataRole.UserRole:
            return alternative
        return None


class OccurrencesModel(QAbstractTableModel):
    """One row per occurrence of a booked series: when, booked or why not, alternatives."""

    WHEN, RESULT, ALTERNATIVES = range(3)

    def __init__(self, tz: str, clinic_locale: str, names: Callable[[], Mapping[str, str]],
                 parent: Any = None) -> None:
        super().__init__(parent)
        self._tz, self._locale, self._names = tz, clinic_locale, names
        self._rows: tuple[OccurrenceDTO, ...] = ()

    def set_occurrences(self, occurrences: Sequence[OccurrenceDTO]) -> None:
        self.beginResetModel()
        self._rows = tuple(sorted(occurrences, key=lambda o: o.original_start))
        self.endResetModel()

    def occurrence(self, row: int) -> OccurrenceDTO | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def retranslate(self) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, self.columnCount() - 1)
        if self._rows:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._rows) - 1, self.columnCount() - 1))

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else 3

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        titles = (_("Date and time"), _("Result"), _("Alternatives"))
        return titles[section] if 0 <= section < len(titles) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        occurrence = self.occurrence(index.row()) if index.isValid() else None
        if occurrence is None:
            return None
        if role == Qt.ItemDataRole.UserRole:
            return occurrence
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        column = index.column()
        if column == self.WHEN:
            return format_when(occurrence.original_start, self._tz, self._locale)
        refusal = occurrence.refusal
        if column == self.RESULT:
            if refusal is None:
                return _("Booked")
            return render_message(refusal.message_id, refusal.params, tz=self._tz,
                                  clinic_locale=self._locale, names=self._names())
        if refusal is None or not refusal.alternatives:
            return ""
        return "\n".join(describe_alternative(a, self._tz, self._locale, self._names())
                         for a in refusal.alternatives[:3])
