"""A push run's memo of each provider's free slots per local day.

A sync push run judges its refused bookings on one calendar state, and each refusal
searches the wanted provider's nearest free times over a few days around the wanted
one (:mod:`scheduling.alternatives`). Refusals of a desk's backlog fall on the same
providers and days again and again; the memo keeps, per (provider, local day) and
search (type, duration, grid, actor, now, bookings ignored), the day's free slots as
judged for no particular patient and as far as a search asked for them, so the next
refusal there reads them instead of judging the day's starts again (and goes on judging
where the last one stopped).

A patient changes the answer only through the patient's own checks: the patient must
exist and be active (the same for every start) and have no booking overlapping the
slot (:func:`scheduling.placement.violations`); :func:`for_patient` applies
them to the kept slots. Every change of the state's appointments (a booking, move or
cancel put into it) forgets the searches of the days it may touch that judge one of its
resources — everything while the state has quotas (:meth:`SlotMemo.touched`, called by
:meth:`CalendarState.put_appointment`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from scheduling.commands import Alternative
from scheduling.timeutil import local_date

if TYPE_CHECKING:
    from scheduling.model import Appointment
    from scheduling.state import CalendarState


#: Days judged between two clearings of a memo (bounds what a long-kept state holds).
_KEEP_AT_MOST = 20_000


@dataclass(slots=True)
class _Day:
    """One search's slots of one day as far as they were asked for: those found, the
    search going on from there (None: the day is done), the resources it judged."""

    slots: list[Alternative]
    rest: Iterator[Alternative] | None
    resources: frozenset[str]


@dataclass(slots=True)
class SlotMemo:
    """Free slots per local day and search key (see the module docstring)."""

    _days: dict[date, dict[Hashable, _Day]] = field(default_factory=dict)
    #: How often a kept day answered and how often one was begun (for tests and benches).
    hits: int = 0
    misses: int = 0

    def day_slots(
        self, day: date, key: Hashable, resources: frozenset[str],
        search: Callable[[], Iterator[Alternative]],
    ) -> Iterator[Alternative]:
        """The slots of ``key`` (which names the provider and type) on ``day`` in time
        order: those kept, then ``search()``'s (begun on the first ask, taken only as far
        as they are asked for, kept). ``resources``: every resource the search judges
        (a change of another resource's bookings leaves it kept)."""
        kept = self._days.setdefault(day, {})
        entry = kept.get(key)
        if entry is None:
            self.misses += 1
            if self.misses % _KEEP_AT_MOST == 0:  # a state kept for long: start afresh
                self._days.clear()
                kept = self._days.setdefault(day, {})
            entry = kept[key] = _Day([], search(), resources)
        else:
            self.hits += 1
        index = 0
        while True:
            if index < len(entry.slots):
                yield entry.slots[index]
                index += 1
                continue
            if entry.rest is None:
                return
            found = next(entry.rest, None)
            if found is None:
                entry.rest = None
                return
            entry.slots.append(found)

    def touched(self, state: CalendarState, appointment: Appointment) -> None:
        """Forget what a change of ``appointment`` may change: with quotas, everything (a
        quota counts over days); else, on every local day its padded time spans (widened
        by the longest padding any type asks: a start's own buffers reach that far), the
        searches judging one of its resources."""
        clinic = state.clinics.get(appointment.clinic_id)
        if clinic is None or state.quotas:
            self._days.clear()
            return
        margin = max((t.buffer_before + t.buffer_after
                      for t in state.appointment_types.values()), default=timedelta(0))
        before, after = state.padding(appointment)
        day = local_date(appointment.start - before - margin, clinic.time_zone)
        last = local_date(appointment.end + after + margin, clinic.time_zone)
        resources = set(appointment.resource_ids)
        while day <= last:
            kept = self._days.get(day)
            if kept:
                for key in [k for k, entry in kept.items() if entry.resources & resources]:
                    del kept[key]
            day += timedelta(days=1)


def for_patient(
    state: CalendarState, slots: Iterable[Alternative], patient_id: str | None,
    ignore: Collection[str],
) -> Iterator[Alternative]:
    """Those of ``slots`` (free for no particular patient) that are free for
    ``patient_id``: none when the patient is unknown or inactive, else those the patient
    has no booking overlapping (bookings in ``ignore`` do not count)."""
    if patient_id is None:
        yield from slots
        return
    patient = state.patients.get(patient_id)
    if patient is None or not patient.active:
        return
    timeline = state.patient_timeline(patient_id)
    for slot in slots:
        if timeline is None or not any(
                other_id not in ignore for _s, _e, other_id in timeline.overlapping(
                    slot.start.timestamp(), slot.end.timestamp())):
            yield slot
