"""The booking path: one function per intent, each ONE transaction the caller commits.

Every function (used by the REST API and by sync push alike):

1. takes the per-resource locks (:func:`~sync_server.db.session.lock_resources`:
   sorted advisory locks on PostgreSQL; SQLite is serialized by ``BEGIN IMMEDIATE``)
   — the appointment itself first when it changes one, then every resource the
   result could occupy (provider, the named room and equipment, or the type's
   candidate rooms and equipment when the rules pick them) and the patient. A single
   appointment's change locks those resources only for the UTC days its blocks cover
   (:func:`_lock_days`), and its clinic's weeks where the clinic has quotas; a series
   locks its resources whole. In a
   sync push batch (:func:`begin_batch`) a mutation after the first only tries the
   locks and raises :class:`LockBusy` instead of waiting;
2. loads the calendar state the rules need (:mod:`sync_server.services.calendar`);
3. judges with :func:`scheduling.rules.check` (or the series functions) at the
   server's clock; a refusal with alternatives is judged again on a state that spans
   the alternatives' search horizon, so the alternatives offered are really free;
4. writes the appointment rows and their ``appointment_resources`` occupations
   (group members and the overridden flag as :mod:`sync_server.db.models` says).
   On PostgreSQL each occupation is ``INSERT … ON CONFLICT DO NOTHING``: zero rows
   inserted means the exclusion constraint saw an overlap the locks should have
   prevented, and the command is refused (never retried in a loop);
5. bumps the organization version, records the changes and appends the audit entry.

Sync push runs (:func:`prepare_run`) judge their plain bookings on one shared state
and stage the rows (:func:`book_in_run`); every other path is the one above.

A refusal appends an audit entry; on the sync path (``caller.mutation`` set) it also
bumps the version and records a conflict for the desk, in that order (version row
before audit head, the lock order of every writer).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from scheduling import model
from scheduling.audit import INTENTS, audit_record
from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import (
    Accepted,
    Actor,
    Alternative,
    BookAppointment,
    CancelAppointment,
    ChangeStatus,
    Command,
    MoveAppointment,
    Permission,
    Policy,
    Refused,
    ResizeAppointment,
    UndoStatus,
)
from scheduling.intents import (
    BlockoutCreate,
    BlockoutDelete,
    PatientCreate,
    PatientUpdate,
    SeriesBooking,
    SeriesEdit,
    WaitlistAdd,
    WaitlistBook,
    WaitlistRemove,
)
from scheduling.recurrence import expand
from scheduling.refusals import OFFERS_ALTERNATIVES
from scheduling.refusals import RefusalCode as R
from scheduling.rules import check
from scheduling.series import (
    OccurrenceResult,
    SeriesScope,
    book_series,
    cancel_in_series,
    move_in_series,
)
from scheduling.state import CalendarState
from scheduling.timeutil import local_date, to_local
from scheduling.wire import entity_of, to_wire
from sync_server.db import models as db
from sync_server.db.bulk import insert_rows
from sync_server.db.session import lock_resources
from sync_server.services import audit, changes
from sync_server.services.calendar import (
    Config,
    Scope,
    add_appointments,
    appointment_type_record,
    appointment_values,
    clinic_zone,
    kept_config,
    load_state,
    patient_record,
    read_longest_block,
    series_record,
    waitlist_record,
    write_appointment,
    write_series,
)
from sync_server.services.errors import AlreadyExists
from sync_server.services.events import (
    BlockoutChanged,
    ChangeAccepted,
    Event,
    PatientChanged,
    Placement,
    SeriesChanged,
    WaitlistChanged,
    appointment_event,
)
from sync_server.services.unit_of_work import UnitOfWork, unit_of

_BUSY = {
    model.ResourceKind.PROVIDER: R.PROVIDER_BUSY,
    model.ResourceKind.ROOM: R.ROOM_BUSY,
    model.ResourceKind.EQUIPMENT: R.EQUIPMENT_BUSY,
}


class DuplicateId(AlreadyExists):
    """A create intent names a record id that already exists."""

    code = "already_exists"


@dataclass(frozen=True, slots=True)
class MutationRef:
    """The pushed mutation a service call comes from (the sync path)."""

    client_id: str
    mutation_id: int
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: the organization, the domain actor (permissions) and the audit actor."""

    organization_id: str
    actor: Actor
    audit_actor: audit.Actor
    mutation: MutationRef | None = None


@dataclass(frozen=True, slots=True)
class BookingResult:
    """What a service call did. ``refused`` set = nothing changed (except the audit and,
    on the sync path, the conflict). ``records`` are the domain records as written."""

    refused: Refused | None = None
    records: tuple[Any, ...] = ()
    notices: tuple[R, ...] = ()
    overridden: tuple[R, ...] = ()
    version: int | None = None
    occurrences: tuple[OccurrenceResult, ...] = ()
    clinic: model.Clinic | None = None
    names: dict[str, str] = field(default_factory=dict)

    @property
    def appointments(self) -> list[model.Appointment]:
        return [r for r in self.records if isinstance(r, model.Appointment)]


# =========================================================================== appointments


