"""Free slots and next available (alternatives for a refused booking:
:mod:`scheduling.alternatives`; the sweep of busy times: :mod:`scheduling.slot_sweep`).

Slots are judged with the same predicate as the rules engine
(:func:`scheduling.placement.violations`), so every slot offered here is one
the rules accept, and every start the rules accept on the search grid is
offered. The search grid is every ``step`` of local wall-clock time
(minute-of-day divisible by the step) inside the provider's working windows.

Speed comes from the per-resource interval index and from jumping: when a
candidate start is blocked by a booking, a time off or a notice period, the
search resumes at the first grid point where that obstacle is gone instead of
stepping through it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from scheduling import placement as pl
from scheduling.commands import Actor, Alternative, Permission, Policy
from scheduling.errors import InvalidIntervalError, UnknownIdError
from scheduling.model import AppointmentType
from scheduling.refusals import RefusalCode as R
from scheduling.state import CalendarState
from scheduling.timeutil import local_date, require_aware, zone

#: An actor allowed to see and book everything; availability is about the calendar,
#: not about who asks, unless a caller passes its own actor (e.g. an online patient).
CALENDAR_READER = Actor("availability", permissions=frozenset(p.value for p in Permission))

DEFAULT_POLICY = Policy()

_DAY_ENDING = frozenset({R.QUOTA_REACHED, R.CLINIC_HOLIDAY, R.TOO_FAR_AHEAD})


@dataclass(frozen=True, slots=True)
class SlotQuery:
    """Which slots to find: a type at a clinic over local days ``first_day``..``last_day``."""

    clinic_id: str
    appointment_type_id: str
    first_day: date
    last_day: date
    provider_ids: tuple[str, ...] | None = None
    room_ids: tuple[str, ...] | None = None
    duration: timedelta | None = None
    patient_id: str | None = None
    step: timedelta | None = None

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise InvalidIntervalError("the last day must not be before the first day")
        if self.duration is not None and self.duration <= timedelta(0):
            raise InvalidIntervalError("a duration must be positive")
        if self.step is not None and (
            self.step <= timedelta(0) or self.step.total_seconds() % 60
        ):
            raise InvalidIntervalError("the grid step must be a positive whole number of minutes")


def free_slots(
    state: CalendarState,
    query: SlotQuery,
    *,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
    actor: Actor = CALENDAR_READER,
    limit: int | None = None,
) -> list[Alternative]:
    """Every bookable slot for ``query``, ordered by start then provider."""
    now = require_aware(now, "now")
    slots: list[Alternative] = []
    for provider_id in _providers(state, query):
        for day in _days(query.first_day, query.last_day):
            slots.extend(_provider_day_slots(state, query, provider_id, day, now, policy, actor))
    slots.sort(key=lambda s: (s.start, s.provider_id, s.room_id or ""))
    return slots[:limit] if limit is not None else slots


def next_available(
    state: CalendarState,
    clinic_id: str,
    appointment_type_id: str,
    *,
    now: datetime,
    after: datetime | None = None,
    provider_ids: tuple[str, ...] | None = None,
    horizon_days: int = 60,
    policy: Policy = DEFAULT_POLICY,
    actor: Actor = CALENDAR_READER,
    patient_id: str | None = None,
) -> Alternative | None:
    """The earliest free slot at or after ``after`` (default: now) across providers."""
    now = require_aware(now, "now")
    start_at, query, providers = _search_from(state, clinic_id, appointment_type_id, now, after,
                                              provider_ids, horizon_days, patient_id)
    for day in _days(query.first_day, query.last_day):
        best: Alternative | None = None
        for provider_id in providers:
            # A provider's first slot of the day is its earliest; searching past the best
            # start found so far cannot improve on it.
            stop = best.start.timestamp() if best is not None else None
            for slot in _provider_day_slots(state, query, provider_id, day, now, policy, actor,
                                            not_before=start_at, stop_at=stop):
                if best is None or slot.start < best.start:
                    best = slot
                break
        if best is not None:
            return best
    return None


def earliest_slots(
    state: CalendarState,
    clinic_id: str,
    appointment_type_id: str,
    *,
    now: datetime,
    limit: int,
    after: datetime | None = None,
    provider_ids: tuple[str, ...] | None = None,
    horizon_days: int = 60,
    policy: Policy = DEFAULT_POLICY,
    actor: Actor = CALENDAR_READER,
    patient_id: str | None = None,
) -> list[Alternative]:
    """The ``limit`` earliest free slots at or after ``after`` (default: now), by start then
    provider: :func:`next_available` for a list.

    Each day asks every provider for at most ``limit`` slots and none later than the
    ``limit``-th best start found so far; the first day that fills the list ends the
    search, so the cost follows ``limit``, not every free slot of the horizon.
    """
    now = require_aware(now, "now")
    if limit <= 0:
        return []
    start_at, query, providers = _search_from(state, clinic_id, appointment_type_id, now, after,
                                              provider_ids, horizon_days, patient_id)
    found: list[Alternative] = []
    for day in _days(query.first_day, query.last_day):
        for provider_id in providers:
            # Ties with the limit-th start still count (the provider id breaks them).
            stop = found[limit - 1].start.timestamp() + 1 if len(found) >= limit else None
            slots = _provider_day_slots(state, query, provider_id, day, now, policy, actor,
                                        not_before=start_at, stop_at=stop)
            found.extend(itertools.islice(slots, limit))
            found.sort(key=_slot_order)
            del found[limit:]
        if len(found) >= limit:
            break
    return found


def _search_from(
    state: CalendarState, clinic_id: str, appointment_type_id: str, now: datetime,
    after: datetime | None, provider_ids: tuple[str, ...] | None, horizon_days: int,
    patient_id: str | None,
) -> tuple[datetime, SlotQuery, list[str]]:
    """Where a forward search starts, the days it covers and the providers it asks."""
    start_at = require_aware(after, "after") if after is not None else now
    first = local_date(start_at, state.clinic(clinic_id).time_zone)
    query = SlotQuery(clinic_id, appointment_type_id, first, first + timedelta(days=horizon_days),
                      provider_ids, patient_id=patient_id)
    return start_at, query, _providers(state, query)


def _slot_order(slot: Alternative) -> tuple[datetime, str, str]:
    return slot.start, slot.provider_id, slot.room_id or ""


# --------------------------------------------------------------------------- internals


def _providers(state: CalendarState, query: SlotQuery) -> list[str]:
    kind = state.appointment_types.get(query.appointment_type_id)
    if kind is None:
        raise UnknownIdError(f"unknown appointment type: {query.appointment_type_id}")
    state.clinic(query.clinic_id)
    qualified = [
        r.id
        for r in sorted(state.providers_at(query.clinic_id), key=lambda r: r.id)
        if not kind.requirement.providers or r.id in kind.requirement.providers
    ]
    if query.provider_ids is None:
        return qualified
    wanted = set(query.provider_ids)
    return [p for p in qualified if p in wanted]


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _provider_day_slots(
    state: CalendarState,
    query: SlotQuery,
    provider_id: str,
    day: date,
    now: datetime,
    policy: Policy,
    actor: Actor,
    not_before: datetime | None = None,
    ignore: Collection[str] = (),
    stop_at: float | None = None,
    skip: Callable[[float], float] | None = None,
) -> Iterator[Alternative]:
    """The free slots of one provider on one day, in time order. ``skip`` (for a type of
    capacity 1): the first instant at or after a start from which a known clash is gone
    (every start before it is refused by the rules), so a booked stretch is passed in one
    step instead of judging each of its grid starts."""
    kind = state.appointment_types[query.appointment_type_id]
    tz = zone(state.clinics[query.clinic_id].time_zone)
    duration = query.duration or kind.default_duration
    step = int((query.step or policy.slot_step).total_seconds())
    rooms = _room_choices(kind, query)
    jumpable = kind.capacity == 1
    floor = not_before.timestamp() if not_before is not None else -math.inf
    for window in state.working_windows(provider_id, query.clinic_id, day):
        t = _grid_ceil(max(window.start.timestamp(), floor), step, tz)
        last_start = (window.end - duration).timestamp()
        if stop_at is not None:
            last_start = min(last_start, stop_at - 1)
        while t <= last_start:
            if jumpable and skip is not None and (free := skip(t)) > t:
                t = _grid_ceil(free, step, tz)
                continue
            start = datetime.fromtimestamp(t, UTC)
            free_from, slot, ends_day = _judge(state, query, kind, provider_id, start,
                                                start + duration, rooms, now, actor, ignore)
            if slot is not None:
                yield slot
                t = _grid_ceil(t + step, step, tz)
            elif ends_day:
                return
            elif jumpable and free_from is not None and free_from > t:
                t = _grid_ceil(free_from, step, tz)
            else:
                t = _grid_ceil(t + step, step, tz)


def _judge(
    state: CalendarState,
    query: SlotQuery,
    kind: AppointmentType,
    provider_id: str,
    start: datetime,
    end: datetime,
    rooms: list[str | None] | None,
    now: datetime,
    actor: Actor,
    ignore: Collection[str],
) -> tuple[float | None, Alternative | None, bool]:
    """(earliest start at which the first obstacle is gone, the slot if free, day over)."""
    base = pl.Placement(query.clinic_id, query.patient_id, kind.id, provider_id, start, end)
    candidates: Iterable[pl.Placement]
    if rooms is None:
        candidates = pl.candidate_placements(state, base, kind, False, False)
    else:
        candidates = (
            candidate
            for room in rooms
            for candidate in pl.candidate_placements(
                state,
                pl.Placement(base.clinic_id, base.patient_id, base.appointment_type_id,
                             provider_id, start, end, room),
                kind, True, False,
            )
        )
    # The start is blocked until the *earliest* candidate (room choice) frees up; if any
    # candidate's obstacle has no known end, step instead of jumping.
    earliest: float | None = None
    jump = True
    for candidate in candidates:
        found = pl.violations(state, candidate, now=now, actor=actor, ignore=ignore,
                              first_only=True)
        if not found:
            return None, _as_alternative(candidate), False
        violation = found[0]
        if violation.code in _DAY_ENDING:
            return None, None, True
        if violation.free_from is None:
            jump = False
        else:
            earliest = violation.free_from if earliest is None else min(earliest,
                                                                         violation.free_from)
    return (earliest if jump else None), None, False


def _room_choices(kind: AppointmentType, query: SlotQuery) -> list[str | None] | None:
    """The rooms a query restricts the search to (None: the rules choose as usual)."""
    if query.room_ids is None:
        return None
    allowed = set(query.room_ids)
    if kind.requirement.rooms:
        return [r for r in sorted(kind.requirement.rooms) if r in allowed]
    choices: list[str | None] = [*sorted(allowed)]  # a type needing no room may get one
    return choices


def _grid_ceil(moment: float, step: int, tz: object) -> float:
    """The first grid instant at or after ``moment`` (local minute-of-day divisible by step)."""
    instant = datetime.fromtimestamp(moment, UTC)
    offset = instant.astimezone(tz).utcoffset()  # type: ignore[arg-type]
    shift = offset.total_seconds() if offset is not None else 0.0
    local = moment + shift
    aligned = math.ceil(local / step) * step
    return aligned - shift


def _as_alternative(p: pl.Placement) -> Alternative:
    return Alternative(p.start, p.end, p.provider_id, p.room_id, p.equipment_ids)


@dataclass(frozen=True, slots=True)
class ClinicRoom:
    """A clinic with room on a day: how many free slots, and the earliest."""

    clinic_id: str
    free_slots: int
    first: Alternative


def get_available_clinics(
    slots_by_clinic: Mapping[str, Sequence[Alternative]],
) -> list[ClinicRoom]:
    """Which clinics have room (seed 001 ``get_available_clinics``): those with at least
    one free slot (:func:`free_slots` for the type on the day, per clinic), the earliest
    free slot first, then by clinic id."""
    found = [ClinicRoom(clinic_id, len(slots), min(slots, key=_slot_order))
             for clinic_id, slots in slots_by_clinic.items() if slots]
    return sorted(found, key=lambda c: (c.first.start, c.clinic_id))
