"""Free slots by a sweep over each provider's busy times: :func:`free_slots_swept`, the
answer of :func:`scheduling.availability.free_slots` for a :func:`sweepable` query
without judging each start with the rules (the server's free view)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from zoneinfo import ZoneInfo

from scheduling.availability import (
    CALENDAR_READER,
    DEFAULT_POLICY,
    SlotQuery,
    _days,
    _grid_ceil,
    _providers,
)
from scheduling.commands import Actor, Alternative, Policy
from scheduling.state import CalendarState
from scheduling.timeutil import local_date, require_aware, zone


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


