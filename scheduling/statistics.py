"""Appointment statistics and provider utilization for dashboards (seed 001).

Both work on local calendar days of the clinic's time zone: a day is one day
whether it lasts 23, 24 or 25 hours.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType

from scheduling.errors import InvalidIntervalError
from scheduling.model import Appointment, AppointmentStatus, Resource
from scheduling.state import CalendarState
from scheduling.timeutil import Interval, local_date, subtract, union, zone

#: Statuses in which the patient turned up, or did not: the no-show rate's denominator.
#: Appointments still ahead (pending, booked, confirmed), cancelled ones and ones entered
#: in error say nothing about attendance.
ATTENDANCE_OUTCOMES: frozenset[AppointmentStatus] = frozenset(
    {
        AppointmentStatus.COMPLETED,
        AppointmentStatus.NO_SHOW,
        AppointmentStatus.ARRIVED,
        AppointmentStatus.READY,
        AppointmentStatus.IN_PROGRESS,
    }
)


@dataclass(frozen=True, slots=True)
class AppointmentStatistics:
    """Counts of the appointments in a range of local days.

    ``no_show_rate`` is ``no_show / (completed + no_show + arrived + in_progress)``: the
    share of the appointments whose attendance is known in which the patient did not
    come. It is a fraction in [0, 1] (not a percentage), or None when no appointment in
    the range has a known attendance.
    """

    total: int
    by_status: Mapping[AppointmentStatus, int]
    by_type: Mapping[str, int]
    average_per_day: float
    no_show_rate: float | None


def appointment_statistics(
    appointments: Iterable[Appointment],
    first_day: date,
    last_day: date,
    tz: str,
    *,
    provider_id: str | None = None,
) -> AppointmentStatistics:
    """Statistics of the non-deleted appointments starting on ``first_day``..``last_day``.

    Days are local days in ``tz`` and both ends are included; ``provider_id`` narrows the
    count to one provider. Every status appears in ``by_status`` (zero when absent);
    ``by_type`` maps appointment type ids to counts, in id order.
    ``average_per_day`` divides the total by the number of days in the range.

    Raises :class:`~scheduling.errors.InvalidIntervalError` when ``last_day`` is before
    ``first_day`` and :class:`~scheduling.errors.UnknownTimeZoneError` for an unknown zone.
    """
    _check_days(first_day, last_day)
    zone(tz)
    counted = [
        a
        for a in appointments
        if not a.deleted
        and (provider_id is None or a.provider_id == provider_id)
        and first_day <= local_date(a.start, tz) <= last_day
    ]
    statuses = Counter(a.status for a in counted)
    types = Counter(a.appointment_type_id for a in counted)
    attended = sum(statuses[s] for s in ATTENDANCE_OUTCOMES)
    return AppointmentStatistics(
        total=len(counted),
        by_status=MappingProxyType({s: statuses[s] for s in AppointmentStatus}),
        by_type=MappingProxyType(dict(sorted(types.items()))),
        average_per_day=len(counted) / ((last_day - first_day).days + 1),
        no_show_rate=statuses[AppointmentStatus.NO_SHOW] / attended if attended else None,
    )


@dataclass(frozen=True, slots=True)
class Utilization:
    """How much of a provider's working time at a clinic is booked.

    ``booked`` is the time covered by active appointments (buffers excluded) inside the
    working windows; overlapping appointments (a group session) count once, so
    ``booked <= available``. ``available`` is the total working time.
    """

    provider_id: str
    booked: timedelta
    available: timedelta

    @property
    def ratio(self) -> float | None:
        """``booked / available``, or None when the provider had no working time."""
        if not self.available:
            return None
        return self.booked / self.available


def utilization(
    state: CalendarState,
    clinic_id: str,
    first_day: date,
    last_day: date,
    provider_ids: Iterable[str] | None = None,
) -> list[Utilization]:
    """Booked versus working time per provider at a clinic over local days, both ends included.

    Working time is :meth:`CalendarState.working_windows` (hours minus breaks, time off,
    holidays, blockouts and outages); booked time is the part of it covered by the
    provider's active appointments at this clinic. Providers default to those assigned
    to the clinic; the result is sorted by provider name (then id).

    Raises :class:`~scheduling.errors.InvalidIntervalError` when ``last_day`` is before
    ``first_day`` and :class:`~scheduling.errors.UnknownIdError` for an unknown clinic or
    provider.
    """
    _check_days(first_day, last_day)
    state.clinic(clinic_id)
    providers: list[Resource] = (
        state.providers_at(clinic_id)
        if provider_ids is None
        else [state.resource(p) for p in dict.fromkeys(provider_ids)]
    )
    result: list[Utilization] = []
    for provider in sorted(providers, key=lambda r: (r.name, r.id)):
        booked = available = timedelta(0)
        for day in _days(first_day, last_day):
            windows = state.working_windows(provider.id, clinic_id, day)
            if not windows:
                continue
            working = _total(windows)
            span = Interval(windows[0].start, windows[-1].end)
            busy = _appointment_time(state, provider.id, clinic_id, span)
            available += working
            booked += working - _total(subtract(windows, busy))
        result.append(Utilization(provider.id, booked, available))
    return result


def _appointment_time(
    state: CalendarState, provider_id: str, clinic_id: str, span: Interval
) -> list[Interval]:
    """The provider's active appointments at the clinic overlapping ``span``, merged."""
    # The index holds buffered intervals: a superset to narrow down to the real times.
    ids = {i for _, _, i in state.busy_for_resource(provider_id, span.start, span.end)}
    appointments = (state.appointments[i] for i in ids)
    return union(
        [
            a.interval
            for a in appointments
            if a.is_active and a.provider_id == provider_id and a.clinic_id == clinic_id
        ]
    )


def _total(intervals: Iterable[Interval]) -> timedelta:
    return sum((i.duration for i in intervals), timedelta(0))


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _check_days(first_day: date, last_day: date) -> None:
    if last_day < first_day:
        raise InvalidIntervalError("the last day of a range cannot be before its first day")
