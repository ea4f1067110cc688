"""Database rows ↔ domain records, and the calendar state one booking transaction needs.

The rules engine judges a :class:`scheduling.state.CalendarState`; the server
builds one per transaction, limited to what the rules can look at: the
organization's configuration for the clinic, and the active appointments that
could collide with the command — those of the clinic, of its resources (a
provider working at two clinics) and of the patient — on the local days the
command touches, widened by ``pad_days`` (one day by default, the ISO weeks
around them when the clinic has weekly quotas).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, event, select, text, union_all
from sqlalchemy.orm import ORMExecuteState, Session

from scheduling import model
from scheduling.availability import next_available
from scheduling.commands import Alternative
from scheduling.state import CalendarState
from scheduling.timeutil import day_bounds, local_date
from sync_server.db import models as db
from sync_server.services.errors import NotFound
from sync_server.services.unit_of_work import unit_of

# --------------------------------------------------------------------------- rows → records


def clinic_record(row: db.Clinic) -> model.Clinic:
    return model.Clinic(row.id, row.organization_id, row.name, row.time_zone, row.locale)


def resource_record(row: db.Resource, clinic_ids: Iterable[str]) -> model.Resource:
    restriction = (
        model.Restriction(row.requires_approval, timedelta(seconds=row.min_lead_time_seconds))
        if row.restricted
        else None
    )
    return model.Resource(row.id, row.organization_id, model.ResourceKind(row.kind), row.name,
                          frozenset(clinic_ids), row.department_id, row.active, restriction)


def appointment_type_record(row: db.AppointmentType) -> model.AppointmentType:
    requirement = row.requirement or {}
    return model.AppointmentType(
        row.id, row.organization_id, row.name,
        timedelta(seconds=row.default_duration_seconds),
        timedelta(seconds=row.min_duration_seconds),
        timedelta(seconds=row.max_duration_seconds),
        timedelta(seconds=row.buffer_before_seconds),
        timedelta(seconds=row.buffer_after_seconds),
        model.ResourceRequirement(
            frozenset(requirement.get("providers") or ()),
            frozenset(requirement.get("rooms") or ()),
            tuple(frozenset(group) for group in requirement.get("equipment") or ()),
        ),
        row.capacity, row.online_bookable, row.telemedicine,
        timedelta(seconds=row.min_notice_seconds), row.max_days_ahead,
        timedelta(seconds=row.cancellation_period_seconds), row.reschedule_limit, row.color,
    )


def _time(text: str) -> time:
    return time.fromisoformat(text)


def schedule_record(row: db.WeeklySchedule) -> model.WeeklySchedule:
    breaks = tuple(model.Break(_time(a), _time(b)) for a, b in row.breaks or ())
    return model.WeeklySchedule(row.id, row.provider_id, row.clinic_id, row.weekday,
                                row.start_time, row.end_time, breaks, row.valid_from,
                                row.valid_until)


def exception_record(row: db.ScheduleException) -> model.ScheduleException:
    return model.ScheduleException(row.id, row.provider_id, row.clinic_id,
                                   model.ExceptionKind(row.kind), row.start_at, row.end_at,
                                   row.reason)


def blockout_record(row: db.Blockout) -> model.Blockout:
    return model.Blockout(row.id, row.clinic_id, row.start_at, row.end_at, row.resource_id,
                          row.reason)


def outage_record(row: db.Outage) -> model.Outage:
    return model.Outage(row.id, row.resource_id, row.start_at, row.end_at, row.reason)


def quota_record(row: db.Quota) -> model.Quota:
    return model.Quota(row.id, row.clinic_id, model.QuotaPeriod(row.period), row.max_count,
                       row.provider_id, row.appointment_type_id)


def patient_record(row: db.Patient) -> model.Patient:
    return model.Patient(row.id, row.organization_id, row.given_name, row.family_name,
                         row.active, row.phone, row.email, row.preferred_language)


def appointment_record(row: db.Appointment | Row[Any]) -> model.Appointment:
    """The record of an appointment row: an ORM object or a row of its columns."""
    change = None
    if row.last_status_previous is not None and row.last_status_at is not None:
        change = model.StatusChange(model.AppointmentStatus(row.last_status_previous),
                                    row.last_status_at, row.last_status_actor_id or "")
    return model.Appointment(
        id=row.id, organization_id=row.organization_id, clinic_id=row.clinic_id,
        patient_id=row.patient_id, appointment_type_id=row.appointment_type_id,
        provider_id=row.provider_id, start=row.start_at, end=row.end_at,
        status=model.AppointmentStatus(row.status), room_id=row.room_id,
        equipment_ids=tuple(row.equipment_ids or ()),
        source=model.AppointmentSource(row.source), notes=row.notes,
        patient_notes=row.patient_notes, series_id=row.series_id,
        original_start=row.original_start, deleted=row.deleted, version=row.version,
        reschedule_count=row.reschedule_count, override_reason=row.override_reason,
        cancel_reason=row.cancel_reason, last_status_change=change,
    )


def series_record(row: db.Series) -> model.Series:
    return model.Series(row.id, row.organization_id, row.clinic_id, row.rrule, row.first_local,
                        frozenset(datetime.fromisoformat(d) for d in row.exdates or ()))


def waitlist_record(row: db.WaitlistEntry) -> model.WaitlistEntry:
    return model.WaitlistEntry(
        row.id, row.organization_id, row.clinic_id, row.patient_id, row.appointment_type_id,
        row.created_at, row.priority, frozenset(row.preferred_provider_ids or ()),
        frozenset(row.preferred_weekdays or ()),
        tuple((_time(a), _time(b)) for a, b in row.preferred_times or ()),
        row.active, row.note,
    )


# --------------------------------------------------------------------------- records → rows


def write_appointment(
    session: Session, record: model.Appointment, kind: model.AppointmentType, now: datetime,
    *, overridden: bool, new: bool = False,
) -> db.Appointment:
    """Insert or update the row of ``record`` (its buffered block from ``kind``).

    ``new``: the caller knows no row exists yet (saves looking for it)."""
    row = None if new else session.get(db.Appointment, record.id)
    if row is None:
        row = db.Appointment(id=record.id, organization_id=record.organization_id,
                             created_at=now)
        session.add(row)
    for name, value in appointment_values(record, kind, now, overridden=overridden).items():
        setattr(row, name, value)
    return row


def appointment_values(
    record: model.Appointment, kind: model.AppointmentType, now: datetime, *, overridden: bool,
) -> dict[str, Any]:
    """The column values of ``record``'s row except ``id``, ``organization_id`` and
    ``created_at`` (its buffered block from ``kind``)."""
    change = record.last_status_change
    return {
        "clinic_id": record.clinic_id, "patient_id": record.patient_id,
        "appointment_type_id": record.appointment_type_id, "provider_id": record.provider_id,
        "room_id": record.room_id, "equipment_ids": list(record.equipment_ids),
        "start_at": record.start, "end_at": record.end,
        "block_start": record.start - kind.buffer_before,
        "block_end": record.end + kind.buffer_after,
        "status": record.status.value, "source": record.source.value,
        "notes": record.notes, "patient_notes": record.patient_notes,
        "series_id": record.series_id, "original_start": record.original_start,
        "deleted": record.deleted, "active": record.is_active, "overridden": overridden,
        "version": record.version, "reschedule_count": record.reschedule_count,
        "override_reason": record.override_reason, "cancel_reason": record.cancel_reason,
        "last_status_previous": change.previous.value if change else None,
        "last_status_at": change.at if change else None,
        "last_status_actor_id": change.actor_id[:36] if change and change.actor_id else None,
        "updated_at": now,
    }


def write_series(
    session: Session, record: model.Series, template: db.Series | None = None, *,
    patient_id: str | None = None, appointment_type_id: str | None = None,
    duration_seconds: int | None = None,
) -> db.Series:
    """Insert or update a series row; a new one copies patient/type/duration from
    ``template`` unless given."""
    row = session.get(db.Series, record.id)
    if row is None:
        row = db.Series(
            id=record.id, organization_id=record.organization_id,
            patient_id=patient_id or (template.patient_id if template else ""),
            appointment_type_id=appointment_type_id
            or (template.appointment_type_id if template else ""),
            duration_seconds=duration_seconds
            or (template.duration_seconds if template else 0),
            active=True, version=1,
        )
        session.add(row)
    else:
        row.version += 1
    row.clinic_id, row.rrule, row.first_local = record.clinic_id, record.rrule, record.first_local
    row.exdates = [d.isoformat() for d in sorted(record.exdates)]
    return row


# --------------------------------------------------------------------------- state loading


@dataclass(frozen=True, slots=True)
class Scope:
    """What a transaction's calendar state must cover."""

    clinic_id: str
    first_day: date
    last_day: date
    patient_ids: frozenset[str] = frozenset()
    appointment_ids: frozenset[str] = frozenset()
    resource_ids: frozenset[str] = frozenset()
    series_ids: frozenset[str] = frozenset()
    pad_days: int = 1
    #: For a slot search: the earliest and the latest start it may offer. The
    #: appointments are then read only around those instants (widened by the longest
    #: appointment type plus every buffer, see :func:`_slot_margins`) instead of over
    #: the padded days, unless the clinic has quotas (they count whole days and weeks).
    slot_starts: tuple[datetime, datetime] | None = None


