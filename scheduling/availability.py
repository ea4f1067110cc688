"""Free slots, next available, and alternatives for a refused booking.

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

import bisect
import heapq
import itertools
import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache, partial
from zoneinfo import ZoneInfo

from scheduling import placement as pl
from scheduling.commands import Actor, Alternative, Permission, Policy
from scheduling.errors import InvalidIntervalError, UnknownIdError
from scheduling.model import AppointmentType
from scheduling.refusals import RefusalCode as R
from scheduling.state import CalendarState
from scheduling.timeutil import day_bounds, local_date, require_aware, zone

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


def sweepable(state: CalendarState, query: SlotQuery,
              actor: Actor = CALENDAR_READER) -> bool:
    """Whether :func:`free_slots_swept` answers ``query`` exactly: a type for one
    patient at a time needing only its provider (no room, no equipment), no patient,
    room or duration restriction asked, no quota counting at the clinic, an actor that
    does not book online."""
    kind = state.appointment_types.get(query.appointment_type_id)
    return (kind is not None and kind.capacity == 1 and not kind.requirement.rooms
            and not kind.requirement.equipment and query.room_ids is None
            and query.patient_id is None and not actor.online_booking
            and not any(q.clinic_id == query.clinic_id for q in state.quotas))


#: One provider's busy time as epoch seconds ``(start, end)``: each active appointment
#: occupying the provider, padded by its type's buffers as the rules pad it (see
#: :meth:`CalendarState.padding`); in any order, overlapping or not.
BusyTimes = Sequence[tuple[float, float]]


def free_slots_swept(
    state: CalendarState,
    query: SlotQuery,
    busy: Mapping[str, BusyTimes],
    *,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
    limit: int | None = None,
) -> list[Alternative]:
    """:func:`free_slots` for a :func:`sweepable` query, from each provider's busy times
    instead of the state's appointments (``state`` needs its configuration and dated
    records only): the same slots, found by a sweep over the grid instead of judging
    each start with the rules.

    For such a query the rules accept a grid start ``t`` of a working window (with
    ``t + duration`` inside it) exactly when it is not too soon (the past, the type's
    notice, a restricted provider's lead time), its day is not too far ahead, the
    duration is within the type's bounds, and no busy time ``[s, e)`` of the provider
    overlaps ``[t - buffer before, t + duration + buffer after)``: ``t`` must not lie
    strictly between ``s - duration - buffer after`` and ``e + buffer before``.
    """
    now = require_aware(now, "now")
    kind = state.appointment_type(query.appointment_type_id)
    duration = query.duration or kind.default_duration
    if not kind.min_duration <= duration <= kind.max_duration:
        return []
    clinic = state.clinic(query.clinic_id)
    tz = zone(clinic.time_zone)
    step = int((query.step or policy.slot_step).total_seconds())
    seconds = duration.total_seconds()
    before = kind.buffer_before.total_seconds()
    reach = seconds + kind.buffer_after.total_seconds()
    last_day = query.last_day
    if kind.max_days_ahead is not None:
        last_day = min(last_day, local_date(now, clinic.time_zone)
                       + timedelta(days=kind.max_days_ahead))
    soonest = max(now, now + kind.min_notice).timestamp()
    found: list[tuple[float, str]] = []
    for provider_id in _providers(state, query):
        restriction = state.resources[provider_id].restriction
        floor = soonest if restriction is None else max(
            soonest, (now + restriction.min_lead_time).timestamp())
        # Starts strictly inside (lows[i], highs[i]) are refused; merged, sorted by end.
        lows, highs = _blocked_starts(busy.get(provider_id, ()), reach, before)
        count = len(highs)
        for day in _days(query.first_day, last_day):
            for window in state.working_windows(provider_id, query.clinic_id, day):
                shift = _steady_shift(window.start, window.end, tz)
                ceil = (partial(_grid_ceil, step=step, tz=tz) if shift is None
                        else partial(_shifted_ceil, step=step, shift=shift))
                t = ceil(max(window.start.timestamp(), floor))
                last_start = window.end.timestamp() - seconds
                index = bisect.bisect_right(highs, t)
                while t <= last_start:
                    if index < count and lows[index] < t:  # inside a blocked stretch
                        t = ceil(highs[index])
                        index = bisect.bisect_right(highs, t, index)
                        continue
                    found.append((t, provider_id))
                    t = ceil(t + step)
                    while index < count and highs[index] <= t:
                        index += 1
    found.sort()
    if limit is not None:
        del found[limit:]
    return [Alternative(start, start + duration, provider_id, None, ())
            for start, provider_id in ((_instant(t), p) for t, p in found)]


@lru_cache(maxsize=65536)
def _instant(moment: float) -> datetime:
    """The UTC datetime of an epoch second (kept: providers share their slot starts)."""
    return datetime.fromtimestamp(moment, UTC)


@lru_cache(maxsize=4096)
def _steady_shift(start: datetime, end: datetime, tz: ZoneInfo) -> float | None:
    """The zone's UTC offset in seconds over ``[start, end]`` when it does not change
    (no daylight-saving switch inside), else None (kept: providers share their hours)."""
    first = start.astimezone(tz).utcoffset()
    if first is None or end.astimezone(tz).utcoffset() != first:
        return None
    return first.total_seconds()


def _shifted_ceil(moment: float, step: int, shift: float) -> float:
    """:func:`_grid_ceil` where the zone's offset is ``shift`` throughout."""
    return math.ceil((moment + shift) / step) * step - shift


def _blocked_starts(busy: BusyTimes, reach: float, before: float
                    ) -> tuple[list[float], list[float]]:
    """The open intervals of refused starts ``(s - reach, e + before)`` of ``busy``,
    merged where they overlap (two that only touch leave their common point free)."""
    lows: list[float] = []
    highs: list[float] = []
    for start, end in sorted(busy):
        low, high = start - reach, end + before
        if highs and low < highs[-1]:
            highs[-1] = max(highs[-1], high)
        else:
            lows.append(low)
            highs.append(high)
    return lows, highs


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


def find_alternatives(
    state: CalendarState,
    wanted: pl.Placement,
    *,
    now: datetime,
    actor: Actor,
    policy: Policy,
    ignore: Collection[str] = (),
) -> tuple[Alternative, ...]:
    """Up to ``policy.max_alternatives`` placements near ``wanted``.

    First the nearest free times with the same provider (searching outward day by day,
    up to ``policy.alternatives_horizon_days``), then other qualified providers at the
    same time; at most three of the first kind while the second kind has candidates.
    """
    limit = policy.max_alternatives
    if limit <= 0:
        return ()
    clinic = state.clinics.get(wanted.clinic_id)
    kind = state.appointment_types.get(wanted.appointment_type_id)
    if clinic is None or kind is None:
        return ()
    duration = wanted.end - wanted.start
    same_provider = _nearest_for_provider(state, wanted, duration, now, actor, policy, ignore,
                                          limit)
    others: list[Alternative] = []
    for provider in sorted(state.providers_at(wanted.clinic_id), key=lambda r: r.name):
        if provider.id == wanted.provider_id or len(others) >= limit:
            continue
        base = pl.Placement(wanted.clinic_id, wanted.patient_id, kind.id, provider.id,
                            wanted.start, wanted.end)
        for candidate in pl.candidate_placements(state, base, kind, False, False):
            if not pl.violations(state, candidate, now=now, actor=actor, ignore=ignore,
                                 first_only=True):
                others.append(_as_alternative(candidate))
                break
    reserved = min(len(others), 2)  # keep room for other providers at the wanted time
    chosen = same_provider[: limit - reserved] + others[:reserved]
    rest = same_provider[limit - reserved :] + others[reserved:]
    chosen += rest[: limit - len(chosen)]
    return tuple(chosen)


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
) -> Iterator[Alternative]:
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


