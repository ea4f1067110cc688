"""Waitlist matching: who should be offered a slot that has just been freed.

Matching is a pre-filter for the front desk: it answers "whose wishes does
this slot meet?". It does not book anything, so it does not repeat the rules
engine's conflict, room or quota checks; the offer that follows is a normal
booking and goes through the rules like any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from scheduling.errors import InvalidIntervalError, SchedulingInputError
from scheduling.model import AppointmentType, ResourceKind, WaitlistEntry
from scheduling.state import CalendarState
from scheduling.timeutil import require_aware, to_local


@dataclass(frozen=True, slots=True)
class FreedSlot:
    """Time that became free with one provider (a cancellation, a no-show, a moved booking).

    ``start`` and ``end`` are stored as aware UTC instants. ``room_id`` is the room the
    freed booking used, carried along for the offer; matching does not depend on it.
    """

    clinic_id: str
    provider_id: str
    start: datetime
    end: datetime
    room_id: str | None = None

    def __post_init__(self) -> None:
        start = require_aware(self.start, "start")
        end = require_aware(self.end, "end")
        if end <= start:
            raise InvalidIntervalError("a freed slot must end after it starts")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def rank(entries: Iterable[WaitlistEntry]) -> list[WaitlistEntry]:
    """Entries in serving order: highest priority first, then the oldest, then by id."""
    return sorted(entries, key=_serving_order)


def matching_entries(
    state: CalendarState, slot: FreedSlot, *, now: datetime, limit: int | None = None
) -> list[WaitlistEntry]:
    """The waitlist entries ``slot`` could serve, in serving order (see :func:`rank`).

    An entry matches when it is active and for the slot's clinic; its patient exists
    and is active; its appointment type exists, its default duration fits in the slot
    and the slot's provider is qualified for it (active, assigned to the clinic, and
    listed by the type when the type lists providers); the slot starts after ``now``;
    and the entry's preferences allow the slot. Preferences are read in the clinic's
    local time: ``preferred_weekdays`` (0 = Monday) against the slot's local start date,
    ``preferred_times`` as same-day ``(from, to)`` ranges, one of which must contain the
    whole appointment (slot start to start + default duration). An empty preference
    accepts anything.

    Raises :class:`~scheduling.errors.NaiveDatetimeError` for a naive ``now`` and
    :class:`~scheduling.errors.UnknownIdError` for an unknown clinic or provider.
    """
    now = require_aware(now, "now")
    if limit is not None and limit < 0:
        raise SchedulingInputError("limit cannot be negative")
    tz = state.clinic(slot.clinic_id).time_zone
    provider = state.resource(slot.provider_id)
    if (
        slot.start <= now
        or provider.kind is not ResourceKind.PROVIDER
        or not provider.active
        or slot.clinic_id not in provider.clinic_ids
    ):
        return []

    def serves(entry: WaitlistEntry) -> bool:
        kind = state.appointment_types.get(entry.appointment_type_id)
        patient = state.patients.get(entry.patient_id)
        if (
            not entry.active
            or entry.clinic_id != slot.clinic_id
            or patient is None
            or not patient.active
            or kind is None
            or not _fits(kind, slot)
        ):
            return False
        return wishes_allow(entry, slot.provider_id, slot.start, kind.default_duration, tz)

    matches = rank(entry for entry in state.waitlist.values() if serves(entry))
    return matches if limit is None else matches[:limit]


def wishes_allow(entry: WaitlistEntry, provider_id: str, start: datetime,
                 duration: timedelta, tz: str) -> bool:
    """Whether the entry's preferences (provider, local weekday, local time ranges, as
    :func:`matching_entries` reads them) allow an appointment of ``duration`` with
    ``provider_id`` from ``start``."""
    if entry.preferred_provider_ids and provider_id not in entry.preferred_provider_ids:
        return False
    local_start = to_local(start, tz)
    if entry.preferred_weekdays and local_start.weekday() not in entry.preferred_weekdays:
        return False
    if not entry.preferred_times:
        return True
    local_end = to_local(start + duration, tz)
    if local_end.date() != local_start.date():
        return False  # runs past local midnight: no same-day range can hold it
    return any(_contains(window, local_start.time(), local_end.time())
               for window in entry.preferred_times)


def _serving_order(entry: WaitlistEntry) -> tuple[int, datetime, str]:
    return -entry.priority, entry.created_at, entry.id


def _fits(kind: AppointmentType, slot: FreedSlot) -> bool:
    qualified = not kind.requirement.providers or slot.provider_id in kind.requirement.providers
    return qualified and slot.duration >= kind.default_duration


def _contains(window: tuple[time, time], start: time, end: time) -> bool:
    """Whether the local range ``window`` holds ``start``..``end`` (an inverted range holds
    nothing: preferred times do not wrap around midnight)."""
    window_start, window_end = window
    return window_start <= start and end <= window_end
