"""Lock planning: which resources, patients, days and quota weeks a change locks, and
the clinic configuration that tells (read before any lock)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import model
from scheduling.commands import BookAppointment
from scheduling.timeutil import local_date
from sync_server.db import models as db
from sync_server.db.session import lock_resources
from sync_server.services.calendar import Config, appointment_type_record, kept_config
from sync_server.services.unit_of_work import unit_of


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


def _book_keys(command: BookAppointment, kind: model.AppointmentType | None) -> set[str]:
    """What a booking may occupy: its provider, patient, named or candidate rooms and
    equipment (the lock keys, quotas aside)."""
    keys = {command.provider_id, command.patient_id, *(command.equipment_ids or ())}
    keys |= {command.room_id} if command.room_id else set()
    keys |= _candidate_resources(kind, rooms=command.room_id is None,
                                 equipment=command.equipment_ids is None)
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
