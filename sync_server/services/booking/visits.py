"""Visits: book, move or cancel every appointment of one visit in ONE transaction, all or
nothing (:mod:`scheduling.visits`).

Locks as a series does: every resource any part may occupy (providers, named or
candidate rooms and equipment), the patient and the clinic's quota weeks, exclusively
and whole — which excludes every single booking of those resources (they hold the
resource shared, see :func:`~sync_server.db.session.lock_resources`) until the visit
commits. A refused part refuses the visit; nothing of it is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import visits
from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import BookAppointment, Policy, Refused
from scheduling.refusals import RefusalCode as R
from scheduling.state import CalendarState
from scheduling.visits import VisitOutcome
from sync_server.db import models as db
from sync_server.services.booking.locks import (
    _candidate_resources,
    _days,
    _lock,
    _quota_keys,
    _type,
)
from sync_server.services.booking.occupancy import _store
from sync_server.services.booking.outcomes import BookingResult, Caller, DuplicateId, _refuse
from sync_server.services.calendar import Scope, clinic_zone, load_state
from sync_server.services.errors import InvalidInput

#: The most appointments one visit may group.
MAX_PARTS = 10


def book_visit(
    session: Session, caller: Caller, visit_id: str, parts: Sequence[BookAppointment],
    now: datetime, policy: Policy = DEFAULT_POLICY,
) -> BookingResult:
    """Book every part of a new visit (one patient, one clinic), or none."""
    org = caller.organization_id
    if not 1 <= len(parts) <= MAX_PARTS:
        raise InvalidInput(f"A visit has 1 to {MAX_PARTS} appointments.")
    first = parts[0]
    if any(p.patient_id != first.patient_id or p.clinic_id != first.clinic_id for p in parts):
        raise InvalidInput("Every appointment of a visit is for the same patient and clinic.")
    if len({p.appointment_id for p in parts}) != len(parts) or any(
            db.get_in_org(session, db.Appointment, org, p.appointment_id)
            is not None for p in parts):
        raise DuplicateId("An appointment with this id already exists.")
    if _part_ids(session, org, visit_id):
        raise DuplicateId("A visit with this id already exists.")
    tz = clinic_zone(session, org, first.clinic_id)
    if tz is None:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "clinic"}), now,
                       "visit.book", visit_id, None, None)
    keys = {first.patient_id}
    instants: list[datetime] = []
    for part in parts:
        kind = _type(session, org, part.appointment_type_id)
        keys |= {part.provider_id, *(part.equipment_ids or ())}
        keys |= ({part.room_id} if part.room_id else set()) | _candidate_resources(
            kind, rooms=part.room_id is None, equipment=part.equipment_ids is None)
        instants += [part.start, part.end or part.start + (
            kind.default_duration if kind else timedelta(0))]
    days = _days(tz, instants)
    keys |= _quota_keys(session, org, first.clinic_id, days)
    _lock(session, keys)
    session.expire_all()  # locks are held now: read what committed before them
    state = load_state(session, org, Scope(
        first.clinic_id, min(days), max(days), patient_ids=frozenset({first.patient_id}),
        resource_ids=frozenset(keys)))
    commands = [replace(p, visit_id=visit_id) for p in parts]
    outcome = visits.book_visit(state, commands, now, policy)
    return _finish(session, caller, outcome, state, now, "visit.book", visit_id,
                   first.clinic_id, new=frozenset(p.appointment_id for p in parts))


def move_visit(
    session: Session, caller: Caller, visit_id: str, start: datetime, now: datetime,
    policy: Policy = DEFAULT_POLICY, *, override_reason: str | None = None,
) -> BookingResult:
    """Move every part still to come so that the earliest starts at ``start``."""
    found = _locked_parts(session, caller, visit_id, now, "visit.move")
    if isinstance(found, BookingResult):
        return found
    rows, tz = found
    active = [r for r in rows if r.active] or rows
    shift = start - min(r.start_at for r in active)
    instants = [m for r in rows for m in (r.start_at, r.end_at, r.start_at + shift,
                                            r.end_at + shift)]
    state = _state_for(session, caller, rows, tz, instants)
    outcome = visits.move_visit(state, visit_id, shift, caller.actor, now, policy,
                                override_reason=override_reason)
    return _finish(session, caller, outcome, state, now, "visit.move", visit_id,
                   rows[0].clinic_id)


def cancel_visit(
    session: Session, caller: Caller, visit_id: str, reason: str, now: datetime, *,
    category: str | None = None, override_reason: str | None = None,
) -> BookingResult:
    """Cancel every part that still occupies time."""
    found = _locked_parts(session, caller, visit_id, now, "visit.cancel")
    if isinstance(found, BookingResult):
        return found
    rows, tz = found
    state = _state_for(session, caller, rows, tz,
                       [m for r in rows for m in (r.start_at, r.end_at)])
    outcome = visits.cancel_visit(state, visit_id, caller.actor, reason, now,
                                  category=category, override_reason=override_reason)
    return _finish(session, caller, outcome, state, now, "visit.cancel", visit_id,
                   rows[0].clinic_id, keep_overridden=True)


def visit_parts(session: Session, organization_id: str, visit_id: str) -> list[db.Appointment]:
    """The visit's appointment rows, earliest first."""
    return list(session.scalars(select(db.Appointment).where(
        db.Appointment.organization_id == organization_id,
        db.Appointment.visit_id == visit_id).order_by(db.Appointment.start_at,
                                                      db.Appointment.id)))


