"""What the agenda draws behind the appointments: working hours, holidays, blockouts, outages,
and the providers' named slot templates ("New patient").

Read-only, one read session per call, DTOs out. Working hours come from the
domain (:meth:`CalendarState.scheduled_hours`: weekly hours minus breaks, plus
extra hours, minus time off), so the shading is the same time the rules accept;
blockouts and outages are listed separately so the agenda can draw their reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop.services.calendar import Window, load_state
from desktop.services.context import DeskContext, require
from desktop.store.models import OutboxEntry, SlotTemplateRow, SyncState
from scheduling.commands import Permission
from scheduling.model import ResourceKind
from scheduling.state import CalendarState
from scheduling.timeutil import Interval, day_bounds, subtract, to_utc, union


@dataclass(frozen=True, slots=True)
class ClosedPeriod:
    """A blockout (``kind="blockout"``, ``resource_id`` None = the whole clinic) or an outage."""

    kind: str
    start: datetime
    end: datetime
    resource_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class AgendaFrame:
    """The clinic's frame over local days ``first_day``..``last_day``.

    ``working[(day, resource_id)]`` is the bookable hours of a provider on a day
    as ``(start, end)`` UTC pairs; for a room, the union of the clinic's providers'
    hours (a room is usable whenever someone works).
    """

    clinic_id: str
    time_zone: str
    first_day: date
    last_day: date
    holidays: Mapping[date, str]
    working: Mapping[tuple[date, str], tuple[tuple[datetime, datetime], ...]]
    closed: tuple[ClosedPeriod, ...]
    #: Providers' agenda colours (``#rrggbb``) by id; a provider without one is absent.
    colours: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: The named slot templates of each (day, provider), earliest first.
    templates: Mapping[tuple[date, str], tuple[TemplateSlot, ...]] = field(
        default_factory=lambda: MappingProxyType({}))

    def template_at(self, day: date, provider_id: str, instant: datetime) -> TemplateSlot | None:
        """The template slot of ``provider_id`` on ``day`` that holds ``instant``."""
        return next((t for t in self.templates.get((day, provider_id), ())
                     if t.start <= instant < t.end), None)


@dataclass(frozen=True, slots=True)
class TemplateSlot:
    """One day's occurrence of a named slot template, in UTC."""

    template_id: str
    name: str
    provider_id: str
    start: datetime
    end: datetime
    appointment_type_id: str | None = None


def load_frame(ctx: DeskContext, clinic_id: str, first: date, last: date) -> AgendaFrame:
    """The frame of ``clinic_id``; needs ``booking:view_calendar`` and an unlocked session."""
    user = require(ctx, Permission.VIEW_CALENDAR.value, "see the calendar")
    with ctx.store.session() as session:
        state = _configuration(ctx, session, user.organization_id)
        templates = _templates(session, clinic_id)
    return _frame_of(state, clinic_id, first, last, templates)


class FrameLoader:
    """:func:`load_frame` for one window (its UI thread), keeping the configuration it read
    while nothing can have changed it: configuration reaches the store only by a pull
    (the pull cursor moves) and a blockout made here by a local intent (a new outbox
    entry). :meth:`forget` drops it (a sync said the configuration changed)."""

    def __init__(self, ctx: DeskContext) -> None:
        self._ctx = ctx
        self._key: tuple[object, ...] | None = None
        self._state: CalendarState | None = None

    def forget(self) -> None:
        self._key = self._state = None

    def load(self, clinic_id: str, first: date, last: date) -> AgendaFrame:
        user = require(self._ctx, Permission.VIEW_CALENDAR.value, "see the calendar")
        with self._ctx.store.session() as session:
            sync = session.execute(select(SyncState.server_version, SyncState.last_mutation_id)
                                   ).first()
            key = (user.organization_id, tuple(sync) if sync else None,
                   session.scalar(select(func.max(OutboxEntry.mutation_id))))
            if key != self._key or self._state is None:
                self._state = _configuration(self._ctx, session, user.organization_id)
                self._key = key
            templates = _templates(session, clinic_id)
        return _frame_of(self._state, clinic_id, first, last, templates)


def _configuration(ctx: DeskContext, session: Session, organization_id: str) -> CalendarState:
    """Configuration only: an empty appointment window and no patients."""
    now = ctx.now()
    return load_state(session, organization_id, Window(now, now), patient_ids=())


def _templates(session: Session, clinic_id: str) -> list[SlotTemplateRow]:
    return list(session.scalars(select(SlotTemplateRow).where(
        SlotTemplateRow.clinic_id == clinic_id).order_by(SlotTemplateRow.start)))


def _frame_of(state: CalendarState, clinic_id: str, first: date, last: date,
              templates: list[SlotTemplateRow] | None = None) -> AgendaFrame:
    clinic = state.clinic(clinic_id)
    tz = clinic.time_zone
    span_start, _ = day_bounds(first, tz)
    _, span_end = day_bounds(last, tz)
    span = Interval(span_start, span_end)
    providers = state.providers_at(clinic_id)
    rooms = [r for r in state.resources.values()
             if r.kind is ResourceKind.ROOM and r.active and clinic_id in r.clinic_ids]
    holidays = {day: name for day, name in state.holidays.get(clinic_id, {}).items()
                if first <= day <= last}
    working: dict[tuple[date, str], tuple[tuple[datetime, datetime], ...]] = {}
    day = first
    while day <= last:
        everyone: list[Interval] = []
        for provider in providers:
            hours, time_off = state.scheduled_hours(provider.id, clinic_id, day)
            free = [] if day in holidays else subtract(hours, time_off)
            everyone.extend(free)
            working[(day, provider.id)] = tuple((i.start, i.end) for i in free)
        open_hours = tuple((i.start, i.end) for i in union(everyone))
        for room in rooms:
            working[(day, room.id)] = open_hours
        day += timedelta(days=1)
    closed = [
        ClosedPeriod("blockout", b.start, b.end, b.resource_id, b.reason)
        for b in state.blockouts.get(clinic_id, ())
        if b.start < span.end and span.start < b.end
    ]
    for resource in [*providers, *rooms]:
        closed.extend(
            ClosedPeriod("outage", o.start, o.end, o.resource_id, o.reason)
            for o in state.outages.get(resource.id, ())
            if o.start < span.end and span.start < o.end
        )
    colours = {provider.id: provider.color for provider in providers if provider.color}
    slots: dict[tuple[date, str], list[TemplateSlot]] = {}
    day = first
    while day <= last:
        for row in templates or ():
            if row.weekday == day.weekday() and day not in holidays:
                slots.setdefault((day, row.provider_id), []).append(TemplateSlot(
                    row.id, row.name, row.provider_id,
                    to_utc(datetime.combine(day, row.start), tz),
                    to_utc(datetime.combine(day, row.end), tz), row.appointment_type_id))
        day += timedelta(days=1)
    return AgendaFrame(clinic_id, tz, first, last, MappingProxyType(holidays),
                       MappingProxyType(working), tuple(closed), MappingProxyType(colours),
                       MappingProxyType({k: tuple(v) for k, v in slots.items()}))


__all__ = ["AgendaFrame", "ClosedPeriod", "FrameLoader", "TemplateSlot", "load_frame"]
