"""Occupancy writes: an accepted change's appointment rows and their
``appointment_resources`` occupations, guarded by the exclusion constraint on
PostgreSQL, then the change's events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from scheduling import model
from scheduling.audit import audit_record
from scheduling.commands import Accepted, Command, Refused
from scheduling.refusals import RefusalCode as R
from scheduling.series import OccurrenceResult, SeriesScope
from scheduling.state import CalendarState
from sync_server.db import models as db
from sync_server.services.booking.outcomes import (
    BookingResult,
    Caller,
    _accepted,
    _conflict,
    _names,
    _new_id,
    _refuse,
    placement_of,
)
from sync_server.services.calendar import write_appointment
from sync_server.services.calendar.rows import appointment_values
from sync_server.services.events import Placement, SeriesChanged, appointment_event
from sync_server.services.unit_of_work import UnitOfWork, unit_of

_BUSY = {
    model.ResourceKind.PROVIDER: R.PROVIDER_BUSY,
    model.ResourceKind.ROOM: R.ROOM_BUSY,
    model.ResourceKind.EQUIPMENT: R.EQUIPMENT_BUSY,
}


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
    """Write accepted appointments and their occupations, guarded; then emit the change's
    events (their handlers bump the version, log the changes and append the audit entry).

    ``new``: ids of appointments known not to exist yet (no old row, no occupations)."""
    org = caller.organization_id
    uow = unit_of(session)
    rows: dict[str, db.Appointment] = {}  # held: the session keeps flushed rows weakly
    before: dict[str, Placement] = {}
    blocked: tuple[str, model.Appointment] | None = None
    if _lone_new(uow, appointments, new, partial):
        blocked = _insert_new(session, org, appointments[0], state, now,
                              overridden=bool(overridden))
    else:
        blocked = _write_rows(session, org, appointments, state, now, rows, before,
                              overridden=overridden, keep_overridden=keep_overridden, new=new)
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
    version = uow.versions.get(org)  # None while the bookkeeping is deferred
    if first is not None and version is not None:
        _conflict(session, caller, first, version, now)
    clinic = state.clinics.get(appointments[0].clinic_id) if appointments else None
    return BookingResult(None, (*others, *appointments), notices, overridden, version,
                         occurrences, clinic, _names(state))


def _lone_new(uow: UnitOfWork, appointments: list[model.Appointment], new: frozenset[str],
              partial: list[OccurrenceResult] | None) -> bool:
    """Whether this is one new appointment written outside a sync push (a REST booking):
    it then needs no savepoint, since a failed insert fails the whole request, and a
    refusal of the guard is undone by deleting the row (its occupations cascade)."""
    return (len(appointments) == 1 and appointments[0].id in new and not uow.batch
            and uow.run is None and not partial)


def _insert_new(session: Session, org: str, appointment: model.Appointment,
                state: CalendarState, now: datetime, *, overridden: bool,
                ) -> tuple[str, model.Appointment] | None:
    """Insert one new appointment's row and occupations with Core (no ORM unit of work
    for one row); on a refusal of the guard, delete the row again."""
    kind = state.appointment_type(appointment.appointment_type_id)
    session.execute(_INSERT_APPOINTMENT, {
        "id": appointment.id, "organization_id": appointment.organization_id,
        "created_at": now, **appointment_values(appointment, kind, now, overridden=overridden)})
    resource_id = _occupy(session, org, appointment, kind, overridden=overridden)
    if resource_id is None:
        return None
    session.execute(_DELETE_APPOINTMENT, {"org": appointment.organization_id,
                                          "id": appointment.id})
    return resource_id, appointment


def _write_rows(
    session: Session, org: str, appointments: list[model.Appointment], state: CalendarState,
    now: datetime, rows: dict[str, db.Appointment], before: dict[str, Placement], *,
    overridden: tuple[R, ...], keep_overridden: bool, new: frozenset[str],
) -> tuple[str, model.Appointment] | None:
    """Write the appointments' rows and occupations in a savepoint (through the ORM: old
    rows are updated, old occupations vacated); a refusal of the guard rolls it back and
    names the resource and appointment refused."""
    uow = unit_of(session)
    with uow.savepoint() as savepoint:
        for appointment in appointments:
            kind = state.appointment_type(appointment.appointment_type_id)
            current = None if appointment.id in new else db.get_in_org(
                session, db.Appointment, appointment.organization_id, appointment.id)
            if current is not None:
                before[appointment.id] = placement_of(current)
            flag = bool(overridden) or (keep_overridden and current is not None
                                        and current.overridden)
            rows[appointment.id] = write_appointment(session, appointment, kind, now,
                                                     overridden=flag, new=appointment.id in new)
        session.flush()
        # Every old occupation goes before any new one is taken: appointments changed
        # together (a visit, a series) may move into each other's old places.
        for appointment in appointments:
            if appointment.id not in new:
                _vacate(session, appointment.organization_id, appointment.id)
        if len(new) < len(appointments):
            session.flush()
        for appointment in appointments:
            kind = state.appointment_type(appointment.appointment_type_id)
            resource_id = _occupy(session, org, appointment, kind,
                                  overridden=rows[appointment.id].overridden)
            if resource_id is not None:
                savepoint.rollback()
                return resource_id, appointment
    return None


def _vacate(session: Session, org: str, appointment_id: str) -> None:
    """Remove an appointment's occupations, handing a group slot's hold to a remaining
    member."""
    table = db.AppointmentResource
    mine = (table.appointment_id == appointment_id, table.organization_id == org)
    old = list(session.scalars(select(table).where(*mine)))
    holders = [(r.resource_id, r.block_start, r.block_end) for r in old
               if r.active and not r.group_member and not r.overridden]
    session.execute(delete(table).where(*mine))
    for resource_id, start, end in holders:
        mate = session.scalars(select(table).where(
            table.resource_id == resource_id, table.block_start == start,
            table.block_end == end, table.active.is_(True), table.group_member.is_(True),
            table.organization_id == org,
        ).limit(1)).first()
        if mate is not None:
            mate.group_member = False


def _occupy(
    session: Session, org: str, appointment: model.Appointment, kind: model.AppointmentType,
    *, overridden: bool,
) -> str | None:
    """Take the appointment's occupations (its old ones already :func:`_vacate`-d); the id
    of a resource the guard refused, if any."""
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
# On the table, not the mapped class: Core's executemany, without the ORM's bulk
# insert machinery (a tenth of a booking's Python time for two rows).
_OCCUPATIONS = cast(Table, db.AppointmentResource.__table__)
_OCCUPY = insert(_OCCUPATIONS)
_OCCUPY_UNLESS_EXCLUDED = (pg_insert(_OCCUPATIONS).on_conflict_do_nothing()
                           .returning(_OCCUPATIONS.c.id))
_APPOINTMENTS = cast(Table, db.Appointment.__table__)
_INSERT_APPOINTMENT = insert(_APPOINTMENTS)
_DELETE_APPOINTMENT = delete(_APPOINTMENTS).where(
    _APPOINTMENTS.c.organization_id == bindparam("org"), _APPOINTMENTS.c.id == bindparam("id"))


def _slot_held(
    session: Session, appointment: model.Appointment, resource_id: str, start: datetime,
    end: datetime,
) -> bool:
    """Whether another member of the same group slot already holds ``resource_id``."""
    table, mate = db.AppointmentResource, db.Appointment
    found = session.scalar(select(table.id).join(mate, and_(
        mate.id == table.appointment_id, mate.organization_id == table.organization_id)).where(
        table.organization_id == appointment.organization_id,
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
        .join(db.AppointmentResource, and_(
            db.AppointmentResource.appointment_id == db.Appointment.id,
            db.AppointmentResource.organization_id == db.Appointment.organization_id))
        .where(db.AppointmentResource.resource_id == resource_id,
               db.AppointmentResource.active.is_(True),
               db.AppointmentResource.block_start < wanted.end,
               db.AppointmentResource.block_end > wanted.start).limit(1)).first()
    params: dict[str, Any] = {kind.value: resource_id}
    if other is not None:
        params.update(other_start=other[0], other_end=other[1])
    return Refused(_BUSY[kind], params)
