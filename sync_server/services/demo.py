"""``seed-demo``: load the demo organization (scheduling.demo_data) into the database.

The recipe's records were booked through the rules engine, so they are written
as they are, with their resource occupations, and every record goes into the
change log in its wire form so a desk's first pull downloads the whole demo.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from scheduling import model
from scheduling.demo_data import DemoData, build_demo
from scheduling.wire import entity_of, to_wire
from sync_server.core.security import Passwords
from sync_server.db import models as db
from sync_server.services import accounts, audit, changes, devices, organizations

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-password-2026"  # printed by the CLI; a demo is not for real patients
DEMO_USERS = (
    ("admin@demo.clinicdesk.example", "Alex Admin", ("administrator",)),
    ("reception@demo.clinicdesk.example", "Rita Reception", ("receptionist",)),
)


@dataclass(frozen=True)
class SeededDemo:
    organization_id: str
    slug: str
    users: tuple[str, ...]
    password: str
    enrollment_codes: tuple[str, ...]
    appointments: int


def seed_demo(
    session: Session, passwords: Passwords, now: datetime, *, today: date | None = None,
    codes: int = 2,
) -> SeededDemo:
    """Create the demo organization, its users and desk enrollment codes (one transaction)."""
    data = build_demo(today or now.date())
    org = organizations.create_organization(session, data.organization.name, now, DEMO_SLUG)
    session.flush()
    for email, name, roles in DEMO_USERS:
        accounts.create_user(session, passwords, org.id, email, DEMO_PASSWORD, list(roles), now,
                             display_name=name)
    records = _records(data, org.id)
    for record in records:
        session.add(_row(record, org.id, now, data))
        if isinstance(record, model.Resource):
            session.add_all(db.ResourceClinic(resource_id=record.id, clinic_id=clinic_id,
                                              organization_id=org.id)
                            for clinic_id in sorted(record.clinic_ids))
        session.flush()
    _occupations(session, data, org.id)
    version = changes.bump_version(session, org.id)
    # A desk that first sees a series fills its template from the series' appointments,
    # so the change log lists the series after them (rows were inserted the other way).
    logged = [r for r in records if not isinstance(r, model.Series)] + list(data.series)
    for record in logged:
        changes.record_change(session, org.id, version, entity_of(record), record.id, "upsert",
                              _wire(record, org.id))
    issued = tuple(
        devices.create_enrollment_code(session, org.id, now, timedelta(days=7), audit.Actor())[0]
        for _ in range(codes)
    )
    session.commit()
    return SeededDemo(org.id, DEMO_SLUG, tuple(e for e, _, _ in DEMO_USERS), DEMO_PASSWORD,
                      issued, len(data.appointments))


def _records(data: DemoData, org_id: str) -> list[Any]:
    return [*data.clinics, *data.resources, *data.appointment_types, *data.schedules,
            *data.holidays, *data.blockouts, *data.patients, *data.series, *data.appointments,
            *data.waitlist]


def _wire(record: Any, org_id: str) -> dict[str, Any]:
    wire = to_wire(record)
    if "organization_id" in wire:
        wire["organization_id"] = org_id
    return wire


def _row(record: Any, org_id: str, now: datetime, data: DemoData) -> Any:
    match record:
        case model.Clinic():
            return db.Clinic(id=record.id, organization_id=org_id, name=record.name,
                             time_zone=record.time_zone, locale=record.locale)
        case model.Resource():
            restriction = record.restriction
            return db.Resource(
                id=record.id, organization_id=org_id, kind=record.kind.value, name=record.name,
                active=record.active, restricted=restriction is not None,
                requires_approval=bool(restriction and restriction.requires_approval),
                min_lead_time_seconds=int(restriction.min_lead_time.total_seconds())
                if restriction else 0,
            )
        case model.AppointmentType():
            wire = to_wire(record)
            return db.AppointmentType(
                id=record.id, organization_id=org_id, name=record.name,
                default_duration_seconds=wire["default_duration"],
                min_duration_seconds=wire["min_duration"],
                max_duration_seconds=wire["max_duration"],
                buffer_before_seconds=wire["buffer_before"],
                buffer_after_seconds=wire["buffer_after"], requirement=wire["requirement"],
                capacity=record.capacity, online_bookable=record.online_bookable,
                telemedicine=record.telemedicine, min_notice_seconds=wire["min_notice"],
                max_days_ahead=record.max_days_ahead,
                cancellation_period_seconds=wire["cancellation_period"],
                reschedule_limit=record.reschedule_limit, color=record.color,
                names=[[lang, name] for lang, name in record.names],
            )
        case model.WeeklySchedule():
            return db.WeeklySchedule(
                id=record.id, organization_id=org_id, provider_id=record.provider_id,
                clinic_id=record.clinic_id, weekday=record.weekday, start_time=record.start,
                end_time=record.end,
                breaks=[[b.start.isoformat(), b.end.isoformat()] for b in record.breaks],
                valid_from=record.valid_from, valid_until=record.valid_until,
            )
        case model.Holiday():
            return db.Holiday(id=record.id, organization_id=org_id, clinic_id=record.clinic_id,
                              day=record.day, name=record.name)
        case model.Blockout():
            return db.Blockout(id=record.id, organization_id=org_id, clinic_id=record.clinic_id,
                               resource_id=record.resource_id, start_at=record.start,
                               end_at=record.end, reason=record.reason)
        case model.Patient():
            return db.Patient(
                id=record.id, organization_id=org_id, given_name=record.given_name,
                family_name=record.family_name, phone=record.phone, email=record.email,
                preferred_language=record.preferred_language, active=record.active,
                contact_preference=record.contact_preference,
                reminders_opt_out=record.reminders_opt_out, updated_at=now,
            )
        case model.Series():
            first = next(a for a in data.appointments if a.series_id == record.id)
            return db.Series(
                id=record.id, organization_id=org_id, clinic_id=record.clinic_id,
                patient_id=first.patient_id, appointment_type_id=first.appointment_type_id,
                rrule=record.rrule, first_local=record.first_local,
                duration_seconds=int((first.end - first.start).total_seconds()),
                exdates=[d.isoformat() for d in sorted(record.exdates)],
            )
        case model.Appointment():
            return _appointment_row(record, org_id, now, data)
        case model.WaitlistEntry():
            return db.WaitlistEntry(
                id=record.id, organization_id=org_id, clinic_id=record.clinic_id,
                patient_id=record.patient_id, appointment_type_id=record.appointment_type_id,
                created_at=record.created_at, priority=record.priority,
                preferred_provider_ids=sorted(record.preferred_provider_ids),
                preferred_weekdays=sorted(record.preferred_weekdays),
                preferred_times=[[a.isoformat(), b.isoformat()] for a, b in
                                 record.preferred_times],
                active=record.active, note=record.note,
            )
    raise TypeError(f"no row for {type(record).__name__}")


def _padding(data: DemoData, appointment: model.Appointment) -> tuple[timedelta, timedelta]:
    kind = next(t for t in data.appointment_types if t.id == appointment.appointment_type_id)
    return kind.buffer_before, kind.buffer_after


def _appointment_row(
    record: model.Appointment, org_id: str, now: datetime, data: DemoData
) -> db.Appointment:
    before, after = _padding(data, record)
    change = record.last_status_change
    return db.Appointment(
        id=record.id, organization_id=org_id, clinic_id=record.clinic_id,
        patient_id=record.patient_id, appointment_type_id=record.appointment_type_id,
        provider_id=record.provider_id, room_id=record.room_id,
        equipment_ids=list(record.equipment_ids), start_at=record.start, end_at=record.end,
        block_start=record.start - before, block_end=record.end + after,
        status=record.status.value, source=record.source.value, notes=record.notes,
        patient_notes=record.patient_notes, series_id=record.series_id,
        original_start=record.original_start, deleted=record.deleted, active=record.is_active,
        overridden=False, version=record.version, reschedule_count=record.reschedule_count,
        override_reason=record.override_reason, cancel_reason=record.cancel_reason,
        last_status_previous=change.previous.value if change else None,
        last_status_at=change.at if change else None,
        last_status_actor_id=None, cancel_category=record.cancel_category,
        visit_id=record.visit_id, slot_template_id=record.slot_template_id,
        encounter_ref=record.encounter_ref, created_at=now, updated_at=now,
    )


def _occupations(session: Session, data: DemoData, org_id: str) -> None:
    for appointment in data.appointments:
        before, after = _padding(data, appointment)
        for resource_id in appointment.resource_ids:
            session.add(db.AppointmentResource(
                id=str(uuid.uuid4()), organization_id=org_id, appointment_id=appointment.id,
                resource_id=resource_id, block_start=appointment.start - before,
                block_end=appointment.end + after, active=appointment.is_active,
            ))
    session.flush()
