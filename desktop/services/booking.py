"""Booking actions on the desk: judge locally, then apply optimistically and queue the intent.

Every action runs the same steps (DESIGN §3):

1. the session must be signed in and unlocked (else :class:`SessionLocked` is raised,
   see :mod:`desktop.services.session`) and the user must hold the permission (else
   a ``NOT_PERMITTED`` refusal);
2. in ONE write transaction (``BEGIN IMMEDIATE``, so the sync worker cannot slip in
   between judging and writing): build the optimistic calendar state, judge the
   command with :func:`scheduling.rules.check` at the injected clock's ``now``, and
   if accepted upsert the appointment rows marked pending with the new mutation id
   and append the intent to the outbox; accepted or refused, add the audit row.

A refused action writes nothing but its audit row. Results are :class:`ActionResult`
values; no ORM object leaves this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop.services import departments, mapping
from desktop.services.calendar import load_state, window_for
from desktop.services.context import DeskContext, add_audit
from desktop.services.dto import ActionResult, AppointmentDTO, OccurrenceDTO
from desktop.store import outbox, row_mapping
from desktop.store.models import AppointmentRow, ClinicRow, SeriesRow
from scheduling import intents
from scheduling.audit import audit_record
from scheduling.commands import (
    Accepted,
    BookAppointment,
    CancelAppointment,
    ChangeDetails,
    ChangeStatus,
    Command,
    MoveAppointment,
    Permission,
    Refused,
    ResizeAppointment,
    UndoStatus,
)
from scheduling.model import Appointment, AppointmentSource, AppointmentStatus, Series
from scheduling.recurrence import expand
from scheduling.refusals import RefusalCode
from scheduling.rules import check
from scheduling.series import (
    SeriesOutcome,
    SeriesScope,
    cancel_in_series,
    move_in_series,
    occurrence_id,
)
from scheduling.series import (
    book_series as judge_series,
)
from scheduling.state import CalendarState
from scheduling.timeutil import to_local, to_utc

#: ``state -> intent args``; called only when the command is accepted.
IntentArgs = Callable[[CalendarState], intents.Args]
#: Extra writes in the same transaction, after the appointment rows, given the mutation id.
AlsoWrite = Callable[[Session, int], None]


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to run one single-command action."""

    command: Command
    permissions: frozenset[Permission]  # any one of them lets the action through
    action: str  # for the NOT_PERMITTED message
    intent: str
    args: IntentArgs
    instants: tuple[datetime, ...]  # the times the action touches, besides the target's
    patient_id: str | None = None
    also: AlsoWrite | None = None


# --------------------------------------------------------------------------- single actions


def book(
    ctx: DeskContext,
    *,
    clinic_id: str,
    patient_id: str,
    appointment_type_id: str,
    provider_id: str,
    start: datetime,
    end: datetime | None = None,
    room_id: str | None = None,
    notes: str = "",
    source: AppointmentSource = AppointmentSource.STAFF,
    override_reason: str | None = None,
    appointment_id: str | None = None,
) -> ActionResult:
    """Book a patient; ``end`` None = the type's default duration, ``room_id`` None = any."""
    command = BookAppointment(
        ctx.actor(), appointment_id or ctx.new_id(), clinic_id, patient_id,
        appointment_type_id, provider_id, start, end, room_id, source=source, notes=notes,
        override_reason=override_reason,
    )
    return run_booking(ctx, command)


def run_booking(
    ctx: DeskContext,
    command: BookAppointment,
    *,
    intent: str = intents.APPOINTMENT_BOOK,
    args: IntentArgs | None = None,
    also: AlsoWrite | None = None,
) -> ActionResult:
    """Judge and apply a booking command (also used by the waitlist's book-from)."""
    return _run(ctx, _Plan(
        command, frozenset({Permission.CREATE}), "book appointments", intent,
        args or (lambda _state: intents.book(command)),
        (command.start, command.end or command.start), command.patient_id, also,
    ))