def _nearest_for_provider(
    state: CalendarState,
    wanted: pl.Placement,
    duration: timedelta,
    now: datetime,
    actor: Actor,
    policy: Policy,
    ignore: Collection[str],
    limit: int,
) -> list[Alternative]:
    clinic = state.clinics[wanted.clinic_id]
    day = local_date(wanted.start, clinic.time_zone)
    query = SlotQuery(wanted.clinic_id, wanted.appointment_type_id, day, day,
                      (wanted.provider_id,), duration=duration, patient_id=wanted.patient_id)
    target = wanted.start.timestamp()
    found: list[tuple[float, Alternative]] = []
    for distance in range(policy.alternatives_horizon_days + 1):
        days = {day + timedelta(days=distance), day - timedelta(days=distance)}
        for each in sorted(days):
            for slot in _provider_day_slots(state, query, wanted.provider_id, each, now,
                                            policy, actor, ignore=ignore):
                if slot.start == wanted.start and slot.room_id == wanted.room_id:
                    continue
                gap = abs(slot.start.timestamp() - target)
                # A day's slots come in time order: past the wanted start, each is
                # further off than the last; once beyond the nearest ``limit`` found,
                # so is the rest of the day.
                if slot.start.timestamp() > target and len(found) >= limit \
                        and gap > heapq.nsmallest(limit, (g for g, _ in found))[-1]:
                    break
                found.append((gap, slot))
        found.sort(key=lambda pair: (pair[0], pair[1].start))
        # Slots on days further away start before this search's first local day or
        # from the day after its last: at least ``beyond`` seconds off.
        first = day_bounds(day - timedelta(days=distance), clinic.time_zone)[0]
        after = day_bounds(day + timedelta(days=distance + 1), clinic.time_zone)[0]
        beyond = max(min(target - first.timestamp(), after.timestamp() - target),
                     distance * 86400.0)
        if len(found) >= limit and (found[limit - 1][0] < beyond
                                    or found[limit - 1][0] <= distance * 86400):
            break
    return [slot for _, slot in found[:limit]]


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
