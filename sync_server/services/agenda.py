"""What the booking API reads: the appointments of a period, one appointment, free
slots, and the ownership checks before a change (another organization's id is answered as unknown,
with an ``access_denied`` audit entry)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import model
from scheduling.availability import ClinicRoom, get_available_clinics
from scheduling.commands import Actor, Alternative
from sync_server.db import models as db
from sync_server.services import access, booking, departments
from sync_server.services.accounts import Principal
from sync_server.services.booking import Caller
from sync_server.services.calendar import (
    appointment_record,
    clinic_zone,
    free_view,
    slot_template_record,
)

#: At most this many appointments in one listing.
MAX_LISTED = 5000


def appointments_between(
    session: Session, organization_id: str, start: datetime, end: datetime, *,
    provider_id: str | None = None, clinic_id: str | None = None,
    hidden: Collection[str] = (),
) -> list[model.Appointment]:
    """Appointments overlapping ``[start, end)`` (cancelled ones included), by start;
    none with a provider, room or equipment in ``hidden`` (another department's)."""
    table = db.Appointment
    query = select(table).where(table.organization_id == organization_id,
                                table.deleted.is_(False), table.start_at < end,
                                table.end_at > start).order_by(table.start_at, table.id)
    if provider_id is not None:
        query = query.where(table.provider_id == provider_id)
    if clinic_id is not None:
        query = query.where(table.clinic_id == clinic_id)
    found = [appointment_record(r) for r in session.scalars(query.limit(MAX_LISTED))]
    if hidden:
        found = [a for a in found
                 if not {a.provider_id, a.room_id, *a.equipment_ids} & set(hidden)]
    return found


def own_appointment(
    session: Session, user: Principal, appointment_id: str, now: datetime
) -> model.Appointment:
    """The user's organization's appointment (``NotFound`` otherwise)."""
    row = access.get_in_organization(session, db.Appointment, appointment_id,
                                     user.organization_id, user.actor, now,
                                     target_type="appointment")
    departments.check_appointment(session, user, departments.VIEW, row, now)
    return appointment_record(row)


def check_own_series(session: Session, user: Principal, series_id: str, now: datetime) -> None:
    """``NotFound`` unless the series belongs to the user's organization."""
    access.get_in_organization(session, db.Series, series_id, user.organization_id,
                               user.actor, now, target_type="series")


def free_slots_between(
    session: Session, organization_id: str, clinic_id: str, appointment_type_id: str,
    first_day: date, last_day: date, provider_ids: tuple[str, ...] | None, now: datetime,
    limit: int = MAX_LISTED,
) -> list[Alternative] | None:
    """Every free slot of the type at the clinic over local days ``first_day`` ..
    ``last_day`` (the same predicate the rules use); ``None``: no such clinic."""
    return free_view.free_slots_between(session, organization_id, clinic_id,
                                        appointment_type_id, first_day, last_day,
                                        provider_ids, now, limit)


def upcoming_for_patient(
    session: Session, user: Principal, patient_id: str, now: datetime, limit: int = 20,
) -> list[model.Appointment]:
    """The patient's appointments still to come that occupy time, soonest first (a read
    of the patient's record, audited)."""
    access.get_in_organization(session, db.Patient, patient_id, user.organization_id,
                               user.actor, now, target_type="patient")
    table = db.Appointment
    rows = session.scalars(select(table).where(
        table.organization_id == user.organization_id, table.patient_id == patient_id,
        table.active.is_(True), table.end_at > now,
    ).order_by(table.start_at, table.id).limit(limit))
    found = [appointment_record(r) for r in rows]
    access.record_reads(session, user.organization_id, user.actor, now, "patient", [patient_id])
    return found


def set_encounter(
    session: Session, user: Principal, appointment_id: str, encounter_ref: str | None,
    now: datetime,
) -> model.Appointment:
    """Set or clear the EHR encounter reference of the user's organization's appointment
    (``NotFound`` otherwise); its status and place are left as they are."""
    access.get_in_organization(session, db.Appointment, appointment_id, user.organization_id,
                               user.actor, now, target_type="appointment")
    caller = Caller(user.organization_id, Actor(user.user_id, None, user.permissions),
                    user.actor)
    result = booking.set_encounter(session, caller, appointment_id, encounter_ref, now)
    record = result.records[0]
    assert isinstance(record, model.Appointment)
    return record


def available_clinics(
    session: Session, organization_id: str, appointment_type_id: str, day: date,
    now: datetime, provider_ids: tuple[str, ...] | None = None,
) -> list[ClinicRoom]:
    """Which active clinics have room for the type on their local ``day``
    (:func:`scheduling.availability.get_available_clinics`), earliest free slot first."""
    clinic_ids = session.scalars(select(db.Clinic.id).where(
        db.Clinic.organization_id == organization_id,
        db.Clinic.active.is_(True)).order_by(db.Clinic.id))
    slots: dict[str, list[Alternative]] = {}
    for clinic_id in clinic_ids:
        found = free_view.free_slots_between(session, organization_id, clinic_id,
                                             appointment_type_id, day, day, provider_ids,
                                             now, MAX_LISTED)
        slots[clinic_id] = found or []
    return get_available_clinics(slots)


def inside_template(
    session: Session, user: Principal, template_id: str, clinic_id: str,
    appointment_type_id: str, slots: list[Alternative], now: datetime,
) -> list[Alternative]:
    """The ``slots`` that lie inside the organization's slot template (``NotFound``
    otherwise)."""
    row = access.get_in_organization(session, db.SlotTemplate, template_id,
                                     user.organization_id, user.actor, now,
                                     target_type="slot_template")
    template = slot_template_record(row)
    tz = clinic_zone(session, user.organization_id, clinic_id) or "UTC"
    return [s for s in slots if template.fits(s.provider_id, clinic_id, appointment_type_id,
                                               s.start, s.end, tz)]