def move(
    ctx: DeskContext,
    appointment_id: str,
    start: datetime,
    *,
    provider_id: str | None = None,
    room_id: str | None = None,
    override_reason: str | None = None,
) -> ActionResult:
    """Move to a new start (duration kept), optionally to another provider or room."""
    command = MoveAppointment(ctx.actor(), appointment_id, start, provider_id, room_id,
                              override_reason)
    return _run(ctx, _Plan(
        command, frozenset({Permission.MODIFY}), "move appointments", intents.APPOINTMENT_MOVE,
        lambda state: intents.move(command, _version(state, appointment_id)), (start,),
    ))


def resize(
    ctx: DeskContext, appointment_id: str, end: datetime, *, override_reason: str | None = None
) -> ActionResult:
    command = ResizeAppointment(ctx.actor(), appointment_id, end, override_reason)
    return _run(ctx, _Plan(
        command, frozenset({Permission.MODIFY}), "change appointments",
        intents.APPOINTMENT_RESIZE,
        lambda state: intents.resize(command, _version(state, appointment_id)), (end,),
    ))



def cancel(
    ctx: DeskContext, appointment_id: str, reason: str, *, override_reason: str | None = None,
    category: str | None = None,
) -> ActionResult:
    """Cancel with a free-text reason and optionally a category
    (:data:`scheduling.cancellation.CANCEL_CATEGORIES`)."""
    command = CancelAppointment(ctx.actor(), appointment_id, reason, override_reason, category)
    return _run(ctx, _Plan(
        command, frozenset({Permission.CANCEL}), "cancel appointments",
        intents.APPOINTMENT_CANCEL,
        lambda state: intents.cancel(command, _version(state, appointment_id)), (),
    ))


def change_type_and_notes(
    ctx: DeskContext,
    appointment_id: str,
    *,
    appointment_type_id: str | None = None,
    notes: str | None = None,
    patient_notes: str | None = None,
    end: datetime | None = None,
    override_reason: str | None = None,
) -> ActionResult:
    """Change the type and/or notes after booking (None keeps a field); a new type is
    judged again at the same start (``appointment.change_details``)."""
    command = ChangeDetails(ctx.actor(), appointment_id, appointment_type_id, notes,
                            patient_notes, end, override_reason)
    return _run(ctx, _Plan(
        command, frozenset({Permission.MODIFY}), "change appointments",
        intents.APPOINTMENT_CHANGE_DETAILS,
        lambda state: intents.change_details(command, _version(state, appointment_id)),
        () if end is None else (end,),
    ))


def change_status(
    ctx: DeskContext, appointment_id: str, status: AppointmentStatus | str, *, reason: str = ""
) -> ActionResult:
    """Step the status machine (check-in, start, complete, no-show …)."""
    command = ChangeStatus(ctx.actor(), appointment_id, AppointmentStatus(status), reason)
    needed = (
        frozenset({Permission.CANCEL})
        if command.status is AppointmentStatus.CANCELLED
        else frozenset({Permission.MODIFY, Permission.APPROVE})  # the rules refine this
    )
    return _run(ctx, _Plan(
        command, needed, "change the status", intents.APPOINTMENT_CHANGE_STATUS,
        lambda state: intents.change_status(command, _version(state, appointment_id)), (),
    ))


def undo_status(ctx: DeskContext, appointment_id: str) -> ActionResult:
    """Undo the last status step within the policy's undo window."""
    command = UndoStatus(ctx.actor(), appointment_id)
    return _run(ctx, _Plan(
        command, frozenset({Permission.UNDO}), "undo status changes",
        intents.APPOINTMENT_UNDO_STATUS,
        lambda state: intents.undo_status(command, _version(state, appointment_id)), (),
    ))


def duplicate(
    ctx: DeskContext,
    appointment_id: str,
    start: datetime,
    *,
    provider_id: str | None = None,
    room_id: str | None = None,
) -> ActionResult:
    """Book a copy of an appointment (same patient, type, length, notes) at ``start``."""
    ctx.user()
    with ctx.store.session() as session:
        row = session.get(AppointmentRow, appointment_id)
        source = None if row is None or row.deleted else row_mapping.appointment(row)
    actor = ctx.actor()
    if source is None:
        # Judged like any booking of an unknown record, so it is refused and audited.
        command = BookAppointment(actor, appointment_id, "", "", "", "", start)
        return _refuse(ctx, command, Refused(RefusalCode.UNKNOWN_RECORD, {"kind": "appointment"}))
    command = BookAppointment(
        actor, ctx.new_id(), source.clinic_id, source.patient_id, source.appointment_type_id,
        provider_id or source.provider_id, start, start + (source.end - source.start),
        room_id, notes=source.notes, patient_notes=source.patient_notes, source=source.source,
    )
    return run_booking(ctx, command)


