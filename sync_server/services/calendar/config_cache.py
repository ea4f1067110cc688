"""The configuration cache: an organization's configuration for one clinic, read from
the six configuration tables and kept between requests while the organization's
configuration counter stays the same; and, by the same counter, the few other
per-organization settings a booking reads (:func:`kept_setting`: the notification
policy, the live calendar feeds)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from scheduling import model
from sync_server.db import models as db
from sync_server.services.calendar.queries import (
    ASSIGNMENTS,
    CLINIC_RESOURCES,
    CLINICS,
    CONFIG_VERSION,
    QUOTAS,
    RESOURCES,
    SCHEDULES,
    TYPES,
)
from sync_server.services.calendar.rows import (
    appointment_type_record,
    clinic_record,
    quota_record,
    resource_record,
    schedule_record,
)
from sync_server.services.unit_of_work import unit_of

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


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
    resource_ids = set(session.scalars(CLINIC_RESOURCES, at)) | set(extra_resource_ids)
    wanted = {"org": org, "ids": sorted(resource_ids)}
    resources = list(session.scalars(RESOURCES, wanted))
    assignments: dict[str, set[str]] = {}
    for resource_id, assigned in session.execute(ASSIGNMENTS, wanted):
        assignments.setdefault(resource_id, set()).add(assigned)
    return Config(
        clinics=tuple(clinic_record(c) for c in session.scalars(CLINICS, at)),
        quotas=tuple(quota_record(q) for q in session.scalars(QUOTAS, at)),
        resources=tuple(resource_record(r, assignments.get(r.id, ())) for r in resources),
        appointment_types=tuple(appointment_type_record(t) for t in session.scalars(TYPES, at)),
        schedules=tuple(schedule_record(s) for s in session.scalars(SCHEDULES, at)),
    )


class KeptByCounter(Generic[K, V]):
    """Values kept between requests with the organization's configuration counter they
    were read at (see :func:`kept_config`): the most recently used ``most`` of them,
    shared by the server's threads. A value is never ``None``."""

    def __init__(self, most: int) -> None:
        self._kept: OrderedDict[K, tuple[int, V]] = OrderedDict()
        self._most = most
        self._lock = threading.Lock()

    def get(self, key: K, version: int) -> V | None:
        """The value kept for ``key`` at counter ``version`` (``None``: none kept at it)."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept[0] != version:
                return None
            self._kept.move_to_end(key)
            return kept[1]

    def put(self, key: K, version: int, value: V) -> None:
        with self._lock:
            self._kept[key] = (version, value)
            self._kept.move_to_end(key)
            while len(self._kept) > self._most:
                self._kept.popitem(last=False)


#: Configurations kept between requests, by (organization, clinic) (:func:`kept_config`).
_CONFIGS: KeptByCounter[tuple[str, str], Config] = KeptByCounter(256)
#: Other settings kept by the same counter, by (kind, organization) (:func:`kept_setting`).
_SETTINGS: KeptByCounter[tuple[str, str], Any] = KeptByCounter(512)

#: Execution option of a write to a counted table that the triggers do not count (a
#: feed's ``version``, moved by every booking: migration 0024): it leaves
#: ``config_written`` alone.
COUNTER_UNMOVED = "clinicdesk_counter_unmoved"


def _counted(kind: type[Any]) -> bool:
    """Writing rows of ``kind`` moves the configuration counter (migrations 0004, 0024)."""
    return issubclass(kind, db.CONFIGURATION_TABLES) \
        or getattr(kind, "__tablename__", None) in db.KEPT_SETTINGS_TABLES


def _is_setting(row: object) -> bool:
    return getattr(row, "__tablename__", None) in db.KEPT_SETTINGS_TABLES


@event.listens_for(Session, "after_flush")
def _note_config_flush(session: Session, _context: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(_counted(type(row)) for row in changed):
        unit_of(session).config_written = True


@event.listens_for(Session, "do_orm_execute")
def _note_config_statement(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and state.bind_mapper is not None \
            and _counted(state.bind_mapper.class_) \
            and not state.execution_options.get(COUNTER_UNMOVED):
        unit_of(state.session).config_written = True


def config_version(session: Session, org: str) -> int:
    return int(session.scalar(CONFIG_VERSION, {"org": org}) or 0)


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
    uow = unit_of(session)
    if uow.config_written:
        return _read_config(session, org, clinic_id, extra_resource_ids)
    if version is None:
        version = uow.config_version(org, lambda: config_version(session, org))
    kept = _CONFIGS.get((org, clinic_id), version)
    if kept is not None and kept.holds(extra_resource_ids):
        return kept
    config = _read_config(session, org, clinic_id, extra_resource_ids)
    _CONFIGS.put((org, clinic_id), version, config)
    return config


def kept_setting(session: Session, kind: str, org: str, read: Callable[[], T]) -> T:
    """``read()``, a per-organization setting read from tables the configuration counter
    counts (``KEPT_SETTINGS_TABLES``, migration 0024), kept per ``kind`` and organization
    while the counter stays the same: exact for the reason :func:`kept_config` gives
    (the counter is read first; ``read`` must read the tables, not rows the session
    already holds). Read, not kept, in a transaction that wrote configuration or such
    settings, or holds unflushed rows of those tables. Callers share the value between
    threads: they must not change it.
    """
    uow = unit_of(session)
    if uow.config_written or any(
            _is_setting(row) for row in (*session.new, *session.dirty, *session.deleted)):
        return read()
    version = uow.config_version(org, lambda: config_version(session, org))
    found: T | None = _SETTINGS.get((kind, org), version)
    if found is None:
        found = read()
        _SETTINGS.put((kind, org), version, found)
    return found


def kept_clinic_zone(session: Session, org: str, clinic_id: str) -> str | None:
    """The zone of ``clinic_id`` (``None``: no such clinic in ``org``) from the
    configuration kept for it at the counter this transaction read (no statement);
    read from ``clinics`` when the transaction has not read the counter, wrote or holds
    unwritten configuration, or nothing is kept at that counter."""
    uow = unit_of(session)
    version = uow.per_transaction().get(("config_version", org))
    if version is not None and not uow.config_written and not any(
            isinstance(row, db.CONFIGURATION_TABLES) for row in (*session.new, *session.dirty)):
        kept = _CONFIGS.get((org, clinic_id), version)
        if kept is not None:
            clinic = kept.clinic(clinic_id)
            if clinic is not None:
                return clinic.time_zone
    row = session.get(db.Clinic, clinic_id)
    return row.time_zone if row is not None and row.organization_id == org else None
