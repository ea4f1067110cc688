"""The push run's fast path for moves, resizes and cancellations: judged on the run's
state like its bookings (:func:`~sync_server.services.booking.push_run.book_in_run`) and
staged, so a desk's backlog of changes writes many rows per statement instead of a
handful of statements each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from scheduling.audit import audit_record
from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import (
    CancelAppointment,
    Command,
    MoveAppointment,
    Policy,
    Refused,
    ResizeAppointment,
)
from sync_server.services.booking.locks import _candidate_resources, _days, _quota_keys
from sync_server.services.booking.outcomes import (
    BookingResult,
    Caller,
    _accepted,
    _intent_name,
    _refuse,
)
from sync_server.services.booking.push_run import _check_in_run, _current_run
from sync_server.services.calendar import Scope
from sync_server.services.events import Placement, appointment_event
from sync_server.services.unit_of_work import unit_of

#: The changes this path takes; status changes and the rest take :func:`change`.
STAGED_CHANGES = (MoveAppointment, ResizeAppointment, CancelAppointment)


def change_in_run(
    session: Session, caller: Caller, command: Command, now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> BookingResult | None:
    """A move, resize or cancellation of an appointment the run's state holds, judged
    on that state as :func:`~sync_server.services.booking.change` judges it there, and
    staged (:meth:`PushRun.stage`) instead of written through the session; refused, it
    is refused as :func:`change` refuses it.

    ``None``: not this path's case (no run, the appointment not in its state or its lock
    not held by this run, a group type, a change the run's locks do not cover, an override); the
    staged rows are written and :func:`change` must take it."""
    run = _current_run(session)
    if run is None or not isinstance(command, STAGED_CHANGES):
        return None
    org = caller.organization_id
    current = run.state.appointments.get(command.appointment_id)
    overridden = run.overridden.get(command.appointment_id) \
        if command.appointment_id in run.locked else None
    kind = run.state.appointment_types.get(current.appointment_type_id) if current else None
    if current is None or overridden is None or kind is None or kind.capacity > 1 \
            or current.deleted or current.organization_id != org:
        run.flush(session)
        return None
    named = {current.provider_id, current.room_id, *current.equipment_ids}
    moments = [current.start, current.end]
    if isinstance(command, MoveAppointment):
        named |= {command.provider_id, command.room_id}
        named |= _candidate_resources(kind, rooms=command.room_id is None,
                                      equipment=not current.equipment_ids)
        moments += [command.start, command.start + (current.end - current.start)]
    elif isinstance(command, ResizeAppointment):
        moments.append(command.end)
    clinic = run.state.clinics.get(current.clinic_id)
    days = _days(clinic.time_zone if clinic else "UTC", moments)
    keys = {k for k in named if k} | _quota_keys(session, org, current.clinic_id, days)
    scope = Scope(current.clinic_id, min(days), max(days),
                  patient_ids=frozenset({current.patient_id}),
                  appointment_ids=frozenset({current.id}), resource_ids=frozenset(keys))
    if not run.covers(scope):
        run.flush(session)
        return None
    intent = _intent_name(command)
    outcome = _check_in_run(session, run, command, now, policy)
    if isinstance(outcome, Refused):
        return _refuse(session, caller, outcome, now, intent, current.id, run.state,
                       current.clinic_id)
    appointments = list(outcome.appointments)
    if outcome.overridden or [a.id for a in appointments] != [current.id]:
        run.flush(session)
        return None
    before = Placement.of(current)
    placed = isinstance(command, MoveAppointment | ResizeAppointment)
    flag = False if placed else overridden  # as _write: a placed change is not overridden
    changed = appointments[0]
    run.stage(org, changed, kind, now, overridden=flag, new=False)
    if outcome.notices:
        # A notice's handler may read the row (a late cancellation's fee): write it now.
        run.flush(session)
    record = audit_record(command, outcome, now)
    uow = unit_of(session)
    uow.emit(_accepted(caller, now, record.intent, "appointment", record.target, appointments,
                       outcome=record.outcome.value, reason=record.reason),
             appointment_event(org, before, changed))
    return BookingResult(None, tuple(appointments), outcome.notices, (), uow.versions[org],
                         clinic=clinic)