# --------------------------------------------------------------------------- series


def book_series(
    ctx: DeskContext,
    *,
    clinic_id: str,
    patient_id: str,
    appointment_type_id: str,
    provider_id: str,
    first_start: datetime,
    rrule: str,
    end: datetime | None = None,
    room_id: str | None = None,
    notes: str = "",
    source: AppointmentSource = AppointmentSource.STAFF,
) -> ActionResult:
    """Book a recurring series (``rrule`` e.g. from ``scheduling.recurrence.weekly_for_weeks``).

    Judged occurrence by occurrence; the accepted ones are booked, the refused ones
    are left out of the series (as exceptions) and listed with their alternatives.
    Refused as a whole only when no occurrence can be booked. A malformed or unbounded
    ``rrule`` raises ``scheduling.errors.RecurrenceError`` (an input error, not a refusal).
    """
    user = ctx.user()
    actor = ctx.actor()
    series_id = ctx.new_id()
    template = BookAppointment(actor, series_id, clinic_id, patient_id, appointment_type_id,
                               provider_id, first_start, end, room_id, source=source, notes=notes)
    if not actor.may(Permission.CREATE):
        return _refuse(ctx, template, Refused(RefusalCode.NOT_PERMITTED,
                                              {"action": "book appointments"}))
    now = ctx.now()
    with ctx.store.write() as session:
        clinic = session.get(ClinicRow, clinic_id)
        refused = (Refused(RefusalCode.UNKNOWN_RECORD, {"kind": "clinic"}) if clinic is None
                   else departments.outside_refusal(session, user, template, None))
        if refused is not None or clinic is None:
            refused = refused or Refused(RefusalCode.UNKNOWN_RECORD, {"kind": "clinic"})
            add_audit(session, audit_record(template, refused, now))
            return ActionResult(False, refusal=mapping.refusal_dto(refused))
        tz = clinic.time_zone
        series = Series(series_id, user.organization_id, clinic_id, rrule,
                        to_local(first_start, tz).replace(tzinfo=None))
        starts = [o.start for o in expand(rrule, series.first_local, tz,
                                          max_occurrences=ctx.policy.max_occurrences)]
        state = load_state(session, user.organization_id,
                           window_for(min(starts), max(starts), ctx.policy),
                           patient_ids={patient_id})
        outcome = judge_series(state, template, series, now, ctx.policy)
        for result in outcome.results:
            occurrence = replace(template, appointment_id=occurrence_id(
                series_id, to_local(result.original_start, tz)))
            add_audit(session, audit_record(occurrence, result.outcome, now))
        if not outcome.accepted:
            return _series_refused(outcome)
        skipped = [to_local(r.original_start, tz) for r in outcome.refused]
        booked = replace(series, exdates=series.exdates | frozenset(skipped))
        mutation_id = outbox.append(session, intents.SERIES_BOOK,
                                    intents.series_book(template, booked, skipped), now=now,
                                    user_id=user.user_id)
        row = SeriesRow(
            id=series_id, organization_id=user.organization_id, clinic_id=clinic_id,
            patient_id=patient_id, appointment_type_id=appointment_type_id,
            provider_id=provider_id, rrule=rrule, first_start=min(starts),
            duration_seconds=int((outcome.accepted[0].end - outcome.accepted[0].start)
                                 .total_seconds()),
            details=row_mapping.series_details(booked, {"room_id": room_id, "notes": notes,
                                                    "source": source.value}),
            pending_mutation_id=mutation_id,
        )
        session.add(row)
        dtos = _upsert(session, outcome.accepted, mutation_id)
    return ActionResult(True, dtos, mutation_id=mutation_id,
                        occurrences=_occurrences(outcome), record_id=series_id)


