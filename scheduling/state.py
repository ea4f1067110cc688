"""A working copy of one organization's calendar, indexed for fast conflict queries.

Bookings are indexed per resource (provider, room, equipment) and per patient
as sorted interval lists searched with ``bisect``, so a conflict query costs
O(log n + k) instead of a scan over every appointment. The state is mutable
(``put_appointment`` keeps the indexes current) and owned by one caller at a
time: a desk action, a server transaction, a property test.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from scheduling.errors import UnknownIdError
from scheduling.model import (
    Appointment,
    AppointmentType,
    Blockout,
    Break,
    Clinic,
    ExceptionKind,
    Holiday,
    Outage,
    Patient,
    Quota,
    Resource,
    ResourceKind,
    ScheduleException,
    WaitlistEntry,
    WeeklySchedule,
)
from scheduling.places import place_of
from scheduling.slot_memo import SlotMemo
from scheduling.timeutil import Interval, day_bounds, subtract, to_utc, union


def _ts(moment: datetime) -> float:
    return moment.timestamp()


class Timeline:
    """Sorted ``[start, end)`` intervals (epoch seconds) tagged with appointment ids."""

    __slots__ = ("_ends", "_ids", "_longest", "_starts")

    def __init__(self) -> None:
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._ids: list[str] = []
        self._longest = 0.0

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, start: float, end: float, appointment_id: str) -> None:
        index = bisect.bisect_right(self._starts, start)
        self._starts.insert(index, start)
        self._ends.insert(index, end)
        self._ids.insert(index, appointment_id)
        self._longest = max(self._longest, end - start)

    def remove(self, start: float, appointment_id: str) -> None:
        index = bisect.bisect_left(self._starts, start)
        while index < len(self._starts) and self._starts[index] == start:
            if self._ids[index] == appointment_id:
                del self._starts[index], self._ends[index], self._ids[index]
                return
            index += 1

    def overlapping(self, start: float, end: float) -> Iterator[tuple[float, float, str]]:
        """Yield ``(start, end, id)`` of the intervals overlapping ``[start, end)``."""
        low = bisect.bisect_left(self._starts, start - self._longest)
        high = bisect.bisect_left(self._starts, end)
        starts, ends, ids = self._starts, self._ends, self._ids
        for index in range(low, high):
            if ends[index] > start:
                yield starts[index], ends[index], ids[index]


@dataclass(slots=True)
class CalendarState:
    """Everything the rules need to judge a command for one organization."""

    organization_id: str
    clinics: dict[str, Clinic] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    appointment_types: dict[str, AppointmentType] = field(default_factory=dict)
    patients: dict[str, Patient] = field(default_factory=dict)
    schedules: dict[str, list[WeeklySchedule]] = field(default_factory=dict)
    exceptions: dict[str, list[ScheduleException]] = field(default_factory=dict)
    holidays: dict[str, dict[date, str]] = field(default_factory=dict)  # clinic → day → name
    blockouts: dict[str, list[Blockout]] = field(default_factory=dict)
    outages: dict[str, list[Outage]] = field(default_factory=dict)
    quotas: list[Quota] = field(default_factory=list)
    waitlist: dict[str, WaitlistEntry] = field(default_factory=dict)
    appointments: dict[str, Appointment] = field(default_factory=dict)
    _busy: dict[str, Timeline] = field(default_factory=lambda: defaultdict(Timeline))
    _patient_busy: dict[str, Timeline] = field(default_factory=lambda: defaultdict(Timeline))
    _per_day: dict[tuple[str, date], set[str]] = field(default_factory=lambda: defaultdict(set))
    _windows: dict[tuple[str, str, date], list[Interval]] = field(default_factory=dict)
    _hours_keys: dict[tuple[str, str], _HoursKey] = field(default_factory=dict)
    # Where each active appointment sits in the timelines, so removal does not depend on
    # the appointment type's buffers staying the same.
    _indexed_at: dict[str, tuple[float, date]] = field(default_factory=dict)
    #: A sync push run's memo of free slots (:mod:`scheduling.slot_memo`), told of every
    #: change of the appointments; None elsewhere.
    slot_memo: SlotMemo | None = None

    @classmethod
    def build(
        cls,
        organization_id: str,
        *,
        clinics: Iterable[Clinic] = (),
        resources: Iterable[Resource] = (),
        appointment_types: Iterable[AppointmentType] = (),
        patients: Iterable[Patient] = (),
        schedules: Iterable[WeeklySchedule] = (),
        exceptions: Iterable[ScheduleException] = (),
        holidays: Iterable[Holiday] = (),
        blockouts: Iterable[Blockout] = (),
        outages: Iterable[Outage] = (),
        quotas: Iterable[Quota] = (),
        waitlist: Iterable[WaitlistEntry] = (),
        appointments: Iterable[Appointment] = (),
    ) -> CalendarState:
        state = cls(organization_id)
        state.clinics = {c.id: c for c in clinics}
        state.resources = {r.id: r for r in resources}
        state.appointment_types = {t.id: t for t in appointment_types}
        state.patients = {p.id: p for p in patients}
        for schedule in schedules:
            state.schedules.setdefault(schedule.provider_id, []).append(schedule)
        for exception in exceptions:
            state.exceptions.setdefault(exception.provider_id, []).append(exception)
        for holiday in holidays:
            state.holidays.setdefault(holiday.clinic_id, {})[holiday.day] = holiday.name
        for blockout in blockouts:
            state.blockouts.setdefault(blockout.clinic_id, []).append(blockout)
        for outage in outages:
            state.outages.setdefault(outage.resource_id, []).append(outage)
        state.quotas = list(quotas)
        state.waitlist = {w.id: w for w in waitlist}
        for appointment in appointments:
            state.put_appointment(appointment)
        return state

    # ------------------------------------------------------------------ lookups

    def clinic(self, clinic_id: str) -> Clinic:
        try:
            return self.clinics[clinic_id]
        except KeyError:
            raise UnknownIdError(f"unknown clinic: {clinic_id}") from None

    def appointment_type(self, type_id: str) -> AppointmentType:
        try:
            return self.appointment_types[type_id]
        except KeyError:
            raise UnknownIdError(f"unknown appointment type: {type_id}") from None

    def resource(self, resource_id: str) -> Resource:
        try:
            return self.resources[resource_id]
        except KeyError:
            raise UnknownIdError(f"unknown resource: {resource_id}") from None

    def appointment(self, appointment_id: str) -> Appointment:
        try:
            return self.appointments[appointment_id]
        except KeyError:
            raise UnknownIdError(f"unknown appointment: {appointment_id}") from None

    def providers_at(self, clinic_id: str) -> list[Resource]:
        return [
            r
            for r in self.resources.values()
            if r.kind is ResourceKind.PROVIDER and r.active and clinic_id in r.clinic_ids
        ]

    # ------------------------------------------------------------------ appointments

    def padding(self, appointment: Appointment) -> tuple[timedelta, timedelta]:
        kind = self.appointment_types.get(appointment.appointment_type_id)
        if kind is None:
            return timedelta(0), timedelta(0)
        return kind.buffer_before, kind.buffer_after

    def remove_appointment(self, appointment_id: str) -> None:
        """Forget an appointment entirely (for scratch evaluation, not for cancelling)."""
        old = self.appointments.pop(appointment_id, None)
        if old is not None:
            self._unindex(old)
            if self.slot_memo is not None:
                self.slot_memo.touched(self, old)

    def put_appointment(self, appointment: Appointment) -> None:
        """Insert or replace an appointment, keeping every index current."""
        old = self.appointments.get(appointment.id)
        if old is not None:
            self._unindex(old)
        self.appointments[appointment.id] = appointment
        self._index(appointment)
        if self.slot_memo is not None:
            for touched in (old, appointment) if old is not None else (appointment,):
                self.slot_memo.touched(self, touched)

    def _index(self, appointment: Appointment) -> None:
        if not appointment.is_active:
            return
        clinic = self.clinics.get(appointment.clinic_id)
        start, end, patient_start, patient_end, day = place_of(
            appointment, clinic.time_zone if clinic is not None else None,
            *self.padding(appointment))
        for resource_id in appointment.resource_ids:
            self._busy[resource_id].add(start, end, appointment.id)
        self._patient_busy[appointment.patient_id].add(patient_start, patient_end,
                                                       appointment.id)
        self._per_day[(appointment.clinic_id, day)].add(appointment.id)
        self._indexed_at[appointment.id] = (start, day)

    def _unindex(self, appointment: Appointment) -> None:
        indexed = self._indexed_at.pop(appointment.id, None)
        if indexed is None:
            return
        start, day = indexed
        for resource_id in appointment.resource_ids:
            self._busy[resource_id].remove(start, appointment.id)
        self._patient_busy[appointment.patient_id].remove(_ts(appointment.start), appointment.id)
        self._per_day[(appointment.clinic_id, day)].discard(appointment.id)

    def busy_for_resource(
        self, resource_id: str, start: datetime, end: datetime
    ) -> Iterator[tuple[float, float, str]]:
        """Padded busy intervals of ``resource_id`` overlapping ``[start, end)``."""
        timeline = self._busy.get(resource_id)
        if timeline is None:
            return iter(())
        return timeline.overlapping(_ts(start), _ts(end))

    def timeline(self, resource_id: str) -> Timeline | None:
        """The padded busy intervals of ``resource_id`` (None: it has none)."""
        return self._busy.get(resource_id)

    def patient_timeline(self, patient_id: str) -> Timeline | None:
        """The busy intervals of ``patient_id`` (None: none)."""
        return self._patient_busy.get(patient_id)

    def busy_for_patient(
        self, patient_id: str, start: datetime, end: datetime
    ) -> Iterator[tuple[float, float, str]]:
        timeline = self._patient_busy.get(patient_id)
        if timeline is None:
            return iter(())
        return timeline.overlapping(_ts(start), _ts(end))

    def active_on_day(self, clinic_id: str, day: date) -> list[Appointment]:
        ids = self._per_day.get((clinic_id, day), set())
        return [self.appointments[i] for i in ids]

    def active_between(self, start: datetime, end: datetime) -> list[Appointment]:
        """Active appointments overlapping ``[start, end)`` (scan; for reports, not hot paths)."""
        return [
            a
            for a in self.appointments.values()
            if a.is_active and a.start < end and start < a.end
        ]

    # ------------------------------------------------------------------ working time

    def working_windows(self, provider_id: str, clinic_id: str, day: date) -> list[Interval]:
        """The provider's bookable time at the clinic on a local day.

        Weekly hours minus breaks, plus extra hours, minus time off, holidays,
        clinic-wide and provider blockouts, and the provider's outages.
        Cached: configuration does not change during the state's life.
        """
        key = (provider_id, clinic_id, day)
        cached = self._windows.get(key)
        if cached is None:
            if day in self.holidays.get(clinic_id, ()):
                cached = []
            else:
                hours, time_off = self.scheduled_hours(provider_id, clinic_id, day)
                removed = time_off
                if hours and (self.blockouts.get(clinic_id) or self.outages.get(provider_id)):
                    span = Interval(*_day_bounds(day, self.clinic(clinic_id).time_zone))
                    removed = time_off + self.blocked_periods(provider_id, clinic_id, span)
                cached = subtract(hours, union(removed))
            self._windows[key] = cached
        return cached

    def scheduled_hours(
        self, provider_id: str, clinic_id: str, day: date
    ) -> tuple[list[Interval], list[Interval]]:
        """(weekly hours minus breaks plus extra hours, time off) on a local day; holidays,
        blockouts and outages not applied."""
        tz = self.clinic(clinic_id).time_zone
        key = self._hours_keys.get((provider_id, clinic_id))
        if key is None:
            key = tuple((s.weekday, s.start, s.end, s.breaks, s.valid_from, s.valid_until)
                        for s in self.schedules.get(provider_id, ()) if s.clinic_id == clinic_id)
            self._hours_keys[(provider_id, clinic_id)] = key
        weekly = list(_weekly_hours(key, day, tz))
        exceptions = self.exceptions.get(provider_id, ())
        if not exceptions:
            return weekly, []
        day_start, day_end = _day_bounds(day, tz)
        day_span = Interval(day_start, day_end)
        extra: list[Interval] = []
        time_off: list[Interval] = []
        for exception in exceptions:
            span = Interval(exception.start, exception.end)
            if not span.overlaps(day_span) or exception.clinic_id != clinic_id:
                continue
            clipped = Interval(max(span.start, day_start), min(span.end, day_end))
            (extra if exception.kind is ExceptionKind.EXTRA_HOURS else time_off).append(clipped)
        return union(weekly + extra), union(time_off)

    def blocked_periods(self, resource_id: str, clinic_id: str, span: Interval) -> list[Interval]:
        """Blockouts (clinic-wide or for this resource) and outages overlapping ``span``."""
        periods = [
            Interval(b.start, b.end)
            for b in self.blockouts.get(clinic_id, ())
            if (b.resource_id is None or b.resource_id == resource_id)
            and b.start < span.end
            and span.start < b.end
        ]
        periods.extend(
            Interval(o.start, o.end)
            for o in self.outages.get(resource_id, ())
            if o.start < span.end and span.start < o.end
        )
        return periods

    def resource_windows(self, resource_id: str, clinic_id: str, day: date) -> list[Interval]:
        """When a room or piece of equipment can be used on a local day."""
        clinic = self.clinic(clinic_id)
        if day in self.holidays.get(clinic_id, ()):
            return []
        start, end = day_bounds(day, clinic.time_zone)
        span = Interval(start, end)
        return subtract([span], union(self.blocked_periods(resource_id, clinic_id, span)))


#: A provider's weekly schedules at a clinic, as :func:`_weekly_hours` reads them:
#: (weekday, start, end, breaks, valid from, valid until) of each.
_HoursKey = tuple[tuple[int, time, time, tuple[Break, ...], date | None, date | None], ...]


@lru_cache(maxsize=16384)
def _weekly_hours(key: _HoursKey, day: date, tz: str) -> tuple[Interval, ...]:
    """Weekly hours minus breaks on a local day (kept: providers share schedules, and
    requests ask for the same days)."""
    windows: list[Interval] = []
    breaks: list[Interval] = []
    for weekday, opens, closes, pauses, valid_from, valid_until in key:
        if day.weekday() != weekday or (valid_from is not None and day < valid_from) or (
                valid_until is not None and day > valid_until):
            continue
        start = _wall_instant(day, opens, tz)
        end = _wall_instant(day, closes, tz)
        if end > start:
            windows.append(Interval(start, end))
        for pause in pauses:
            pause_start = _wall_instant(day, pause.start, tz)
            pause_end = _wall_instant(day, pause.end, tz)
            if pause_end > pause_start:
                breaks.append(Interval(pause_start, pause_end))
    return tuple(union(subtract(union(windows), union(breaks))))


@lru_cache(maxsize=8192)
def _wall_instant(day: date, moment: time, tz: str) -> datetime:
    """:func:`local_time_of`, kept: every provider's hours start at the same few times."""
    return to_utc(datetime.combine(day, moment), tz)


@lru_cache(maxsize=4096)
def _day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    return day_bounds(day, tz)


def local_time_of(day: date, moment: time, tz: str) -> datetime:
    """The UTC instant of a local wall-clock time on ``day``."""
    return to_utc(datetime.combine(day, moment), tz)
