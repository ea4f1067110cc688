"""The configuration cache: an organization's configuration for one clinic, read from
the six configuration tables and kept between requests while the organization's
configuration counter stays the same."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

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


#: Configurations kept between requests, by (organization, clinic), with the
#: organization's configuration counter they were read at (see :func:`kept_config`).
_CONFIGS: OrderedDict[tuple[str, str], tuple[int, Config]] = OrderedDict()
_CONFIGS_KEPT = 256
_CONFIGS_LOCK = threading.Lock()




@event.listens_for(Session, "after_flush")
def _note_config_flush(session: Session, _context: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(row, db.CONFIGURATION_TABLES) for row in changed):
        unit_of(session).config_written = True


@event.listens_for(Session, "do_orm_execute")
def _note_config_statement(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and state.bind_mapper is not None \
            and issubclass(state.bind_mapper.class_, db.CONFIGURATION_TABLES):
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


def kept_clinic_zone(session: Session, org: str, clinic_id: str) -> str | None:
    """The zone of ``clinic_id`` (``None``: no such clinic in ``org``) from the
    configuration kept for it at the counter this transaction read (no statement);
    read from ``clinics`` when the transaction has not read the counter, wrote or holds
    unwritten configuration, or nothing is kept at that counter."""
    uow = unit_of(session)
    version = uow.per_transaction().get(("config_version", org))
    if version is not None and not uow.config_written and not any(
            isinstance(row, db.CONFIGURATION_TABLES) for row in (*session.new, *session.dirty)):
        with _CONFIGS_LOCK:
            kept = _CONFIGS.get((org, clinic_id))
        if kept is not None and kept[0] == version:
            clinic = kept[1].clinic(clinic_id)
            if clinic is not None:
                return clinic.time_zone
    row = session.get(db.Clinic, clinic_id)
    return row.time_zone if row is not None and row.organization_id == org else None
