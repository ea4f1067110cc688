"""Alternatives for a refused booking: the nearest free times of the wanted provider,
then other providers at the wanted time (:func:`find_alternatives`, called by the rules).

The same provider's days are searched with :func:`scheduling.availability` 's day search;
for a type of capacity 1 a start that clashes with a booking of the provider (or of the
patient) jumps to the end of that booking (:func:`clash_until`) instead of judging each
grid start inside it with every rule: the rules refuse all of those starts anyway, so the
slots found are the same.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import lru_cache, partial

from scheduling import placement as pl
from scheduling.availability import SlotQuery, _as_alternative, _provider_day_slots
from scheduling.commands import Actor, Alternative, Policy
from scheduling.model import AppointmentType
from scheduling.slot_memo import SlotMemo, for_patient
from scheduling.state import CalendarState
from scheduling.timeutil import Interval, day_bounds, local_date


def clash_until(
    state: CalendarState, provider_id: str, kind: AppointmentType, duration: timedelta,
    patient_id: str | None, ignore: Collection[str],
) -> Callable[[float], float]:
    """For a start ``t`` (epoch seconds) of ``kind`` lasting ``duration`` with
    ``provider_id`` (and ``patient_id``): the latest instant up to which a booking it
    clashes with refuses every start from ``t`` on — ``t`` itself when none does.

    As the rules judge a clash (:func:`scheduling.placement.violations`, capacity 1): a
    booking of the provider whose padded time overlaps the start's padded time
    ``[t - buffer before, t + duration + buffer after)`` refuses every start before its
    padded end plus the buffer before; one of the patient overlapping
    ``[t, t + duration)`` every start before its end. Bookings in ``ignore`` do not count.
    """
    before = kind.buffer_before.total_seconds()
    reach = duration.total_seconds() + kind.buffer_after.total_seconds()
    seconds = duration.total_seconds()
    provider = state.timeline(provider_id)
    patient = state.patient_timeline(patient_id) if patient_id is not None else None

    def until(t: float) -> float:
        free = t
        if provider is not None:
            for _start, end, other_id in provider.overlapping(t - before, t + reach):
                if other_id not in ignore:
                    free = max(free, end + before)
        if patient is not None:
            for _start, end, other_id in patient.overlapping(t, t + seconds):
                if other_id not in ignore:
                    free = max(free, end)
        return free

    return until


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
    # Of the other providers only as many are offered as the list below leaves room for:
    # the two it keeps for them, or what the same provider's times leave free.
    wanted_others = min(limit, max(2, limit - len(same_provider)))
    others = _other_providers(state, wanted, kind, clinic.time_zone, now, actor, ignore,
                              wanted_others)
    reserved = min(len(others), 2)  # keep room for other providers at the wanted time
    chosen = same_provider[: limit - reserved] + others[:reserved]
    rest = same_provider[limit - reserved :] + others[reserved:]
    chosen += rest[: limit - len(chosen)]
    return tuple(chosen)


def _other_providers(
    state: CalendarState, wanted: pl.Placement, kind: AppointmentType, tz: str, now: datetime,
    actor: Actor, ignore: Collection[str], count: int,
) -> list[Alternative]:
    """The first ``count`` other providers of the clinic (by name) the rules accept at the
    wanted time, each in the first room and equipment that fit.

    What every provider shares is worked out once: the rooms and equipment to try (for a
    type of capacity 1 without those busy then), the local day, whether the patient is
    busy then (for capacity 1 the rules then refuse every provider). A provider whose
    working windows that day do not hold the wanted time, or (capacity 1) busy then, is
    passed before any rule: the rules refuse it (working hours; a clash)."""
    if count <= 0:
        return []
    duration = wanted.end - wanted.start
    target = wanted.start.timestamp()
    single = kind.capacity == 1
    if single and wanted.patient_id is not None:
        patient = state.patient_timeline(wanted.patient_id)
        if patient is not None and any(
                other_id not in ignore
                for _start, _end, other_id in patient.overlapping(
                    target, target + duration.total_seconds())):
            return []
    anywhere = pl.Placement(wanted.clinic_id, wanted.patient_id, kind.id, wanted.provider_id,
                            wanted.start, wanted.end)  # rooms and equipment left to choose
    shapes = [(c.room_id, c.equipment_ids)
              for c in pl.candidate_placements(state, anywhere, kind, False, False)]
    if single:  # a room or equipment busy then is busy with every provider
        shapes = [(room_id, equipment_ids) for room_id, equipment_ids in shapes
                  if not any(clash_until(state, r, kind, duration, None, ignore)(target) > target
                             for r in (room_id, *equipment_ids) if r is not None)]
    if not shapes:
        return []
    day = local_date(wanted.start, tz)
    wanted_time = Interval(wanted.start, wanted.end)
    found: list[Alternative] = []
    for provider in sorted(state.providers_at(wanted.clinic_id), key=lambda r: r.name):
        if provider.id == wanted.provider_id:
            continue
        windows = state.working_windows(provider.id, wanted.clinic_id, day)
        if not any(window.contains(wanted_time) for window in windows):
            continue  # not working then: the rules refuse every candidate
        if single and clash_until(state, provider.id, kind, duration, None,
                                  ignore)(target) > target:
            continue  # busy then: the rules refuse every candidate
        for room_id, equipment_ids in shapes:
            candidate = pl.Placement(wanted.clinic_id, wanted.patient_id, kind.id,
                                     provider.id, wanted.start, wanted.end, room_id,
                                     equipment_ids)
            if not pl.violations(state, candidate, now=now, actor=actor, ignore=ignore,
                                 first_only=True):
                found.append(_as_alternative(candidate))
                break
        if len(found) >= count:
            break
    return found


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
    kind = state.appointment_types[wanted.appointment_type_id]
    skip = clash_until(state, wanted.provider_id, kind, duration, wanted.patient_id, ignore)
    day_slots: Callable[..., Iterable[Alternative]] = partial(
        _provider_day_slots, state, query, wanted.provider_id, now=now, policy=policy,
        actor=actor, ignore=ignore, skip=skip)
    memo = state.slot_memo
    if memo is not None and kind.capacity == 1:
        day_slots = _kept_day_search(state, memo, query, now, policy, actor, ignore)
    found: list[tuple[float, Alternative]] = []
    for distance in range(policy.alternatives_horizon_days + 1):
        days = {day + timedelta(days=distance), day - timedelta(days=distance)}
        for each in sorted(days):
            for slot in day_slots(day=each):
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
        first = _midnight(day - timedelta(days=distance), clinic.time_zone)
        after = _midnight(day + timedelta(days=distance + 1), clinic.time_zone)
        beyond = max(min(target - first, after - target), distance * 86400.0)
        if len(found) >= limit and (found[limit - 1][0] < beyond
                                    or found[limit - 1][0] <= distance * 86400):
            break
    return [slot for _, slot in found[:limit]]


def _kept_day_search(
    state: CalendarState, memo: SlotMemo, query: SlotQuery, now: datetime, policy: Policy,
    actor: Actor, ignore: Collection[str],
) -> Callable[..., Iterator[Alternative]]:
    """The day search of :func:`_nearest_for_provider` through a push run's memo: for a
    ``day``, the provider's free slots on it for no particular patient, kept, then those
    free for the query's patient (:func:`scheduling.slot_memo.for_patient`). What every
    day shares (the search's key, the resources it judges) is worked out once."""
    (provider_id,) = query.provider_ids or ()
    kind = state.appointment_types[query.appointment_type_id]
    duration = query.duration or kind.default_duration
    anyone = replace(query, patient_id=None)
    skip = clash_until(state, provider_id, kind, duration, None, ignore)
    key = (provider_id, query.clinic_id, kind.id, duration, query.step or policy.slot_step,
           actor, now, frozenset(ignore))
    judged = frozenset({provider_id, *kind.requirement.rooms,
                        *(e for group in kind.requirement.equipment for e in group)})

    def search(day: date) -> Iterator[Alternative]:
        slots = memo.day_slots(day, key, judged, lambda: _provider_day_slots(
            state, anyone, provider_id, day, now, policy, actor, ignore=ignore, skip=skip))
        return for_patient(state, slots, query.patient_id, ignore)

    return search


@lru_cache(maxsize=4096)
def _midnight(day: date, tz: str) -> float:
    """Epoch seconds of local midnight starting ``day`` (kept: refusals ask for the same
    few days)."""
    return day_bounds(day, tz)[0].timestamp()
