"""The push run: one calendar state shared by the plain bookings of a sync push run
(prepared by :mod:`.push_run_prepare`), what it stages and flushes, and the batch mode
of its unit of work."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from scheduling import model
from scheduling.audit import audit_record
from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import (
    Accepted,
    BookAppointment,
    CancelAppointment,
    ChangeStatus,
    Command,
    MoveAppointment,
    Policy,
    Refused,
    ResizeAppointment,
    UndoStatus,
)
from scheduling.intents import PatientCreate, PatientUpdate
from scheduling.refusals import OFFERS_ALTERNATIVES
from scheduling.rules import check
from scheduling.state import CalendarState
from sync_server.db import models as db
from sync_server.db.bulk import insert_rows
from sync_server.db.bulk import table as table_of
from sync_server.services.booking.judging import _KEEP_IN_BATCH
from sync_server.services.booking.locks import (
    _book_keys,
    _days,
    _quota_keys,
    _type,
)
from sync_server.services.booking.outcomes import (
    BookingResult,
    Caller,
    _accepted,
    _new_id,
    _refuse,
)
from sync_server.services.calendar import (
    Scope,
    add_appointments,
    appointment_values,
    clinic_zone,
    read_longest_block,
)
from sync_server.services.events import appointment_event
from sync_server.services.unit_of_work import UnitOfWork, unit_of
from sync_server.waitlist.no_shows import fed_policy


@dataclass(slots=True)
class PushRun:
    """One calendar state for the appointment mutations of a sync push run
    (:func:`prepare_run`).

    The run holds the locks of every key in ``keys`` for its whole transaction, so the
    state stays the truth for those resources and patients: each change the run makes
    to an appointment or patient is put into it (:meth:`booked`, :func:`after_other`)
    instead of reading the calendar again."""

    scope: Scope
    state: CalendarState
    #: Appointment ids looked up at the start of the run, and those among them that exist.
    checked: set[str]
    existing: set[str]
    #: Rows staged by :meth:`stage` not written yet (see :meth:`flush`): new appointments
    #: by id, new values of existing ones by id, and each staged appointment's
    #: occupations (its old ones, for an existing appointment, are deleted first).
    appointment_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    occupation_rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: The ``overridden`` flag of appointments the run may change on its state (read
    #: under its locks, or written by the run); one missing takes the usual path.
    overridden: dict[str, bool] = field(default_factory=dict)
    #: The appointments whose locks this run holds (:func:`_lock_changed`).
    locked: set[str] = field(default_factory=set)
    #: The state holds the appointments of the alternatives' horizon around ``scope``
    #: too (read on the first refusal that offers alternatives, :meth:`widen`).
    wide: bool = False
    #: Every lock key the run holds, and the organization's version its state is true at
    #: (the next run of the same push keeps the state if nothing else was written since,
    #: see :func:`prepare_run`).
    keys: frozenset[str] = frozenset()
    version: int = 0
    config_version: int = 0

    def flush(self, session: Session) -> None:
        """Write the staged rows (many per statement): new appointments, new values of
        existing ones, then their old occupations go and the new ones come. On
        PostgreSQL the exclusion constraint still guards every occupation: one it
        refuses means the run's state was wrong; the ``IntegrityError`` makes sync push
        roll the whole run back and process it again one mutation at a time."""
        if not (self.appointment_rows or self.updated_rows):
            return
        appointments, updated = list(self.appointment_rows.values()), self.updated_rows
        occupations = [row for rows in self.occupation_rows.values() for row in rows]
        self.appointment_rows, self.updated_rows, self.occupation_rows = {}, {}, {}
        insert_rows(session, db.Appointment, appointments)
        if updated:
            session.execute(_UPDATE_APPOINTMENT, list(updated.values()))
            vacated = sorted(updated)
            org = updated[vacated[0]]["b_org"]
            for first in range(0, len(vacated), 500):
                session.execute(_VACATE, {"ids": vacated[first:first + 500], "org": org})
            for appointment_id in vacated:  # a row the session holds is stale now
                row = session.identity_map.get(
                    identity_key(db.Appointment, (appointment_id, org)))
                if row is not None:
                    session.expire(row)
        # A plain insert: the run's locks make an overlap impossible, so the exclusion
        # constraint (PostgreSQL) is only the safety net. Its violation aborts the
        # transaction and sync push redoes the run one mutation per transaction.
        insert_rows(session, db.AppointmentResource, occupations)

    def stage(
        self, org: str, appointment: model.Appointment, kind: model.AppointmentType,
        now: datetime, *, overridden: bool, new: bool,
    ) -> None:
        """Stage ``appointment``'s row (``new``: inserted, else its new values) and its
        occupations (a type of capacity 1: no group slot is shared), as
        :func:`~sync_server.services.booking.occupancy._store` writes them; put it into
        the run's state."""
        values = appointment_values(appointment, kind, now, overridden=overridden)
        staged = self.appointment_rows.get(appointment.id)
        if new:
            self.appointment_rows[appointment.id] = {
                "id": appointment.id, "organization_id": org, "created_at": now, **values}
        elif staged is not None:  # booked earlier in the run, not written yet
            staged.update(values)
        else:
            self.updated_rows[appointment.id] = {"b_id": appointment.id, "b_org": org, **values}
        block_start = appointment.start - kind.buffer_before
        block_end = appointment.end + kind.buffer_after
        self.occupation_rows[appointment.id] = [{
            "id": _new_id(), "organization_id": org, "appointment_id": appointment.id,
            "resource_id": resource_id, "block_start": block_start, "block_end": block_end,
            "active": appointment.is_active, "overridden": overridden, "group_member": False,
        } for resource_id in dict.fromkeys(appointment.resource_ids)]
        self.overridden[appointment.id] = overridden
        self.booked([appointment])

    def patient(self, patient_id: str) -> model.Patient | None:
        return self.state.patients.get(patient_id)

    def covers(self, scope: Scope) -> bool:
        mine = self.scope
        return (scope.clinic_id == mine.clinic_id and mine.first_day <= scope.first_day
                and scope.last_day <= mine.last_day and scope.patient_ids <= mine.patient_ids
                and scope.resource_ids - scope.patient_ids <= mine.resource_ids)

    def booked(self, appointments: Iterable[model.Appointment]) -> None:
        """Put appointments the run wrote into its state (one written by the usual path
        has its ``overridden`` flag forgotten: a later change of it takes that path)."""
        for appointment in appointments:
            self.state.put_appointment(appointment)
            self.checked.add(appointment.id)
            self.existing.add(appointment.id)
            if appointment.id not in self.occupation_rows:
                self.overridden.pop(appointment.id, None)

    def widen(self, session: Session, policy: Policy) -> None:
        """Read the appointments of the alternatives' horizon around the run's days once
        (the dated records were read with the state), so a refusal's alternatives are
        searched in memory on a state that spans them — as :func:`_judge` does for one
        refusal. What the run staged is in the state already."""
        if self.wide:
            return
        self.wide = True
        # Only the days the state lacks: the horizon's edges either side of its window.
        pad, scope = policy.alternatives_horizon_days + 1, self.scope
        longest = read_longest_block(session, self.state.organization_id)
        edges = ((scope.first_day - timedelta(days=pad), scope.first_day - timedelta(days=1)),
                 (scope.last_day + timedelta(days=1), scope.last_day + timedelta(days=pad)))
        for first, last in edges:
            add_appointments(session, self.state, replace(
                scope, first_day=first, last_day=last, pad_days=0,
                appointment_ids=frozenset()), longest)