def clinic_zone(session: Session, organization_id: str, clinic_id: str) -> str | None:
    row = session.get(db.Clinic, clinic_id)
    return row.time_zone if row is not None and row.organization_id == organization_id else None


def _p(name: str) -> Any:
    return bindparam(name)


def _many(name: str) -> Any:
    return bindparam(name, expanding=True)


# Statements are built once (bound parameters only): building SQL expressions per call
# costs more than running these small queries.
_CLINICS = select(db.Clinic).where(db.Clinic.organization_id == _p("org"))
_QUOTAS = select(db.Quota).where(db.Quota.organization_id == _p("org"),
                                 db.Quota.clinic_id == _p("clinic"))
_CLINIC_RESOURCES = select(db.ResourceClinic.resource_id).where(
    db.ResourceClinic.organization_id == _p("org"), db.ResourceClinic.clinic_id == _p("clinic"))
_RESOURCES = select(db.Resource).where(db.Resource.organization_id == _p("org"),
                                       db.Resource.id.in_(_many("ids")))
_ASSIGNMENTS = select(db.ResourceClinic.resource_id, db.ResourceClinic.clinic_id).where(
    db.ResourceClinic.organization_id == _p("org"),
    db.ResourceClinic.resource_id.in_(_many("ids")))
_TYPES = select(db.AppointmentType).where(db.AppointmentType.organization_id == _p("org"))
_PATIENTS = select(db.Patient).where(db.Patient.organization_id == _p("org"),
                                     db.Patient.id.in_(_many("ids")))