def book(
    session: Session, caller: Caller, command: BookAppointment, now: datetime,
    policy: Policy = DEFAULT_POLICY, *, waitlist_entry: db.WaitlistEntry | None = None,
) -> BookingResult:
    """Book one appointment (``appointment.book``; ``waitlist.book`` with an entry to close)."""
    org = caller.organization_id
    run = _current_run(session)
    if run is not None and command.appointment_id in run.checked:
        duplicate = command.appointment_id in run.existing
    else:
        duplicate = session.get(db.Appointment, command.appointment_id) is not None
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
                  resource_ids=frozenset(keys | quota))
    covered = run is not None and waitlist_entry is None and run.covers(scope)
    if covered:
        assert run is not None
        state, outcome = _judge_in_run(session, org, run, scope, command, now, policy)
    else:
        _lock_days(session, resources, [(command.start, end)], kind,
                   exclusive={command.patient_id, *quota})
        state, outcome = _judge(session, org, scope, command, now, policy, config)
    if isinstance(outcome, Refused):
        return _refuse(session, caller, outcome, now, "appointment.book",
                       command.appointment_id, state, command.clinic_id)
    result = _write(session, caller, command, outcome, state, now,
                    new=frozenset({command.appointment_id}))
    if result.refused is None:
        if covered:
            assert run is not None
            run.booked(result.appointments)
        else:
            drop_run(session)  # written outside the run's state: it may be stale now
    if waitlist_entry is not None and result.refused is None:
        waitlist_entry.active = False
        waitlist_entry.version += 1
        assert result.version is not None
        entry = waitlist_record(waitlist_entry)
        _record(session, org, result.version, [entry])
        unit_of(session).emit(_waitlist_event(entry))
    return result


def _book_keys(command: BookAppointment, kind: model.AppointmentType | None) -> set[str]:
    """What a booking may occupy: its provider, patient, named or candidate rooms and
    equipment (the lock keys, quotas aside)."""
    keys = {command.provider_id, command.patient_id, *(command.equipment_ids or ())}
    keys |= {command.room_id} if command.room_id else set()
    keys |= _candidate_resources(kind, rooms=command.room_id is None,
                                 equipment=command.equipment_ids is None)
    return keys


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
    if isinstance(command, MoveAppointment):
        named |= {command.provider_id, command.room_id}
        # … unless a move leaves them to the rules
        rooms, equipment = command.room_id is None, not current.equipment_ids
        spans.append((command.start, command.start + (current.end_at - current.start_at)))
    elif isinstance(command, ResizeAppointment):
        spans.append((current.start_at, command.end))
    config, kind, keys = _configuration(session, org, current.clinic_id,
                                        current.appointment_type_id, named, rooms=rooms,
                                        equipment=equipment)
    tz = _zone(config, current.clinic_id)
    days = _days(tz, [moment for span in spans for moment in span])
    quota = _quota_keys(session, org, current.clinic_id, days, config)
    _lock_days(session, keys, spans, kind, exclusive={current.patient_id, *quota})
    scope = Scope(current.clinic_id, min(days), max(days),
                  patient_ids=frozenset({current.patient_id}),
                  appointment_ids=frozenset({current.id}),
                  resource_ids=frozenset(keys | quota | {current.patient_id}))
    state, outcome = _judge(session, org, scope, command, now, policy, config)
    if isinstance(outcome, Refused):
        return _refuse(session, caller, outcome, now, intent, current.id, state,
                       current.clinic_id)
    keep = not isinstance(command, MoveAppointment | ResizeAppointment) and current.overridden
    return _write(session, caller, command, outcome, state, now, keep_overridden=keep)


# =========================================================================== series


def book_recurring(
    session: Session, caller: Caller, request: SeriesBooking, now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> BookingResult:
    """Book every occurrence of a series the rules accept; refused ones become exceptions.

    When no occurrence can be booked, nothing is written and the first refusal is returned.
    """
    org = caller.organization_id
    template = request.template
    if session.get(db.Series, request.series_id) is not None:
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
                       template.clinic_id, occurrences=outcome.results)
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
    if edit.new_series_id and session.get(db.Series, edit.new_series_id) is not None:
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


# =========================================================================== other intents


def waitlist_add(
    session: Session, caller: Caller, request: WaitlistAdd, now: datetime
) -> BookingResult:
    org = caller.organization_id
    if not caller.actor.may(Permission.CREATE):
        return _not_permitted(session, caller, now, "waitlist.add", request.entry_id,
                              "book appointments")
    if session.get(db.WaitlistEntry, request.entry_id) is not None:
        raise DuplicateId("A waitlist entry with this id already exists.")
    missing = _missing_refs(session, org, clinic=request.clinic_id, patient=request.patient_id,
                            appointment_type=request.appointment_type_id)
    if missing:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": missing}), now,
                       "waitlist.add", request.entry_id, None, None)
    entry = request.entry(org)
    session.add(db.WaitlistEntry(
        id=entry.id, organization_id=org, clinic_id=entry.clinic_id,
        patient_id=entry.patient_id, appointment_type_id=entry.appointment_type_id,
        created_at=entry.created_at, priority=entry.priority,
        preferred_provider_ids=sorted(entry.preferred_provider_ids),
        preferred_weekdays=sorted(entry.preferred_weekdays),
        preferred_times=[[a.isoformat(), b.isoformat()] for a, b in entry.preferred_times],
        active=True, note=entry.note, version=1))
    session.flush()
    return _done(session, caller, now, "waitlist.add", entry.id, entry, _waitlist_event(entry))


def waitlist_remove(
    session: Session, caller: Caller, request: WaitlistRemove, now: datetime
) -> BookingResult:
    if not caller.actor.may(Permission.MODIFY):
        return _not_permitted(session, caller, now, "waitlist.remove", request.entry_id,
                              "change appointments")
    row = _owned(session, caller, db.WaitlistEntry, request.entry_id, now)
    if row is None:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "appointment"}),
                       now, "waitlist.remove", request.entry_id, None, None)
    row.active = False
    row.version += 1
    session.flush()
    entry = waitlist_record(row)
    return _done(session, caller, now, "waitlist.remove", row.id, entry, _waitlist_event(entry))


def waitlist_book(
    session: Session, caller: Caller, request: WaitlistBook, now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> BookingResult:
    row = _owned(session, caller, db.WaitlistEntry, request.entry_id, now)
    if row is None or not row.active:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "appointment"}),
                       now, "waitlist.book", request.entry_id, None, None)
    return book(session, caller, request.command, now, policy, waitlist_entry=row)