def edit_series(
    ctx: DeskContext,
    appointment_id: str,
    scope: SeriesScope | str,
    *,
    action: str,
    start: datetime | None = None,
    provider_id: str | None = None,
    room_id: str | None = None,
    reason: str = "",
    override_reason: str | None = None,
) -> ActionResult:
    """Move (to ``start``) or cancel (with ``reason``) this occurrence, this and the
    following ones, or all of the series of ``appointment_id``."""
    scope = SeriesScope(scope)
    if action not in ("move", "cancel"):
        raise ValueError("a series edit is a 'move' or a 'cancel'")
    if action == "move" and start is None:
        raise ValueError("moving a series needs the new start")
    user = ctx.user()
    actor = ctx.actor()
    command: MoveAppointment | CancelAppointment = (
        MoveAppointment(actor, appointment_id, start, provider_id, room_id, override_reason)
        if action == "move" and start is not None
        else CancelAppointment(actor, appointment_id, reason, override_reason)
    )
    needed = Permission.MODIFY if action == "move" else Permission.CANCEL
    if not actor.may(needed):
        return _refuse(ctx, command, Refused(RefusalCode.NOT_PERMITTED,
                                             {"action": f"{action} appointments"}))
    now = ctx.now()
    with ctx.store.write() as session:
        anchor = session.get(AppointmentRow, appointment_id)
        series_row = (
            None if anchor is None or anchor.series_id is None
            else session.get(SeriesRow, anchor.series_id)
        )
        clinic = None if series_row is None else session.get(ClinicRow, series_row.clinic_id)
        if anchor is None or series_row is None or clinic is None:
            refused = Refused(RefusalCode.UNKNOWN_RECORD, {"kind": "series"})
            add_audit(session, audit_record(command, refused, now))
            return ActionResult(False, refusal=mapping.refusal_dto(refused))
        series = row_mapping.series(series_row, clinic.time_zone)
        shift = (start - anchor.start) if start is not None else timedelta(0)
        # Every member may move, so the window spans the whole series, before and after.
        first, last = session.execute(
            select(func.min(AppointmentRow.start), func.max(AppointmentRow.end))
            .where(AppointmentRow.series_id == series.id)
        ).one()
        state = load_state(session, user.organization_id,
                           window_for(min(first, first + shift), max(last, last + shift),
                                      ctx.policy),
                           series_ids={series.id}, patient_ids={anchor.patient_id})
        new_series_id = ctx.new_id() if scope is SeriesScope.FOLLOWING else None
        if isinstance(command, MoveAppointment):
            outcome = move_in_series(state, command, scope, series, now, ctx.policy,
                                     new_series_id=new_series_id)
        else:
            outcome = cancel_in_series(state, command, scope, series, now, ctx.policy)
        for result in outcome.results:
            target = _target_of(state, series.id, result.original_start, appointment_id)
            add_audit(session, audit_record(replace(command, appointment_id=target),
                                            result.outcome, now))
        if not outcome.accepted:
            return _series_refused(outcome)
        mutation_id = outbox.append(session, intents.SERIES_EDIT, intents.series_edit(
            series_id=series.id, appointment_id=appointment_id, scope=scope.value,
            action=action, start=start, provider_id=provider_id, room_id=room_id,
            reason=reason, override_reason=override_reason, new_series_id=new_series_id,
        ), now=now, user_id=user.user_id)
        _upsert_series(session, series_row, outcome.series, clinic.time_zone, mutation_id)
        dtos = _upsert(session, outcome.accepted, mutation_id)
    return ActionResult(True, dtos, mutation_id=mutation_id, occurrences=_occurrences(outcome),
                        record_id=new_series_id or series.id)


# --------------------------------------------------------------------------- the common path


