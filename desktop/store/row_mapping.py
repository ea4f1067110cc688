"""The desk store's one row mapping: mirror rows ↔ the domain's records.

The store keeps durations as seconds, sets and tuples as JSON lists, times of
day as ``HH:MM:SS`` text inside JSON; the domain wants timedeltas, frozensets
and ``time`` values. Each converter here is the one place that knows both:
``clinic(row)`` … ``series(row, zone)`` read a row as a record, ``write_clinic(row,
record)`` … ``write_series(row, record, session)`` fill a row from a record (a
pulled change or an optimistic booking).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.store.models import (
    AppointmentRow,
    AppointmentTypeRow,
    BlockoutRow,
    ClinicRow,
    HolidayRow,
    OutageRow,
    PatientRow,
    QuotaRow,
    ResourceRow,
    ScheduleExceptionRow,
    SeriesRow,
    WaitlistEntryRow,
    WeeklyScheduleRow,
)
from scheduling import model
from scheduling.model import (
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    AppointmentType,
    Blockout,
    Break,
    Clinic,
    ExceptionKind,
    Holiday,
    Outage,
    Patient,
    Quota,
    QuotaPeriod,
    Resource,
    ResourceKind,
    ResourceRequirement,
    Restriction,
    ScheduleException,
    Series,
    StatusChange,
    WaitlistEntry,
    WeeklySchedule,
)
from scheduling.timeutil import to_local, to_utc

# --------------------------------------------------------------------------- rows → records


def _seconds(value: int) -> timedelta:
    return timedelta(seconds=value)


def _time_pairs(pairs: Iterable[Any]) -> tuple[tuple[time, time], ...]:
    return tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in pairs)


def clinic(row: ClinicRow) -> Clinic:
    return Clinic(row.id, row.organization_id, row.name, row.time_zone, row.locale)


def resource(row: ResourceRow) -> Resource:
    restriction = None
    if row.restriction is not None:
        restriction = Restriction(
            requires_approval=bool(row.restriction.get("requires_approval", True)),
            min_lead_time=_seconds(int(row.restriction.get("min_lead_time_seconds", 0))),
        )
    return Resource(
        id=row.id,
        organization_id=row.organization_id,
        kind=ResourceKind(row.kind),
        name=row.name,
        clinic_ids=frozenset(row.clinic_ids),
        department_id=row.department_id,
        active=row.active,
        restriction=restriction,
        color=row.color,
    )


def appointment_type(row: AppointmentTypeRow) -> AppointmentType:
    requirement = row.requirement or {}
    return AppointmentType(
        id=row.id,
        organization_id=row.organization_id,
        name=row.name,
        default_duration=_seconds(row.default_duration_seconds),
        min_duration=_seconds(row.min_duration_seconds),
        max_duration=_seconds(row.max_duration_seconds),
        buffer_before=_seconds(row.buffer_before_seconds),
        buffer_after=_seconds(row.buffer_after_seconds),
        requirement=ResourceRequirement(
            providers=frozenset(requirement.get("providers", ())),
            rooms=frozenset(requirement.get("rooms", ())),
            equipment=tuple(frozenset(group) for group in requirement.get("equipment", ())),
        ),
        capacity=row.capacity,
        online_bookable=row.online_bookable,
        telemedicine=row.telemedicine,
        min_notice=_seconds(row.min_notice_seconds),
        max_days_ahead=row.max_days_ahead,
        cancellation_period=_seconds(row.cancellation_period_seconds),
        reschedule_limit=row.reschedule_limit,
        color=row.color,
        names=tuple((str(lang), str(name)) for lang, name in row.names or ()),
        late_cancellation_fee_cents=row.late_cancellation_fee_cents,
    )


def weekly_schedule(row: WeeklyScheduleRow) -> WeeklySchedule:
    return WeeklySchedule(
        id=row.id,
        provider_id=row.provider_id,
        clinic_id=row.clinic_id,
        weekday=row.weekday,
        start=row.start,
        end=row.end,
        breaks=tuple(Break(a, b) for a, b in _time_pairs(row.breaks)),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


def schedule_exception(row: ScheduleExceptionRow) -> ScheduleException:
    return ScheduleException(row.id, row.provider_id, row.clinic_id, ExceptionKind(row.kind),
                             row.start, row.end, row.reason)


def holiday(row: HolidayRow) -> Holiday:
    return Holiday(row.id, row.clinic_id, row.day, row.name)


def blockout(row: BlockoutRow) -> Blockout:
    return Blockout(row.id, row.clinic_id, row.start, row.end, row.resource_id, row.reason)


def outage(row: OutageRow) -> Outage:
    return Outage(row.id, row.resource_id, row.start, row.end, row.reason)


def quota(row: QuotaRow) -> Quota:
    return Quota(row.id, row.clinic_id, QuotaPeriod(row.period), row.max_count,
                 row.provider_id, row.appointment_type_id, row.department_id)


def patient(row: PatientRow) -> Patient:
    return Patient(row.id, row.organization_id, row.given_name, row.family_name, row.active,
                   row.phone, row.email, row.preferred_language, row.contact_preference,
                   row.reminders_opt_out,
                   date.fromisoformat(row.date_of_birth) if row.date_of_birth else None,
                   row.address, row.insurance_provider, row.insurance_id)


def waitlist_entry(row: WaitlistEntryRow) -> WaitlistEntry:
    return WaitlistEntry(
        id=row.id,
        organization_id=row.organization_id,
        clinic_id=row.clinic_id,
        patient_id=row.patient_id,
        appointment_type_id=row.appointment_type_id,
        created_at=row.created_at,
        priority=row.priority,
        preferred_provider_ids=frozenset(row.preferred_provider_ids),
        preferred_weekdays=frozenset(int(d) for d in row.preferred_weekdays),
        preferred_times=_time_pairs(row.preferred_times),
        active=row.active,
        note=row.note,
    )


def appointment(row: AppointmentRow) -> Appointment:
    change = None
    if row.last_status_change is not None:
        change = StatusChange(
            previous=AppointmentStatus(row.last_status_change["previous"]),
            at=datetime.fromisoformat(row.last_status_change["at"]).astimezone(UTC),
            actor_id=row.last_status_change["actor_id"],
        )
    return Appointment(
        id=row.id,
        organization_id=row.organization_id,
        clinic_id=row.clinic_id,
        patient_id=row.patient_id,
        appointment_type_id=row.appointment_type_id,
        provider_id=row.provider_id,
        start=row.start,
        end=row.end,
        status=AppointmentStatus(row.status),
        room_id=row.room_id,
        equipment_ids=tuple(row.equipment_ids),
        source=AppointmentSource(row.source),
        notes=row.notes,
        patient_notes=row.patient_notes,
        series_id=row.series_id,
        original_start=row.original_start,
        deleted=row.deleted,
        version=row.version,
        reschedule_count=row.reschedule_count,
        override_reason=row.override_reason,
        cancel_reason=row.cancel_reason,
        last_status_change=change,
        cancel_category=row.cancel_category,
        visit_id=row.visit_id,
        slot_template_id=row.slot_template_id,
        encounter_ref=row.encounter_ref,
        virtual_checkin_at=row.virtual_checkin_at,
    )


def series(row: SeriesRow, time_zone: str) -> Series:
    """The domain series of ``row``; ``details`` keeps the local first start and exdates."""
    first_local = row.details.get("first_local")
    return Series(
        id=row.id,
        organization_id=row.organization_id,
        clinic_id=row.clinic_id,
        rrule=row.rrule,
        first_local=(
            datetime.fromisoformat(first_local)
            if first_local
            else to_local(row.first_start, time_zone)
        ),
        exdates=frozenset(datetime.fromisoformat(d) for d in row.details.get("exdates", ())),
    )


# --------------------------------------------------------------------------- records → rows


def write_appointment(row: AppointmentRow, record: Appointment, mutation_id: int | None) -> None:
    """Copy every field of ``record`` onto ``row`` (new or existing), marked pending."""
    row.id = record.id
    row.organization_id = record.organization_id
    row.clinic_id = record.clinic_id
    row.patient_id = record.patient_id
    row.appointment_type_id = record.appointment_type_id
    row.provider_id = record.provider_id
    row.start = record.start
    row.end = record.end
    row.status = record.status.value
    row.room_id = record.room_id
    row.equipment_ids = list(record.equipment_ids)
    row.source = record.source.value
    row.notes = record.notes
    row.patient_notes = record.patient_notes
    row.series_id = record.series_id
    row.original_start = record.original_start
    row.deleted = record.deleted
    row.version = record.version
    row.reschedule_count = record.reschedule_count
    row.override_reason = record.override_reason
    row.cancel_reason = record.cancel_reason
    row.cancel_category = record.cancel_category
    row.visit_id = record.visit_id
    row.slot_template_id = record.slot_template_id
    row.encounter_ref = record.encounter_ref
    row.virtual_checkin_at = record.virtual_checkin_at
    change = record.last_status_change
    row.last_status_change = None if change is None else {
        "previous": change.previous.value,
        "at": change.at.astimezone(UTC).isoformat(),
        "actor_id": change.actor_id,
    }
    row.pending_mutation_id = mutation_id


def series_details(record: Series, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    details = dict(extra or {})
    details["first_local"] = record.first_local.isoformat()
    details["exdates"] = sorted(d.isoformat() for d in record.exdates)
    return details


def _whole_seconds(value: Any) -> int:
    return int(value.total_seconds())


def write_clinic(row: Any, r: model.Clinic) -> None:
    row.organization_id, row.name, row.time_zone, row.locale = (
        r.organization_id, r.name, r.time_zone, r.locale)


def write_resource(row: Any, r: model.Resource) -> None:
    row.organization_id, row.kind, row.name = r.organization_id, r.kind.value, r.name
    row.clinic_ids = sorted(r.clinic_ids)
    row.department_id, row.active, row.color = r.department_id, r.active, r.color
    row.restriction = None if r.restriction is None else {
        "requires_approval": r.restriction.requires_approval,
        "min_lead_time_seconds": _whole_seconds(r.restriction.min_lead_time),
    }


def write_appointment_type(row: Any, r: model.AppointmentType) -> None:
    row.organization_id, row.name = r.organization_id, r.name
    row.default_duration_seconds = _whole_seconds(r.default_duration)
    row.min_duration_seconds = _whole_seconds(r.min_duration)
    row.max_duration_seconds = _whole_seconds(r.max_duration)
    row.buffer_before_seconds = _whole_seconds(r.buffer_before)
    row.buffer_after_seconds = _whole_seconds(r.buffer_after)
    row.requirement = {
        "providers": sorted(r.requirement.providers),
        "rooms": sorted(r.requirement.rooms),
        "equipment": [sorted(group) for group in r.requirement.equipment],
    }
    row.capacity, row.online_bookable, row.telemedicine = (
        r.capacity, r.online_bookable, r.telemedicine)
    row.min_notice_seconds = _whole_seconds(r.min_notice)
    row.max_days_ahead = r.max_days_ahead
    row.cancellation_period_seconds = _whole_seconds(r.cancellation_period)
    row.reschedule_limit, row.color = r.reschedule_limit, r.color
    row.names = [[lang, name] for lang, name in r.names]
    row.late_cancellation_fee_cents = r.late_cancellation_fee_cents


def write_weekly_schedule(row: Any, r: model.WeeklySchedule) -> None:
    row.provider_id, row.clinic_id, row.weekday = r.provider_id, r.clinic_id, r.weekday
    row.start, row.end = r.start, r.end
    row.breaks = [[b.start.isoformat(), b.end.isoformat()] for b in r.breaks]
    row.valid_from, row.valid_until = r.valid_from, r.valid_until


def write_slot_template(row: Any, r: model.SlotTemplate) -> None:
    row.provider_id, row.clinic_id, row.weekday = r.provider_id, r.clinic_id, r.weekday
    row.start, row.end, row.name = r.start, r.end, r.name
    row.appointment_type_id = r.appointment_type_id


def write_schedule_exception(row: Any, r: model.ScheduleException) -> None:
    row.provider_id, row.clinic_id, row.kind = r.provider_id, r.clinic_id, r.kind.value
    row.start, row.end, row.reason = r.start, r.end, r.reason


def write_holiday(row: Any, r: model.Holiday) -> None:
    row.clinic_id, row.day, row.name = r.clinic_id, r.day, r.name


def write_blockout(row: Any, r: model.Blockout) -> None:
    row.clinic_id, row.start, row.end = r.clinic_id, r.start, r.end
    row.resource_id, row.reason = r.resource_id, r.reason
    row.deleted = False  # the server has it: not (or no longer) lifted


def write_outage(row: Any, r: model.Outage) -> None:
    row.resource_id, row.start, row.end, row.reason = r.resource_id, r.start, r.end, r.reason


def write_quota(row: Any, r: model.Quota) -> None:
    row.clinic_id, row.period, row.max_count = r.clinic_id, r.period.value, r.max_count
    row.provider_id, row.appointment_type_id = r.provider_id, r.appointment_type_id
    row.department_id = r.department_id


def write_patient(row: Any, r: model.Patient) -> None:
    row.organization_id, row.given_name, row.family_name = (
        r.organization_id, r.given_name, r.family_name)
    row.active, row.phone, row.email = r.active, r.phone, r.email
    row.preferred_language = r.preferred_language
    row.contact_preference, row.reminders_opt_out = r.contact_preference, r.reminders_opt_out
    row.date_of_birth = "" if r.date_of_birth is None else r.date_of_birth.isoformat()
    row.address, row.insurance_provider, row.insurance_id = (
        r.address, r.insurance_provider, r.insurance_id)


def write_pulled_appointment(row: Any, r: model.Appointment) -> None:
    write_appointment(row, r, None)


def write_waitlist_entry(row: Any, r: model.WaitlistEntry) -> None:
    row.organization_id, row.clinic_id, row.patient_id = (
        r.organization_id, r.clinic_id, r.patient_id)
    row.appointment_type_id, row.created_at, row.priority = (
        r.appointment_type_id, r.created_at, r.priority)
    row.preferred_provider_ids = sorted(r.preferred_provider_ids)
    row.preferred_weekdays = sorted(r.preferred_weekdays)
    row.preferred_times = [[a.isoformat(), b.isoformat()] for a, b in r.preferred_times]
    row.active, row.note = r.active, r.note


def write_series(row: Any, r: model.Series, session: Session) -> None:
    # The row is incomplete until the end of this function: no autoflush of it meanwhile.
    with session.no_autoflush:
        _fill_series(row, r, session)


def _fill_series(row: Any, r: model.Series, session: Session) -> None:
    # The domain series has no template; keep the desk's, else borrow it from an occurrence.
    row.organization_id, row.clinic_id, row.rrule = r.organization_id, r.clinic_id, r.rrule
    row.details = series_details(r, row.details or {})
    clinic = session.get(ClinicRow, r.clinic_id)
    row.first_start = to_utc(r.first_local, clinic.time_zone) if clinic else (
        row.first_start or r.first_local.replace(tzinfo=UTC))
    if not row.patient_id:
        member = session.scalars(select(AppointmentRow).where(
            AppointmentRow.series_id == r.id).limit(1)).first()
        row.patient_id = member.patient_id if member else ""
        row.appointment_type_id = member.appointment_type_id if member else ""
        row.provider_id = member.provider_id if member else ""
        row.duration_seconds = (
            int((member.end - member.start).total_seconds()) if member else 0)
    row.deleted = False
