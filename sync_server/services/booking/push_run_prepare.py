"""Preparing a sync push run: what its mutations may touch (their reach), the locks
it takes, the calendar state it loads or keeps from the push's previous run, and the
states kept from push to push (:mod:`.push_run` runs it)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import BookAppointment, MoveAppointment, Policy, ResizeAppointment
from scheduling.slot_memo import SlotMemo
from sync_server.db import models as db
from sync_server.db.session import lock_resources
from sync_server.services.booking.judging import _refresh
from sync_server.services.booking.locks import (
    _book_keys,
    _candidate_resources,
    _days,
    _quota_keys,
    _type,
)
from sync_server.services.booking.push_run import _CHANGES, PushRun, _current_run
from sync_server.services.calendar import (
    Scope,
    clinic_zone,
    config_version,
    load_state,
    patient_record,
)
from sync_server.services.calendar.queries import PATIENTS
from sync_server.services.unit_of_work import unit_of

#: The widest span of local days (either side of its first booking) a push run's shared
#: calendar state covers; mutations further away are judged one by one. A desk's month
#: offline books up to a few months ahead: one state for all of it is read once a run.
RUN_DAYS = timedelta(days=120)

@dataclass(frozen=True, slots=True)
class _Reach:
    """What one mutation of a run may touch: lock keys, its patient, local days, and the
    appointment it changes (``None`` for a booking)."""

    keys: frozenset[str]
    patient_id: str
    days: tuple[date, ...]
    appointment_id: str | None = None


def prepare_run(
    session: Session, org: str, requests: Iterable[object], policy: Policy = DEFAULT_POLICY,
    previous: PushRun | None = None,
) -> None:
    """In a push batch: lock everything the run's appointment mutations may occupy and
    load ONE calendar state for them, so each is judged in memory instead of reading the
    calendar again (the expensive part of a booking, move or cancel). Plain bookings,
    and moves, resizes, cancels and status changes of appointments, in the first
    booking's clinic within :data:`RUN_DAYS` of it are covered; the others take the usual
    path, and so does everything after a mutation that may change what the state holds
    beyond appointments and patients (:func:`before_other`).

    ``previous``: the state of the push's previous run (:func:`finish_run`). When it
    covers this run and the organization's version has not moved since it committed
    (nothing else was written), it is kept instead of read again: a desk's backlog spread
    over months is read once per push, not once per run.

    Must run before the run takes any other lock: it waits for the resource locks."""
    uow = unit_of(session)
    if not uow.batch:
        return
    uow.run = None
    wanted = [r for r in requests if type(r) is BookAppointment or isinstance(r, _CHANGES)]
    bookings = [r for r in wanted if isinstance(r, BookAppointment)]
    clinic_id = bookings[0].clinic_id if bookings else _clinic_of(session, org, wanted)
    tz = clinic_zone(session, org, clinic_id) if clinic_id else None
    if clinic_id is None or tz is None:
        return
    keys: set[str] = set()
    patients: set[str] = set()
    days: list[date] = []
    changed: list[str] = []
    anchor: date | None = None
    for reach in _reaches(session, org, clinic_id, tz, wanted):
        anchor = anchor or reach.days[0]
        if min(reach.days) < anchor - RUN_DAYS or max(reach.days) > anchor + RUN_DAYS:
            continue
        keys |= reach.keys
        patients.add(reach.patient_id)
        days += reach.days
        if reach.appointment_id is not None:
            changed.append(reach.appointment_id)
    ids = [b.appointment_id for b in bookings]
    if not days:
        return
    keys |= _quota_keys(session, org, clinic_id, days)
    if previous is not None and _keep(session, org, previous, clinic_id, keys, days,
                                      patients):
        uow.run = previous
        fresh = [i for i in (b.appointment_id for b in bookings) if i not in previous.checked]
        previous.checked.update(fresh)
        previous.existing.update(_existing(session, org, fresh))
        _lock_changed(session, org, previous, changed)
        return
    lock_resources(session, keys)
    _refresh(session)
    # Patients are locked like resources but are no resources: they stay out of the
    # resource lists the state's queries carry.
    scope = Scope(clinic_id, min(days), max(days), patient_ids=frozenset(patients),
                  appointment_ids=frozenset(changed), resource_ids=frozenset(keys - patients))
    # Dated records (a handful of rows) are read for the alternatives' horizon at once.
    wide = replace(scope, pad_days=policy.alternatives_horizon_days + 1)
    run = uow.run = PushRun(scope, load_state(session, org, scope, dated_for=wide), set(ids),
                            _existing(session, org, ids), keys=frozenset(keys),
                            version=_version(session, org),
                            config_version=config_version(session, org))
    run.state.slot_memo = SlotMemo()  # the run's refusals search the same days again
    _lock_changed(session, org, run, changed)


def _lock_changed(session: Session, run_org: str, run: PushRun, changed: list[str]) -> None:
    """Try the locks of the appointments the run's changes name (as :func:`change` takes
    them first; only tried: another writer may hold one and wait for the run's resource
    locks), and read the ``overridden`` flag of those the run does not know. The run
    changes on its state only appointments whose lock it holds."""
    run.locked = set()
    wanted = sorted(set(changed))
    if not wanted or not lock_resources(session, wanted, wait=False):
        return
    run.locked.update(wanted)
    unknown = [i for i in wanted if i not in run.overridden]
    table = db.Appointment
    for first in range(0, len(unknown), 500):
        run.overridden.update((row[0], bool(row[1])) for row in session.execute(
            select(table.id, table.overridden).where(table.id.in_(unknown[first:first + 500]),
                                                     table.organization_id == run_org)))


def _clinic_of(session: Session, org: str, requests: Sequence[object]) -> str | None:
    """The clinic of the appointment the first of ``requests`` (changes) names."""
    if not requests:
        return None
    first = requests[0]
    assert isinstance(first, _CHANGES)
    return session.scalar(select(db.Appointment.clinic_id).where(
        db.Appointment.id == first.appointment_id, db.Appointment.organization_id == org))


def _existing(session: Session, org: str, ids: list[str]) -> set[str]:
    """Those of ``ids`` that are appointments of ``org`` already."""
    if not ids:
        return set()
    if session.get_bind().dialect.name == "postgresql":  # one array, not 200 parameters
        return set(session.scalars(_EXISTING_IDS, {"ids": ids, "org": org}))
    return set(session.scalars(select(db.Appointment.id).where(
        db.Appointment.id.in_(ids), db.Appointment.organization_id == org)))


def _version(session: Session, org: str) -> int:
    return int(session.scalar(select(db.OrgVersion.version)
                              .where(db.OrgVersion.organization_id == org)) or 0)


def _keep(
    session: Session, org: str, previous: PushRun, clinic_id: str, keys: set[str],
    days: list[date], patients: set[str],
) -> bool:
    """Lock ``previous``'s keys and ``keys``; whether its state holds for a run needing
    ``keys`` on ``days`` (it covers them, and nothing was written in the organization
    since it was true). Patients and resources it lacks are taken in when the
    organization has one clinic: the state then holds every appointment of its days
    already, only the new patients' records are read. On ``False`` the locks taken
    stay: the caller locks what it needs and reads."""
    scope, state = previous.scope, previous.state
    extra = keys - previous.keys
    if (scope.clinic_id != clinic_id or min(days) < scope.first_day
            or max(days) > scope.last_day):
        return False
    if extra and (len(state.clinics) != 1
                  or not all(k in patients or k in state.resources for k in extra)):
        return False
    lock_resources(session, previous.keys | keys)
    if _version(session, org) != previous.version \
            or config_version(session, org) != previous.config_version:
        return False
    new = sorted(extra & patients)
    if new:
        state.patients.update((p.id, p) for p in map(patient_record, session.scalars(
            PATIENTS, {"org": org, "ids": new})))
    if extra:
        previous.keys |= extra
        previous.scope = replace(scope, patient_ids=scope.patient_ids | frozenset(new),
                                 resource_ids=scope.resource_ids | (extra - patients))
    previous.appointment_rows, previous.updated_rows, previous.occupation_rows = {}, {}, {}
    return True


#: The state of each desk's last push run, for its next push (a desk pushes its backlog
#: a page at a time): kept per organization and desk, the latest few; taken out while a
#: push uses it. :func:`prepare_run` keeps it only while nothing else was written since.
_KEPT: OrderedDict[tuple[str, str], PushRun] = OrderedDict()
_KEPT_RUNS = 8
_KEPT_LOCK = threading.Lock()


def take_kept_run(org: str, client_id: str) -> PushRun | None:
    """The state the desk's last push left (:func:`keep_run`), if any; it is the
    caller's now."""
    with _KEPT_LOCK:
        return _KEPT.pop((org, client_id), None)


