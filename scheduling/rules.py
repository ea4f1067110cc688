"""The rules engine: one function decides whether a command may proceed.

``check(command, state, now, policy)`` returns :class:`Accepted` (with the
appointment records as they will be) or :class:`Refused` (a stable code, the
message parameters and up to ``policy.max_alternatives`` alternatives). It
never mutates ``state``; the caller applies an accepted outcome.

Double-booking (conflicts, buffers, capacity) can be overridden only by an
actor holding ``booking:override`` who gives a reason; the outcome then lists
what was overridden, and its audit record says so. A late cancellation by staff
is accepted and *recorded* (notice ``LATE_CANCELLATION``, seed 003: a fee may
apply); a supervisor's override waives it; a patient online is refused.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from scheduling import placement as pl
from scheduling.alternatives import find_alternatives
from scheduling.availability import DEFAULT_POLICY
from scheduling.cancellation import is_late
from scheduling.commands import (
    Accepted,
    Actor,
    Alternative,
    BookAppointment,
    CancelAppointment,
    ChangeDetails,
    ChangeStatus,
    Command,
    MoveAppointment,
    Outcome,
    Permission,
    Policy,
    Refused,
    ResizeAppointment,
    UndoStatus,
)
from scheduling.model import (
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    AppointmentType,
    StatusChange,
)
from scheduling.refusals import OFFERS_ALTERNATIVES, OVERRIDABLE
from scheduling.refusals import RefusalCode as R
from scheduling.state import CalendarState
from scheduling.status import MOVABLE, RANK, can_transition, too_early, undo_allowed
from scheduling.timeutil import require_aware

_RESIZABLE = MOVABLE | {AppointmentStatus.ARRIVED, AppointmentStatus.READY,
                        AppointmentStatus.IN_PROGRESS}


def check(
    command: Command, state: CalendarState, now: datetime, policy: Policy = DEFAULT_POLICY
) -> Outcome:
    """Judge ``command`` against ``state`` at ``now``."""
    now = require_aware(now, "now")
    match command:
        case BookAppointment():
            return _book(command, state, now, policy)
        case MoveAppointment():
            return _move(command, state, now, policy)
        case ResizeAppointment():
            return _resize(command, state, now, policy)
        case CancelAppointment():
            return _cancel(command, state, now)
        case ChangeStatus():
            return _change_status(command, state, now)
        case UndoStatus():
            return _undo(command, state, now, policy)
        case ChangeDetails():
            return _change_details(command, state, now, policy)
    raise TypeError(f"not a scheduling command: {type(command).__name__}")


# --------------------------------------------------------------------------- book / move / resize


def _book(cmd: BookAppointment, state: CalendarState, now: datetime, policy: Policy) -> Outcome:
    if not cmd.actor.may(Permission.CREATE):
        return Refused(R.NOT_PERMITTED, {"action": "book appointments"})
    kind = state.appointment_types.get(cmd.appointment_type_id)
    if kind is None:
        return Refused(R.UNKNOWN_RECORD, {"kind": "appointment type"})
    if cmd.source is AppointmentSource.ONLINE and not kind.online_bookable:
        # Staff recording an online request still honour the type's online setting.
        return Refused(R.NOT_ONLINE_BOOKABLE, {"appointment_type": kind.id})
    end = cmd.end if cmd.end is not None else cmd.start + kind.default_duration
    if end <= cmd.start:
        return _too_short(kind)
    base = pl.Placement(
        cmd.clinic_id, cmd.patient_id, kind.id, cmd.provider_id, cmd.start, end,
        cmd.room_id, cmd.equipment_ids or (),
    )
    decision = _place(
        state, base, now, policy, cmd.actor, cmd.override_reason, ignore=frozenset(),
        room_fixed=cmd.room_id is not None, equipment_fixed=cmd.equipment_ids is not None,
    )
    if isinstance(decision, Refused):
        return decision
    chosen, overridden, notices = decision
    missed = policy.no_show_limited.get(cmd.patient_id)
    if missed is not None:
        limit = {"count": missed, "months": policy.no_show_months}
        if cmd.actor.online_booking:
            return Refused(R.NO_SHOW_LIMIT, limit)
        if not cmd.actor.may(Permission.APPROVE):
            notices = (*notices, R.NO_SHOW_LIMIT)  # staff book it; it waits for approval
    appointment = Appointment(
        id=cmd.appointment_id,
        organization_id=state.organization_id,
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        appointment_type_id=kind.id,
        provider_id=chosen.provider_id,
        start=chosen.start,
        end=chosen.end,
        status=AppointmentStatus.PENDING if notices else AppointmentStatus.BOOKED,
        room_id=chosen.room_id,
        equipment_ids=chosen.equipment_ids,
        source=cmd.source,
        notes=cmd.notes,
        patient_notes=cmd.patient_notes,
        series_id=cmd.series_id,
        original_start=cmd.original_start,
        override_reason=cmd.override_reason if overridden else None,
        visit_id=cmd.visit_id,
        slot_template_id=cmd.slot_template_id,
    )
    return Accepted((appointment,), notices, overridden, appointment.override_reason)


def _move(cmd: MoveAppointment, state: CalendarState, now: datetime, policy: Policy) -> Outcome:
    if not cmd.actor.may(Permission.MODIFY):
        return Refused(R.NOT_PERMITTED, {"action": "move appointments"})
    found = _changeable(state, cmd.appointment_id,
                        MOVABLE | {AppointmentStatus.ARRIVED} if cmd.waiting_room else MOVABLE)
    if isinstance(found, Refused):
        return found
    current, kind = found
    if current.status is AppointmentStatus.ARRIVED and current.virtual_checkin_at is None:
        return Refused(R.NOT_MOVABLE, {"status": current.status.value})
    time_changed = cmd.start != current.start
    if time_changed and kind.reschedule_limit is not None and (
        current.reschedule_count >= kind.reschedule_limit
    ):
        return Refused(R.RESCHEDULE_LIMIT_REACHED, {"count": current.reschedule_count},
                       overridable=False)
    provider_id = cmd.provider_id or current.provider_id
    base = pl.Placement(
        current.clinic_id, current.patient_id, kind.id, provider_id, cmd.start,
        cmd.start + (current.end - current.start), cmd.room_id or current.room_id,
        current.equipment_ids,
    )
    # Without an explicit room the move keeps its room if free, else takes another suitable one.
    decision = _place(
        state, base, now, policy, cmd.actor, cmd.override_reason,
        ignore=frozenset({current.id}),
        room_fixed=cmd.room_id is not None or not kind.requirement.rooms,
        equipment_fixed=bool(current.equipment_ids) and not cmd.choose_equipment,
    )
    if isinstance(decision, Refused):
        return decision
    chosen, overridden, notices = decision
    moved = replace(
        current,
        start=chosen.start,
        end=chosen.end,
        provider_id=chosen.provider_id,
        room_id=chosen.room_id,
        equipment_ids=chosen.equipment_ids,
        status=AppointmentStatus.PENDING if notices else current.status,
        reschedule_count=current.reschedule_count + (1 if time_changed else 0),
        override_reason=cmd.override_reason if overridden else current.override_reason,
        version=current.version + 1,
    )
    return Accepted((moved,), notices, overridden, cmd.override_reason if overridden else None)


def _resize(cmd: ResizeAppointment, state: CalendarState, now: datetime, policy: Policy) -> Outcome:
    if not cmd.actor.may(Permission.MODIFY):
        return Refused(R.NOT_PERMITTED, {"action": "change appointments"})
    found = _changeable(state, cmd.appointment_id, _RESIZABLE)
    if isinstance(found, Refused):
        return found
    current, kind = found
    if cmd.end <= current.start:
        return _too_short(kind)
    base = pl.Placement(
        current.clinic_id, current.patient_id, kind.id, current.provider_id, current.start,
        cmd.end, current.room_id, current.equipment_ids,
    )
    decision = _place(
        state, base, now, policy, cmd.actor, cmd.override_reason,
        ignore=frozenset({current.id}), room_fixed=True, equipment_fixed=True,
        checks=pl.Checks(window=False), offer_alternatives=False,
    )
    if isinstance(decision, Refused):
        return decision
    chosen, overridden, _notices = decision
    resized = replace(
        current,
        end=chosen.end,
        override_reason=cmd.override_reason if overridden else current.override_reason,
        version=current.version + 1,
    )
    return Accepted((resized,), (), overridden, cmd.override_reason if overridden else None)


def _change_details(
    cmd: ChangeDetails, state: CalendarState, now: datetime, policy: Policy
) -> Outcome:
    """A new type is placed again at the same start (the rules may pick another room or
    equipment the new type needs); notes alone change nothing else."""
    if not cmd.actor.may(Permission.MODIFY):
        return Refused(R.NOT_PERMITTED, {"action": "change appointments"})
    found = _changeable(state, cmd.appointment_id, _RESIZABLE)
    if isinstance(found, Refused):
        return found
    current, kind = found
    changed = replace(
        current,
        notes=current.notes if cmd.notes is None else cmd.notes,
        patient_notes=current.patient_notes if cmd.patient_notes is None else cmd.patient_notes,
        version=current.version + 1,
    )
    retyped = cmd.appointment_type_id not in (None, current.appointment_type_id)
    if not retyped and cmd.end is None:
        return Accepted((changed,))
    new_kind = state.appointment_types.get(cmd.appointment_type_id or kind.id)
    if new_kind is None:
        return Refused(R.UNKNOWN_RECORD, {"kind": "appointment type"})
    end = cmd.end or (current.start + new_kind.default_duration if retyped else current.end)
    if end <= current.start:
        return _too_short(new_kind)
    keeps_room = current.room_id is not None and current.room_id in new_kind.requirement.rooms
    base = pl.Placement(
        current.clinic_id, current.patient_id, new_kind.id, current.provider_id, current.start,
        end, current.room_id if keeps_room else None,
        current.equipment_ids if not retyped else (),
    )
    decision = _place(
        state, base, now, policy, cmd.actor, cmd.override_reason,
        ignore=frozenset({current.id}), room_fixed=keeps_room or not new_kind.requirement.rooms,
        equipment_fixed=not retyped, checks=pl.Checks(window=False), offer_alternatives=False,
    )
    if isinstance(decision, Refused):
        return decision
    chosen, overridden, _notices = decision
    changed = replace(
        changed, appointment_type_id=new_kind.id, end=chosen.end, room_id=chosen.room_id,
        equipment_ids=chosen.equipment_ids,
        override_reason=cmd.override_reason if overridden else current.override_reason,
    )
    return Accepted((changed,), (), overridden, cmd.override_reason if overridden else None)


def _changeable(
    state: CalendarState, appointment_id: str, allowed: frozenset[AppointmentStatus]
) -> tuple[Appointment, AppointmentType] | Refused:
    """The appointment and its type, if it exists and its status allows the change."""
    current = state.appointments.get(appointment_id)
    if current is None or current.deleted:
        return Refused(R.UNKNOWN_RECORD, {"kind": "appointment"})
    if current.status not in allowed:
        return Refused(R.NOT_MOVABLE, {"status": current.status.value})
    kind = state.appointment_types.get(current.appointment_type_id)
    if kind is None:
        return Refused(R.UNKNOWN_RECORD, {"kind": "appointment type"})
    return current, kind


def _too_short(kind: AppointmentType) -> Refused:
    minutes = int(kind.min_duration.total_seconds() // 60)
    return Refused(R.DURATION_TOO_SHORT, {"appointment_type": kind.id, "minutes": minutes})


def _place(
    state: CalendarState,
    base: pl.Placement,
    now: datetime,
    policy: Policy,
    actor: Actor,
    override_reason: str | None,
    *,
    ignore: frozenset[str],
    room_fixed: bool,
    equipment_fixed: bool,
    checks: pl.Checks = pl.ALL_CHECKS,
    offer_alternatives: bool = True,
) -> tuple[pl.Placement, tuple[R, ...], tuple[R, ...]] | Refused:
    """Choose resources, judge the placement and apply the override policy.

    Returns (placement, overridden codes, notices) or a refusal.
    """
    kind = state.appointment_types[base.appointment_type_id]
    first_found: list[pl.Violation] | None = None
    chosen = base
    for candidate in pl.candidate_placements(state, base, kind, room_fixed, equipment_fixed):
        found = pl.violations(state, candidate, now=now, actor=actor, ignore=ignore,
                              checks=checks)
        if not found:
            first_found, chosen = [], candidate
            break
        if first_found is None:
            first_found, chosen = found, candidate
    if first_found is None:  # no room or equipment of the type exists at this clinic
        first_found = pl.violations(state, base, now=now, actor=actor, ignore=ignore,
                                    checks=checks)
    overridden: tuple[R, ...] = ()
    if first_found:
        codes = tuple(v.code for v in first_found)
        overridable = all(code in OVERRIDABLE for code in codes)
        if override_reason is not None and overridable:
            if not actor.may(Permission.OVERRIDE):
                return Refused(R.OVERRIDE_NOT_PERMITTED)
            if not override_reason.strip():
                return Refused(R.OVERRIDE_REASON_REQUIRED)
            overridden = codes
        else:
            first = first_found[0]
            if (first.code is R.ROOM_BUSY and not room_fixed) or (
                first.code is R.EQUIPMENT_BUSY and not equipment_fixed
            ):
                # The user left the room/equipment to us and none of them is free: do not
                # blame a room they never picked.
                first = pl.Violation(R.NO_SUITABLE_ROOM, {"appointment_type": kind.id})
                overridable = False
            alternatives: tuple[Alternative, ...] = ()
            if offer_alternatives and first.code in OFFERS_ALTERNATIVES:
                alternatives = find_alternatives(
                    state, chosen, now=now, actor=actor, policy=policy, ignore=ignore
                )
            return Refused(first.code, dict(first.params), alternatives, overridable)
    notices = (R.NEEDS_APPROVAL,) if pl.needs_approval(state, chosen, actor) else ()
    return chosen, overridden, notices


# --------------------------------------------------------------------------- status


def _cancel(cmd: CancelAppointment, state: CalendarState, now: datetime) -> Outcome:
    if not cmd.actor.may(Permission.CANCEL):
        return Refused(R.NOT_PERMITTED, {"action": "cancel appointments"})
    current = state.appointments.get(cmd.appointment_id)
    if current is None or current.deleted:
        return Refused(R.UNKNOWN_RECORD, {"kind": "appointment"})
    if not cmd.reason.strip():
        return Refused(R.REASON_REQUIRED)
    if not can_transition(current.status, AppointmentStatus.CANCELLED):
        return Refused(R.ILLEGAL_TRANSITION, {"current": current.status.value,
                                              "target": AppointmentStatus.CANCELLED.value})
    kind = state.appointment_types.get(current.appointment_type_id)
    overridden: tuple[R, ...] = ()
    notices: tuple[R, ...] = ()
    if kind is not None and is_late(current.start, now, kind):
        hours = int(kind.cancellation_period.total_seconds() // 3600)
        if cmd.override_reason is not None:  # a supervisor waives the late-cancellation fee
            if not cmd.actor.may(Permission.OVERRIDE):
                return Refused(R.OVERRIDE_NOT_PERMITTED)
            if not cmd.override_reason.strip():
                return Refused(R.OVERRIDE_REASON_REQUIRED)
            overridden = (R.LATE_CANCELLATION,)
        elif cmd.actor.online_booking:
            # A patient online is told to call the clinic; staff record it (seed 003).
            return Refused(R.LATE_CANCELLATION, {"hours": hours})
        else:
            notices = (R.LATE_CANCELLATION,)
    cancelled = replace(
        current,
        status=AppointmentStatus.CANCELLED,
        cancel_reason=cmd.reason,
        cancel_category=cmd.category,
        last_status_change=StatusChange(current.status, now, cmd.actor.user_id),
        version=current.version + 1,
    )
    return Accepted((cancelled,), notices, overridden,
                    cmd.override_reason if overridden else None)


def _change_status(cmd: ChangeStatus, state: CalendarState, now: datetime) -> Outcome:
    if cmd.status is AppointmentStatus.CANCELLED:
        return _cancel(CancelAppointment(cmd.actor, cmd.appointment_id, cmd.reason), state, now)
    current = state.appointments.get(cmd.appointment_id)
    needed = (
        Permission.APPROVE
        if current is not None and current.status is AppointmentStatus.PENDING
        and cmd.status is AppointmentStatus.BOOKED
        else Permission.MODIFY
    )
    if not cmd.actor.may(needed):
        return Refused(R.NOT_PERMITTED, {"action": "change the status"})
    if current is None or current.deleted:
        return Refused(R.UNKNOWN_RECORD, {"kind": "appointment"})
    if not can_transition(current.status, cmd.status):
        return Refused(R.ILLEGAL_TRANSITION, {"current": current.status.value,
                                              "target": cmd.status.value})
    clinic = state.clinics.get(current.clinic_id)
    if too_early(cmd.status, current.start, now, clinic.time_zone if clinic else "UTC"):
        return Refused(R.TOO_EARLY_FOR_NO_SHOW if cmd.status is AppointmentStatus.NO_SHOW
                       else R.TOO_EARLY_FOR_CHECK_IN)
    if cmd.status is AppointmentStatus.ENTERED_IN_ERROR and not cmd.reason.strip():
        return Refused(R.REASON_REQUIRED)
    changed = replace(
        current,
        status=cmd.status,
        last_status_change=StatusChange(current.status, now, cmd.actor.user_id),
        version=current.version + 1,
        virtual_checkin_at=now if cmd.virtual and cmd.status is AppointmentStatus.ARRIVED
        else current.virtual_checkin_at,
    )
    return Accepted((changed,))


def _undo(cmd: UndoStatus, state: CalendarState, now: datetime, policy: Policy) -> Outcome:
    if not cmd.actor.may(Permission.UNDO):
        return Refused(R.NOT_PERMITTED, {"action": "undo status changes"})
    current = state.appointments.get(cmd.appointment_id)
    if current is None or current.deleted:
        return Refused(R.UNKNOWN_RECORD, {"kind": "appointment"})
    last = current.last_status_change
    if last is None:
        return Refused(R.NOTHING_TO_UNDO)
    if not undo_allowed(last.at, now, policy.undo_window):
        return Refused(R.UNDO_WINDOW_EXPIRED,
                       {"minutes": int(policy.undo_window.total_seconds() // 60)})
    if last.previous.occupies_time and not current.status.occupies_time:
        # Reviving a cancelled/no-show booking: its time may have been given away since.
        base = pl.Placement(
            current.clinic_id, current.patient_id, current.appointment_type_id,
            current.provider_id, current.start, current.end, current.room_id,
            current.equipment_ids,
        )
        found = pl.violations(state, base, now=now, actor=cmd.actor,
                              ignore=frozenset({current.id}), checks=pl.Checks(window=False))
        if found:
            return Refused(found[0].code, dict(found[0].params))
    restored = replace(
        current,
        status=last.previous,
        cancel_reason=None if last.previous.occupies_time else current.cancel_reason,
        cancel_category=None if last.previous.occupies_time else current.cancel_category,
        last_status_change=None,
        version=current.version + 1,
        # Undoing the arrival undoes the virtual check-in with it.
        virtual_checkin_at=current.virtual_checkin_at
        if RANK[last.previous] >= RANK[AppointmentStatus.ARRIVED] else None,
    )
    return Accepted((restored,))
