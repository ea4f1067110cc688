"""What the portal pages do, as a patient acting online: find slots, book, move, cancel.

Every change goes through the booking service (:mod:`sync_server.services.booking`),
the path desks and the REST API use: the same rules (online bookability, minimum
notice, cancellation period, reschedule limit), locks, audit entries and events (so
the notifications follow). The actor is ``patient:portal`` with ``online_booking``
set, and a booking's source is ``online``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.commands import (
    Actor,
    Alternative,
    BookAppointment,
    CancelAppointment,
    MoveAppointment,
    Permission,
)
from scheduling.intents import PatientCreate
from scheduling.model import AppointmentSource, AppointmentStatus
from sync_server.db import models as db
from sync_server.notifications.channels import normalized_phone
from sync_server.services import agenda, audit, booking
from sync_server.services.booking import BookingResult, Caller
from sync_server.services.calendar import next_available_in_windows

ACTOR_ID = "patient:portal"
AUDIT_ACTOR = audit.Actor(ACTOR_ID, None)
#: The longest date range one search covers.
MAX_SEARCH_DAYS = 31
#: The most slots one result page lists.
MAX_SLOTS_SHOWN = 60
NEXT_HORIZON_DAYS = 90
#: Statuses a patient may still move or cancel from the portal.
CHANGEABLE = (AppointmentStatus.PENDING.value, AppointmentStatus.BOOKED.value,
              AppointmentStatus.CONFIRMED.value)


def caller(organization_id: str) -> Caller:
    return Caller(organization_id, Actor(
        ACTOR_ID, None, frozenset({Permission.CREATE.value, Permission.MODIFY.value,
                                   Permission.CANCEL.value, "patient:edit"}),
        online_booking=True), AUDIT_ACTOR)


@dataclass(frozen=True, slots=True)
class Choices:
    """What the search form offers: the clinics, the online-bookable types, the providers."""

    clinics: list[db.Clinic]
    types: list[db.AppointmentType]
    providers: list[db.Resource]


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    provider_id: str


def organization(session: Session, ref: str) -> db.Organization | None:
    """The organization a portal URL names, by slug or id."""
    found = session.scalar(select(db.Organization).where(db.Organization.slug == ref))
    return found if found is not None else session.get(db.Organization, ref)


def choices(session: Session, organization_id: str) -> Choices:
    clinics = list(session.scalars(select(db.Clinic).where(
        db.Clinic.organization_id == organization_id, db.Clinic.active).order_by(db.Clinic.name)))
    types = list(session.scalars(select(db.AppointmentType).where(
        db.AppointmentType.organization_id == organization_id, db.AppointmentType.active,
        db.AppointmentType.online_bookable).order_by(db.AppointmentType.name)))
    providers = list(session.scalars(select(db.Resource).where(
        db.Resource.organization_id == organization_id, db.Resource.active,
        db.Resource.kind == "provider").order_by(db.Resource.name)))
    return Choices(clinics, types, providers)


def online_type(session: Session, organization_id: str,
                type_id: str) -> db.AppointmentType | None:
    row = session.get(db.AppointmentType, type_id)
    if row is None or row.organization_id != organization_id or not row.online_bookable \
            or not row.active:
        return None
    return row


def own_clinic(session: Session, organization_id: str, clinic_id: str) -> db.Clinic | None:
    row = session.get(db.Clinic, clinic_id)
    return row if row is not None and row.organization_id == organization_id else None


def _distinct(found: list[Alternative]) -> list[Slot]:
    """One slot per (start, provider): rooms are the clinic's business, not the patient's."""
    seen: set[tuple[datetime, str]] = set()
    slots = []
    for alt in found:
        if (alt.start, alt.provider_id) not in seen:
            seen.add((alt.start, alt.provider_id))
            slots.append(Slot(alt.start, alt.end, alt.provider_id))
    return slots


def free_slots(session: Session, organization_id: str, clinic_id: str, type_id: str,
               provider_id: str | None, first_day: date, last_day: date,
               now: datetime) -> list[Slot]:
    """Free slots of an online-bookable type, from the scheduling core's availability."""
    last_day = min(last_day, first_day + timedelta(days=MAX_SEARCH_DAYS - 1))
    found = agenda.free_slots_between(session, organization_id, clinic_id, type_id,
                                      first_day, last_day,
                                      (provider_id,) if provider_id else None, now) or []
    return _distinct(found)[:MAX_SLOTS_SHOWN]