def keep_run(org: str, client_id: str, run: PushRun | None) -> None:
    """Keep the state a push's last run committed for the desk's next push."""
    if run is None:
        return
    with _KEPT_LOCK:
        _KEPT[(org, client_id)] = run
        while len(_KEPT) > _KEPT_RUNS:
            _KEPT.popitem(last=False)


def finish_run(session: Session, org: str) -> PushRun | None:
    """The run's state as it stands at its commit (call after the unit of work's flush),
    for the push's next run (:func:`prepare_run`'s ``previous``)."""
    uow = unit_of(session)
    run = _current_run(session)
    if run is None:
        return None
    run.version = uow.bumped.get(org, run.version)
    return run


def _reaches(
    session: Session, org: str, clinic_id: str, tz: str, requests: Sequence[object]
) -> Iterator[_Reach]:
    """What each of ``requests`` (bookings and changes) may touch, in order; changes of
    appointments neither booked earlier in the run nor found in ``clinic_id`` are left
    out. The same keys :func:`book` and :func:`change` lock."""
    targets = {r.appointment_id for r in requests if isinstance(r, _CHANGES)}
    found: dict[str, tuple[str, str, str, str | None, tuple[str, ...], datetime, datetime]] = {}
    table = db.Appointment
    listed = sorted(targets)
    for first in range(0, len(listed), 500):
        for row in session.execute(select(
                table.id, table.appointment_type_id, table.patient_id, table.provider_id,
                table.room_id, table.equipment_ids, table.start_at, table.end_at).where(
                table.id.in_(listed[first:first + 500]), table.organization_id == org,
                table.clinic_id == clinic_id)):
            found[row[0]] = (row[1], row[2], row[3], row[4], tuple(row[5] or ()), row[6],
                             row[7])
    for request in requests:
        if isinstance(request, BookAppointment):
            kind = _type(session, org, request.appointment_type_id)
            if request.clinic_id != clinic_id or kind is None:
                continue
            end = request.end or request.start + kind.default_duration
            found[request.appointment_id] = (
                request.appointment_type_id, request.patient_id, request.provider_id,
                request.room_id, tuple(request.equipment_ids or ()), request.start, end)
            yield _Reach(frozenset(_book_keys(request, kind)), request.patient_id,
                         tuple(_days(tz, [request.start, end])))
            continue
        assert isinstance(request, _CHANGES)
        current = found.get(request.appointment_id)
        if current is None:
            continue
        type_id, patient_id, provider_id, room_id, equipment, start, end = current
        kind = _type(session, org, type_id)
        named = {provider_id, room_id, *equipment}
        moments = [start, end]
        if isinstance(request, MoveAppointment):
            named |= {request.provider_id, request.room_id}
            named |= _candidate_resources(kind, rooms=request.room_id is None,
                                          equipment=not equipment)
            moments += [request.start, request.start + (end - start)]
        elif isinstance(request, ResizeAppointment):
            moments.append(request.end)
        yield _Reach(frozenset({k for k in named if k} | {patient_id}), patient_id,
                     tuple(_days(tz, moments)), request.appointment_id)


_EXISTING_IDS = text(
    "SELECT id FROM appointments WHERE id = ANY(:ids) AND organization_id = :org")
# Built once: an appointment's new values by id (executemany), and the removal of the
