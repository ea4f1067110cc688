"""Database rows ↔ domain records: one function per record kind each way."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from scheduling import model
from sync_server.db import models as db


def clinic_record(row: db.Clinic) -> model.Clinic:
    return model.Clinic(row.id, row.organization_id, row.name, row.time_zone, row.locale)


def resource_record(row: db.Resource, clinic_ids: Iterable[str]) -> model.Resource:
    restriction = (
        model.Restriction(row.requires_approval, timedelta(seconds=row.min_lead_time_seconds))
        if row.restricted
        else None
    )
    return model.Resource(row.id, row.organization_id, model.ResourceKind(row.kind), row.name,
                          frozenset(clinic_ids), row.department_id, row.active, restriction,
                          row.color)


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
        tuple((str(lang), str(name)) for lang, name in row.names or ()),
        row.late_cancellation_fee_cents,
    )


def _time(text: str) -> time:
    return time.fromisoformat(text)


def schedule_record(row: db.WeeklySchedule) -> model.WeeklySchedule:
    breaks = tuple(model.Break(_time(a), _time(b)) for a, b in row.breaks or ())
    return model.WeeklySchedule(row.id, row.provider_id, row.clinic_id, row.weekday,
                                row.start_time, row.end_time, breaks, row.valid_from,
                                row.valid_until)


def slot_template_record(row: db.SlotTemplate) -> model.SlotTemplate:
    return model.SlotTemplate(row.id, row.provider_id, row.clinic_id, row.weekday,
                              row.start_time, row.end_time, row.name, row.appointment_type_id)


def exception_record(row: db.ScheduleException) -> model.ScheduleException:
    return model.ScheduleException(row.id, row.provider_id, row.clinic_id,
                                   model.ExceptionKind(row.kind), row.start_at, row.end_at,
                                   row.reason)


def blockout_record(row: db.Blockout) -> model.Blockout:
    return model.Blockout(row.id, row.clinic_id, row.start_at, row.end_at, row.resource_id,
                          row.reason)


def outage_record(row: db.Outage) -> model.Outage:
    return model.Outage(row.id, row.resource_id, row.start_at, row.end_at, row.reason)


def dated_records(rows: Iterable[Any]) -> dict[str, list[Any]]:
    """The rows of the one-statement dated read (``queries.DATED``: leg, id, clinic,
    resource, kind, start, end, day, text) as :class:`CalendarState` keyword arguments:
    time off, holidays, blockouts and outages."""
    dated: dict[str, list[Any]] = {"exceptions": [], "holidays": [], "blockouts": [],
                                   "outages": []}
    for leg, id_, clinic, resource, kind, start, end, day, words in rows:
        if leg == "e":
            dated["exceptions"].append(model.ScheduleException(
                id_, resource, clinic, model.ExceptionKind(kind), start, end, words))
        elif leg == "h":
            dated["holidays"].append(model.Holiday(id_, clinic, day, words))
        elif leg == "b":
            dated["blockouts"].append(model.Blockout(id_, clinic, start, end, resource, words))
        else:
            dated["outages"].append(model.Outage(id_, resource, start, end, words))
    return dated


def quota_record(row: db.Quota) -> model.Quota:
    return model.Quota(row.id, row.clinic_id, model.QuotaPeriod(row.period), row.max_count,
                       row.provider_id, row.appointment_type_id, row.department_id)


def patient_record(row: db.Patient) -> model.Patient:
    return model.Patient(row.id, row.organization_id, row.given_name, row.family_name,
                         row.active, row.phone, row.email, row.preferred_language,
                         row.contact_preference, row.reminders_opt_out, row.date_of_birth,
                         row.address, row.insurance_provider, row.insurance_id)


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
        cancel_category=row.cancel_category, visit_id=row.visit_id,
        slot_template_id=row.slot_template_id, encounter_ref=row.encounter_ref,
        virtual_checkin_at=row.virtual_checkin_at,
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


def write_appointment(
    session: Session, record: model.Appointment, kind: model.AppointmentType, now: datetime,
    *, overridden: bool, new: bool = False,
) -> db.Appointment:
    """Insert or update the row of ``record`` (its buffered block from ``kind``).

    ``new``: the caller knows no row exists yet (saves looking for it)."""
    row = None if new else db.get_in_org(session, db.Appointment, record.organization_id,
                                         record.id)
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
        "cancel_category": record.cancel_category, "visit_id": record.visit_id,
        "slot_template_id": record.slot_template_id, "encounter_ref": record.encounter_ref,
        "virtual_checkin_at": record.virtual_checkin_at, "updated_at": now,
    }


def write_series(
    session: Session, record: model.Series, template: db.Series | None = None, *,
    patient_id: str | None = None, appointment_type_id: str | None = None,
    duration_seconds: int | None = None,
) -> db.Series:
    """Insert or update a series row; a new one copies patient/type/duration from
    ``template`` unless given."""
    row = db.get_in_org(session, db.Series, record.organization_id, record.id)
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
