"""Judging one concrete placement: who, with whom, where, when.

This is the single predicate both the rules engine and availability use, so
a slot that availability offers is exactly a slot the rules accept. Checks run
in a fixed order (seed 001 extended by seeds 000/003):

1. patient exists and is active
2. provider exists, is active, is assigned to the clinic, is qualified for the type
3. rooms/equipment exist, belong to the clinic and fit the type; online bookability
4. booking window: not in the past, minimum notice, maximum days ahead,
   restricted resources' lead time
5. working hours: holiday, weekly hours and breaks, time off, blockouts, outages
6. duration bounds
7. conflicts: provider, room, equipment (active bookings, buffers included),
   then the patient; group slots count toward capacity instead
8. buffers (too close to a neighbour without overlapping it)
9. quotas per day/week
10. restricted resources → the booking is accepted as *pending* (NEEDS_APPROVAL)
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import product

from scheduling.commands import Actor, Permission
from scheduling.model import AppointmentType, QuotaPeriod, Resource, ResourceKind
from scheduling.refusals import RefusalCode as R
from scheduling.state import CalendarState
from scheduling.timeutil import Interval, local_date


@dataclass(frozen=True, slots=True)
class Placement:
    """A fully specified booking to judge (resources chosen, times known)."""

    clinic_id: str
    patient_id: str | None
    appointment_type_id: str
    provider_id: str
    start: datetime
    end: datetime
    room_id: str | None = None
    equipment_ids: tuple[str, ...] = ()

    def resource_ids(self) -> tuple[str, ...]:
        ids = [self.provider_id]
        if self.room_id:
            ids.append(self.room_id)
        ids.extend(self.equipment_ids)
        return tuple(ids)


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule. ``free_from`` (epoch seconds) is the earliest start at which this
    particular obstacle would be gone, when known — availability uses it to jump ahead."""

    code: R
    params: dict[str, object]
    free_from: float | None = None


@dataclass(frozen=True, slots=True)
class Checks:
    """Which stages apply: a resize does not re-check the booking window, for instance."""

    window: bool = True
    hours: bool = True


ALL_CHECKS = Checks()


def violations(
    state: CalendarState,
    placement: Placement,
    *,
    now: datetime,
    actor: Actor,
    ignore: Collection[str] = (),
    checks: Checks = ALL_CHECKS,
    first_only: bool = False,
) -> list[Violation]:
    """Every rule ``placement`` breaks, in the documented order (or just the first)."""
    found: list[Violation] = []
    for violation in _iter_violations(state, placement, now, actor, ignore, checks):
        found.append(violation)
        if first_only or violation.code not in _CONTINUABLE:
            break
    return found


def needs_approval(state: CalendarState, placement: Placement, actor: Actor) -> list[Resource]:
    """Restricted resources of the placement that need approval the actor cannot give."""
    if actor.may(Permission.APPROVE):
        return []
    restricted = []
    for resource_id in placement.resource_ids():
        resource = state.resources.get(resource_id)
        if resource and resource.restriction and resource.restriction.requires_approval:
            restricted.append(resource)
    return restricted


def candidate_placements(
    state: CalendarState, base: Placement, kind: AppointmentType, room_fixed: bool,
    equipment_fixed: bool,
) -> Iterator[Placement]:
    """The placements to try when the room or equipment is left for the rules to choose."""
    rooms: list[str | None]
    if room_fixed or not kind.requirement.rooms:
        rooms = [base.room_id]
    else:
        rooms = [
            r
            for r in sorted(kind.requirement.rooms)
            if (res := state.resources.get(r)) is not None
            and res.active
            and base.clinic_id in res.clinic_ids
        ]
        if base.room_id in rooms:  # a move tries the room it already has first
            rooms.remove(base.room_id)
            rooms.insert(0, base.room_id)
    if equipment_fixed or not kind.requirement.equipment:
        equipment_choices: list[tuple[str, ...]] = [base.equipment_ids]
    else:
        groups = [
            sorted(
                e
                for e in group
                if (res := state.resources.get(e)) is not None
                and res.active
                and base.clinic_id in res.clinic_ids
            )
            for group in kind.requirement.equipment
        ]
        equipment_choices = [tuple(choice) for choice in product(*groups)]
        if base.equipment_ids in equipment_choices:  # a move tries its own items first
            equipment_choices.remove(base.equipment_ids)
            equipment_choices.insert(0, base.equipment_ids)
    for room in rooms:
        for equipment in equipment_choices:
            yield Placement(
                base.clinic_id, base.patient_id, base.appointment_type_id, base.provider_id,
                base.start, base.end, room, equipment,
            )


