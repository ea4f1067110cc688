"""What the today board shows, read once per refresh, and its two item models.

:func:`load_today` answers "who is expected, waiting, in a room, done or missing
today, what needs attention, how busy is each provider"; :func:`load_statistics`
gives seed 001's counts for a range of days. Both are read-only queries over the
desk services (the day view, the conflict inbox, the optimistic calendar) that
return frozen values; the models only format them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from sqlalchemy import select

from desktop.services import agenda
from desktop.services.calendar import Window, load_state
from desktop.services.context import DeskContext, require
from desktop.services.dto import AgendaItem
from desktop.store.models import AppointmentRow
from desktop.ui.text import N_, _, format_clock, format_duration, format_ratio
from desktop.ui.theme import ERROR, accent
from scheduling.commands import Permission
from scheduling.model import AppointmentStatus
from scheduling.statistics import appointment_statistics, utilization
from scheduling.timeutil import day_bounds

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()

#: The board's groups, in the order of a visit, and the statuses each holds.
GROUPS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("late", N_("Late, not arrived yet"), frozenset({"pending", "booked", "confirmed"})),
    ("expected", N_("Expected"), frozenset({"pending", "booked", "confirmed"})),
    ("waiting", N_("Arrived, waiting"), frozenset({"arrived"})),
    ("in_room", N_("In the room"), frozenset({"in_progress"})),
    ("completed", N_("Completed"), frozenset({"completed"})),
    ("no_show", N_("No-show"), frozenset({"no_show"})),
)


@dataclass(frozen=True, slots=True)
class BoardItem:
    appointment: AgendaItem
    arrived_at: datetime | None  # when the patient checked in, if the desk knows


@dataclass(frozen=True, slots=True)
class OutageInfo:
    resource_name: str
    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class ProviderLoad:
    provider_name: str
    booked: timedelta
    available: timedelta
    ratio: float | None


@dataclass(frozen=True, slots=True)
class TodaySnapshot:
    day: date
    now: datetime
    time_zone: str
    items: tuple[BoardItem, ...]
    conflicts: int
    outages: tuple[OutageInfo, ...]
    pending_approvals: int
    waiting_to_sync: int
    utilization: tuple[ProviderLoad, ...]


@dataclass(frozen=True, slots=True)
class RangeStatistics:
    total: int
    by_status: Mapping[str, int]
    by_type: Mapping[str, int]  # type name → count
    average_per_day: float
    no_show_rate: float | None


def load_today(ctx: DeskContext, clinic_id: str, day: date) -> TodaySnapshot:
    view = agenda.day_view(ctx, clinic_id, day)  # checks the session and the permission
    start, end = day_bounds(day, view.time_zone)
    user = ctx.user()
    with ctx.store.session() as session:
        rows = session.execute(select(AppointmentRow.id, AppointmentRow.last_status_change)
                               .where(AppointmentRow.id.in_([i.appointment_id
                                                             for i in view.items])))
        changes = {row.id: row.last_status_change for row in rows}
        state = load_state(session, user.organization_id, Window(start, end), patient_ids=())
    items = tuple(BoardItem(i, _arrival(i.status, changes.get(i.appointment_id)))
                  for i in view.items)
    names = {r.id: r.name for r in state.resources.values()}
    outages = tuple(
        OutageInfo(names.get(o.resource_id, ""), o.start, o.end, o.reason)
        for resource in state.resources.values() if clinic_id in resource.clinic_ids
        for o in state.outages.get(resource.id, ()) if o.start < end and o.end > start
    )
    loads = tuple(ProviderLoad(names.get(u.provider_id, ""), u.booked, u.available, u.ratio)
                  for u in utilization(state, clinic_id, day, day))
    return TodaySnapshot(
        day, ctx.now(), view.time_zone, items, len(agenda.conflict_inbox(ctx)), outages,
        sum(1 for i in view.items if i.status == AppointmentStatus.PENDING.value),
        agenda.pending_count(ctx), loads,
    )


def load_statistics(ctx: DeskContext, clinic_id: str, first: date, last: date,
                    time_zone: str) -> RangeStatistics:
    """Seed 001's statistics of ``clinic_id`` over local days ``first``..``last``."""
    user = require(ctx, Permission.VIEW_CALENDAR.value, "see the calendar")
    start, end = day_bounds(first, time_zone)[0], day_bounds(last, time_zone)[1]
    with ctx.store.session() as session:
        state = load_state(session, user.organization_id, Window(start, end),
                           patient_ids=())
    stats = appointment_statistics(
        (a for a in state.appointments.values() if a.clinic_id == clinic_id), first, last,
        time_zone)
    type_names = {t.id: t.name for t in state.appointment_types.values()}
    return RangeStatistics(
        stats.total, {s.value: n for s, n in stats.by_status.items()},
        {type_names.get(t, t): n for t, n in stats.by_type.items()},
        stats.average_per_day, stats.no_show_rate,
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


def _arrival(status: str, change: dict[str, Any] | None) -> datetime | None:
    if status != AppointmentStatus.ARRIVED.value or not change or not change.get("at"):
        return None
    return datetime.fromisoformat(str(change["at"])).astimezone(UTC)


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
    """Per provider: booked and working time today, and the share booked."""

    COLUMNS = (N_("Provider"), N_("Booked"), N_("Working"), N_("Utilization"))

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
        return (load.provider_name, format_duration(load.booked, self._locale),
                format_duration(load.available, self._locale),
                format_ratio(load.ratio, self._locale))[index.column()]
