"""State loading: the calendar state one booking transaction needs.

The rules engine judges a :class:`scheduling.state.CalendarState`; the server
builds one per transaction, limited to what the rules can look at: the
organization's configuration for the clinic, and the active appointments that
could collide with the command — those of the clinic, of its resources (a
provider working at two clinics) and of the patient — on the local days the
command touches, widened by ``pad_days`` (one day by default, the ISO weeks
around them when the clinic has weekly quotas)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import model
from scheduling.state import CalendarState
from scheduling.timeutil import day_bounds
from sync_server.db import models as db
from sync_server.services.calendar.config_cache import (
    Config,
    _read_config,
    config_version,
    kept_clinic_zone,
    kept_config,
)
from sync_server.services.calendar.kept_appointments import KEPT_APPOINTMENTS
from sync_server.services.calendar.queries import (
    APPOINTMENTS,
    APPOINTMENTS_BOUNDED_HERE,
    APPOINTMENTS_OF_RESOURCES,
    APPOINTMENTS_OF_RESOURCES_VERSIONED,
    CONFIG_VERSION_AND_LONGEST,
    DATED,
    LONGEST_BLOCK,
    LONGEST_BLOCK_MARGIN,
    OCCUPYING,
    OCCUPYING_APPOINTMENTS,
    OCCUPYING_VERSIONS,
    PATIENTS,
)
from sync_server.services.calendar.rows import (
    appointment_record,
    dated_records,
    patient_record,
)
from sync_server.services.unit_of_work import unit_of


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
    #: For judging one command: the earliest and the latest instant it places or frees
    #: (its blocks before and after). The appointments are then read only around them
    #: (widened by every buffer, see :func:`_slot_margins`) instead of over the padded
    #: days, unless the clinic has quotas: the rules look at nothing else that is not
    #: named (the appointment itself, the patient's overlapping bookings). A refusal that
    #: offers alternatives reads the padded days (:func:`add_appointments`).
    near: tuple[datetime, datetime] | None = None
    #: Read only the appointments occupying ``resource_ids`` and the patients' (not the
    #: clinic's), unless the clinic has quotas: a refusal's alternatives over the
    #: horizon judge the wanted provider with those resources only; other providers are
    #: judged at the wanted time, whose appointments the state holds already.
    only_resources: bool = False


def clinic_zone(session: Session, organization_id: str, clinic_id: str) -> str | None:
    """The clinic's zone, ``None`` when the organization has no such clinic (from the kept
    configuration when the transaction read its counter: :func:`kept_clinic_zone`)."""
    return kept_clinic_zone(session, organization_id, clinic_id)


def config_version_and_longest_block(session: Session, org: str) -> tuple[int, timedelta]:
    """The organization's configuration counter (migration 0004) and
    :func:`read_longest_block`, in one round trip where the backend allows."""
    statement = CONFIG_VERSION_AND_LONGEST.get(session.get_bind().dialect.name)
    if statement is None:
        return config_version(session, org), read_longest_block(session, org)
    row = session.execute(statement, {"org": org}).one()
    return int(row[0] or 0), _block_length(row[1])


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
    state, window_start, window_end = _configured_state(
        session, org, scope, keep_config=keep_config, dated_for=dated_for, config=config)
    ids = list(state.resources)
    config_clinics = len(state.clinics)
    since, until = _appointment_window(state, scope, window_start, window_end)
    appointments = _appointments(session, org, scope, ids, since, until, longest_block,
                                 other_clinics=config_clinics > 1)
    patient_ids = set(scope.patient_ids) | {a.patient_id for a in appointments
                                           if a.id in scope.appointment_ids}
    if patient_ids:
        rows = session.scalars(PATIENTS, {"org": org, "ids": sorted(patient_ids)}).all()
        unit_of(session).hold(rows)  # the change's handlers read them again
        state.patients = {p.id: patient_record(p) for p in rows}
    for appointment in appointments:
        state.put_appointment(appointment)
    return state


def bare_state(session: Session, organization_id: str, scope: Scope, *,
               keep_config: bool = False) -> CalendarState:
    """:func:`load_state` without appointments: the configuration and the dated records
    (time off, holidays, blockouts, outages) of ``scope``'s padded days."""
    return _configured_state(session, organization_id, scope, keep_config=keep_config)[0]