_SCHEDULES = select(db.WeeklySchedule).where(db.WeeklySchedule.organization_id == _p("org"),
                                             db.WeeklySchedule.clinic_id == _p("clinic"))
_EXCEPTIONS = select(db.ScheduleException).where(
    db.ScheduleException.organization_id == _p("org"),
    db.ScheduleException.clinic_id == _p("clinic"),
    db.ScheduleException.start_at < _p("until"), db.ScheduleException.end_at > _p("since"))
_HOLIDAYS = select(db.Holiday).where(db.Holiday.organization_id == _p("org"),
                                     db.Holiday.clinic_id == _p("clinic"),
                                     db.Holiday.day >= _p("first"), db.Holiday.day <= _p("last"))
_BLOCKOUTS = select(db.Blockout).where(
    db.Blockout.organization_id == _p("org"), db.Blockout.clinic_id == _p("clinic"),
    db.Blockout.start_at < _p("until"), db.Blockout.end_at > _p("since"))
_OUTAGES = select(db.Outage).where(
    db.Outage.organization_id == _p("org"), db.Outage.resource_id.in_(_many("ids")),
    db.Outage.start_at < _p("until"), db.Outage.end_at > _p("since"))
# The appointments a state needs, in legs that each read one index (an OR of them all
# would make the planner scan the whole table):
# * the clinic's, the patients' and the resources' active appointments overlapping the
#   window: ``block_start`` in ``[since - longest block, until)`` and ``block_end > since``
#   — the lower bound (see :func:`read_longest_block`) turns "overlaps" into a bounded range
#   of ``(organization_id, clinic_id, block_start)``, ``(patient_id, block_start)`` and
#   ``appointment_resources (resource_id, block_start)``;
# * the named appointments and series, by primary key and ``series_id``.
# Rows are read as plain tuples (no ORM objects: this is a read-only state build).
_APPOINTMENT_COLUMNS = tuple(db.Appointment.__table__.c[name] for name in (
    "id", "organization_id", "clinic_id", "patient_id", "appointment_type_id", "provider_id",
    "start_at", "end_at", "status", "room_id", "equipment_ids", "source", "notes",
    "patient_notes", "series_id", "original_start", "deleted", "version", "reschedule_count",
    "override_reason", "cancel_reason", "last_status_previous", "last_status_at",
    "last_status_actor_id",
))