def patient_create(
    session: Session, caller: Caller, request: PatientCreate, now: datetime
) -> BookingResult:
    if "patient:edit" not in caller.actor.permissions:
        return _not_permitted(session, caller, now, "patient.create", request.patient_id,
                              "register patients")
    if session.get(db.Patient, request.patient_id) is not None:
        raise DuplicateId("A patient with this id already exists.")
    patient = request.patient(caller.organization_id)
    session.add(db.Patient(
        id=patient.id, organization_id=patient.organization_id, given_name=patient.given_name,
        family_name=patient.family_name, phone=patient.phone, email=patient.email,
        preferred_language=patient.preferred_language, active=True, version=1,
        updated_at=now))
    session.flush()
    return _done(session, caller, now, "patient.create", patient.id, patient,
                 PatientChanged(patient.organization_id, patient.id, created=True))


def patient_update(
    session: Session, caller: Caller, request: PatientUpdate, now: datetime
) -> BookingResult:
    """Apply the changed fields last-writer-wins, in server order."""
    if "patient:edit" not in caller.actor.permissions:
        return _not_permitted(session, caller, now, "patient.update", request.patient_id,
                              "edit patients")
    row = _owned(session, caller, db.Patient, request.patient_id, now)
    if row is None:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "patient"}), now,
                       "patient.update", request.patient_id, None, None)
    for name, value in request.changes.items():
        setattr(row, name, value)
    row.version += 1
    row.updated_at = now
    session.flush()
    return _done(session, caller, now, "patient.update", row.id, patient_record(row),
                 PatientChanged(row.organization_id, row.id, created=False))


def blockout_create(
    session: Session, caller: Caller, request: BlockoutCreate, now: datetime
) -> BookingResult:
    record = request.blockout
    if "admin:config" not in caller.actor.permissions:
        return _not_permitted(session, caller, now, "blockout.create", record.id,
                              "configure the calendar")
    if session.get(db.Blockout, record.id) is not None:
        raise DuplicateId("A blockout with this id already exists.")
    missing = _missing_refs(session, caller.organization_id, clinic=record.clinic_id)
    if not missing and record.resource_id:
        missing = _missing_refs(session, caller.organization_id, resource=record.resource_id)
    if missing:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": missing}), now,
                       "blockout.create", record.id, None, None)
    session.add(db.Blockout(id=record.id, organization_id=caller.organization_id,
                            clinic_id=record.clinic_id, resource_id=record.resource_id,
                            start_at=record.start, end_at=record.end, reason=record.reason))
    session.flush()
    return _done(session, caller, now, "blockout.create", record.id, record,
                 BlockoutChanged(caller.organization_id, record.id, record.clinic_id,
                                 record.resource_id, record.start, record.end, deleted=False))


def blockout_delete(
    session: Session, caller: Caller, request: BlockoutDelete, now: datetime
) -> BookingResult:
    if "admin:config" not in caller.actor.permissions:
        return _not_permitted(session, caller, now, "blockout.delete", request.blockout_id,
                              "configure the calendar")
    row = _owned(session, caller, db.Blockout, request.blockout_id, now)
    if row is None:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "blockout"}), now,
                       "blockout.delete", request.blockout_id, None, None)
    gone = BlockoutChanged(caller.organization_id, row.id, row.clinic_id, row.resource_id,
                           row.start_at, row.end_at, deleted=True)
    session.delete(row)
    session.flush()
    uow = unit_of(session)
    uow.emit(_accepted(caller, now, "blockout.delete", "blockout", request.blockout_id,
                       deleted=[("blockout", request.blockout_id)]), gone)
    return BookingResult(version=uow.versions[caller.organization_id])


# =========================================================================== internals


class LockBusy(Exception):
    """In a batch that already holds locks, a resource is locked by another transaction:
    waiting could deadlock, so the batch commits before this mutation (sync push)."""


def _lock(session: Session, keys: Iterable[str | None], shared: Iterable[str] = ()) -> None:
    """:func:`lock_resources`; in a sync push batch that already holds locks, only try
    them (:class:`LockBusy` when one is taken)."""
    if not lock_resources(session, (k for k in keys if k), shared,
                          wait=not unit_of(session).holding):
        raise LockBusy()


def _lock_days(
    session: Session, resources: Iterable[str | None], spans: Iterable[tuple[datetime, datetime]],
    kind: model.AppointmentType | None, exclusive: Iterable[str | None] = (),
) -> None:
    """Lock what one appointment's change may occupy: each resource for the UTC days
    its buffered block ``spans`` cover (exclusive) and the resource as a whole (shared:
    see :func:`lock_resources`), plus ``exclusive`` keys (the patient, quota weeks).

    Two blocks that overlap share an instant, hence its UTC day: bookings that could
    collide on a resource always wait for each other, bookings of other days do not.
    UTC, not the clinic's zone: a provider working at clinics in two zones is one
    resource. Every rule beyond overlap that counts a resource's bookings over time is
    a quota, and quotas lock their clinic's weeks (:func:`_quota_keys`)."""
    before = kind.buffer_before if kind else timedelta(0)
    after = kind.buffer_after if kind else timedelta(0)
    ids = {r for r in resources if r}
    days: set[date] = set()
    for start, end in spans:
        first = (start - before).astimezone(UTC).date()
        last = max(first, (end + after - timedelta(microseconds=1)).astimezone(UTC).date())
        if len(ids) * ((last - first).days + 1 + len(days)) > MAX_DAY_LOCKS:
            _lock(session, {*exclusive, *ids})  # the resources whole, as before
            return
        days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    _lock(session, {*exclusive, *(f"{r}@{d.isoformat()}" for r in ids for d in days)},
          shared=ids)


