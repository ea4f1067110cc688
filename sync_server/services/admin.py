"""Administration of an organization's records: configuration, patients, waitlist.

One generic write path for every kind of record (:class:`RecordType`), in one
transaction per call: check the references (another organization's id is a 404
with an ``access_denied`` audit entry, via :func:`access.get_in_organization`),
check the record's own rules (an :class:`InvalidInput` 422 with a message that
never repeats the submitted values), write the row, append the audit entry,
``bump_version`` and ``record_change`` with the record's wire form (what desks
pull), commit. Field values travel as plain dicts in the API's shape; the API
validates types and bounds, this module the rules between fields and records.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduling import model
from scheduling.timeutil import is_canonical_zone
from sync_server.db import models as db
from sync_server.services import access, calendar, departments
from sync_server.services.accounts import Principal
from sync_server.services.errors import AlreadyExists, InvalidInput
from sync_server.services.events import (
    BlockoutChanged,
    ChangeAccepted,
    ConfigurationChanged,
    Event,
    PatientChanged,
    WaitlistChanged,
)
from sync_server.services.unit_of_work import unit_of

Values = dict[str, Any]
#: Normalizes an API-shaped dict (the API's model validation); raises InvalidInput.
Normalize = Callable[[Values], Values]


@dataclass(frozen=True, slots=True)
class Ref:
    """Fields naming other records of the organization: ``ids`` picks them from the values."""

    label: str
    ids: Callable[[Values], list[str]]
    table: type[Any]
    target_type: str
    kind: str | None = None  # for resources: provider, room or equipment


def one(name: str, table: type[Any], target_type: str, kind: str | None = None) -> Ref:
    return Ref(name, lambda v: [v[name]] if v.get(name) else [], table, target_type, kind)


def many(name: str, table: type[Any], target_type: str, kind: str | None = None) -> Ref:
    return Ref(name, lambda v: list(v.get(name) or ()), table, target_type, kind)


@dataclass(frozen=True, slots=True)
class RecordType:
    """How one kind of record is administered."""

    entity: str  # the wire entity name, also the audit target type
    table: type[Any]
    refs: tuple[Ref, ...]
    #: Row → API fields (without ``id``).
    fields: Callable[[Session, Any], Values]
    #: API fields → row (after every check passed).
    apply: Callable[[Session, Any, Values], None]
    #: Row → domain record, whose wire form goes into the change log.
    record: Callable[[Session, Any], Any]
    #: Rules between fields; ``today`` is the clinic-independent UTC date.
    check: Callable[[Values, date], None] = lambda _values, _today: None
    #: What DELETE does: remove the row, set ``active`` false, or nothing (not offered).
    removal: Literal["delete", "deactivate", "none"] = "none"
    #: The field naming the provider whose linked user may manage the record with
    #: :data:`OWN_SCHEDULE` instead of :data:`CONFIGURE`.
    owner_field: str | None = None
    #: Rules against the organization's other records: (session, organization id, values,
    #: the record's own id or None when new); raises InvalidInput.
    check_against: Callable[[Session, str, Values, str | None], None] | None = None


CONFIGURE = "admin:config"
OWN_SCHEDULE = "schedule:own"
#: Kinds whose change event carries the record as it was (working hours).
_HOURS = ("weekly_schedule", "schedule_exception")


# --------------------------------------------------------------------------- write path


def create(
    session: Session, who: Principal, kind: RecordType, values: Values, now: datetime
) -> Values:
    """Create a record from API fields; return it as API fields with its new ``id``."""
    org = who.organization_id
    _check_refs(session, who, kind, values, now)
    _check_owner(session, who, kind, values, now)
    kind.check(values, now.date())
    if kind.check_against is not None:
        kind.check_against(session, org, values, None)
    row = kind.table(id=str(uuid.uuid4()), organization_id=org)
    if hasattr(row, "created_at"):
        row.created_at = now
    if hasattr(row, "updated_at"):
        row.updated_at = now
    kind.apply(session, row, values)
    session.add(row)
    _flush(session)
    _publish(session, who, kind, row, now, "create", "upsert")
    return {"id": row.id, **kind.fields(session, row)}


def update(
    session: Session,
    who: Principal,
    kind: RecordType,
    record_id: str,
    changes_: Values,
    normalize: Normalize,
    now: datetime,
) -> Values:
    """Apply the changed fields, re-checking the whole record as it would become."""
    row = get_row(session, who, kind, record_id, now)
    before = kind.record(session, row) if kind.entity in _HOURS else None
    values = normalize({**kind.fields(session, row), **changes_})
    _check_refs(session, who, kind, values, now)
    _check_owner(session, who, kind, values, now)
    kind.check(values, now.date())
    if kind.check_against is not None:
        kind.check_against(session, who.organization_id, values, row.id)
    kind.apply(session, row, values)
    if hasattr(row, "updated_at"):
        row.updated_at = now
    if hasattr(row, "version"):
        row.version += 1
    _flush(session)
    _publish(session, who, kind, row, now, "update", "upsert", before)
    return {"id": row.id, **kind.fields(session, row)}


def remove(
    session: Session, who: Principal, kind: RecordType, record_id: str, now: datetime
) -> None:
    """Delete the record (or deactivate it, for records other records keep pointing at)."""
    row = get_row(session, who, kind, record_id, now)
    before = kind.record(session, row) if kind.entity in _HOURS else None
    if kind.removal == "deactivate":
        row.active = False
        if hasattr(row, "version"):
            row.version += 1
        _flush(session)
        _publish(session, who, kind, row, now, "deactivate", "upsert")
        return
    session.delete(row)
    _flush(session)
    _publish(session, who, kind, row, now, "delete", "delete", before)


def read(
    session: Session, who: Principal, kind: RecordType, record_id: str, now: datetime
) -> Values:
    row = get_row(session, who, kind, record_id, now)
    values = {"id": row.id, **kind.fields(session, row)}
    if kind.entity == "patient":
        access.record_reads(session, who.organization_id, who.actor, now, "patient", [row.id])
    return values


def list_records(
    session: Session, who: Principal, kind: RecordType, *, limit: int, offset: int
) -> list[Values]:
    query = select(kind.table).where(kind.table.organization_id == who.organization_id)
    if kind.owner_field is not None and not who.can(CONFIGURE):
        query = query.where(getattr(kind.table, kind.owner_field).in_(
            own_providers(session, who)))
    rows = session.scalars(
        query
        .order_by(kind.table.id)
        .limit(limit)
        .offset(offset)
    )
    return [{"id": row.id, **kind.fields(session, row)} for row in rows]


def get_row(
    session: Session, who: Principal, kind: RecordType, record_id: str, now: datetime
) -> Any:
    """The record of the caller's organization (and, for ``schedule:own``, of their own
    provider), else an audited 404 / 403."""
    row = access.get_in_organization(
        session, kind.table, record_id, who.organization_id, who.actor, now,
        target_type=kind.entity,
    )
    _check_owner(session, who, kind, kind.fields(session, row), now)
    return row


def own_providers(session: Session, who: Principal) -> list[str]:
    """The providers linked to the caller's account (what ``schedule:own`` lets them manage)."""
    return list(session.scalars(select(db.Resource.id).where(
        db.Resource.organization_id == who.organization_id, db.Resource.user_id == who.user_id)))