def _run(ctx: DeskContext, plan: _Plan) -> ActionResult:
    user = ctx.user()
    command = plan.command
    if not any(command.actor.may(p) for p in plan.permissions):
        return _refuse(ctx, command, Refused(RefusalCode.NOT_PERMITTED, {"action": plan.action}))
    now = ctx.now()
    with ctx.store.write() as session:
        instants = list(plan.instants)
        patient_id = plan.patient_id
        target_id = None if isinstance(command, BookAppointment) else command.appointment_id
        if target_id is not None:
            target = session.get(AppointmentRow, target_id)
            if target is not None:
                instants += [target.start, target.end]
                patient_id = target.patient_id
        if not instants:  # an unknown target: the rules refuse it without looking at times
            instants = [now]
        state = load_state(
            session, user.organization_id, window_for(min(instants), max(instants), ctx.policy),
            appointment_ids=() if target_id is None else (target_id,),
            patient_ids=() if patient_id is None else (patient_id,),
        )
        # Another department's resource does not exist for a department-scoped user.
        outcome = departments.outside_refusal(session, user, command, target_id) or check(
            command, state, now, ctx.policy)
        add_audit(session, audit_record(command, outcome, now))
        if isinstance(outcome, Refused):
            return ActionResult(False, refusal=mapping.refusal_dto(outcome))
        mutation_id = outbox.append(session, plan.intent, plan.args(state), now=now,
                                    user_id=user.user_id)
        dtos = _upsert(session, outcome.appointments, mutation_id)
        if plan.also is not None:
            plan.also(session, mutation_id)
    return ActionResult(True, dtos, mutation_id=mutation_id,
                        notices=tuple(code.value for code in outcome.notices))


def _refuse(ctx: DeskContext, command: Command, refused: Refused) -> ActionResult:
    """Audit a refusal decided before any state was built; nothing else is written."""
    with ctx.store.write() as session:
        add_audit(session, audit_record(command, refused, ctx.now()))
    return ActionResult(False, refusal=mapping.refusal_dto(refused))


def _upsert(
    session: Session, appointments: Iterable[Appointment], mutation_id: int
) -> tuple[AppointmentDTO, ...]:
    """Write the optimistic rows, pending on ``mutation_id``; return their DTOs."""
    dtos = []
    for record in appointments:
        row = session.get(AppointmentRow, record.id) or AppointmentRow()
        row_mapping.write_appointment(row, record, mutation_id)
        session.add(row)
        dtos.append(mapping.appointment_dto(record, pending=True))
    session.flush()
    return tuple(dtos)


def _upsert_series(
    session: Session, old: SeriesRow, records: Iterable[Series], tz: str, mutation_id: int
) -> None:
    for record in records:
        row = session.get(SeriesRow, record.id)
        if row is None:  # the new half of a split series: same template, new rule
            row = SeriesRow(
                id=record.id, organization_id=old.organization_id, clinic_id=old.clinic_id,
                patient_id=old.patient_id, appointment_type_id=old.appointment_type_id,
                provider_id=old.provider_id, duration_seconds=old.duration_seconds,
            )
            session.add(row)
        row.rrule = record.rrule
        row.first_start = to_utc(record.first_local, tz)
        row.details = row_mapping.series_details(record, old.details)
        row.pending_mutation_id = mutation_id


def _version(state: CalendarState, appointment_id: str) -> int:
    current = state.appointments.get(appointment_id)
    return 0 if current is None else current.version


def _target_of(state: CalendarState, series_id: str, original: datetime, default: str) -> str:
    for appointment in state.appointments.values():
        if appointment.series_id == series_id and (
            appointment.original_start or appointment.start
        ) == original:
            return appointment.id
    return default


def _occurrences(outcome: SeriesOutcome) -> tuple[OccurrenceDTO, ...]:
    items = []
    for result in outcome.results:
        if isinstance(result.outcome, Accepted):
            items.append(OccurrenceDTO(result.original_start, mapping.appointment_dto(
                result.outcome.appointment, pending=True), None))
        else:
            items.append(OccurrenceDTO(result.original_start, None,
                                       mapping.refusal_dto(result.outcome)))
    return tuple(items)


def _series_refused(outcome: SeriesOutcome) -> ActionResult:
    first = outcome.refused[0].outcome
    assert isinstance(first, Refused)
    return ActionResult(False, refusal=mapping.refusal_dto(first),
                        occurrences=_occurrences(outcome))


__all__ = [
    "book",
    "book_series",
    "cancel",
    "change_status",
    "duplicate",
    "edit_series",
    "move",
    "resize",
    "run_booking",
    "undo_status",
]