#: At most this many day locks per change; beyond, its resources are locked whole
#: (exclusively). PostgreSQL's lock table is shared by all sessions and sized by
#: ``max_locks_per_transaction`` (64) per connection: a type with many candidate rooms
#: over several days, or a request for a years-long span (refused by the rules after
#: locking), must not take a lock per resource and day.
MAX_DAY_LOCKS = 64


def _type(session: Session, org: str, type_id: str) -> model.AppointmentType | None:
    uow = unit_of(session)  # a batch reads the configuration once
    cache = uow.known if uow.batch else None
    if cache is not None and ("type", org, type_id) in cache:
        known: model.AppointmentType | None = cache[("type", org, type_id)]
        return known
    row = session.get(db.AppointmentType, type_id)
    kind = None if row is None or row.organization_id != org else appointment_type_record(row)
    if cache is not None:
        cache[("type", org, type_id)] = kind
    return kind


def _candidate_resources(
    kind: model.AppointmentType | None, *, rooms: bool = True, equipment: bool = True
) -> set[str]:
    """The rooms and equipment the rules may pick for ``kind`` (all are locked).

    ``rooms`` / ``equipment`` false: the command fixes them (the rules never pick
    another), so only the named ones are locked, not every candidate."""
    if kind is None:
        return set()
    keys = set(kind.requirement.rooms) if rooms else set()
    if equipment:
        keys |= {e for g in kind.requirement.equipment for e in g}
    return keys


def _configuration(
    session: Session, org: str, clinic_id: str, type_id: str, named: Iterable[str | None], *,
    rooms: bool, equipment: bool,
) -> tuple[Config, model.AppointmentType | None, set[str]]:
    """The clinic's configuration (:func:`kept_config`: read before any lock, as
    administrators' changes take none), the type, and the resources a change may
    occupy: the ``named`` ones and the type's candidates (``rooms`` / ``equipment``:
    see :func:`_candidate_resources`), all held by the configuration."""
    wanted = {r for r in named if r}
    config = kept_config(session, org, clinic_id, wanted)
    kind = config.appointment_type(type_id)
    wanted |= _candidate_resources(kind, rooms=rooms, equipment=equipment)
    if not config.holds(wanted):  # candidates assigned to other clinics only
        config = kept_config(session, org, clinic_id, wanted)
    return config, kind, wanted


def _zone(config: Config, clinic_id: str) -> str:
    clinic = config.clinic(clinic_id)
    return clinic.time_zone if clinic is not None else "UTC"


def _days(tz: str, instants: Iterable[datetime]) -> list[date]:
    return [local_date(moment, tz) for moment in instants]


def _quota_keys(session: Session, org: str, clinic_id: str, days: list[date],
                config: Config | None = None) -> set[str]:
    """A quota counts bookings over a day or a week, beyond what a booking's own resource
    days (:func:`_lock_days`) cover — every provider's, for a clinic-wide one: where the
    clinic has quotas, serialize its weeks."""
    uow = unit_of(session)
    cache = uow.known if uow.batch else None
    if config is not None:
        has_quota: bool | None = bool(config.quotas)
    else:
        has_quota = cache.get(("quota", org, clinic_id)) if cache is not None else None
    if has_quota is None:
        has_quota = session.scalar(select(db.Quota.id).where(
            db.Quota.organization_id == org, db.Quota.clinic_id == clinic_id).limit(1)) \
            is not None
        if cache is not None:
            cache[("quota", org, clinic_id)] = has_quota
    if not has_quota:
        return set()
    weeks = {day - timedelta(days=day.weekday()) for day in days}
    return {f"quota:{clinic_id}:{monday.isoformat()}" for monday in weeks}


def _judge(
    session: Session, org: str, scope: Scope, command: Command, now: datetime, policy: Policy,
    config: Config | None = None,
) -> tuple[CalendarState, Accepted | Refused]:
    """Judge ``command`` on the state for ``scope`` (``config``: the clinic's, holding
    every resource of ``scope``; read from the tables when left out)."""
    _refresh(session)  # locks are held now: read what committed before them
    longest = read_longest_block(session, org)
    # Alternatives are searched up to the horizon: a refusal is judged again on the
    # state extended to span it, so every alternative offered is really free. Its
    # dated records (a handful of rows) are read for that span at once.
    wide = replace(scope, pad_days=policy.alternatives_horizon_days + 1)
    state = load_state(session, org, scope, config=config, longest_block=longest,
                       dated_for=wide)
    outcome = check(command, state, now, replace(policy, max_alternatives=0))
    if isinstance(outcome, Refused) and outcome.code in OFFERS_ALTERNATIVES:
        add_appointments(session, state, wide, longest)
        outcome = check(command, state, now, policy)
    return state, outcome


def _judge_in_run(
    session: Session, org: str, run: PushRun, scope: Scope, command: Command, now: datetime,
    policy: Policy,
) -> tuple[CalendarState, Accepted | Refused]:
    """:func:`_judge` on the run's state (its locks are held, its state is current); a
    refusal that offers alternatives is judged again the usual way, over the horizon."""
    outcome = check(command, run.state, now, replace(policy, max_alternatives=0))
    if isinstance(outcome, Refused) and outcome.code in OFFERS_ALTERNATIVES:
        return _judge(session, org, scope, command, now, policy)
    return run.state, outcome


#: The widest span of local days (either side of its first booking) a push run's shared
#: calendar state covers; bookings further away are judged one by one.
RUN_DAYS = timedelta(days=14)