# Codes after which later checks still make sense to report (for overrides, which need
# to know *every* obstacle): conflicts and buffers. Anything else stops the evaluation.
_CONTINUABLE = frozenset(
    {R.PROVIDER_BUSY, R.ROOM_BUSY, R.EQUIPMENT_BUSY, R.PATIENT_DOUBLE_BOOKED, R.BUFFER_CONFLICT,
     R.CAPACITY_REACHED}
)


def _iter_violations(
    state: CalendarState,
    p: Placement,
    now: datetime,
    actor: Actor,
    ignore: Collection[str],
    checks: Checks,
) -> Iterator[Violation]:
    # 1. patient
    if p.patient_id is not None:
        patient = state.patients.get(p.patient_id)
        if patient is None:
            yield Violation(R.UNKNOWN_RECORD, {"kind": "patient"})
            return
        if not patient.active:
            yield Violation(R.PATIENT_INACTIVE, {"patient_id": p.patient_id})
            return
    clinic = state.clinics.get(p.clinic_id)
    kind = state.appointment_types.get(p.appointment_type_id)
    if clinic is None:
        yield Violation(R.UNKNOWN_RECORD, {"kind": "clinic"})
        return
    if kind is None:
        yield Violation(R.UNKNOWN_RECORD, {"kind": "appointment type"})
        return
    tz = clinic.time_zone

    # 2. provider
    provider = state.resources.get(p.provider_id)
    if provider is None or provider.kind is not ResourceKind.PROVIDER:
        yield Violation(R.UNKNOWN_RECORD, {"kind": "provider"})
        return
    if not provider.active:
        yield Violation(R.PROVIDER_INACTIVE, {"provider": provider.id})
        return
    if p.clinic_id not in provider.clinic_ids:
        yield Violation(R.PROVIDER_NOT_AT_CLINIC, {"provider": provider.id, "clinic": clinic.id})
        return
    if kind.requirement.providers and provider.id not in kind.requirement.providers:
        yield Violation(
            R.PROVIDER_NOT_QUALIFIED, {"provider": provider.id, "appointment_type": kind.id}
        )
        return

    # 3. rooms and equipment
    resources = [provider]
    if kind.requirement.rooms and p.room_id is None:
        yield Violation(R.NO_SUITABLE_ROOM, {"appointment_type": kind.id})
        return
    if p.room_id is not None:
        room = state.resources.get(p.room_id)
        if room is None or room.kind is not ResourceKind.ROOM:
            yield Violation(R.UNKNOWN_RECORD, {"kind": "room"})
            return
        if (
            not room.active
            or p.clinic_id not in room.clinic_ids
            or (kind.requirement.rooms and room.id not in kind.requirement.rooms)
        ):
            yield Violation(
                R.RESOURCE_NOT_SUITABLE, {"resource": room.id, "appointment_type": kind.id}
            )
            return
        resources.append(room)
    for group in kind.requirement.equipment:
        if not group & set(p.equipment_ids):
            yield Violation(R.NO_SUITABLE_ROOM, {"appointment_type": kind.id})
            return
    for equipment_id in p.equipment_ids:
        item = state.resources.get(equipment_id)
        if item is None or item.kind is not ResourceKind.EQUIPMENT:
            yield Violation(R.UNKNOWN_RECORD, {"kind": "equipment"})
            return
        if not item.active or p.clinic_id not in item.clinic_ids:
            yield Violation(
                R.RESOURCE_NOT_SUITABLE, {"resource": item.id, "appointment_type": kind.id}
            )
            return
        resources.append(item)
    if actor.online_booking and not kind.online_bookable:
        yield Violation(R.NOT_ONLINE_BOOKABLE, {"appointment_type": kind.id})
        return

    # 4. booking window
    if checks.window:
        if p.start < now:
            yield Violation(R.IN_THE_PAST, {"start": p.start})
            return
        if p.start < now + kind.min_notice:
            earliest = now + kind.min_notice
            yield Violation(
                R.TOO_SHORT_NOTICE,
                {"subject": kind.id, "minutes": _minutes(kind.min_notice), "earliest": earliest},
                earliest.timestamp(),
            )
            return
        if kind.max_days_ahead is not None:
            last_day = local_date(now, tz) + timedelta(days=kind.max_days_ahead)
            if local_date(p.start, tz) > last_day:
                yield Violation(
                    R.TOO_FAR_AHEAD, {"appointment_type": kind.id, "days": kind.max_days_ahead}
                )
                return
        for resource in resources:
            if resource.restriction and p.start < now + resource.restriction.min_lead_time:
                earliest = now + resource.restriction.min_lead_time
                yield Violation(
                    R.TOO_SHORT_NOTICE,
                    {
                        "subject": resource.id,
                        "minutes": _minutes(resource.restriction.min_lead_time),
                        "earliest": earliest,
                    },
                    earliest.timestamp(),
                )
                return

    # 5. working hours
    if checks.hours:
        obstacle = _hours_obstacle(state, p, resources, tz)
        if obstacle is not None:
            yield obstacle
            return

    # 6. duration bounds
    duration = p.end - p.start
    if duration < kind.min_duration:
        yield Violation(
            R.DURATION_TOO_SHORT,
            {"appointment_type": kind.id, "minutes": _minutes(kind.min_duration)},
        )
        return
    if duration > kind.max_duration:
        yield Violation(
            R.DURATION_TOO_LONG,
            {"appointment_type": kind.id, "minutes": _minutes(kind.max_duration)},
        )
        return

    # 7./8. conflicts, capacity and buffers
    yield from _conflicts(state, p, kind, resources, ignore)

    # 9. quotas
    quota = _quota_obstacle(state, p, tz, ignore)
    if quota is not None:
        yield quota


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def _hours_obstacle(
    state: CalendarState, p: Placement, resources: list[Resource], tz: str
) -> Violation | None:
    day = local_date(p.start, tz)
    interval = Interval(p.start, p.end)
    windows = state.working_windows(p.provider_id, p.clinic_id, day)
    if any(w.contains(interval) for w in windows) and all(
        _free_of_blocks(state, r.id, p.clinic_id, interval) for r in resources[1:]
    ):
        return None
    # Diagnose the most specific reason, in the documented order.
    holidays = state.holidays.get(p.clinic_id, {})
    if day in holidays:
        return Violation(
            R.CLINIC_HOLIDAY, {"clinic": p.clinic_id, "day": day, "holiday": holidays[day]}
        )
    hours, time_off = state.scheduled_hours(p.provider_id, p.clinic_id, day)
    if not any(w.contains(interval) for w in hours):
        return Violation(
            R.OUTSIDE_HOURS, {"provider": p.provider_id, "start": p.start, "end": p.end}
        )
    for off in time_off:
        if off.overlaps(interval):
            return Violation(
                R.PROVIDER_TIME_OFF,
                {"provider": p.provider_id, "start": off.start, "end": off.end},
                off.end.timestamp(),
            )
    for resource in resources:
        for blockout in state.blockouts.get(p.clinic_id, ()):
            if (blockout.resource_id in (None, resource.id)) and blockout.start < p.end and (
                p.start < blockout.end
            ):
                return Violation(
                    R.BLOCKED_OUT, {"reason": blockout.reason, "start": blockout.start,
                                    "end": blockout.end}, blockout.end.timestamp()
                )
        for outage in state.outages.get(resource.id, ()):
            if outage.start < p.end and p.start < outage.end:
                return Violation(
                    R.RESOURCE_OUTAGE,
                    {"resource": resource.id, "start": outage.start, "end": outage.end},
                    outage.end.timestamp(),
                )
    # Spanning two windows (e.g. across a break) is outside hours as well.
    return Violation(R.OUTSIDE_HOURS, {"provider": p.provider_id, "start": p.start, "end": p.end})


