"""Record intents: waitlist entries, patients and blockouts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import Permission, Policy, Refused
from scheduling.intents import (
    BlockoutCreate,
    BlockoutDelete,
    PatientCreate,
    PatientUpdate,
    WaitlistAdd,
    WaitlistBook,
    WaitlistRemove,
    birth_date_text,
)
from scheduling.refusals import RefusalCode as R
from sync_server.db import models as db
from sync_server.services.booking.appointments import book
from sync_server.services.booking.locks import _lock
from sync_server.services.booking.outcomes import (
    BookingResult,
    Caller,
    DuplicateId,
    _accepted,
    _conflict,
    _done,
    _missing_refs,
    _not_permitted,
    _owned,
    _refuse,
    _waitlist_event,
    placement_of,
)
from sync_server.services.calendar import appointment_record, patient_record, waitlist_record
from sync_server.services.events import BlockoutChanged, PatientChanged, appointment_event
from sync_server.services.unit_of_work import unit_of


def waitlist_add(
    session: Session, caller: Caller, request: WaitlistAdd, now: datetime
) -> BookingResult:
    org = caller.organization_id
    if not caller.actor.may(Permission.CREATE):
        return _not_permitted(session, caller, now, "waitlist.add", request.entry_id,
                              "book appointments")
    if db.get_in_org(session, db.WaitlistEntry, org, request.entry_id) is not None:
        raise DuplicateId("A waitlist entry with this id already exists.")
    missing = _missing_refs(session, org, clinic=request.clinic_id, patient=request.patient_id,
                            appointment_type=request.appointment_type_id)
    if missing:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": missing}), now,
                       "waitlist.add", request.entry_id, None, None)
    entry = request.entry(org)
    session.add(db.WaitlistEntry(
        id=entry.id, organization_id=org, clinic_id=entry.clinic_id,
        patient_id=entry.patient_id, appointment_type_id=entry.appointment_type_id,
        created_at=entry.created_at, priority=entry.priority,
        preferred_provider_ids=sorted(entry.preferred_provider_ids),
        preferred_weekdays=sorted(entry.preferred_weekdays),
        preferred_times=[[a.isoformat(), b.isoformat()] for a, b in entry.preferred_times],
        active=True, note=entry.note, version=1))
    session.flush()
    return _done(session, caller, now, "waitlist.add", entry.id, entry, _waitlist_event(entry))


def waitlist_remove(
    session: Session, caller: Caller, request: WaitlistRemove, now: datetime
) -> BookingResult:
    if not caller.actor.may(Permission.MODIFY):
        return _not_permitted(session, caller, now, "waitlist.remove", request.entry_id,
                              "change appointments")
    row = _owned(session, caller, db.WaitlistEntry, request.entry_id, now)
    if row is None:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "appointment"}),
                       now, "waitlist.remove", request.entry_id, None, None)
    row.active = False
    row.version += 1
    session.flush()
    entry = waitlist_record(row)
    return _done(session, caller, now, "waitlist.remove", row.id, entry, _waitlist_event(entry))


def waitlist_book(
    session: Session, caller: Caller, request: WaitlistBook, now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> BookingResult:
    row = _owned(session, caller, db.WaitlistEntry, request.entry_id, now)
    if row is None or not row.active:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "appointment"}),
                       now, "waitlist.book", request.entry_id, None, None)
    return book(session, caller, request.command, now, policy, waitlist_entry=row)


def patient_create(
    session: Session, caller: Caller, request: PatientCreate, now: datetime
) -> BookingResult:
    if "patient:edit" not in caller.actor.permissions:
        return _not_permitted(session, caller, now, "patient.create", request.patient_id,
                              "register patients")
    if db.get_in_org(session, db.Patient, caller.organization_id, request.patient_id) is not None:
        raise DuplicateId("A patient with this id already exists.")
    patient = request.patient(caller.organization_id)
    session.add(db.Patient(
        id=patient.id, organization_id=patient.organization_id, given_name=patient.given_name,
        family_name=patient.family_name, phone=patient.phone, email=patient.email,
        preferred_language=patient.preferred_language,
        contact_preference=patient.contact_preference,
        reminders_opt_out=patient.reminders_opt_out, date_of_birth=patient.date_of_birth,
        address=patient.address, insurance_provider=patient.insurance_provider,
        insurance_id=patient.insurance_id, active=True, version=1, updated_at=now))
    session.flush()
    return _done(session, caller, now, "patient.create", patient.id, patient,
                 PatientChanged(patient.organization_id, patient.id, created=True))


def patient_update(
    session: Session, caller: Caller, request: PatientUpdate, now: datetime
) -> BookingResult:
    """Apply the changed fields in server order; a field the desk based on a value the
    server no longer holds (``request.base``) is not applied but becomes an
    ``EDIT_CONFLICT`` showing both values in the desk's inbox. Fields without a base
    value (older desks) are last-writer-wins."""
    if "patient:edit" not in caller.actor.permissions:
        return _not_permitted(session, caller, now, "patient.update", request.patient_id,
                              "edit patients")
    # Read, compare with the base values and write under the patient's lock: two server
    # instances editing one patient at once would otherwise both see the old value and the
    # second would overwrite the first without a conflict (found by the chaos run).
    _lock(session, [request.patient_id])
    row = _owned(session, caller, db.Patient, request.patient_id, now)
    if row is None:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "patient"}), now,
                       "patient.update", request.patient_id, None, None)
    session.refresh(row)  # as committed before the lock was granted
    stale = request.stale({name: _intent_value(row, name) for name in request.changes})
    conflict = Refused(R.EDIT_CONFLICT, edit_conflict_params(request, stale)) if stale else None
    applied = {name: value for name, value in request.changes.items() if name not in stale}
    if not applied:
        assert conflict is not None
        return _refuse(session, caller, conflict, now, "patient.update", row.id, None, None)
    for name, value in applied.items():
        setattr(row, name, _column_value(name, value))
    row.version += 1
    row.updated_at = now
    session.flush()
    result = _done(session, caller, now, "patient.update", row.id, patient_record(row),
                   PatientChanged(row.organization_id, row.id, created=False))
    if conflict is not None and result.version is not None:
        _conflict(session, caller, conflict, result.version, now)
    return result


def set_encounter(
    session: Session, caller: Caller, appointment_id: str, encounter_ref: str | None,
    now: datetime,
) -> BookingResult:
    """Set or clear an appointment's EHR encounter reference under its lock: its status,
    time and resources stay (the EHR coordinates status through the status endpoint)."""
    _lock(session, [appointment_id])
    row = _owned(session, caller, db.Appointment, appointment_id, now)
    if row is None:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "appointment"}),
                       now, "appointment.set_encounter", appointment_id, None, None)
    session.refresh(row)  # as committed before the lock was granted
    before = placement_of(row)
    row.encounter_ref = encounter_ref
    row.version += 1
    row.updated_at = now
    session.flush()
    record = appointment_record(row)
    return _done(session, caller, now, "appointment.set_encounter", row.id, record,
                 appointment_event(caller.organization_id, before, record))
def _intent_value(row: db.Patient, name: str) -> Any:
    """A patient field as a ``patient.update`` carries it (a date of birth as ISO text)."""
    value = getattr(row, name)
    return birth_date_text(value) if name == "date_of_birth" else value


def _column_value(name: str, value: Any) -> Any:
    if name == "date_of_birth":
        return date.fromisoformat(value) if value else None
    return value


def edit_conflict_params(request: PatientUpdate, stale: dict[str, Any]) -> dict[str, Any]:
    """The conflict's parameters: the stale field names, and per field the desk's value
    (``mine_<field>``) and the server's (``theirs_<field>``)."""
    params: dict[str, Any] = {"fields": ",".join(sorted(stale))}
    for name, theirs in stale.items():
        params[f"mine_{name}"] = request.changes[name]
        params[f"theirs_{name}"] = theirs
    return params


