"""Visits: several appointments of one patient booked together (a scan, then an
adjustment), moved and cancelled together, all or nothing (seed 001).

Each part is judged with the ordinary rules, later parts with the earlier accepted
ones in place (so two parts never take the same provider, room or patient time). A
visit is accepted only when every part is: the first refusal is the answer, its
parameters naming the part (``part``, counted from 0) and the caller stores nothing.
``state`` is scratch space and restored before returning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import (
    Accepted,
    Actor,
    BookAppointment,
    CancelAppointment,
    MoveAppointment,
    Outcome,
    Policy,
    Refused,
)
from scheduling.model import Appointment
from scheduling.refusals import RefusalCode
from scheduling.rules import check
from scheduling.series import _scratch
from scheduling.state import CalendarState


@dataclass(frozen=True, slots=True)
class VisitOutcome:
    """Every part's outcome (judging stops at the first refusal)."""

    results: tuple[Outcome, ...]

    @property
    def refused(self) -> Refused | None:
        """The first part's refusal, naming the part, or None when all were accepted."""
        for index, outcome in enumerate(self.results):
            if isinstance(outcome, Refused):
                return replace(outcome, params={**outcome.params, "part": index})
        return None

    @property
    def accepted(self) -> list[Appointment]:
        """The parts as they will be, when every part was accepted (else nothing)."""
        if self.refused is not None:
            return []
        return [a for o in self.results if isinstance(o, Accepted) for a in o.appointments]

    @property
    def overridden(self) -> tuple[RefusalCode, ...]:
        return tuple(code for o in self.results if isinstance(o, Accepted)
                     for code in o.overridden)


def parts_of(state: CalendarState, visit_id: str) -> list[Appointment]:
    """The visit's appointments in ``state``, earliest first (cancelled ones included)."""
    return sorted((a for a in state.appointments.values()
                   if a.visit_id == visit_id and not a.deleted), key=lambda a: (a.start, a.id))


def book_visit(
    state: CalendarState, commands: Sequence[BookAppointment], now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> VisitOutcome:
    """Judge booking every part (each command carries the visit's id)."""
    results: list[Outcome] = []
    with _scratch(state) as scratch:
        for command in commands:
            outcome = check(command, state, now, policy)
            results.append(outcome)
            if not isinstance(outcome, Accepted):
                break
            scratch(outcome.appointments)
    return VisitOutcome(tuple(results))


def move_visit(
    state: CalendarState, visit_id: str, shift: timedelta, actor: Actor, now: datetime,
    policy: Policy = DEFAULT_POLICY, *, override_reason: str | None = None,
) -> VisitOutcome:
    """Move every part still to come by the same ``shift`` (parts keep their order)."""
    parts = [a for a in parts_of(state, visit_id) if a.is_active]
    if not parts:
        return VisitOutcome((Refused(RefusalCode.UNKNOWN_RECORD, {"kind": "appointment"}),))
    results: list[Outcome] = []
    with _scratch(state) as scratch:
        for part in parts:  # judged without the visit's own old places
            state.remove_appointment(part.id)
        for part in parts:
            state.put_appointment(part)
            outcome = check(MoveAppointment(actor, part.id, part.start + shift,
                                            override_reason=override_reason),
                            state, now, policy)
            state.remove_appointment(part.id)
            results.append(outcome)
            if not isinstance(outcome, Accepted):
                break
            scratch(outcome.appointments)
    return VisitOutcome(tuple(results))


def cancel_visit(
    state: CalendarState, visit_id: str, actor: Actor, reason: str, now: datetime, *,
    category: str | None = None, override_reason: str | None = None,
) -> VisitOutcome:
    """Cancel every part that still occupies time."""
    parts = [a for a in parts_of(state, visit_id) if a.is_active]
    if not parts:
        return VisitOutcome((Refused(RefusalCode.UNKNOWN_RECORD, {"kind": "appointment"}),))
    results: list[Outcome] = []
    for part in parts:
        outcome = check(CancelAppointment(actor, part.id, reason, override_reason, category),
                        state, now)
        results.append(outcome)
        if not isinstance(outcome, Accepted):
            break
    return VisitOutcome(tuple(results))


__all__ = ["VisitOutcome", "book_visit", "cancel_visit", "move_visit", "parts_of"]
