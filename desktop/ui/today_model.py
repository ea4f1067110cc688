"""The today board's two item models and its grouping of the day's appointments.

They format what :mod:`desktop.services.today` reads (frozen values, once per refresh).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from desktop.services.today import BoardItem, ProviderLoad, TodaySnapshot
from desktop.ui.text import N_, _, format_clock, format_duration, format_ratio
from desktop.ui.theme import ERROR, accent
from scheduling.model import AppointmentStatus

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()

#: The board's groups, in the order of a visit, and the statuses each holds.
GROUPS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("late", N_("Late, not arrived yet"),
     frozenset({"pending", "booked", "message_left", "confirmed"})),
    ("expected", N_("Expected"), frozenset({"pending", "booked", "message_left", "confirmed"})),
    ("waiting", N_("Arrived, waiting"), frozenset({"arrived", "ready"})),
    ("in_room", N_("In the room"), frozenset({"in_progress"})),
    ("completed", N_("Completed"), frozenset({"completed"})),
    ("no_show", N_("No-show"), frozenset({"no_show"})),
)

#: A patient not checked in this long after the start is listed as late.
LATE_AFTER = timedelta(minutes=10)


def is_late(item: BoardItem, now: datetime) -> bool:
    """Whether an expected patient is overdue: not checked in ``LATE_AFTER`` past the start."""
    return (item.appointment.status in GROUPS[0][2]
            and now >= item.appointment.start + LATE_AFTER)


def _group_of(item: BoardItem, now: datetime) -> str | None:
    if is_late(item, now):
        return "late"
    return next((key for key, _title, statuses in GROUPS[1:]
                 if item.appointment.status in statuses), None)


def wait_time(item: BoardItem, now: datetime) -> timedelta:
    """How long an arrived patient has waited: since check-in, else since the start."""
    since = item.arrived_at or item.appointment.start
    return max(timedelta(0), now - since)


class TodayModel(QAbstractItemModel):
    """Groups (top level) holding the day's appointments: time, patient, type, provider,
    and the wait (waiting) or the room (others)."""

    COLUMNS = (N_("Time"), N_("Patient"), N_("Type"), N_("Provider"), N_("Wait / room"))

    def __init__(self, clinic_locale: str, parent: Any = None) -> None:
        super().__init__(parent)
        self._locale = clinic_locale
        self._snapshot: TodaySnapshot | None = None
        self._groups: tuple[tuple[BoardItem, ...], ...] = tuple(() for _g in GROUPS)

    def set_snapshot(self, snapshot: TodaySnapshot) -> None:
        self.beginResetModel()
        self._snapshot = snapshot
        self._groups = tuple(tuple(i for i in snapshot.items
                                   if _group_of(i, snapshot.now) == key)
                             for key, _title, _statuses in GROUPS)
        self.endResetModel()

    def group_keys(self) -> list[str]:
        return [key for key, _title, _statuses in GROUPS]

    def names_in(self, key: str) -> list[str]:
        group = self.group_keys().index(key)
        return [i.appointment.patient_name for i in self._groups[group]]

    def retranslate(self) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self.COLUMNS) - 1)
        self.layoutChanged.emit()

    # QAbstractItemModel: a group's internal id is 0, an appointment's is its group + 1.
    def index(self, row: int, column: int, parent: Index = _ROOT) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0)
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, child: Index = _ROOT) -> QModelIndex:  # type: ignore[override]
        if not child.isValid() or child.internalId() == 0:
            return QModelIndex()
        return self.createIndex(child.internalId() - 1, 0, 0)

    def rowCount(self, parent: Index = _ROOT) -> int:
        if not parent.isValid():
            return len(GROUPS)
        if parent.internalId() == 0 and parent.column() == 0:
            return len(self._groups[parent.row()])
        return 0

    def columnCount(self, parent: Index = _ROOT) -> int:
        return len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(self.COLUMNS)):
            return _(self.COLUMNS[section])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        late = index.isValid() and (index.internalId() == 1
                                    or (index.internalId() == 0 and index.row() == 0))
        if role == Qt.ItemDataRole.ForegroundRole and late:
            return accent(ERROR)  # the late group and its patients, in red
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        if index.internalId() == 0:
            if index.column() != 0:
                return None
            title = GROUPS[index.row()][1]
            return _("{group} ({count})").format(group=_(title),
                                                 count=len(self._groups[index.row()]))
        snapshot = self._snapshot
        item = self._groups[index.internalId() - 1][index.row()]
        if snapshot is None:
            return None
        appointment = item.appointment
        column = index.column()
        if column == 0:
            return format_clock(appointment.start, snapshot.time_zone, self._locale)
        if column == 4:
            if appointment.status == AppointmentStatus.ARRIVED.value:
                return format_duration(wait_time(item, snapshot.now), self._locale)
            if is_late(item, snapshot.now):
                return _("late by {duration}").format(duration=format_duration(
                    snapshot.now - appointment.start, self._locale))
            return appointment.room_name or ""
        return (appointment.patient_name, appointment.type_name,
                appointment.provider_name)[column - 1]


class UtilizationModel(QAbstractTableModel):
    """Per provider: today's appointments (all, seen, no-shows, cancelled), booked and
    working time, and the share booked."""

    COLUMNS = (N_("Provider"), N_("Appointments"), N_("Seen"), N_("No-shows"),
               N_("Cancelled"), N_("Booked"), N_("Working"), N_("Utilization"))

    def __init__(self, clinic_locale: str, parent: Any = None) -> None:
        super().__init__(parent)
        self._locale = clinic_locale
        self._rows: tuple[ProviderLoad, ...] = ()

    def set_loads(self, loads: Sequence[ProviderLoad]) -> None:
        self.beginResetModel()
        self._rows = tuple(loads)
        self.endResetModel()

    def retranslate(self) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self.COLUMNS) - 1)
        if self._rows:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._rows) - 1, len(self.COLUMNS) - 1))

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(self.COLUMNS)):
            return _(self.COLUMNS[section])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        load = self._rows[index.row()]
        return (load.provider_name, str(load.appointments), str(load.seen),
                str(load.by_status.get("no_show", 0)), str(load.by_status.get("cancelled", 0)),
                format_duration(load.booked, self._locale),
                format_duration(load.available, self._locale),
                format_ratio(load.ratio, self._locale))[index.column()]