#: The change commands a push run judges on its state (as :func:`change` takes them).
_CHANGES = (MoveAppointment, ResizeAppointment, CancelAppointment, ChangeStatus, UndoStatus)


# occupations of appointments whose new ones are staged.
_UPDATE_APPOINTMENT = update(table_of(db.Appointment)).where(
    table_of(db.Appointment).c.id == bindparam("b_id"),
    table_of(db.Appointment).c.organization_id == bindparam("b_org"))
_VACATE = delete(db.AppointmentResource).where(
    db.AppointmentResource.appointment_id.in_(bindparam("ids", expanding=True)),
    db.AppointmentResource.organization_id == bindparam("org"))


def drop_run(session: Session) -> None:
    """Write what the run staged and forget its shared state (a mutation of another kind
    may change what it holds); later bookings of the run are judged one by one."""
    unit_of(session).drop_run()


def before_other(session: Session, request: object) -> None:
    """Before a mutation that is not a plain booking of the run's fast path runs: write
    what the run staged when it reads or writes the calendar's tables. The run's state
    lives on through a change of an appointment or a patient (:func:`after_other` puts
    the result into it); a patient's create or update reads and writes no appointment,
    so the staged rows wait; anything else may change what the state holds (series,
    waitlist, blockouts), so the run's state is dropped."""
    if isinstance(request, (PatientCreate, PatientUpdate)):
        return
    if isinstance(request, (*_CHANGES, BookAppointment)):
        settle_run(session)
    else:
        drop_run(session)