def _configured_state(
    session: Session, org: str, scope: Scope, *, keep_config: bool,
    dated_for: Scope | None = None, config: Config | None = None,
) -> tuple[CalendarState, datetime, datetime]:
    """The state with configuration and dated records, and the instants its padded days
    span (see :func:`load_state` for the arguments)."""
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
    state = CalendarState.build(
        org, clinics=config.clinics, resources=config.resources,
        appointment_types=config.appointment_types, schedules=config.schedules,
        quotas=config.quotas,
        **_dated(session, org, scope.clinic_id, [r.id for r in config.resources], *dated))
    return state, window_start, window_end


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
    Appointments further away can neither overlap a slot nor touch its buffers.
    Likewise around a judged command's blocks (``scope.near``)."""
    if state.quotas:
        return window_start, window_end
    if scope.near is not None:
        margin = _slot_margins(state.appointment_types.values())[0]
        return (max(window_start, scope.near[0] - margin),
                min(window_end, scope.near[1] + margin))
    if scope.slot_starts is None:
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
    """Time off, holidays, blockouts and outages in the window (one statement)."""
    at = {"org": org, "clinic": clinic_id, "since": window_start, "until": window_end,
          "first": first, "last": last, "ids": sorted(resource_ids)}
    return dated_records(session.execute(DATED, at).all())


def read_longest_block(session: Session, org: str) -> timedelta:
    """The longest ``block_end - block_start`` of the organization's appointments."""
    dialect = session.get_bind().dialect.name
    statement = LONGEST_BLOCK.get(dialect)
    if statement is None:  # another backend: compute it portably (a scan)
        rows = session.execute(select(db.Appointment.block_start, db.Appointment.block_end)
                               .where(db.Appointment.organization_id == org))
        return max((end - start for start, end in rows), default=timedelta(0)) \
            + LONGEST_BLOCK_MARGIN
    return _block_length(session.execute(statement, {"org": org}).scalar())


def _block_length(longest: Any) -> timedelta:
    """The longest block as the database gives it, plus the margin."""
    if longest is None:
        return LONGEST_BLOCK_MARGIN
    # PostgreSQL gives an interval; SQLite's julianday difference is days as a float
    length = longest if isinstance(longest, timedelta) else timedelta(days=float(longest))
    return length + LONGEST_BLOCK_MARGIN


def add_appointments(
    session: Session, state: CalendarState, scope: Scope, longest_block: timedelta | None,
) -> None:
    """Put into ``state`` (loaded for the same clinic with :func:`load_state`, its dated
    records reaching ``scope``'s days: its ``dated_for``) the appointments ``scope`` needs
    that it lacks. The state keeps what it held: more true records never make a free start look
    busier than it is."""
    _first, _last, window_start, window_end = _window(
        scope, state.clinics.get(scope.clinic_id), state.quotas)
    since, until = _appointment_window(state, scope, window_start, window_end)
    known = state.appointments  # their rows are not mapped again
    if scope.only_resources and not state.quotas:
        found = _appointments_of_resources(session, state.organization_id, scope, since,
                                           until, longest_block, known=known)
    else:
        found = _appointments(session, state.organization_id, scope, list(state.resources),
                              since, until, longest_block, other_clinics=len(state.clinics) > 1,
                              known=known)
    for appointment in found:
        state.put_appointment(appointment)