def blockout_create(
    session: Session, caller: Caller, request: BlockoutCreate, now: datetime
) -> BookingResult:
    record = request.blockout
    if "admin:config" not in caller.actor.permissions:
        return _not_permitted(session, caller, now, "blockout.create", record.id,
                              "configure the calendar")
    if db.get_in_org(session, db.Blockout, caller.organization_id, record.id) is not None:
        raise DuplicateId("A blockout with this id already exists.")
    missing = _missing_refs(session, caller.organization_id, clinic=record.clinic_id)
    if not missing and record.resource_id:
        missing = _missing_refs(session, caller.organization_id, resource=record.resource_id)
    if missing:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": missing}), now,
                       "blockout.create", record.id, None, None)
    session.add(db.Blockout(id=record.id, organization_id=caller.organization_id,
                            clinic_id=record.clinic_id, resource_id=record.resource_id,
                            start_at=record.start, end_at=record.end, reason=record.reason))
    session.flush()
    return _done(session, caller, now, "blockout.create", record.id, record,
                 BlockoutChanged(caller.organization_id, record.id, record.clinic_id,
                                 record.resource_id, record.start, record.end, deleted=False))


def blockout_delete(
    session: Session, caller: Caller, request: BlockoutDelete, now: datetime
) -> BookingResult:
    if "admin:config" not in caller.actor.permissions:
        return _not_permitted(session, caller, now, "blockout.delete", request.blockout_id,
                              "configure the calendar")
    row = _owned(session, caller, db.Blockout, request.blockout_id, now)
    if row is None:
        return _refuse(session, caller, Refused(R.UNKNOWN_RECORD, {"kind": "blockout"}), now,
                       "blockout.delete", request.blockout_id, None, None)
    gone = BlockoutChanged(caller.organization_id, row.id, row.clinic_id, row.resource_id,
                           row.start_at, row.end_at, deleted=True)
    session.delete(row)
    session.flush()
    uow = unit_of(session)
    uow.emit(_accepted(caller, now, "blockout.delete", "blockout", request.blockout_id,
                       deleted=[("blockout", request.blockout_id)]), gone)
    return BookingResult(version=uow.versions[caller.organization_id])