# --------------------------------------------------------------------------- internals


def _part_ids(session: Session, org: str, visit_id: str) -> list[str]:
    return list(session.scalars(select(db.Appointment.id).where(
        db.Appointment.organization_id == org, db.Appointment.visit_id == visit_id)))


def _locked_parts(
    session: Session, caller: Caller, visit_id: str, now: datetime, intent: str,
) -> tuple[list[db.Appointment], str] | BookingResult:
    """Lock the visit's appointments, then read them as committed."""
    org = caller.organization_id
    _lock(session, _part_ids(session, org, visit_id))
    session.expire_all()
    rows = visit_parts(session, org, visit_id)
    tz = clinic_zone(session, org, rows[0].clinic_id) if rows else None
    if not rows or tz is None:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "appointment"}),
                       now, intent, visit_id, None, None)
    return rows, tz


def _state_for(
    session: Session, caller: Caller, rows: list[db.Appointment], tz: str,
    instants: list[datetime],
) -> CalendarState:
    org = caller.organization_id
    clinic_id, patient_id = rows[0].clinic_id, rows[0].patient_id
    keys = {patient_id}
    for row in rows:
        keys |= {row.provider_id, *(row.equipment_ids or ())}
        keys |= {row.room_id} if row.room_id else set()
        keys |= _candidate_resources(_type(session, org, row.appointment_type_id))
    days = _days(tz, instants)
    keys |= _quota_keys(session, org, clinic_id, days)
    _lock(session, keys)
    session.expire_all()
    return load_state(session, org, Scope(
        clinic_id, min(days), max(days), patient_ids=frozenset({patient_id}),
        appointment_ids=frozenset(r.id for r in rows), resource_ids=frozenset(keys)))


def _finish(
    session: Session, caller: Caller, outcome: VisitOutcome, state: CalendarState,
    now: datetime, intent: str, visit_id: str, clinic_id: str, *, new: frozenset[str] = frozenset(),
    keep_overridden: bool = False,
) -> BookingResult:
    refused = outcome.refused
    if refused is not None:
        return _refuse(session, caller, refused, now, intent, visit_id, state, clinic_id)
    return _store(session, caller, outcome.accepted, [], state, now, intent=intent,
                  target=visit_id, overridden=outcome.overridden, new=new,
                  keep_overridden=keep_overridden)


__all__ = ["MAX_PARTS", "book_visit", "cancel_visit", "move_visit", "visit_parts"]