def _appointments_of_resources(
    session: Session, org: str, scope: Scope, since: datetime, until: datetime,
    longest_block: timedelta | None, *, known: Collection[str] = (),
) -> list[model.Appointment]:
    """The appointments occupying ``scope.resource_ids`` in the window, and those of
    its patients, appointments and series (``scope.only_resources``), except those
    ``known`` already."""
    if longest_block is None:
        longest_block = read_longest_block(session, org)
    window = {"org": org, "since": since, "until": until, "lowest": since - longest_block}
    found: dict[str, model.Appointment] = {}
    versioned = session.get_bind().dialect.name == "postgresql"
    if versioned:  # the rows' versions first: a row kept at its version is not read again
        occupying: set[str] = set()
        for appointment_id, version in session.execute(
                OCCUPYING_VERSIONS, {**window, "ids": sorted(scope.resource_ids)}):
            if appointment_id in known or appointment_id in found:
                continue
            kept = KEPT_APPOINTMENTS.get(org, appointment_id, version)
            if kept is None:
                occupying.add(appointment_id)
            else:
                found[appointment_id] = kept
    else:
        occupying = set(session.scalars(
            OCCUPYING, {**window, "ids": sorted(scope.resource_ids)}).all()).difference(known)
    rows = session.execute(
        APPOINTMENTS_OF_RESOURCES_VERSIONED if versioned else APPOINTMENTS_OF_RESOURCES, {
            **window, "occupying": sorted(occupying), "patients": sorted(scope.patient_ids),
            "appointments": sorted(scope.appointment_ids), "series": sorted(scope.series_ids),
        }).all()
    for row in rows:
        if row.id not in found and row.id not in known:
            found[row.id] = record = appointment_record(row)
            if versioned:
                KEPT_APPOINTMENTS.put(row.row_version, record)
    return list(found.values())


def _appointments(
    session: Session, org: str, scope: Scope, resource_ids: Collection[str],
    window_start: datetime, window_end: datetime, longest_block: timedelta | None = None,
    *, other_clinics: bool = True, known: Collection[str] = (),
) -> list[model.Appointment]:
    """The appointments the state for ``scope`` needs in the window (the legs above),
    except those ``known`` already (their rows are not mapped again).

    ``other_clinics``: whether the organization has clinics besides ``scope``'s. With
    one clinic (clinics are never deleted, and an appointment's clinic is one of its
    organization's), every appointment occupying a resource is the clinic's, already
    read by the clinic's leg: the occupations are not read again."""
    if window_start >= window_end and not (scope.patient_ids or scope.appointment_ids
                                           or scope.series_ids):
        return []  # nothing overlaps an empty window (a slot search outside working hours)
    statement = APPOINTMENTS
    if longest_block is None and session.get_bind().dialect.name == "postgresql" \
            and not (resource_ids and other_clinics):
        statement = APPOINTMENTS_BOUNDED_HERE  # reads the longest block itself
        window = {"org": org, "since": window_start, "until": window_end}
    else:
        if longest_block is None:
            longest_block = read_longest_block(session, org)
        window = {"org": org, "since": window_start, "until": window_end,
                  "lowest": window_start - longest_block}
    found: dict[str, model.Appointment] = {}
    for row in session.execute(statement, {
        **window, "clinic": scope.clinic_id, "patients": sorted(scope.patient_ids),
        "appointments": sorted(scope.appointment_ids), "series": sorted(scope.series_ids),
    }).all():  # fetchall: iterating a result fetches row by row
        if row.id not in found and row.id not in known:
            found[row.id] = appointment_record(row)
    if resource_ids and other_clinics:  # other clinics' appointments on these resources
        others = set(session.scalars(OCCUPYING, {**window, "ids": sorted(resource_ids)}).all())
        others.difference_update(found)
        others.difference_update(known)
        if others:
            for row in session.execute(OCCUPYING_APPOINTMENTS,
                                       {**window, "appointments": sorted(others)}).all():
                found.setdefault(row.id, appointment_record(row))
    return list(found.values())