@dataclass(slots=True)
class PushRun:
    """One calendar state for the plain bookings of a sync push run (:func:`prepare_run`).

    The run holds the locks of every key in ``keys`` for its whole transaction, so the
    state stays the truth for those resources and patients: each accepted booking of the
    run is added to it (:meth:`booked`) instead of reading the calendar again."""

    scope: Scope
    state: CalendarState
    #: Appointment ids looked up at the start of the run, and those among them that exist.
    checked: set[str]
    existing: set[str]
    #: Rows of bookings accepted by :func:`book_in_run` not written yet (see :meth:`flush`).
    appointment_rows: list[dict[str, Any]] = field(default_factory=list)
    occupation_rows: list[dict[str, Any]] = field(default_factory=list)

    def flush(self, session: Session) -> None:
        """Write the staged rows (many per statement). On PostgreSQL the exclusion
        constraint still guards every occupation: one it refuses means the run's state
        was wrong; the ``IntegrityError`` makes sync push roll the whole run back and
        process it again one mutation at a time."""
        if not self.appointment_rows:
            return
        appointments, occupations = self.appointment_rows, self.occupation_rows
        self.appointment_rows, self.occupation_rows = [], []
        insert_rows(session, db.Appointment, appointments)
        # A plain insert: the run's locks make an overlap impossible, so the exclusion
        # constraint (PostgreSQL) is only the safety net. Its violation aborts the
        # transaction and sync push redoes the run one mutation per transaction.
        insert_rows(session, db.AppointmentResource, occupations)

    def covers(self, scope: Scope) -> bool:
        mine = self.scope
        return (scope.clinic_id == mine.clinic_id and mine.first_day <= scope.first_day
                and scope.last_day <= mine.last_day and scope.patient_ids <= mine.patient_ids
                and scope.resource_ids - scope.patient_ids <= mine.resource_ids)

    def booked(self, appointments: Iterable[model.Appointment]) -> None:
        for appointment in appointments:
            self.state.put_appointment(appointment)
            self.checked.add(appointment.id)
            self.existing.add(appointment.id)


def prepare_run(session: Session, org: str, commands: Iterable[BookAppointment]) -> None:
    """In a push batch: lock everything the run's bookings may occupy and load ONE
    calendar state for them, so each booking is judged in memory instead of reading the
    calendar again (the expensive part of a booking). Only bookings in the first one's
    clinic within :data:`RUN_DAYS` of it are covered; the others, and every booking
    after a mutation of another kind (:func:`drop_run`), take the usual path.

    Must run before the run takes any other lock: it waits for the resource locks."""
    uow = unit_of(session)
    if not uow.batch:
        return
    uow.run = None
    wanted = list(commands)
    if not wanted:
        return
    clinic_id = wanted[0].clinic_id
    tz = clinic_zone(session, org, clinic_id)
    if tz is None:
        return
    keys: set[str] = set()
    patients: set[str] = set()
    days: list[date] = []
    ids: list[str] = []
    anchor: date | None = None
    for command in wanted:
        kind = _type(session, org, command.appointment_type_id)
        if command.clinic_id != clinic_id or kind is None:
            continue
        end = command.end or command.start + kind.default_duration
        span = _days(tz, [command.start, end])
        anchor = anchor or span[0]
        if min(span) < anchor - RUN_DAYS or max(span) > anchor + RUN_DAYS:
            continue
        keys |= _book_keys(command, kind)
        patients.add(command.patient_id)
        days += span
        ids.append(command.appointment_id)
    if not ids:
        return
    keys |= _quota_keys(session, org, clinic_id, days)
    lock_resources(session, keys)
    _refresh(session)
    # Patients are locked like resources but are no resources: they stay out of the
    # resource lists the state's queries carry.
    scope = Scope(clinic_id, min(days), max(days), patient_ids=frozenset(patients),
                  resource_ids=frozenset(keys - patients))
    if session.get_bind().dialect.name == "postgresql":  # one array, not 200 parameters
        existing = set(session.scalars(_EXISTING_IDS, {"ids": ids}))
    else:
        existing = set(session.scalars(select(db.Appointment.id)
                                       .where(db.Appointment.id.in_(ids))))
    uow.run = PushRun(scope, load_state(session, org, scope), set(ids), existing)


_EXISTING_IDS = text("SELECT id FROM appointments WHERE id = ANY(:ids)")


def drop_run(session: Session) -> None:
    """Write what the run staged and forget its shared state (a mutation of another kind
    may change what it holds); later bookings of the run are judged one by one."""
    unit_of(session).drop_run()


def settle_run(session: Session) -> None:
    """Write what the run staged, keeping its state (before anything reads or writes the
    calendar another way, and before the run commits)."""
    run = _current_run(session)
    if run is not None:
        run.flush(session)


