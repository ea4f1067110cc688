"""Series booking: book a recurring series; move or cancel this / this and following /
all of its occurrences."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import Accepted, Policy, Refused
from scheduling.intents import SeriesBooking, SeriesEdit
from scheduling.recurrence import expand
from scheduling.refusals import RefusalCode as R
from scheduling.series import book_series, cancel_in_series, move_in_series
from scheduling.timeutil import to_local
from sync_server.db import models as db
from sync_server.services.booking.locks import (
    _candidate_resources,
    _days,
    _lock,
    _quota_keys,
    _type,
)
from sync_server.services.booking.occupancy import _store
from sync_server.services.booking.outcomes import (
    BookingResult,
    Caller,
    DuplicateId,
    _owned,
    _refuse,
)
from sync_server.services.calendar import (
    Scope,
    clinic_zone,
    load_state,
    series_record,
    write_series,
)


def book_recurring(
    session: Session, caller: Caller, request: SeriesBooking, now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> BookingResult:
    """Book every occurrence of a series the rules accept; refused ones become exceptions.

    When no occurrence can be booked, nothing is written and the first refusal is returned.
    """
    org = caller.organization_id
    template = request.template
    if db.get_in_org(session, db.Series, org, request.series_id) is not None:
        raise DuplicateId("A series with this id already exists.")
    series = request.series(org)
    tz = clinic_zone(session, org, template.clinic_id)
    kind = _type(session, org, template.appointment_type_id)
    if tz is None or kind is None:
        what = "clinic" if tz is None else "appointment type"
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": what}), now,
                       "series.book", request.series_id, None, None)
    occurrences = expand(series.rrule, series.first_local, tz,
                         max_occurrences=policy.max_occurrences, exdates=series.exdates)
    if not occurrences:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "appointment"}),
                       now, "series.book", request.series_id, None, template.clinic_id)
    keys = {template.provider_id, template.patient_id, *(template.equipment_ids or ())}
    keys |= ({template.room_id} if template.room_id else set()) | _candidate_resources(kind)
    days = _days(tz, [o.start for o in occurrences])
    keys |= _quota_keys(session, org, template.clinic_id, days)
    _lock(session, keys)
    state = load_state(session, org, Scope(
        template.clinic_id, min(days), max(days), patient_ids=frozenset({template.patient_id}),
        resource_ids=frozenset(keys)))
    outcome = book_series(state, template, series, now, policy)
    if not outcome.accepted:
        first = outcome.refused[0].outcome
        assert isinstance(first, Refused)
        return _refuse(session, caller, first, now, "series.book", request.series_id, state,
                       template.clinic_id, occurrences=outcome.results,
                       patient_id=template.patient_id)
    refused_walls = frozenset(to_local(r.original_start, tz) for r in outcome.refused)
    series = replace(series, exdates=series.exdates | refused_walls)
    duration = (template.end - template.start) if template.end else kind.default_duration
    write_series(session, series, patient_id=template.patient_id,
                 appointment_type_id=kind.id, duration_seconds=int(duration.total_seconds()))
    session.flush()
    return _store(session, caller, outcome.accepted, [series], state, now,
                  intent="series.book", target=series.id, overridden=(),
                  occurrences=outcome.results, partial=outcome.refused)


def edit_recurring(
    session: Session, caller: Caller, edit: SeriesEdit, now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> BookingResult:
    """Move or cancel this / this and following / all occurrences of a series."""
    org = caller.organization_id
    intent = f"series.edit:{edit.action}"
    row = _owned(session, caller, db.Series, edit.series_id, now)
    anchor = _owned(session, caller, db.Appointment, edit.appointment_id, now)
    if row is None or anchor is None or anchor.series_id != row.id:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "appointment"}),
                       now, intent, edit.appointment_id, None, None)
    if edit.new_series_id and db.get_in_org(
            session, db.Series, caller.organization_id, edit.new_series_id) is not None:
        raise DuplicateId("A series with this id already exists.")
    members = list(session.scalars(select(db.Appointment).where(
        db.Appointment.organization_id == org, db.Appointment.series_id == row.id)))
    _lock(session, [m.id for m in members])
    session.expire_all()
    members = list(session.scalars(select(db.Appointment).where(
        db.Appointment.organization_id == org, db.Appointment.series_id == row.id)))
    kind = _type(session, org, row.appointment_type_id)
    keys = {row.patient_id, *(r for m in members for r in (m.provider_id, m.room_id) if r)}
    keys |= {r for r in (edit.provider_id, edit.room_id) if r} | _candidate_resources(kind)
    keys |= {e for m in members for e in m.equipment_ids or ()}
    tz = clinic_zone(session, org, row.clinic_id) or "UTC"
    shift = (edit.start - anchor.start_at) if edit.start is not None else timedelta(0)
    instants = [m.start_at for m in members] + [m.start_at + shift for m in members]
    days = _days(tz, instants or [anchor.start_at])
    keys |= _quota_keys(session, org, row.clinic_id, days)
    _lock(session, keys)
    state = load_state(session, org, Scope(
        row.clinic_id, min(days), max(days), patient_ids=frozenset({row.patient_id}),
        appointment_ids=frozenset({anchor.id}), resource_ids=frozenset(keys),
        series_ids=frozenset({row.id})))
    series = series_record(row)
    if edit.action == "move":
        outcome = move_in_series(state, edit.move_command(), edit.scope, series, now, policy,
                                 new_series_id=edit.new_series_id)
    else:
        outcome = cancel_in_series(state, edit.cancel_command(), edit.scope, series, now,
                                   policy)
    if not outcome.accepted:
        first = outcome.refused[0].outcome if outcome.refused else Refused(
            R.NOT_MOVABLE, {"status": anchor.status})
        assert isinstance(first, Refused)
        return _refuse(session, caller, first, now, intent, anchor.id, state, row.clinic_id,
                       occurrences=outcome.results)
    for record in outcome.series:
        write_series(session, record, template=row)
    session.flush()
    overridden = tuple(code for r in outcome.results if isinstance(r.outcome, Accepted)
                       for code in r.outcome.overridden)
    keep = edit.action == "cancel"
    return _store(session, caller, outcome.accepted, list(outcome.series), state, now,
                  intent=intent, target=anchor.id, overridden=overridden,
                  occurrences=outcome.results, partial=outcome.refused, keep_overridden=keep,
                  scope=edit.scope)
