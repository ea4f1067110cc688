"""Appointment booking: book one appointment; move, resize, cancel, change the status
of or undo the status of one."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import (
    Accepted,
    BookAppointment,
    CancelAppointment,
    ChangeDetails,
    ChangeStatus,
    Command,
    MoveAppointment,
    Policy,
    Refused,
    ResizeAppointment,
    UndoStatus,
)
from scheduling.refusals import RefusalCode as R
from sync_server.db import models as db
from sync_server.services.booking.judging import _judge
from sync_server.services.booking.locks import (
    _candidate_resources,
    _configuration,
    _days,
    _lock,
    _lock_days,
    _quota_keys,
    _zone,
)
from sync_server.services.booking.occupancy import _write
from sync_server.services.booking.outcomes import (
    BookingResult,
    Caller,
    DuplicateId,
    _intent_name,
    _owned,
    _record,
    _refuse,
    _waitlist_event,
)
from sync_server.services.booking.push_run import _current_run, _judge_in_run
from sync_server.services.calendar import Scope, slot_template_record, waitlist_record
from sync_server.services.unit_of_work import unit_of
from sync_server.waitlist.no_shows import fed_policy


def book(
    session: Session, caller: Caller, command: BookAppointment, now: datetime,
    policy: Policy = DEFAULT_POLICY, *, waitlist_entry: db.WaitlistEntry | None = None,
    fresh_id: bool = False,
) -> BookingResult:
    """Book one appointment (``appointment.book``; ``waitlist.book`` with an entry to close).
    ``fresh_id``: the caller generated the appointment id just now (a random UUID): it is
    not looked up (the primary key still refuses a duplicate)."""
    org = caller.organization_id
    policy = fed_policy(session, org, command.patient_id, now, policy)
    run = _current_run(session)
    if fresh_id:
        duplicate = False
    elif run is not None and command.appointment_id in run.checked:
        duplicate = command.appointment_id in run.existing
    else:
        duplicate = db.get_in_org(session, db.Appointment, org,
                                  command.appointment_id) is not None
    if duplicate:
        raise DuplicateId("An appointment with this id already exists.")
    named = {command.provider_id, command.room_id, *(command.equipment_ids or ())}
    config, kind, resources = _configuration(
        session, org, command.clinic_id, command.appointment_type_id, named,
        rooms=command.room_id is None, equipment=command.equipment_ids is None)
    keys = resources | {command.patient_id}  # as _book_keys
    tz = _zone(config, command.clinic_id)
    end = command.end or command.start + (kind.default_duration if kind else timedelta(0))
    days = _days(tz, [command.start, end])
    quota = _quota_keys(session, org, command.clinic_id, days, config)
    scope = Scope(command.clinic_id, min(days), max(days),
                  patient_ids=frozenset({command.patient_id}),
                  resource_ids=frozenset(keys | quota), near=(command.start, end))
    covered = run is not None and waitlist_entry is None and run.covers(scope)
    if covered:
        assert run is not None
        state, outcome = _judge_in_run(session, run, command, now, policy)
    else:
        _lock_days(session, resources, [(command.start, end)], kind,
                   exclusive={command.patient_id, *quota})
        state, outcome = _judge(session, org, scope, command, now, policy, config,
                                alternatives_of=frozenset(_candidate_resources(kind) | keys))
    if isinstance(outcome, Accepted) and command.slot_template_id is not None \
            and not _in_template(session, org, command.slot_template_id, outcome, tz):
        outcome = Refused(R.OUTSIDE_SLOT_TEMPLATE, {"slot_template": command.slot_template_id})
    if isinstance(outcome, Refused):
        return _refuse(session, caller, outcome, now, "appointment.book",
                       command.appointment_id, state, command.clinic_id,
                       patient_id=command.patient_id)
    result = _write(session, caller, command, outcome, state, now,
                    new=frozenset({command.appointment_id}))
    if result.refused is None and run is not None and unit_of(session).run is run:
        run.booked(result.appointments)  # the run's state stays the truth
    if waitlist_entry is not None and result.refused is None:
        waitlist_entry.active = False
        waitlist_entry.version += 1
        assert result.version is not None
        entry = waitlist_record(waitlist_entry)
        _record(session, org, result.version, [entry])
        unit_of(session).emit(_waitlist_event(entry))
    return result


def _in_template(session: Session, org: str, template_id: str, outcome: Accepted,
                 tz: str) -> bool:
    """Whether the booked appointment lies inside the organization's slot template."""
    row = session.get(db.SlotTemplate, template_id)
    booked = outcome.appointment
    return row is not None and row.organization_id == org and slot_template_record(row).fits(
        booked.provider_id, booked.clinic_id, booked.appointment_type_id, booked.start,
        booked.end, tz)


