"""What the today board shows, read once per refresh.

:func:`load_today` answers "who is expected, waiting, in a room, done or missing
today, what needs attention, how busy is each provider"; :func:`load_statistics`
gives seed 001's counts for a range of days. Both are read-only queries over the
desk services (the day view, the conflict inbox, the optimistic calendar) that
return frozen values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from desktop.services import agenda, departments
from desktop.services.calendar import Window, load_state
from desktop.services.context import DeskContext, require
from desktop.services.display_language import display_language
from desktop.services.dto import AgendaItem
from desktop.store.models import AppointmentRow
from scheduling.commands import Permission
from scheduling.model import AppointmentStatus
from scheduling.statistics import appointment_statistics, utilization
from scheduling.timeutil import day_bounds


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
    #: The provider's appointments of the day at the clinic by status (every status).
    by_status: Mapping[str, int] = field(default_factory=dict)

    @property
    def appointments(self) -> int:
        return sum(self.by_status.values())

    @property
    def seen(self) -> int:
        """Arrived, in progress or completed."""
        return sum(self.by_status.get(s.value, 0) for s in _SEEN)


_SEEN = (AppointmentStatus.ARRIVED, AppointmentStatus.IN_PROGRESS, AppointmentStatus.COMPLETED)


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
        hidden = departments.hidden_resources(session, user)
    items = tuple(BoardItem(i, _arrival(i.status, changes.get(i.appointment_id)))
                  for i in view.items)
    names = {r.id: r.name for r in state.resources.values()}
    outages = tuple(
        OutageInfo(names.get(o.resource_id, ""), o.start, o.end, o.reason)
        for resource in state.resources.values()
        if clinic_id in resource.clinic_ids and resource.id not in hidden
        for o in state.outages.get(resource.id, ()) if o.start < end and o.end > start
    )
    at_clinic = [a for a in state.appointments.values() if a.clinic_id == clinic_id
                 and not departments.uses_hidden(hidden, a.provider_id, a.room_id,
                                                 a.equipment_ids)]
    loads = tuple(
        ProviderLoad(names.get(u.provider_id, ""), u.booked, u.available, u.ratio, {
            s.value: n for s, n in appointment_statistics(
                at_clinic, day, day, view.time_zone, provider_id=u.provider_id,
            ).by_status.items()})
        for u in utilization(state, clinic_id, day, day) if u.provider_id not in hidden)
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
        hidden = departments.hidden_resources(session, user)
    stats = appointment_statistics(
        (a for a in state.appointments.values() if a.clinic_id == clinic_id
         and not departments.uses_hidden(hidden, a.provider_id, a.room_id, a.equipment_ids)),
        first, last, time_zone)
    language = display_language()
    type_names = {t.id: t.name_in(language) for t in state.appointment_types.values()}
    return RangeStatistics(
        stats.total, {s.value: n for s, n in stats.by_status.items()},
        {type_names.get(t, t): n for t, n in stats.by_type.items()},
        stats.average_per_day, stats.no_show_rate,
    )


def _arrival(status: str, change: dict[str, Any] | None) -> datetime | None:
    if status != AppointmentStatus.ARRIVED.value or not change or not change.get("at"):
        return None
    return datetime.fromisoformat(str(change["at"])).astimezone(UTC)