def _leg(*where: Any) -> Any:
    return select(*_APPOINTMENT_COLUMNS).where(db.Appointment.organization_id == _p("org"),
                                               *where)


_IN_WINDOW = (
    db.Appointment.active.is_(True),
    db.Appointment.block_start < _p("until"),
    db.Appointment.block_start >= _p("lowest"),
    db.Appointment.block_end > _p("since"),
)
_APPOINTMENTS = union_all(
    _leg(*_IN_WINDOW, db.Appointment.clinic_id == _p("clinic")),
    _leg(*_IN_WINDOW, db.Appointment.patient_id.in_(_many("patients"))),
    _leg(db.Appointment.id.in_(_many("appointments"))),
    _leg(db.Appointment.series_id.in_(_many("series"))),
)
_OCCUPYING = select(db.AppointmentResource.appointment_id).where(
    db.AppointmentResource.organization_id == _p("org"),
    db.AppointmentResource.active.is_(True),
    db.AppointmentResource.resource_id.in_(_many("ids")),
    db.AppointmentResource.block_start < _p("until"),
    db.AppointmentResource.block_start >= _p("lowest"),
    db.AppointmentResource.block_end > _p("since"),
)
_OCCUPYING_APPOINTMENTS = _leg(*_IN_WINDOW, db.Appointment.id.in_(_many("appointments")))
#: The longest buffered block of the organization's appointments (any status: a bound,
#: not an answer), read from the expression index ``ix_appointments_org_block_length``
#: (migration 0003; the expression differs by backend and must match it exactly).
_LONGEST_BLOCK = {
    "postgresql": text("SELECT max(block_end - block_start) FROM appointments "
                       "WHERE organization_id = :org"),
    "sqlite": text("SELECT max(julianday(block_end) - julianday(block_start)) "
                   "FROM appointments WHERE organization_id = :org"),
}
_CONFIG_VERSION_AND_LONGEST = {
    name: text("SELECT (SELECT version FROM config_versions WHERE organization_id = :org), "
               f"({longest.text})")
    for name, longest in _LONGEST_BLOCK.items()
}
#: Added to the longest block: SQLite's julianday arithmetic is a float.
_LONGEST_BLOCK_MARGIN = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Config:
    """What an organization's administrators configure, as one clinic's state needs it."""

    clinics: tuple[model.Clinic, ...]
    quotas: tuple[model.Quota, ...]  # the clinic's
    resources: tuple[model.Resource, ...]  # the clinic's and the extra ones asked for
    appointment_types: tuple[model.AppointmentType, ...]
    schedules: tuple[model.WeeklySchedule, ...]

    def clinic(self, clinic_id: str) -> model.Clinic | None:
        return next((c for c in self.clinics if c.id == clinic_id), None)

    def appointment_type(self, type_id: str) -> model.AppointmentType | None:
        return next((t for t in self.appointment_types if t.id == type_id), None)

    def holds(self, resource_ids: Collection[str]) -> bool:
        return {r.id for r in self.resources}.issuperset(resource_ids)


def _read_config(session: Session, org: str, clinic_id: str,
                 extra_resource_ids: Collection[str]) -> Config:
    at = {"org": org, "clinic": clinic_id}
    resource_ids = set(session.scalars(_CLINIC_RESOURCES, at)) | set(extra_resource_ids)
    wanted = {"org": org, "ids": sorted(resource_ids)}
    resources = list(session.scalars(_RESOURCES, wanted))
    assignments: dict[str, set[str]] = {}
    for resource_id, assigned in session.execute(_ASSIGNMENTS, wanted):
        assignments.setdefault(resource_id, set()).add(assigned)
    return Config(
        clinics=tuple(clinic_record(c) for c in session.scalars(_CLINICS, at)),
        quotas=tuple(quota_record(q) for q in session.scalars(_QUOTAS, at)),
        resources=tuple(resource_record(r, assignments.get(r.id, ())) for r in resources),
        appointment_types=tuple(appointment_type_record(t) for t in session.scalars(_TYPES, at)),
        schedules=tuple(schedule_record(s) for s in session.scalars(_SCHEDULES, at)),
    )