def _check_owner(session: Session, who: Principal, kind: RecordType, values: Values,
                 now: datetime) -> None:
    if kind.owner_field is None or who.can(CONFIGURE):
        return
    if values[kind.owner_field] not in own_providers(session, who):
        raise access.refuse(
            session, who.organization_id, who.actor, now, permission=CONFIGURE,
            message="You may change only your own schedule and time off (the "
                    "'schedule:own' permission); this provider is not linked to your account.")


def search_patients(
    session: Session, who: Principal, query: str, now: datetime, *, limit: int
) -> list[Values]:
    """Patients whose name contains ``query`` (any case), or whose phone number
    contains its digits (spaces, dashes and brackets ignored on both sides). Each
    patient found is an audited read."""
    text = query.strip().lower()
    pattern = f"%{_escape_like(text)}%"
    full_name = func.lower(db.Patient.given_name + " " + db.Patient.family_name)
    matches = [
        func.lower(db.Patient.family_name + " " + db.Patient.given_name).like(pattern, "\\"),
        full_name.like(pattern, "\\"),
    ]
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) >= 3:
        phone: Any = db.Patient.phone
        for separator in (" ", "-", "(", ")", ".", "+"):
            phone = func.replace(phone, separator, "")
        matches.append(phone.like(f"%{digits}%"))
    rows = session.scalars(
        select(db.Patient)
        .where(db.Patient.organization_id == who.organization_id, or_(*matches))
        .order_by(db.Patient.family_name, db.Patient.given_name, db.Patient.id)
        .limit(limit)
    )
    found = [{"id": row.id, **PATIENT.fields(session, row)} for row in rows]
    access.record_reads(session, who.organization_id, who.actor, now, "patient",
                        [values["id"] for values in found])
    return found


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _flush(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise AlreadyExists(
            "Other records still use this one; change or remove them first.", code="in_use"
        ) from None


def _publish(
    session: Session, who: Principal, kind: RecordType, row: Any, now: datetime,
    action: str, op: Literal["upsert", "delete"], before: Any = None,
) -> None:
    org = who.organization_id
    accepted = ChangeAccepted(
        org, now, who.actor.user_id, who.actor.device_id, f"{kind.entity}.{action}",
        kind.entity, row.id, outcome="done",
        records=(kind.record(session, row),) if op == "upsert" else (),
        deleted=((kind.entity, row.id),) if op == "delete" else ())
    unit_of(session).emit(accepted, _event(org, kind.entity, row, action, op, before))
    session.commit()


def _event(org: str, entity: str, row: Any, action: str, op: Literal["upsert", "delete"],
           before: Any = None) -> Event:
    """The domain event of an administrator's change of ``row``."""
    if entity == "patient":
        return PatientChanged(org, row.id, created=action == "create")
    if entity == "waitlist_entry":
        return WaitlistChanged(org, row.id, row.clinic_id, row.patient_id, row.active)
    if entity == "blockout":
        return BlockoutChanged(org, row.id, row.clinic_id, row.resource_id, row.start_at,
                               row.end_at, deleted=op == "delete")
    return ConfigurationChanged(org, entity, row.id, op, before)


def _check_refs(
    session: Session, who: Principal, kind: RecordType, values: Values, now: datetime
) -> None:
    for ref in kind.refs:
        for record_id in ref.ids(values):
            row = access.get_in_organization(
                session, ref.table, record_id, who.organization_id, who.actor, now,
                target_type=ref.target_type,
            )
            if ref.kind is not None and row.kind != ref.kind:
                raise InvalidInput(f"The resource given in {ref.label} is not a {ref.kind}.",
                                   code="wrong_resource_kind")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInput(message)


def _range(values: Values, start: str = "start", end: str = "end") -> None:
    _require(values[end] > values[start], f"The {end} must be after the {start}.")


def _resource_ids(session: Session, resource_id: str) -> list[str]:
    return sorted(session.scalars(
        select(db.ResourceClinic.clinic_id).where(db.ResourceClinic.resource_id == resource_id)))


# --------------------------------------------------------------------------- clinics


def _clinic_check(values: Values, _today: date) -> None:
    if not is_canonical_zone(values["time_zone"]):
        raise InvalidInput(
            "Unknown time zone: use a canonical IANA name such as Europe/Madrid or UTC "
            "(not an alias such as US/Eastern or localtime).", code="unknown_time_zone")


_CLINIC_FIELDS = ("name", "time_zone", "locale", "active", "address", "opening_hours")


def _clinic_apply(_session: Session, row: db.Clinic, v: Values) -> None:
    for name in _CLINIC_FIELDS:
        setattr(row, name, v[name])


CLINIC = RecordType(
    "clinic", db.Clinic, (),
    fields=lambda _s, r: {name: getattr(r, name) for name in _CLINIC_FIELDS},
    apply=_clinic_apply,
    record=lambda _s, r: calendar.clinic_record(r),
    check=_clinic_check,
)


def _department_apply(_session: Session, row: db.Department, v: Values) -> None:
    row.clinic_id, row.name = v["clinic_id"], v["name"]


DEPARTMENT = RecordType(
    "department", db.Department, (one("clinic_id", db.Clinic, "clinic"),),
    fields=lambda _s, r: {"clinic_id": r.clinic_id, "name": r.name},
    apply=_department_apply,
    record=lambda _s, r: model.Department(r.id, r.organization_id, r.clinic_id, r.name),
    removal="delete",
)


# --------------------------------------------------------------------------- resources


def _resource_fields(session: Session, row: db.Resource) -> Values:
    restriction = (
        {"requires_approval": row.requires_approval,
         "min_lead_time_seconds": row.min_lead_time_seconds}
        if row.restricted else None
    )
    return {"kind": row.kind, "name": row.name, "department_id": row.department_id,
            "active": row.active, "clinic_ids": _resource_ids(session, row.id),
            "restriction": restriction, "specialty": row.specialty,
            "licence_number": row.licence_number, "user_id": row.user_id, "color": row.color}


def _resource_apply(session: Session, row: db.Resource, v: Values) -> None:
    row.kind, row.name, row.department_id, row.active = (
        v["kind"], v["name"], v["department_id"], v["active"])
    row.specialty, row.licence_number, row.user_id, row.color = (
        v["specialty"], v["licence_number"], v["user_id"], v["color"])
    restriction = v["restriction"]
    row.restricted = restriction is not None
    row.requires_approval = bool(restriction and restriction["requires_approval"])
    row.min_lead_time_seconds = restriction["min_lead_time_seconds"] if restriction else 0
    session.execute(delete(db.ResourceClinic).where(db.ResourceClinic.resource_id == row.id))
    session.add_all(
        db.ResourceClinic(resource_id=row.id, clinic_id=clinic_id,
                          organization_id=row.organization_id)
        for clinic_id in sorted(set(v["clinic_ids"]))
    )


RESOURCE = RecordType(
    "resource", db.Resource,
    (one("department_id", db.Department, "department"),
     many("clinic_ids", db.Clinic, "clinic"), one("user_id", db.User, "user")),
    fields=_resource_fields,
    apply=_resource_apply,
    record=lambda s, r: calendar.resource_record(r, _resource_ids(s, r.id)),
    check_against=departments.check_provider_department,
)


def _outage_apply(_session: Session, row: db.Outage, v: Values) -> None:
    row.resource_id, row.start_at, row.end_at, row.reason = (
        v["resource_id"], v["start"], v["end"], v["reason"])


OUTAGE = RecordType(
    "outage", db.Outage, (one("resource_id", db.Resource, "resource"),),
    fields=lambda _s, r: {"resource_id": r.resource_id, "start": r.start_at, "end": r.end_at,
                          "reason": r.reason},
    apply=_outage_apply,
    record=lambda _s, r: calendar.outage_record(r),
    check=lambda v, _t: _range(v),
    removal="delete",
)


# --------------------------------------------------------------------------- appointment types

_DURATIONS = ("default_duration_seconds", "min_duration_seconds", "max_duration_seconds",
              "buffer_before_seconds", "buffer_after_seconds", "min_notice_seconds",
              "cancellation_period_seconds")
_TYPE_FIELDS = ("name", *_DURATIONS, "capacity", "online_bookable", "telemedicine",
                "max_days_ahead", "reschedule_limit", "color", "active",
                "late_cancellation_fee_cents", "follow_up_days", "recall_months")


def _type_fields(_session: Session, row: db.AppointmentType) -> Values:
    requirement = row.requirement or {}
    return {
        **{name: getattr(row, name) for name in _TYPE_FIELDS},
        "requirement": {
            "providers": sorted(requirement.get("providers") or ()),
            "rooms": sorted(requirement.get("rooms") or ()),
            "equipment": [sorted(group) for group in requirement.get("equipment") or ()],
        },
        "names": {str(lang): str(name) for lang, name in row.names or ()},
    }


def _type_check(v: Values, _today: date) -> None:
    _require(v["min_duration_seconds"] <= v["default_duration_seconds"]
             <= v["max_duration_seconds"],
             "The durations must satisfy minimum ≤ default ≤ maximum.")


def _type_apply(_session: Session, row: db.AppointmentType, v: Values) -> None:
    for name in _TYPE_FIELDS:
        setattr(row, name, v[name])
    requirement = v["requirement"]
    row.requirement = {
        "providers": sorted(set(requirement["providers"])),
        "rooms": sorted(set(requirement["rooms"])),
        "equipment": [sorted(set(group)) for group in requirement["equipment"]],
    }
    row.names = [[lang, name] for lang, name in sorted((v.get("names") or {}).items())]


APPOINTMENT_TYPE = RecordType(
    "appointment_type", db.AppointmentType,
    (Ref("requirement.providers", lambda v: v["requirement"]["providers"], db.Resource,
         "resource", "provider"),
     Ref("requirement.rooms", lambda v: v["requirement"]["rooms"], db.Resource, "resource",
         "room"),
     Ref("requirement.equipment", lambda v: [i for g in v["requirement"]["equipment"] for i in g],
         db.Resource, "resource", "equipment")),
    fields=_type_fields,
    apply=_type_apply,
    record=lambda _s, r: calendar.appointment_type_record(r),
    check=_type_check,
)


# --------------------------------------------------------------------------- schedules


def _schedule_fields(_session: Session, row: db.WeeklySchedule) -> Values:
    return {"provider_id": row.provider_id, "clinic_id": row.clinic_id, "weekday": row.weekday,
            "start": row.start_time, "end": row.end_time,
            "breaks": [{"start": time.fromisoformat(a), "end": time.fromisoformat(b)}
                       for a, b in row.breaks or ()],
            "valid_from": row.valid_from, "valid_until": row.valid_until}


def _schedule_check(v: Values, _today: date) -> None:
    _range(v)
    previous_end: time | None = None
    for item in sorted(v["breaks"], key=lambda b: b["start"]):
        _require(item["end"] > item["start"], "Each break must end after it starts.")
        _require(v["start"] <= item["start"] and item["end"] <= v["end"],
                 "Breaks must lie within the working hours.")
        _require(previous_end is None or item["start"] >= previous_end,
                 "Breaks must not overlap.")
        previous_end = item["end"]
    if v["valid_from"] is not None and v["valid_until"] is not None:
        _require(v["valid_until"] >= v["valid_from"], "valid_until must not be before valid_from.")


def _schedule_overlaps(session: Session, org: str, v: Values, own_id: str | None) -> None:
    """Two blocks of one provider at one clinic on one weekday may not overlap while both
    are valid. Blocks at two clinics may: the provider is bookable at either, and a booking
    at one makes them busy at the other (through its occupations)."""
    others = session.scalars(select(db.WeeklySchedule).where(
        db.WeeklySchedule.organization_id == org,
        db.WeeklySchedule.provider_id == v["provider_id"],
        db.WeeklySchedule.clinic_id == v["clinic_id"],
        db.WeeklySchedule.weekday == v["weekday"],
        db.WeeklySchedule.id != (own_id or "")))
    for other in others:
        dates_meet = ((v["valid_until"] is None or other.valid_from is None
                       or other.valid_from <= v["valid_until"])
                      and (other.valid_until is None or v["valid_from"] is None
                           or v["valid_from"] <= other.valid_until))
        if dates_meet and other.start_time < v["end"] and v["start"] < other.end_time:
            raise InvalidInput(
                "This block overlaps another weekly block of the same provider at this clinic on "
                "that day "
                f"({other.start_time:%H:%M}-{other.end_time:%H:%M}); change or remove that "
                "one first.", code="overlapping_schedule")


def _schedule_apply(_session: Session, row: db.WeeklySchedule, v: Values) -> None:
    row.provider_id, row.clinic_id, row.weekday = v["provider_id"], v["clinic_id"], v["weekday"]
    row.start_time, row.end_time = v["start"], v["end"]
    row.breaks = [[b["start"].isoformat(), b["end"].isoformat()]
                  for b in sorted(v["breaks"], key=lambda b: b["start"])]
    row.valid_from, row.valid_until = v["valid_from"], v["valid_until"]


_PROVIDER_AT_CLINIC = (one("provider_id", db.Resource, "resource", "provider"),
                       one("clinic_id", db.Clinic, "clinic"))

def _slot_template_fields(_session: Session, row: db.SlotTemplate) -> Values:
    return {"provider_id": row.provider_id, "clinic_id": row.clinic_id, "weekday": row.weekday,
            "start": row.start_time, "end": row.end_time, "name": row.name,
            "appointment_type_id": row.appointment_type_id}


def _slot_template_apply(_session: Session, row: db.SlotTemplate, v: Values) -> None:
    row.provider_id, row.clinic_id, row.weekday = v["provider_id"], v["clinic_id"], v["weekday"]
    row.start_time, row.end_time, row.name = v["start"], v["end"], v["name"]
    row.appointment_type_id = v["appointment_type_id"]


def _slot_template_check(v: Values, _today: date) -> None:
    _range(v)
    _require(bool(v["name"].strip()), "A slot template needs a name.")


SLOT_TEMPLATE = RecordType(
    "slot_template", db.SlotTemplate,
    (*_PROVIDER_AT_CLINIC, one("appointment_type_id", db.AppointmentType, "appointment_type")),
    fields=_slot_template_fields,
    apply=_slot_template_apply,
    record=lambda _s, r: calendar.slot_template_record(r),
    check=_slot_template_check,
    removal="delete",
    owner_field="provider_id",
)

WEEKLY_SCHEDULE = RecordType(
    "weekly_schedule", db.WeeklySchedule, _PROVIDER_AT_CLINIC,
    fields=_schedule_fields,
    apply=_schedule_apply,
    record=lambda _s, r: calendar.schedule_record(r),
    check=_schedule_check,
    removal="delete",
    owner_field="provider_id",
    check_against=_schedule_overlaps,
)


def _exception_apply(_session: Session, row: db.ScheduleException, v: Values) -> None:
    row.provider_id, row.clinic_id, row.kind = v["provider_id"], v["clinic_id"], v["kind"]
    row.start_at, row.end_at, row.reason = v["start"], v["end"], v["reason"]


SCHEDULE_EXCEPTION = RecordType(
    "schedule_exception", db.ScheduleException, _PROVIDER_AT_CLINIC,
    fields=lambda _s, r: {"provider_id": r.provider_id, "clinic_id": r.clinic_id,
                          "kind": r.kind, "start": r.start_at, "end": r.end_at,
                          "reason": r.reason},
    apply=_exception_apply,
    record=lambda _s, r: calendar.exception_record(r),
    check=lambda v, _t: _range(v),
    removal="delete",
    owner_field="provider_id",
)


def _holiday_apply(_session: Session, row: db.Holiday, v: Values) -> None:
    row.clinic_id, row.day, row.name = v["clinic_id"], v["day"], v["name"]


def _holiday_over_appointments(session: Session, org: str, v: Values,
                               _own_id: str | None) -> None:
    """A holiday on a day with active appointments is refused, listing them (ids and local
    times only), unless ``keep_appointments`` says the clinic will deal with them."""
    if v.get("keep_appointments"):
        return
    clinic = session.get(db.Clinic, v["clinic_id"])
    assert clinic is not None  # the reference was checked
    zone = ZoneInfo(clinic.time_zone)
    start = datetime.combine(v["day"], time(), zone)
    end = datetime.combine(v["day"] + timedelta(days=1), time(), zone)
    found = session.execute(select(db.Appointment.id, db.Appointment.start_at).where(
        db.Appointment.organization_id == org, db.Appointment.clinic_id == clinic.id,
        db.Appointment.deleted.is_(False), db.Appointment.status.in_(_OCCUPYING),
        db.Appointment.start_at < end, db.Appointment.end_at > start,
    ).order_by(db.Appointment.start_at).limit(50)).all()
    if found:
        listed = ", ".join(f"{at.astimezone(zone):%H:%M} ({appointment_id})"
                           for appointment_id, at in found)
        raise InvalidInput(
            f"{len(found)} appointment(s) are booked at this clinic on that day: {listed}. "
            "Move or cancel them first, or save the holiday with keep_appointments to leave "
            "them in place.", code="appointments_on_holiday")


_OCCUPYING = [s.value for s in model.AppointmentStatus if s.occupies_time]

HOLIDAY = RecordType(
    "holiday", db.Holiday, (one("clinic_id", db.Clinic, "clinic"),),
    fields=lambda _s, r: {"clinic_id": r.clinic_id, "day": r.day, "name": r.name},
    apply=_holiday_apply,
    record=lambda _s, r: model.Holiday(r.id, r.clinic_id, r.day, r.name),
    removal="delete",
    check_against=_holiday_over_appointments,
)


def _blockout_apply(_session: Session, row: db.Blockout, v: Values) -> None:
    row.clinic_id, row.resource_id = v["clinic_id"], v["resource_id"]
    row.start_at, row.end_at, row.reason = v["start"], v["end"], v["reason"]


BLOCKOUT = RecordType(
    "blockout", db.Blockout,
    (one("clinic_id", db.Clinic, "clinic"), one("resource_id", db.Resource, "resource")),
    fields=lambda _s, r: {"clinic_id": r.clinic_id, "resource_id": r.resource_id,
                          "start": r.start_at, "end": r.end_at, "reason": r.reason},
    apply=_blockout_apply,
    record=lambda _s, r: calendar.blockout_record(r),
    check=lambda v, _t: _range(v),
    removal="delete",
)


def _quota_apply(_session: Session, row: db.Quota, v: Values) -> None:
    row.clinic_id, row.period, row.max_count = v["clinic_id"], v["period"], v["max_count"]
    row.provider_id, row.appointment_type_id = v["provider_id"], v["appointment_type_id"]
    row.department_id = v["department_id"]


QUOTA = RecordType(
    "quota", db.Quota,
    (one("clinic_id", db.Clinic, "clinic"),
     one("provider_id", db.Resource, "resource", "provider"),
     one("appointment_type_id", db.AppointmentType, "appointment_type"),
     one("department_id", db.Department, "department")),
    fields=lambda _s, r: {"clinic_id": r.clinic_id, "period": r.period,
                          "max_count": r.max_count, "provider_id": r.provider_id,
                          "appointment_type_id": r.appointment_type_id,
                          "department_id": r.department_id},
    apply=_quota_apply,
    record=lambda _s, r: calendar.quota_record(r),
    removal="delete",
)


# --------------------------------------------------------------------------- patients, waitlist

_PATIENT_FIELDS = ("given_name", "family_name", "date_of_birth", "phone", "email", "address",
                   "insurance_provider", "insurance_id", "preferred_language", "active",
                   "contact_preference", "reminders_opt_out")


def _patient_check(v: Values, today: date) -> None:
    born = v["date_of_birth"]
    _require(born is None or born <= today, "The date of birth cannot be in the future.")


def _patient_apply(_session: Session, row: db.Patient, v: Values) -> None:
    for name in _PATIENT_FIELDS:
        setattr(row, name, v[name])


PATIENT = RecordType(
    "patient", db.Patient, (),
    fields=lambda _s, r: {name: getattr(r, name) for name in _PATIENT_FIELDS},
    apply=_patient_apply,
    record=lambda _s, r: calendar.patient_record(r),
    check=_patient_check,
)


def _waitlist_fields(_session: Session, row: db.WaitlistEntry) -> Values:
    return {"clinic_id": row.clinic_id, "patient_id": row.patient_id,
            "appointment_type_id": row.appointment_type_id, "priority": row.priority,
            "preferred_provider_ids": sorted(row.preferred_provider_ids or ()),
            "preferred_weekdays": sorted(row.preferred_weekdays or ()),
            "preferred_times": [{"start": time.fromisoformat(a), "end": time.fromisoformat(b)}
                                for a, b in row.preferred_times or ()],
            "note": row.note, "active": row.active}


def _waitlist_check(v: Values, _today: date) -> None:
    for item in v["preferred_times"]:
        _require(item["end"] > item["start"], "Each preferred time must end after it starts.")


def _waitlist_apply(_session: Session, row: db.WaitlistEntry, v: Values) -> None:
    for name in ("clinic_id", "patient_id", "appointment_type_id", "priority", "note",
                 "active"):
        setattr(row, name, v[name])
    row.preferred_provider_ids = sorted(set(v["preferred_provider_ids"]))
    row.preferred_weekdays = sorted(set(v["preferred_weekdays"]))
    row.preferred_times = [[t["start"].isoformat(), t["end"].isoformat()]
                           for t in v["preferred_times"]]


WAITLIST_ENTRY = RecordType(
    "waitlist_entry", db.WaitlistEntry,
    (one("clinic_id", db.Clinic, "clinic"), one("patient_id", db.Patient, "patient"),
     one("appointment_type_id", db.AppointmentType, "appointment_type"),
     many("preferred_provider_ids", db.Resource, "resource", "provider")),
    fields=_waitlist_fields,
    apply=_waitlist_apply,
    record=lambda _s, r: calendar.waitlist_record(r),
    check=_waitlist_check,
    removal="deactivate",
)

#: Every record type above, by wire entity name.
RECORD_TYPES: dict[str, RecordType] = {
    kind.entity: kind
    for kind in (CLINIC, DEPARTMENT, RESOURCE, OUTAGE, APPOINTMENT_TYPE, WEEKLY_SCHEDULE,
                 SCHEDULE_EXCEPTION, HOLIDAY, BLOCKOUT, QUOTA, PATIENT, WAITLIST_ENTRY,
                 SLOT_TEMPLATE)
}
