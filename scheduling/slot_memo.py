"""A push run's memo of each provider's free slots per local day.

A sync push run judges its refused bookings on one calendar state, and each refusal
searches the wanted provider's nearest free times over a few days around the wanted
one (:mod:`scheduling.alternatives`). Refusals of a desk's backlog fall on the same
providers and days again and again; the memo keeps, per (provider, local day) and
search (type, duration, grid, actor, now, bookings ignored), the day's free slots as
judged for no particular patient, so the next refusal there reads them instead of
judging the day's starts again.

A patient changes the answer only through the patient's own checks: the patient must
exist and be active (the same for every start) and have no booking overlapping the
slot (:func:`scheduling.placement.violations`); :func:`for_patient` applies
them to the kept slots. Every change of the state's appointments (a booking, move or
cancel put into it) forgets the days it may touch, for every provider
(:meth:`SlotMemo.touched`, called by :meth:`CalendarState.put_appointment`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable
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
class SlotMemo:
    """Free slots per local day and search key (see the module docstring)."""

    _days: dict[date, dict[Hashable, tuple[Alternative, ...]]] = field(default_factory=dict)
    #: How often a kept day answered and how often one was judged (for tests and benches).
    hits: int = 0
    misses: int = 0

    def day_slots(
        self, day: date, key: Hashable, judge: Callable[[], tuple[Alternative, ...]]
    ) -> tuple[Alternative, ...]:
        """The kept slots of ``key`` (which names the provider) on ``day``, or ``judge()``'s
        answer, kept."""
        kept = self._days.setdefault(day, {})
        found = kept.get(key)
        if found is None:
            self.misses += 1
            found = judge()
            if self.misses % _KEEP_AT_MOST == 0:  # a state kept for long: start afresh
                self._days.clear()
                kept = self._days.setdefault(day, {})
            kept[key] = found
        else:
            self.hits += 1
        return found

    def forget(self, day: date) -> None:
        self._days.pop(day, None)

    def touched(self, state: CalendarState, appointment: Appointment) -> None:
        """Forget every local day on which a start could clash with ``appointment``: the
        days its padded time spans, widened by the longest padding any type asks (a
        start's own buffers reach that far)."""
        clinic = state.clinics.get(appointment.clinic_id)
        if clinic is None:  # judged in UTC days by no search of the memo: forget all
            self._days.clear()
            return
        margin = max((t.buffer_before + t.buffer_after
                      for t in state.appointment_types.values()), default=timedelta(0))
        before, after = state.padding(appointment)
        day = local_date(appointment.start - before - margin, clinic.time_zone)
        last = local_date(appointment.end + after + margin, clinic.time_zone)
        while day <= last:
            self.forget(day)
            day += timedelta(days=1)


def for_patient(
    state: CalendarState, slots: tuple[Alternative, ...], patient_id: str | None,
    ignore: Collection[str],
) -> list[Alternative]:
    """Those of ``slots`` (free for no particular patient) that are free for
    ``patient_id``: none when the patient is unknown or inactive, else those the patient
    has no booking overlapping (bookings in ``ignore`` do not count)."""
    if patient_id is None:
        return list(slots)
    patient = state.patients.get(patient_id)
    if patient is None or not patient.active:
        return []
    timeline = state.patient_timeline(patient_id)
    if timeline is None:
        return list(slots)
    return [slot for slot in slots if not any(
        other_id not in ignore for _s, _e, other_id in timeline.overlapping(
            slot.start.timestamp(), slot.end.timestamp()))]
