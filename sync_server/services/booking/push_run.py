"""The push run: one calendar state shared by the plain bookings of a sync push run,
and the batch mode of its unit of work."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from scheduling import model
from scheduling.audit import audit_record
from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import Accepted, BookAppointment, Command, Policy, Refused
from scheduling.refusals import OFFERS_ALTERNATIVES
from scheduling.rules import check
from scheduling.state import CalendarState
from sync_server.db import models as db
from sync_server.db.bulk import insert_rows
from sync_server.db.session import lock_resources
from sync_server.services.booking.judging import _KEEP_IN_BATCH, _judge, _refresh
from sync_server.services.booking.locks import _book_keys, _days, _quota_keys, _type
from sync_server.services.booking.outcomes import BookingResult, Caller, _accepted, _new_id
from sync_server.services.calendar import Scope, appointment_values, clinic_zone, load_state
from sync_server.services.events import appointment_event
from sync_server.services.unit_of_work import UnitOfWork, unit_of

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


def batch(session: Session) -> AbstractContextManager[UnitOfWork]:
    """Batch mode for one sync push run (:meth:`UnitOfWork.run_batch`), keeping the
    configuration rows and the run's bookkeeping rows loaded."""
    return unit_of(session).run_batch(_KEEP_IN_BATCH)


def holding(session: Session) -> None:
    """The batch holds locks now (a mutation was processed): from here on, a resource
    locked by another transaction raises :class:`LockBusy` instead of being waited for."""
    unit_of(session).holding = True


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
