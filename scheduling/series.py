"""Recurring series: booking them and editing this / this and following / all.

A series is judged occurrence by occurrence with the ordinary rules, so the
answer is one outcome per occurrence ("Mon/Wed 09:00 for 6 weeks" → 12
results), each refusal with its own alternatives. Later occurrences are judged
with the earlier accepted ones in place. ``state`` is used as scratch space
and restored before returning; the caller applies the accepted outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import (
    Accepted,
    BookAppointment,
    CancelAppointment,
    MoveAppointment,
    Outcome,
    Policy,
    Refused,
)
from scheduling.errors import SchedulingInputError
from scheduling.model import Appointment, Series
from scheduling.recurrence import expand, parse_rrule
from scheduling.rules import check
from scheduling.state import CalendarState
from scheduling.status import MOVABLE
from scheduling.timeutil import to_local


class SeriesScope(StrEnum):
    THIS = "this"
    FOLLOWING = "following"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class OccurrenceResult:
    original_start: datetime
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class SeriesOutcome:
    """Per-occurrence outcomes plus the series record(s) as they will be."""

    results: tuple[OccurrenceResult, ...]
    series: tuple[Series, ...]

    @property
    def accepted(self) -> list[Appointment]:
        return [
            appointment
            for result in self.results
            if isinstance(result.outcome, Accepted)
            for appointment in result.outcome.appointments
        ]

    @property
    def refused(self) -> list[OccurrenceResult]:
        return [r for r in self.results if isinstance(r.outcome, Refused)]


def occurrence_id(series_id: str, original_local: datetime) -> str:
    """A stable id for an occurrence, so re-sending a series booking is idempotent."""
    return f"{series_id}@{original_local.strftime('%Y%m%dT%H%M')}"


def book_series(
    state: CalendarState,
    template: BookAppointment,
    series: Series,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> SeriesOutcome:
    """Judge every occurrence of ``series`` booked like ``template`` (its start is ignored;
    its duration, provider, patient, type, room and notes are used)."""
    clinic = state.clinic(series.clinic_id)
    duration = (
        template.end - template.start
        if template.end is not None
        else state.appointment_type(template.appointment_type_id).default_duration
    )
    occurrences = expand(series.rrule, series.first_local, clinic.time_zone,
                         max_occurrences=policy.max_occurrences, exdates=series.exdates)
    results: list[OccurrenceResult] = []
    with _scratch(state) as scratch:
        for occurrence in occurrences:
            command = replace(
                template,
                appointment_id=occurrence_id(series.id, occurrence.original_local),
                start=occurrence.start,
                end=occurrence.start + duration,
                series_id=series.id,
                original_start=occurrence.start,
            )
            outcome = check(command, state, now, policy)
            if isinstance(outcome, Accepted):
                scratch(outcome.appointments)
            results.append(OccurrenceResult(occurrence.start, outcome))
    return SeriesOutcome(tuple(results), (series,))


def move_in_series(
    state: CalendarState,
    command: MoveAppointment,
    scope: SeriesScope,
    series: Series,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
    *,
    new_series_id: str | None = None,
) -> SeriesOutcome:
    """Move one occurrence, or it and the following ones, or all, by the same shift.

    "This and following" splits the series: the old one ends before the anchor and the
    moved occurrences form a new series ``new_series_id``.
    """
    anchor = state.appointment(command.appointment_id)
    if scope is SeriesScope.THIS:
        outcome = check(command, state, now, policy)
        return SeriesOutcome((OccurrenceResult(_original(anchor), outcome),), (series,))
    targets = _targets(state, series, anchor, scope)
    shift = command.start - anchor.start
    results: list[OccurrenceResult] = []
    with _scratch(state) as scratch:
        for target in targets:
            state.remove_appointment(target.id)
        for target in targets:
            state.put_appointment(target)
            outcome = check(
                replace(command, appointment_id=target.id, start=target.start + shift),
                state, now, policy,
            )
            state.remove_appointment(target.id)
            if isinstance(outcome, Accepted):
                scratch(outcome.appointments)
            results.append(OccurrenceResult(_original(target), outcome))
    tz = state.clinic(series.clinic_id).time_zone
    wall_of = _original_wall_times(series, tz)
    # The rule itself moves: by the wall-clock shift of the anchor's occurrence.
    wall_shift = to_local(_original(anchor) + shift, tz) - wall_of(_original(anchor))
    if scope is SeriesScope.FOLLOWING:
        if not new_series_id:
            raise SchedulingInputError("splitting a series needs the new series' id")
        records: tuple[Series, ...] = _split(state, series, anchor, new_series_id, wall_shift)
        member_of = new_series_id
    else:
        records = (replace(series, first_local=series.first_local + wall_shift,
                           exdates=frozenset(d + wall_shift for d in series.exdates)),)
        member_of = series.id
    # The moved occurrences are the shifted rule's occurrences now: their original start
    # moves with it, so a later exception of one is recorded at the rule's new time.
    results = [
        OccurrenceResult(
            r.original_start,
            replace(r.outcome, appointments=tuple(
                replace(a, series_id=member_of, original_start=_original(a) + shift)
                for a in r.outcome.appointments
            )) if isinstance(r.outcome, Accepted) else r.outcome,
        )
        for r in results
    ]
    return SeriesOutcome(tuple(results), records)


def cancel_in_series(
    state: CalendarState,
    command: CancelAppointment,
    scope: SeriesScope,
    series: Series,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> SeriesOutcome:
    """Cancel one occurrence (recorded as an exception of the series), the following
    ones, or all that are still ahead."""
    anchor = state.appointment(command.appointment_id)
    targets = [anchor] if scope is SeriesScope.THIS else _targets(state, series, anchor, scope)
    results = [
        OccurrenceResult(
            _original(target),
            check(replace(command, appointment_id=target.id), state, now, policy),
        )
        for target in targets
    ]
    wall_of = _original_wall_times(series, state.clinic(series.clinic_id).time_zone)
    cancelled = {wall_of(r.original_start) for r in results if isinstance(r.outcome, Accepted)}
    return SeriesOutcome(tuple(results), (replace(series, exdates=series.exdates | cancelled),))


# --------------------------------------------------------------------------- internals


def _original(appointment: Appointment) -> datetime:
    return appointment.original_start or appointment.start


def _original_wall_times(series: Series, tz: str) -> Callable[[datetime], datetime]:
    """Map an occurrence's original instant back to the wall time the rule asked for.

    Converting the instant back is not enough: an occurrence asked for at 02:30 in a
    spring-forward gap happens at 03:30, but its identity (and exception date) is 02:30.
    """
    walls = {
        o.start: o.original_local
        for o in expand(series.rrule, series.first_local, tz, max_occurrences=10_000)
    }
    return lambda instant: walls.get(instant) or to_local(instant, tz)


def _targets(
    state: CalendarState, series: Series, anchor: Appointment, scope: SeriesScope
) -> list[Appointment]:
    members = sorted(
        (
            a
            for a in state.appointments.values()
            if a.series_id == series.id and not a.deleted and a.status in MOVABLE
        ),
        key=_original,
    )
    if scope is SeriesScope.FOLLOWING:
        members = [a for a in members if _original(a) >= _original(anchor)]
    return members


def _split(
    state: CalendarState, series: Series, anchor: Appointment, new_id: str,
    wall_shift: timedelta,
) -> tuple[Series, Series]:
    """End ``series`` before ``anchor`` and start ``new_id`` at the anchor's occurrence
    shifted by ``wall_shift`` (its exceptions after the cut shifted alike)."""
    tz = state.clinic(series.clinic_id).time_zone
    rule = parse_rrule(series.rrule)
    anchor_wall = _original_wall_times(series, tz)(_original(anchor))
    cut = anchor_wall - timedelta(seconds=1)
    ended = replace(
        series,
        rrule=replace(rule, count=None, until=cut.strftime("%Y%m%dT%H%M%S")).to_rrule(),
    )
    remaining = sum(
        1
        for a in state.appointments.values()
        if a.series_id == series.id and _original(a) >= _original(anchor)
    )
    new_rule = replace(rule, count=remaining, until=None) if rule.count else rule
    started = Series(
        new_id, series.organization_id, series.clinic_id, new_rule.to_rrule(),
        anchor_wall + wall_shift,
        frozenset(d + wall_shift for d in series.exdates if d > cut),
    )
    return ended, started


@contextmanager
def _scratch(
    state: CalendarState,
) -> Iterator[Callable[[tuple[Appointment, ...]], None]]:
    """Let the caller put appointments into ``state``; restore it on exit."""
    saved: dict[str, Appointment | None] = {}

    def apply(appointments: tuple[Appointment, ...]) -> None:
        for appointment in appointments:
            saved.setdefault(appointment.id, state.appointments.get(appointment.id))
            state.put_appointment(appointment)

    before = dict(state.appointments)
    try:
        yield apply
    finally:
        for appointment_id, previous in saved.items():
            state.remove_appointment(appointment_id)
            if previous is not None:
                state.put_appointment(previous)
        for appointment_id, appointment in before.items():
            if state.appointments.get(appointment_id) is not appointment:
                state.put_appointment(appointment)