def _free_of_blocks(
    state: CalendarState, resource_id: str, clinic_id: str, interval: Interval
) -> bool:
    return not state.blocked_periods(resource_id, clinic_id, interval)


def _conflicts(
    state: CalendarState,
    p: Placement,
    kind: AppointmentType,
    resources: list[Resource],
    ignore: Collection[str],
) -> Iterator[Violation]:
    appointments = state.appointments
    padded_start = p.start - kind.buffer_before
    padded_end = p.end + kind.buffer_after
    mates: set[str] = set()
    if kind.capacity > 1:
        for _s, _e, other_id in state.busy_for_resource(p.provider_id, p.start, p.end):
            other = appointments[other_id]
            if (
                other_id not in ignore
                and other.appointment_type_id == kind.id
                and other.start == p.start
                and other.end == p.end
                and other.provider_id == p.provider_id
            ):
                mates.add(other_id)
        if len(mates) >= kind.capacity:
            yield Violation(R.CAPACITY_REACHED, {"capacity": kind.capacity})
    busy_code = {
        ResourceKind.PROVIDER: R.PROVIDER_BUSY,
        ResourceKind.ROOM: R.ROOM_BUSY,
        ResourceKind.EQUIPMENT: R.EQUIPMENT_BUSY,
    }
    buffer_violation: Violation | None = None
    new_before = kind.buffer_before.total_seconds()
    for resource in resources:
        for _s, other_padded_end, other_id in state.busy_for_resource(
            resource.id, padded_start, padded_end
        ):
            if other_id in ignore or other_id in mates:
                continue
            other = appointments[other_id]
            free_from = other_padded_end + new_before
            if other.start < p.end and p.start < other.end:
                yield Violation(
                    busy_code[resource.kind],
                    {
                        resource.kind.value: resource.id,
                        "other_start": other.start,
                        "other_end": other.end,
                    },
                    free_from,
                )
                break
            if buffer_violation is None:
                before, after = state.padding(other)
                gap = max(kind.buffer_before, kind.buffer_after, before, after)
                buffer_violation = Violation(
                    R.BUFFER_CONFLICT,
                    {"resource": resource.id, "minutes": _minutes(gap),
                     "other_start": other.start},
                    free_from,
                )
    if p.patient_id is not None:
        for _s, _e, other_id in state.busy_for_patient(p.patient_id, p.start, p.end):
            if other_id in ignore:
                continue
            other = appointments[other_id]
            yield Violation(
                R.PATIENT_DOUBLE_BOOKED,
                {"other_start": other.start, "other_end": other.end},
                other.end.timestamp(),
            )
            break
    if buffer_violation is not None:
        yield buffer_violation