def change(
    session: Session, caller: Caller, command: Command, now: datetime,
    policy: Policy = DEFAULT_POLICY, *, base_version: int | None = None,
) -> BookingResult:
    """Move, resize, cancel, change the status of or undo the status of an appointment.

    ``base_version``: when given (REST), a changed appointment is refused as stale.
    """
    assert not isinstance(command, BookAppointment)
    org = caller.organization_id
    intent = _intent_name(command)
    _lock(session, [command.appointment_id])
    current = _owned(session, caller, db.Appointment, command.appointment_id, now)
    if current is None:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "appointment"}),
                       now, intent, command.appointment_id, None, None)
    if base_version is not None and base_version != current.version:
        return _refuse(session, caller, Refused(R.STALE_VERSION), now, intent, current.id,
                       None, current.clinic_id)
    named = {current.provider_id, current.room_id, *(current.equipment_ids or ())}
    spans = [(current.start_at, current.end_at)]
    rooms = equipment = False  # the rules pick no other room or equipment …
    type_id = current.appointment_type_id
    placed = isinstance(command, MoveAppointment | ResizeAppointment)
    if isinstance(command, MoveAppointment):
        named |= {command.provider_id, command.room_id}
        # … unless a move leaves them to the rules
        rooms, equipment = command.room_id is None, not current.equipment_ids
        spans.append((command.start, command.start + (current.end_at - current.start_at)))
    elif isinstance(command, ResizeAppointment):
        spans.append((current.start_at, command.end))
    elif isinstance(command, ChangeDetails):
        # … or a new type, whose rooms and equipment the rules pick again
        rooms = equipment = command.appointment_type_id not in (None, type_id)
        type_id = command.appointment_type_id or type_id
        placed = rooms or command.end is not None
    config, kind, keys = _configuration(session, org, current.clinic_id, type_id, named,
                                        rooms=rooms, equipment=equipment)
    if isinstance(command, ChangeDetails) and placed:
        spans.append((current.start_at, command.end or current.start_at + (
            kind.default_duration if kind else timedelta(0))))
    tz = _zone(config, current.clinic_id)
    days = _days(tz, [moment for span in spans for moment in span])
    quota = _quota_keys(session, org, current.clinic_id, days, config)
    scope = Scope(current.clinic_id, min(days), max(days),
                  patient_ids=frozenset({current.patient_id}),
                  appointment_ids=frozenset({current.id}),
                  resource_ids=frozenset(keys | quota | {current.patient_id}),
                  near=(min(start for start, _ in spans), max(end for _, end in spans)))
    run = _current_run(session)
    if run is not None and current.id in run.state.appointments and run.covers(scope):
        # A sync push run holds these locks and its state holds this appointment as it is
        state, outcome = _judge_in_run(session, run, command, now, policy)
    else:
        _lock_days(session, keys, spans, kind, exclusive={current.patient_id, *quota})
        offered = _candidate_resources(kind) | {r for r in named if r}
        state, outcome = _judge(session, org, scope, command, now, policy, config,
                                alternatives_of=frozenset(offered))
    if isinstance(outcome, Refused):
        return _refuse(session, caller, outcome, now, intent, current.id, state,
                       current.clinic_id)
    keep = not placed and current.overridden
    result = _write(session, caller, command, outcome, state, now, keep_overridden=keep)
    if result.refused is None and run is not None and unit_of(session).run is run:
        run.booked(result.appointments)
    return result


# Commands of the change path, for callers that dispatch on type.
CHANGE_COMMANDS = (MoveAppointment, ResizeAppointment, CancelAppointment, ChangeStatus,
                   UndoStatus, ChangeDetails)


def change_type_and_notes(
    session: Session, caller: Caller, appointment_id: str, now: datetime, *,
    appointment_type_id: str | None = None, notes: str | None = None,
    patient_notes: str | None = None, end: datetime | None = None,
    override_reason: str | None = None, base_version: int | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> BookingResult:
    """Change an appointment's type and/or notes after booking (None keeps a field): a
    new type is judged again at the same start (length, capacity, online-bookable,
    rooms and equipment), as ``appointment.change_details`` from a desk."""
    command = ChangeDetails(caller.actor, appointment_id, appointment_type_id, notes,
                            patient_notes, end, override_reason)
    return change(session, caller, command, now, policy, base_version=base_version)