def after_other(session: Session, result: BookingResult) -> None:
    """Put a patient a mutation of the usual path wrote into the run's state (booking
    and change put their appointments there themselves)."""
    run = _current_run(session)
    if run is None or result.refused is not None:
        return
    for record in result.records:
        if isinstance(record, model.Patient) and record.id in run.scope.patient_ids:
            run.state.patients[record.id] = record


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
    state covers is judged on it. Accepted, it is staged (rows written by
    :meth:`PushRun.flush`), versioned, logged and audited like :func:`book` would, without
    a database round trip; refused, it is refused as :func:`book` would, its alternatives
    searched on the run's state (:meth:`PushRun.widen`).

    ``None``: not this path's case (not covered, a duplicate id, a group type, an
    override); the staged rows are written and :func:`book` must take it."""
    run = _current_run(session)
    if run is None:
        return None
    org = caller.organization_id
    kind = _type(session, org, command.appointment_type_id)
    tz = clinic_zone(session, org, command.clinic_id)
    if (command.appointment_id not in run.checked or command.appointment_id in run.existing
            or kind is None or kind.capacity > 1 or tz is None
            or command.slot_template_id is not None):  # book() checks the template
        run.flush(session)
        return None
    end = command.end or command.start + kind.default_duration
    days = _days(tz, [command.start, end])
    keys = _book_keys(command, kind) | _quota_keys(session, org, command.clinic_id, days)
    scope = Scope(command.clinic_id, min(days), max(days),
                  patient_ids=frozenset({command.patient_id}), resource_ids=frozenset(keys))
    if not run.covers(scope):
        run.flush(session)
        return None
    policy = fed_policy(session, org, command.patient_id, now, policy)
    outcome = _check_in_run(session, run, command, now, policy)
    if isinstance(outcome, Refused):
        return _refuse(session, caller, outcome, now, "appointment.book",
                       command.appointment_id, run.state, command.clinic_id,
                       patient_id=command.patient_id)
    if outcome.overridden:
        run.flush(session)
        return None
    appointments = list(outcome.appointments)
    for appointment in appointments:
        run.stage(org, appointment, kind, now, overridden=False, new=True)
    record = audit_record(command, outcome, now)
    uow = unit_of(session)
    uow.emit(_accepted(caller, now, record.intent, "appointment", record.target, appointments,
                       outcome=record.outcome.value, reason=record.reason),
             *(appointment_event(org, None, a) for a in appointments))
    return BookingResult(None, tuple(appointments), outcome.notices, (), uow.versions[org],
                         clinic=run.state.clinics.get(command.clinic_id))


def _check_in_run(
    session: Session, run: PushRun, command: Command, now: datetime, policy: Policy
) -> Accepted | Refused:
    """The rules on the run's state; a refusal that offers alternatives is judged again
    with them, on the state widened to their horizon (once widened, judged with them at
    once: the rules search alternatives only for a refusal that offers them)."""
    if run.wide:
        return check(command, run.state, now, policy)
    outcome = check(command, run.state, now, replace(policy, max_alternatives=0))
    if isinstance(outcome, Refused) and outcome.code in OFFERS_ALTERNATIVES \
            and policy.max_alternatives:
        run.widen(session, policy)
        outcome = check(command, run.state, now, policy)
    return outcome


def _current_run(session: Session) -> PushRun | None:
    run = unit_of(session).run
    return run if isinstance(run, PushRun) else None


def batch(session: Session) -> AbstractContextManager[UnitOfWork]:
    """Batch mode for one sync push run (:meth:`UnitOfWork.run_batch`), keeping the
    configuration rows and the run's bookkeeping rows loaded."""
    return unit_of(session).run_batch(_KEEP_IN_BATCH)


def holding(session: Session) -> None:
    """The batch holds locks now (a mutation was processed): from here on, a resource
    locked by another transaction raises :class:`LockBusy` instead of being waited for."""
    unit_of(session).holding = True


def _judge_in_run(
    session: Session, run: PushRun, command: Command, now: datetime, policy: Policy,
) -> tuple[CalendarState, Accepted | Refused]:
    """:func:`_judge` on the run's state (its locks are held, its state is current)."""
    return run.state, _check_in_run(session, run, command, now, policy)