#: Configurations kept between requests, by (organization, clinic), with the
#: organization's configuration counter they were read at (see :func:`kept_config`).
_CONFIGS: OrderedDict[tuple[str, str], tuple[int, Config]] = OrderedDict()
_CONFIGS_KEPT = 256
_CONFIGS_LOCK = threading.Lock()
_CONFIG_VERSION = text("SELECT version FROM config_versions WHERE organization_id = :org")
_CONFIG_TABLES = (db.Clinic, db.Resource, db.ResourceClinic, db.AppointmentType,
                  db.WeeklySchedule, db.Quota)


@event.listens_for(Session, "after_flush")
def _note_config_flush(session: Session, _context: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(row, _CONFIG_TABLES) for row in changed):
        unit_of(session).config_written = True


@event.listens_for(Session, "do_orm_execute")
def _note_config_statement(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and state.bind_mapper is not None \
            and issubclass(state.bind_mapper.class_, _CONFIG_TABLES):
        unit_of(state.session).config_written = True


def config_version_and_longest_block(session: Session, org: str) -> tuple[int, timedelta]:
    """The organization's configuration counter (migration 0004) and
    :func:`read_longest_block`, in one round trip where the backend allows."""
    statement = _CONFIG_VERSION_AND_LONGEST.get(session.get_bind().dialect.name)
    if statement is None:
        return config_version(session, org), read_longest_block(session, org)
    row = session.execute(statement, {"org": org}).one()
    return int(row[0] or 0), _block_length(row[1])


def config_version(session: Session, org: str) -> int:
    return int(session.scalar(_CONFIG_VERSION, {"org": org}) or 0)


def kept_config(session: Session, org: str, clinic_id: str,
                extra_resource_ids: Collection[str], *, version: int | None = None) -> Config:
    """:func:`_read_config`, kept per organization and clinic while the organization's
    configuration counter (``config_versions``, migration 0004) stays the same.

    Database triggers count the counter up in every transaction that writes a
    configuration table, and the counter is read first, then the configuration: a
    configuration read after seeing counter *c* holds every change up to *c* (perhaps
    later ones too, never fewer), so serving it to whoever sees *c* again is as exact
    as reading the tables at that moment. Bookings do not move the counter, so the
    configuration is kept while they come and go. Not kept from a transaction that
    wrote configuration itself (it could roll back): it reads the tables.
    ``extra_resource_ids``: resources beyond the clinic's that must be in it (only
    resource ids: another id makes every call read the tables).
    """
    if unit_of(session).config_written:
        return _read_config(session, org, clinic_id, extra_resource_ids)
    if version is None:
        version = config_version(session, org)
    key = (org, clinic_id)
    with _CONFIGS_LOCK:
        kept = _CONFIGS.get(key)
        if kept is not None and kept[0] == version and kept[1].holds(extra_resource_ids):
            _CONFIGS.move_to_end(key)
            return kept[1]
    config = _read_config(session, org, clinic_id, extra_resource_ids)
    with _CONFIGS_LOCK:
        _CONFIGS[key] = (version, config)
        _CONFIGS.move_to_end(key)
        while len(_CONFIGS) > _CONFIGS_KEPT:
            _CONFIGS.popitem(last=False)
    return config


def load_state(
    session: Session, organization_id: str, scope: Scope, *, keep_config: bool = False,
    dated_for: Scope | None = None, longest_block: timedelta | None = None,
    config: Config | None = None,
) -> CalendarState:
    """The calendar state for ``scope`` (see the module docstring).

    ``keep_config``: the configuration may come from :func:`kept_config` (only when
    ``scope.resource_ids`` are all resource ids: no patients, no lock names).
    ``dated_for``: a wider scope of the same clinic whose dated records (time off,
    holidays, blockouts, outages) to read already, for a state that
    :func:`add_appointments` extends to it later in the transaction.
    ``longest_block``: :func:`read_longest_block`, when the caller has read it already;
    ``config``: the configuration, likewise (its clinic must be ``scope``'s).
    """
    org = organization_id
    if config is None:
        read = kept_config if keep_config else _read_config
        config = read(session, org, scope.clinic_id, scope.resource_ids)
    clinic = config.clinic(scope.clinic_id)
    first, last, window_start, window_end = _window(scope, clinic, config.quotas)
    dated = (first, last, window_start, window_end)
    if dated_for is not None:
        wide = _window(dated_for, clinic, config.quotas)
        dated = (min(first, wide[0]), max(last, wide[1]), min(window_start, wide[2]),
                 max(window_end, wide[3]))
    ids = [r.id for r in config.resources]
    state = CalendarState.build(
        org, clinics=config.clinics, resources=config.resources,
        appointment_types=config.appointment_types, schedules=config.schedules,
        quotas=config.quotas,
        **_dated(session, org, scope.clinic_id, ids, *dated))
    since, until = _appointment_window(state, scope, window_start, window_end)
    appointments = _appointments(session, org, scope, ids, since, until, longest_block,
                                 other_clinics=len(config.clinics) > 1)
    patient_ids = set(scope.patient_ids) | {a.patient_id for a in appointments
                                           if a.id in scope.appointment_ids}
    if patient_ids:
        state.patients = {p.id: p for p in (patient_record(row) for row in session.scalars(
            _PATIENTS, {"org": org, "ids": sorted(patient_ids)}))}
    for appointment in appointments:
        state.put_appointment(appointment)
    return state


def _slot_margins(types: Iterable[model.AppointmentType]) -> tuple[timedelta, timedelta]:
    """How far before and after a slot's start an appointment can still matter to it.

    The rules pad the slot by its type's buffers and another appointment by its own
    type's buffers (which may have grown since it was booked, so beyond its stored
    block); the slot reaches its start plus at most the longest duration. Before: an
    appointment's block ending earlier than the start minus every buffer is clear of
    it; after: one starting later than the start plus the longest duration and every
    buffer. Plus a minute's margin.
    """
    kinds = list(types)
    buffers = (max((t.buffer_before for t in kinds), default=timedelta(0))
               + max((t.buffer_after for t in kinds), default=timedelta(0)))
    longest = max((t.max_duration for t in kinds), default=timedelta(0))
    return buffers + timedelta(minutes=1), longest + buffers + timedelta(minutes=1)


def _appointment_window(
    state: CalendarState, scope: Scope, window_start: datetime, window_end: datetime,
) -> tuple[datetime, datetime]:
    """The instants whose appointments the state needs: the padded days, or for a slot
    search (``scope.slot_starts``) without quotas, only around the starts it may offer —
    those inside some provider's working windows on the scope's days (read from
    ``state``, holding the configuration and dated records but no appointments yet).
    Appointments further away can neither overlap a slot nor touch its buffers."""
    if scope.slot_starts is None or state.quotas:
        return window_start, window_end
    bare = state
    if scope.clinic_id not in bare.clinics:
        return window_start, window_end
    earliest, latest = scope.slot_starts
    opens: datetime | None = None
    closes: datetime | None = None
    day = scope.first_day
    while day <= scope.last_day:
        for resource in bare.resources.values():
            if resource.kind is not model.ResourceKind.PROVIDER:
                continue
            for window in bare.working_windows(resource.id, scope.clinic_id, day):
                opens = window.start if opens is None else min(opens, window.start)
                closes = window.end if closes is None else max(closes, window.end)
        day += timedelta(days=1)
    if opens is None or closes is None or max(earliest, opens) > min(latest, closes):
        return window_start, window_start  # no slot to offer: no appointment matters
    before, after = _slot_margins(bare.appointment_types.values())
    return (max(window_start, max(earliest, opens) - before),
            min(window_end, min(latest, closes) + after))


def _window(scope: Scope, clinic: model.Clinic | None, quotas: Iterable[model.Quota]
            ) -> tuple[date, date, datetime, datetime]:
    """The padded local days of ``scope`` (whole ISO weeks when a quota counts weeks)
    and the instants they span in the clinic's zone."""
    tz = clinic.time_zone if clinic is not None else "UTC"
    weekly = any(q.period is model.QuotaPeriod.WEEK for q in quotas)
    first = scope.first_day - timedelta(days=scope.pad_days)
    last = scope.last_day + timedelta(days=scope.pad_days)
    if weekly:
        first -= timedelta(days=first.weekday())
        last += timedelta(days=6 - last.weekday())
    return first, last, day_bounds(first, tz)[0], day_bounds(last, tz)[1]


def _dated(
    session: Session, org: str, clinic_id: str, resource_ids: Collection[str], first: date,
    last: date, window_start: datetime, window_end: datetime,
) -> dict[str, Any]:
    """Time off, holidays, blockouts and outages in the window."""
    at = {"org": org, "clinic": clinic_id, "since": window_start, "until": window_end,
          "first": first, "last": last, "ids": sorted(resource_ids)}
    return {
        "exceptions": [exception_record(e) for e in session.scalars(_EXCEPTIONS, at)],
        "holidays": [model.Holiday(h.id, h.clinic_id, h.day, h.name)
                     for h in session.scalars(_HOLIDAYS, at)],
        "blockouts": [blockout_record(b) for b in session.scalars(_BLOCKOUTS, at)],
        "outages": [outage_record(o) for o in session.scalars(_OUTAGES, at)],
    }


def read_longest_block(session: Session, org: str) -> timedelta:
    """The longest ``block_end - block_start`` of the organization's appointments."""
    dialect = session.get_bind().dialect.name
    statement = _LONGEST_BLOCK.get(dialect)
    if statement is None:  # another backend: compute it portably (a scan)
        rows = session.execute(select(db.Appointment.block_start, db.Appointment.block_end)
                               .where(db.Appointment.organization_id == org))
        return max((end - start for start, end in rows), default=timedelta(0)) \
            + _LONGEST_BLOCK_MARGIN
    return _block_length(session.execute(statement, {"org": org}).scalar())


def _block_length(longest: Any) -> timedelta:
    """The longest block as the database gives it, plus the margin."""
    if longest is None:
        return _LONGEST_BLOCK_MARGIN
    # PostgreSQL gives an interval; SQLite's julianday difference is days as a float
    length = longest if isinstance(longest, timedelta) else timedelta(days=float(longest))
    return length + _LONGEST_BLOCK_MARGIN


def add_appointments(
    session: Session, state: CalendarState, scope: Scope, longest_block: timedelta,
) -> None:
    """Put into ``state`` (loaded for the same clinic with :func:`load_state`, its dated
    records reaching ``scope``'s days: its ``dated_for``) the appointments ``scope`` needs
    that it lacks. The state keeps what it held: more true records never make a free start look
    busier than it is."""
    _first, _last, window_start, window_end = _window(
        scope, state.clinics.get(scope.clinic_id), state.quotas)
    since, until = _appointment_window(state, scope, window_start, window_end)
    known = state.appointments
    for appointment in _appointments(session, state.organization_id, scope,
                                     list(state.resources), since, until, longest_block,
                                     other_clinics=len(state.clinics) > 1):
        if appointment.id not in known:
            state.put_appointment(appointment)


def _appointments(
    session: Session, org: str, scope: Scope, resource_ids: Collection[str],
    window_start: datetime, window_end: datetime, longest_block: timedelta | None = None,
    *, other_clinics: bool = True,
) -> list[model.Appointment]:
    """The appointments the state for ``scope`` needs in the window (the legs above).

    ``other_clinics``: whether the organization has clinics besides ``scope``'s. With
    one clinic (clinics are never deleted, and an appointment's clinic is one of its
    organization's), every appointment occupying a resource is the clinic's, already
    read by the clinic's leg: the occupations are not read again."""
    if window_start >= window_end and not (scope.patient_ids or scope.appointment_ids
                                           or scope.series_ids):
        return []  # nothing overlaps an empty window (a slot search outside working hours)
    if longest_block is None:
        longest_block = read_longest_block(session, org)
    lowest = window_start - longest_block
    window = {"org": org, "since": window_start, "until": window_end, "lowest": lowest}
    found: dict[str, model.Appointment] = {}
    for row in session.execute(_APPOINTMENTS, {
        **window, "clinic": scope.clinic_id, "patients": sorted(scope.patient_ids),
        "appointments": sorted(scope.appointment_ids), "series": sorted(scope.series_ids),
    }).all():  # fetchall: iterating a result fetches row by row
        if row.id not in found:
            found[row.id] = appointment_record(row)
    if resource_ids and other_clinics:  # other clinics' appointments on these resources
        others = set(session.scalars(_OCCUPYING, {**window, "ids": sorted(resource_ids)}).all())
        others.difference_update(found)
        if others:
            for row in session.execute(_OCCUPYING_APPOINTMENTS,
                                       {**window, "appointments": sorted(others)}).all():
                found.setdefault(row.id, appointment_record(row))
    return list(found.values())


# --------------------------------------------------------------------------- next available

#: The slot starts the first step of a next-available search covers; a step that
#: searched working time without finding a free slot doubles it. Most searches end in
#: the first steps, so a query reads an hour or two of appointments, not its horizon.
#: Measured on the 500,000-appointment bench data, every query run with each value in
#: turn (same answers): 15 or 30 minutes p95 ~25 ms, 45 minutes 28, 1 hour 29, 2 hours 30.
NEXT_AVAILABLE_FIRST_STEP = timedelta(minutes=30)


def next_available_in_windows(
    session: Session, organization_id: str, clinic_id: str, appointment_type_id: str, *,
    now: datetime, after: datetime | None = None,
    provider_ids: tuple[str, ...] | None = None, horizon_days: int = 60,
) -> Alternative | None:
    """:func:`scheduling.availability.next_available` over the database, loading the
    calendar a step at a time instead of the whole horizon at once. Read-only: the
    organization's configuration may come from the cache (:func:`kept_config`).
    Raises :class:`NotFound` when the organization has no such clinic.

    Each step covers the slot starts from a cursor up to a reach (an hour, then more):
    the search's one state (the configuration and the dated records of the whole
    horizon, read once) gets every appointment that can matter to those starts (see
    :func:`_appointment_window`), and is searched from the cursor. Same answer as one
    search over a state covering the horizon, because a missing appointment can only
    make a start look free, never busy:

    * a slot found at or before the reach was judged with complete records: it is
      the answer (every earlier start was judged with complete records too);
    * a slot found after the reach may be busy in truth, but every start before it
      was refused with a subset of the records, so is refused with all of them: the
      next step starts there;
    * no slot on the step's days: none in truth either; the next step starts the day
      after.
    """
    version, longest = config_version_and_longest_block(session, organization_id)
    config = kept_config(session, organization_id, clinic_id, (), version=version)
    clinic = config.clinic(clinic_id)
    if clinic is None:
        raise NotFound("No clinic with this id.", code="not_found")
    tz = clinic.time_zone
    start_at = after or now
    first = local_date(start_at, tz)
    last = first + timedelta(days=horizon_days)
    today = local_date(now, tz)  # earlier days are in the past: nothing to offer
    cursor = start_at if today <= first else max(start_at, day_bounds(today, tz)[0])
    horizon_end = day_bounds(last, tz)[1]
    step = NEXT_AVAILABLE_FIRST_STEP
    state: CalendarState | None = None
    while cursor < horizon_end:
        reach = min(cursor + step, horizon_end)
        day = local_date(cursor, tz)
        end = min(local_date(reach, tz), last)
        scope = Scope(clinic_id, day, end, slot_starts=(cursor, reach))
        if state is None:  # one state for the whole search, its dated records to the end
            state = load_state(session, organization_id, scope, config=config,
                               dated_for=replace(scope, last_day=last),
                               longest_block=longest)
        else:
            add_appointments(session, state, scope, longest)
        found = next_available(state, clinic_id, appointment_type_id, now=now, after=cursor,
                               provider_ids=provider_ids, horizon_days=(end - day).days)
        if found is None:
            cursor = day_bounds(end, tz)[1]
            continue
        if found.start <= reach:
            return found
        if _works_between(state, clinic_id, day, end, cursor, reach):
            step *= 2  # searched working time in vain: a busy stretch, take bigger steps
        cursor = found.start
    return None


def _works_between(state: CalendarState, clinic_id: str, first: date, last: date,
                   since: datetime, until: datetime) -> bool:
    """Whether any provider of the state works at the clinic between the instants."""
    day = first
    while day <= last:
        for resource in state.resources.values():
            if resource.kind is model.ResourceKind.PROVIDER and any(
                    w.start < until and w.end > since
                    for w in state.working_windows(resource.id, clinic_id, day)):
                return True
        day += timedelta(days=1)
    return False