def _quota_obstacle(
    state: CalendarState, p: Placement, tz: str, ignore: Collection[str]
) -> Violation | None:
    if not state.quotas:
        return None
    day = local_date(p.start, tz)
    for quota in state.quotas:
        if quota.clinic_id != p.clinic_id:
            continue
        if quota.provider_id is not None and quota.provider_id != p.provider_id:
            continue
        if quota.appointment_type_id is not None and (
            quota.appointment_type_id != p.appointment_type_id
        ):
            continue
        if quota.department_id is not None and (
            _department_of(state, p.provider_id) != quota.department_id
        ):
            continue
        days = [day] if quota.period is QuotaPeriod.DAY else _iso_week(day)
        count = 0
        for each in days:
            for other in state.active_on_day(p.clinic_id, each):
                if other.id in ignore:
                    continue
                if quota.provider_id is not None and other.provider_id != quota.provider_id:
                    continue
                if quota.appointment_type_id is not None and (
                    other.appointment_type_id != quota.appointment_type_id
                ):
                    continue
                if quota.department_id is not None and (
                    _department_of(state, other.provider_id) != quota.department_id
                ):
                    continue
                count += 1
        if count >= quota.max_count:
            return Violation(
                R.QUOTA_REACHED, {"max_count": quota.max_count, "period": quota.period.value}
            )
    return None


def _department_of(state: CalendarState, provider_id: str) -> str | None:
    provider = state.resources.get(provider_id)
    return provider.department_id if provider is not None else None


def _iso_week(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(7)]

