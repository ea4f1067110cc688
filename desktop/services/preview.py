"""Live verdicts while the receptionist drags: judged in memory, never written.

A :class:`DragJudge` loads the optimistic calendar once, when a drag starts, and
then answers every mouse move by running the scheduling core's
:func:`scheduling.rules.check` against that in-memory state: no database access
per move, and the same rules that will judge the real action on release (which
goes through :mod:`desktop.services.booking` and may still refuse if the store
changed meanwhile). Alternatives are not searched while dragging (too slow for
a mouse move, and the drop target is the receptionist's own choice).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from desktop.services import mapping
from desktop.services.calendar import load_state, window_for
from desktop.services.context import DeskContext
from desktop.services.dto import RefusalDTO
from desktop.store.models import AppointmentRow, WaitlistEntryRow
from scheduling.commands import (
    Actor,
    BookAppointment,
    Command,
    MoveAppointment,
    Policy,
    Refused,
    ResizeAppointment,
)
from scheduling.model import AppointmentSource
from scheduling.refusals import RefusalCode
from scheduling.rules import check
from scheduling.state import CalendarState

PREVIEW_ID = "preview"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the rules would accept a drop there, and if not, why."""

    ok: bool
    refusal: RefusalDTO | None = None


class DragJudge:
    """Judges the placements of one drag against a state loaded once."""

    def __init__(self, state: CalendarState, actor: Actor, now: datetime, policy: Policy) -> None:
        self._state = state
        self._actor = actor
        self._now = now
        self._policy = replace(policy, max_alternatives=0)
        self._cache: dict[Command, Verdict] = {}

    @classmethod
    def load(
        cls,
        ctx: DeskContext,
        first: datetime,
        last: datetime,
        *,
        appointment_id: str | None = None,
        waitlist_entry_id: str | None = None,
    ) -> DragJudge:
        """Load the state for drops between instants ``first`` and ``last`` (the visible
        range); raises ``SessionLocked`` when the session is locked."""
        user = ctx.user()
        actor = ctx.actor()
        with ctx.store.session() as session:
            patient_ids: list[str] = []
            if appointment_id is not None:
                row = session.get(AppointmentRow, appointment_id)
                if row is not None:
                    patient_ids.append(row.patient_id)
            if waitlist_entry_id is not None:
                entry = session.get(WaitlistEntryRow, waitlist_entry_id)
                if entry is not None:
                    patient_ids.append(entry.patient_id)
            state = load_state(
                session, user.organization_id, window_for(first, last, ctx.policy),
                appointment_ids=() if appointment_id is None else (appointment_id,),
                patient_ids=patient_ids,
            )
        return cls(state, actor, ctx.now(), ctx.policy)

    def series_of(self, appointment_id: str) -> str | None:
        """The series the appointment belongs to, if any."""
        current = self._state.appointments.get(appointment_id)
        return None if current is None else current.series_id

    def visit_of(self, appointment_id: str) -> str | None:
        """The visit the appointment belongs to, if any."""
        current = self._state.appointments.get(appointment_id)
        return None if current is None else current.visit_id

    def entry_duration(self, entry_id: str) -> timedelta | None:
        """The default length of a waitlist entry's appointment type."""
        entry = self._state.waitlist.get(entry_id)
        kind = None if entry is None else self._state.appointment_types.get(
            entry.appointment_type_id)
        return None if kind is None else kind.default_duration

    def move(self, appointment_id: str, start: datetime, *, provider_id: str | None = None,
             room_id: str | None = None) -> Verdict:
        return self._judge(MoveAppointment(self._actor, appointment_id, start, provider_id,
                                           room_id))

    def resize(self, appointment_id: str, end: datetime) -> Verdict:
        return self._judge(ResizeAppointment(self._actor, appointment_id, end))

    def book_from_waitlist(self, entry_id: str, start: datetime, *, provider_id: str,
                           room_id: str | None = None) -> Verdict:
        entry = self._state.waitlist.get(entry_id)
        if entry is None:
            return Verdict(False, mapping.refusal_dto(_unknown("waitlist entry")))
        return self._judge(BookAppointment(
            self._actor, PREVIEW_ID, entry.clinic_id, entry.patient_id,
            entry.appointment_type_id, provider_id, start, None, room_id,
            source=AppointmentSource.WAITLIST,
        ))

    def _judge(self, command: Command) -> Verdict:
        verdict = self._cache.get(command)
        if verdict is None:
            outcome = check(command, self._state, self._now, self._policy)
            verdict = (
                Verdict(False, mapping.refusal_dto(outcome)) if isinstance(outcome, Refused)
                else Verdict(True)
            )
            self._cache[command] = verdict
        return verdict


def _unknown(kind: str) -> Refused:
    return Refused(RefusalCode.UNKNOWN_RECORD, {"kind": kind})


__all__ = ["DragJudge", "Verdict"]