def next_slot(session: Session, organization_id: str, clinic_id: str, type_id: str,
              provider_id: str | None, now: datetime) -> Slot | None:
    found = next_available_in_windows(
        session, organization_id, clinic_id, type_id, now=now,
        provider_ids=(provider_id,) if provider_id else None, horizon_days=NEXT_HORIZON_DAYS)
    return None if found is None else Slot(found.start, found.end, found.provider_id)


def patient_for(session: Session, organization_id: str, channel: str,
                address: str) -> db.Patient | None:
    """The organization's active patient with this verified e-mail or phone (the first
    registered when several share it)."""
    query = select(db.Patient).where(
        db.Patient.organization_id == organization_id, db.Patient.active,
    ).order_by(db.Patient.updated_at, db.Patient.id)
    if channel == "email":
        return session.scalars(query.where(
            func.lower(db.Patient.email) == address.strip().lower())).first()
    wanted = normalized_phone(address)
    for patient in session.scalars(query.where(db.Patient.phone != "")):
        if normalized_phone(patient.phone) == wanted:
            return patient
    return None


def register_patient(session: Session, organization_id: str, channel: str, address: str,
                     given_name: str, family_name: str, language: str,
                     now: datetime) -> BookingResult:
    """A new patient with just a name and the verified address (minimal data)."""
    request = PatientCreate(
        str(uuid.uuid4()), given_name.strip(), family_name.strip(),
        phone=address if channel == "sms" else "", email=address if channel == "email" else "",
        preferred_language=language, contact_preference=channel)
    return booking.patient_create(session, caller(organization_id), request, now)


def book(session: Session, organization_id: str, patient_id: str, clinic_id: str,
         type_id: str, provider_id: str, start: datetime, note: str,
         now: datetime) -> BookingResult:
    command = BookAppointment(caller(organization_id).actor, str(uuid.uuid4()), clinic_id,
                              patient_id, type_id, provider_id, start,
                              source=AppointmentSource.ONLINE, patient_notes=note)
    return booking.book(session, caller(organization_id), command, now)


def move(session: Session, organization_id: str, appointment_id: str, start: datetime,
         provider_id: str, now: datetime) -> BookingResult:
    command = MoveAppointment(caller(organization_id).actor, appointment_id, start, provider_id)
    return booking.change(session, caller(organization_id), command, now)


def cancel(session: Session, organization_id: str, appointment_id: str,
           now: datetime) -> BookingResult:
    command = CancelAppointment(caller(organization_id).actor, appointment_id,
                                "by patient via the portal")
    return booking.change(session, caller(organization_id), command, now)


def upcoming(session: Session, organization_id: str, patient_id: str,
             now: datetime) -> list[db.Appointment]:
    """The patient's appointments from today on, cancelled ones included."""
    return list(session.scalars(select(db.Appointment).where(
        db.Appointment.organization_id == organization_id,
        db.Appointment.patient_id == patient_id, db.Appointment.deleted.is_(False),
        db.Appointment.end_at > now - timedelta(hours=12)).order_by(db.Appointment.start_at)))


def patients_appointment(session: Session, organization_id: str, patient_id: str,
                         appointment_id: str) -> db.Appointment | None:
    """The appointment when it is this patient's in this organization; ``None`` for any
    other (another patient's or another organization's look the same: not found)."""
    row = db.get_in_org(session, db.Appointment, organization_id, appointment_id)
    if row is None or row.patient_id != patient_id \
            or row.deleted:
        return None
    return row


def refuse(session: Session, organization_id: str, intent: str, reason: str, now: datetime,
           *, target_type: str | None = None, target_id: str | None = None) -> None:
    """Audit a refusal of the portal's own (CSRF, codes, rate limits, foreign ids)."""
    audit.append(session, organization_id, at=now, actor=AUDIT_ACTOR, intent=intent,
                 outcome="refused", target_type=target_type, target_id=target_id,
                 reason=reason)


def local(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(time_zone))