def book_in_run(
    session: Session, caller: Caller, command: BookAppointment, now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> BookingResult | None:
    """The fast path of a sync push run (:func:`prepare_run`): a new booking the run's
    state covers and accepts is staged (rows written by :meth:`PushRun.flush`), versioned,
    logged and audited like :func:`book` would, without a database round trip.

    ``None``: not this path's case (not covered, a duplicate id, a group type, refused,
    an override); the staged rows are written and :func:`book` must take it."""
    run = _current_run(session)
    if run is None:
        return None
    org = caller.organization_id
    kind = _type(session, org, command.appointment_type_id)
    tz = clinic_zone(session, org, command.clinic_id)
    if (command.appointment_id not in run.checked or command.appointment_id in run.existing
            or kind is None or kind.capacity > 1 or tz is None):
        run.flush(session)
        return None
    end = command.end or command.start + kind.default_duration
    days = _days(tz, [command.start, end])
    keys = _book_keys(command, kind) | _quota_keys(session, org, command.clinic_id, days)
    scope = Scope(command.clinic_id, min(days), max(days),
                  patient_ids=frozenset({command.patient_id}), resource_ids=frozenset(keys))
    outcome = check(command, run.state, now, replace(policy, max_alternatives=0)) \
        if run.covers(scope) else None
    if not isinstance(outcome, Accepted) or outcome.overridden:
        run.flush(session)
        return None
    appointments = list(outcome.appointments)
    for appointment in appointments:
        run.appointment_rows.append({
            "id": appointment.id, "organization_id": org, "created_at": now,
            **appointment_values(appointment, kind, now, overridden=False)})
        block_start = appointment.start - kind.buffer_before
        block_end = appointment.end + kind.buffer_after
        run.occupation_rows += [{
            "id": _new_id(), "organization_id": org, "appointment_id": appointment.id,
            "resource_id": resource_id, "block_start": block_start, "block_end": block_end,
            "active": appointment.is_active, "overridden": False, "group_member": False,
        } for resource_id in dict.fromkeys(appointment.resource_ids)]
    run.booked(appointments)
    record = audit_record(command, outcome, now)
    uow = unit_of(session)
    uow.emit(_accepted(caller, now, record.intent, "appointment", record.target, appointments,
                       outcome=record.outcome.value, reason=record.reason),
             *(appointment_event(org, None, a) for a in appointments))
    return BookingResult(None, tuple(appointments), outcome.notices, (), uow.versions[org],
                         clinic=run.state.clinics.get(command.clinic_id))


def _current_run(session: Session) -> PushRun | None:
    run = unit_of(session).run
    return run if isinstance(run, PushRun) else None


# A sync push batch (:func:`batch`) reads the organization's configuration (clinics,
# types, resources, schedules, quotas …) once: it is only changed by administrators
# through the REST API, never by a pushed mutation, and a batch is short (bounded by
# ``sync.CHUNK``); appointments and everything else are still read fresh per mutation.

_KEEP_IN_BATCH = (db.Clinic, db.AppointmentType, db.Resource, db.ResourceClinic,
                  db.WeeklySchedule, db.Quota, db.Device, db.AuditHead, db.ClientMutation,
                  db.OrgVersion)


def _refresh(session: Session) -> None:
    """Expire what was read before the locks (everything, or in a batch all but the
    configuration and the batch's own bookkeeping rows)."""
    if not unit_of(session).batch:
        session.expire_all()
        return
    for obj in list(session.identity_map.values()):
        if not isinstance(obj, _KEEP_IN_BATCH):
            session.expire(obj)


def batch(session: Session) -> AbstractContextManager[UnitOfWork]:
    """Batch mode for one sync push run (:meth:`UnitOfWork.run_batch`), keeping the
    configuration rows and the run's bookkeeping rows loaded."""
    return unit_of(session).run_batch(_KEEP_IN_BATCH)


def holding(session: Session) -> None:
    """The batch holds locks now (a mutation was processed): from here on, a resource
    locked by another transaction raises :class:`LockBusy` instead of being waited for."""
    unit_of(session).holding = True


def _intent_name(command: Command) -> str:
    name = INTENTS[type(command)]
    return f"{name}:{command.status.value}" if isinstance(command, ChangeStatus) else name


def _write(
    session: Session, caller: Caller, command: Command, outcome: Accepted,
    state: CalendarState, now: datetime, *, keep_overridden: bool = False,
    new: frozenset[str] = frozenset(),
) -> BookingResult:
    record = audit_record(command, outcome, now)
    return _store(session, caller, list(outcome.appointments), [], state, now,
                  intent=record.intent, target=record.target, overridden=outcome.overridden,
                  notices=outcome.notices, audit_outcome=record.outcome.value,
                  audit_reason=record.reason, keep_overridden=keep_overridden, new=new)


def _store(
    session: Session, caller: Caller, appointments: list[model.Appointment],
    others: list[Any], state: CalendarState, now: datetime, *, intent: str, target: str,
    overridden: tuple[R, ...], notices: tuple[R, ...] = (),
    occurrences: tuple[OccurrenceResult, ...] = (),
    partial: list[OccurrenceResult] | None = None, audit_outcome: str = "accepted",
    audit_reason: str = "", keep_overridden: bool = False, scope: SeriesScope | None = None,
    new: frozenset[str] = frozenset(),
) -> BookingResult:
    """Write accepted appointments and their occupations, guarded; bump, log, audit.

    ``new``: ids of appointments known not to exist yet (no old row, no occupations)."""
    org = caller.organization_id
    uow = unit_of(session)
    rows: dict[str, db.Appointment] = {}  # held: the session keeps flushed rows weakly
    before: dict[str, Placement] = {}
    blocked: tuple[str, model.Appointment] | None = None
    with uow.savepoint() as savepoint:
        for appointment in appointments:
            kind = state.appointment_type(appointment.appointment_type_id)
            current = None if appointment.id in new else session.get(db.Appointment,
                                                                     appointment.id)
            if current is not None:
                before[appointment.id] = placement_of(current)
            flag = bool(overridden) or (keep_overridden and current is not None
                                        and current.overridden)
            rows[appointment.id] = write_appointment(session, appointment, kind, now,
                                                     overridden=flag, new=appointment.id in new)
        session.flush()
        for appointment in appointments:
            kind = state.appointment_type(appointment.appointment_type_id)
            resource_id = _occupy(session, org, appointment, kind,
                                  overridden=rows[appointment.id].overridden,
                                  new=appointment.id in new)
            if resource_id is not None:
                blocked = resource_id, appointment
                savepoint.rollback()
                break
    if blocked is not None:
        resource_id, appointment = blocked
        return _refuse(session, caller, _guard_refusal(session, state, resource_id, appointment),
                       now, intent, target, state, appointment.clinic_id)
    first: Refused | None = None
    if partial:
        refusal = partial[0].outcome
        assert isinstance(refusal, Refused)
        first = refusal
        audit_outcome, audit_reason = "partially_accepted", \
            f"{len(partial)} refused: {first.code.value}"
    if scope is not None:
        audit_reason = (f"scope {scope.value}; " + audit_reason).strip("; ")
    uow.emit(_accepted(caller, now, intent, "appointment" if appointments else "series", target,
                       [*others, *appointments], outcome=audit_outcome, reason=audit_reason),
             *(SeriesChanged(org, series.id, series.clinic_id) for series in others
               if isinstance(series, model.Series)),
             *(appointment_event(org, before.get(a.id), a) for a in appointments))
    version = uow.versions[org]
    if first is not None:
        _conflict(session, caller, first, version, now)
    clinic = state.clinics.get(appointments[0].clinic_id) if appointments else None
    return BookingResult(None, (*others, *appointments), notices, overridden, version,
                         occurrences, clinic, _names(state))


def _occupy(
    session: Session, org: str, appointment: model.Appointment, kind: model.AppointmentType,
    *, overridden: bool, new: bool = False,
) -> str | None:
    """Replace the appointment's occupations; the id of a resource the guard refused, if any.

    ``new``: the appointment was just inserted, it has no occupations to replace."""
    table = db.AppointmentResource
    holders: list[tuple[str, datetime, datetime]] = []
    if not new:
        old = list(session.scalars(select(table).where(table.appointment_id == appointment.id)))
        holders = [(r.resource_id, r.block_start, r.block_end) for r in old
                   if r.active and not r.group_member and not r.overridden]
        session.execute(delete(table).where(table.appointment_id == appointment.id))
    for resource_id, start, end in holders:  # hand a group slot's hold to a remaining member
        mate = session.scalars(select(table).where(
            table.resource_id == resource_id, table.block_start == start,
            table.block_end == end, table.active.is_(True), table.group_member.is_(True),
        ).limit(1)).first()
        if mate is not None:
            mate.group_member = False
    if not new:
        session.flush()
    block_start = appointment.start - kind.buffer_before
    block_end = appointment.end + kind.buffer_after
    wanted: list[dict[str, Any]] = []
    for resource_id in dict.fromkeys(appointment.resource_ids):
        member = (
            kind.capacity > 1 and appointment.is_active
            and _slot_held(session, appointment, resource_id, block_start, block_end)
        )
        wanted.append({
            "id": _new_id(), "organization_id": org, "appointment_id": appointment.id,
            "resource_id": resource_id, "block_start": block_start, "block_end": block_end,
            "active": appointment.is_active, "overridden": overridden, "group_member": member,
        })
    if not wanted:
        return None
    if session.get_bind().dialect.name != "postgresql":
        session.execute(_OCCUPY, wanted)
        return None
    inserted = set(session.scalars(_OCCUPY_UNLESS_EXCLUDED, wanted))
    refused = [v["resource_id"] for v in wanted if v["id"] not in inserted]
    return refused[0] if refused else None


# Built once: an occupation row, and on PostgreSQL the same unless the exclusion
# constraint refuses it (``ON CONFLICT DO NOTHING``: the ids inserted come back).
_OCCUPY = insert(db.AppointmentResource)
_OCCUPY_UNLESS_EXCLUDED = (pg_insert(db.AppointmentResource).on_conflict_do_nothing()
                           .returning(db.AppointmentResource.id))


def _slot_held(
    session: Session, appointment: model.Appointment, resource_id: str, start: datetime,
    end: datetime,
) -> bool:
    """Whether another member of the same group slot already holds ``resource_id``."""
    table, mate = db.AppointmentResource, db.Appointment
    found = session.scalar(select(table.id).join(mate, mate.id == table.appointment_id).where(
        table.resource_id == resource_id, table.block_start == start, table.block_end == end,
        table.active.is_(True), table.group_member.is_(False), table.overridden.is_(False),
        mate.id != appointment.id, mate.appointment_type_id == appointment.appointment_type_id,
        mate.provider_id == appointment.provider_id, mate.start_at == appointment.start,
        mate.end_at == appointment.end,
    ).limit(1))
    return found is not None


def _guard_refusal(
    session: Session, state: CalendarState, resource_id: str, wanted: model.Appointment
) -> Refused:
    resource = state.resources.get(resource_id)
    kind = resource.kind if resource else model.ResourceKind.PROVIDER
    other = session.execute(
        select(db.Appointment.start_at, db.Appointment.end_at)
        .join(db.AppointmentResource, db.AppointmentResource.appointment_id == db.Appointment.id)
        .where(db.AppointmentResource.resource_id == resource_id,
               db.AppointmentResource.active.is_(True),
               db.AppointmentResource.block_start < wanted.end,
               db.AppointmentResource.block_end > wanted.start).limit(1)).first()
    params: dict[str, Any] = {kind.value: resource_id}
    if other is not None:
        params.update(other_start=other[0], other_end=other[1])
    return Refused(_BUSY[kind], params)


def _refuse(
    session: Session, caller: Caller, refused: Refused, now: datetime, intent: str,
    target: str, state: CalendarState | None, clinic_id: str | None, *,
    occurrences: tuple[OccurrenceResult, ...] = (),
) -> BookingResult:
    version = None
    if caller.mutation is not None:
        version = changes.bump_version(session, caller.organization_id)
        _conflict(session, caller, refused, version, now)
    _audit(session, caller, now, intent, _target_type(intent), target, "refused",
           refused.code.value)
    clinic = state.clinics.get(clinic_id) if state is not None and clinic_id else None
    if clinic is None and clinic_id:
        row = session.get(db.Clinic, clinic_id)
        if row is not None and row.organization_id == caller.organization_id:
            clinic = model.Clinic(row.id, row.organization_id, row.name, row.time_zone,
                                  row.locale)
    names = _names(state) if state is not None else {}
    return BookingResult(refused, version=version, occurrences=occurrences, clinic=clinic,
                         names=names)


def _not_permitted(
    session: Session, caller: Caller, now: datetime, intent: str, target: str, action: str
) -> BookingResult:
    return _refuse(session, caller, Refused(R.NOT_PERMITTED, {"action": action}), now, intent,
                   target, None, None)


def _conflict(
    session: Session, caller: Caller, refused: Refused, version: int, now: datetime
) -> None:
    mutation = caller.mutation
    if mutation is None:
        return
    record_conflict(session, caller.organization_id, mutation, refused.code.value,
                    refused.message_id, json_params(refused.params),
                    [alternative_json(a) for a in refused.alternatives], version, now)


def record_conflict(
    session: Session, org: str, mutation: MutationRef, code: str, message_id: str,
    params: dict[str, Any], alternatives: list[dict[str, Any]], version: int, now: datetime,
) -> None:
    """Keep a refused mutation for the desk's conflict inbox (served by pull)."""
    session.add(db.Conflict(
        id=_new_id(), organization_id=org, client_id=mutation.client_id,
        mutation_id=mutation.mutation_id, name=mutation.name, args=mutation.args, code=code,
        message_id=message_id, params=params, alternatives=alternatives,
        created_version=version, created_at=now))


def _done(
    session: Session, caller: Caller, now: datetime, intent: str, target: str, record: Any,
    event: Event,
) -> BookingResult:
    uow = unit_of(session)
    uow.emit(_accepted(caller, now, intent, entity_of(record), target, [record]), event)
    return BookingResult(records=(record,), version=uow.versions[caller.organization_id])


def _accepted(
    caller: Caller, now: datetime, intent: str, target_type: str, target: str,
    records: Iterable[Any] = (), *, deleted: Iterable[tuple[str, str]] = (),
    outcome: str = "accepted", reason: str = "",
) -> ChangeAccepted:
    return ChangeAccepted(caller.organization_id, now, caller.audit_actor.user_id,
                          caller.audit_actor.device_id, intent, target_type, target,
                          outcome, reason, tuple(records), tuple(deleted))


def placement_of(row: db.Appointment) -> Placement:
    """Where an appointment row stands (before it is written over)."""
    return Placement(row.clinic_id, row.provider_id, row.room_id, tuple(row.equipment_ids or ()),
                     row.start_at, row.end_at, model.AppointmentStatus(row.status), row.deleted)


def _waitlist_event(entry: model.WaitlistEntry) -> WaitlistChanged:
    return WaitlistChanged(entry.organization_id, entry.id, entry.clinic_id, entry.patient_id,
                           entry.active)


def _record(session: Session, org: str, version: int, records: Iterable[Any]) -> None:
    """Change-log entries (wire form) for records written at ``version``."""
    for record in records:
        changes.record_change(session, org, version, entity_of(record), record.id, "upsert",
                              to_wire(record))


def _audit(
    session: Session, caller: Caller, now: datetime, intent: str, target_type: str,
    target: str, outcome: str, reason: str = "",
) -> None:
    audit.append(session, caller.organization_id, at=now, actor=caller.audit_actor,
                 intent=intent[:64], outcome=outcome[:32], target_type=target_type,
                 target_id=target[:64], reason=reason[:200] or None)


def _target_type(intent: str) -> str:
    prefix = intent.split(".", 1)[0]
    return {"waitlist": "waitlist_entry"}.get(prefix, prefix)


def _owned(
    session: Session, caller: Caller, table: Any, record_id: str, now: datetime
) -> Any:
    """The row when it belongs to the caller's organization. Another organization's id is
    answered like an unknown one, with an ``access_denied`` audit entry."""
    row = session.get(table, record_id)
    if row is None:
        return None
    if row.organization_id != caller.organization_id:
        _audit(session, caller, now, "access_denied", table.__tablename__.rstrip("s"),
               record_id, "refused", "other_organization")
        return None
    return row


def _missing_refs(session: Session, org: str, **refs: str) -> str | None:
    tables = {"clinic": db.Clinic, "patient": db.Patient,
              "appointment_type": db.AppointmentType, "resource": db.Resource}
    for kind, record_id in refs.items():
        row: Any = session.get(tables[kind], record_id)
        if row is None or row.organization_id != org:
            return kind.replace("_", " ")
    return None


def _names(state: CalendarState) -> dict[str, str]:
    """Display names for message parameters: resources, types, clinics (never patients)."""
    names = {r.id: r.name for r in state.resources.values()}
    names.update({t.id: t.name for t in state.appointment_types.values()})
    names.update({c.id: c.name for c in state.clinics.values()})
    return names


def json_params(params: Any) -> dict[str, Any]:
    """Refusal parameters as JSON values (instants and dates as ISO text)."""
    return {str(k): _json_value(v) for k, v in dict(params).items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def alternative_json(alternative: Alternative) -> dict[str, Any]:
    return {"start": alternative.start.isoformat(), "end": alternative.end.isoformat(),
            "provider_id": alternative.provider_id, "room_id": alternative.room_id,
            "equipment_ids": list(alternative.equipment_ids)}


def _new_id() -> str:
    return str(uuid.uuid4())


__all__ = [
    "BookingResult",
    "Caller",
    "DuplicateId",
    "MutationRef",
    "alternative_json",
    "blockout_create",
    "blockout_delete",
    "book",
    "book_in_run",
    "book_recurring",
    "change",
    "drop_run",
    "edit_recurring",
    "json_params",
    "patient_create",
    "patient_update",
    "prepare_run",
    "record_conflict",
    "settle_run",
    "waitlist_add",
    "waitlist_book",
    "waitlist_remove",
]

# Commands of the change path, for callers that dispatch on type.
CHANGE_COMMANDS = (MoveAppointment, ResizeAppointment, CancelAppointment, ChangeStatus,
                   UndoStatus)
