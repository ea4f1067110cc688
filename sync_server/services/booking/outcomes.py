"""What a booking service call answers, and what every path writes besides the
appointment rows: refusals (audit entry, and a conflict for the desk on the sync path)
and the events of an accepted change."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from scheduling import model
from scheduling.audit import INTENTS
from scheduling.commands import Actor, Alternative, ChangeStatus, Command, Refused
from scheduling.refusals import RefusalCode as R
from scheduling.series import OccurrenceResult
from scheduling.state import CalendarState
from scheduling.wire import entity_of, to_wire
from sync_server.db import models as db
from sync_server.services import audit, changes
from sync_server.services.access import elsewhere
from sync_server.services.errors import AlreadyExists
from sync_server.services.events import ChangeAccepted, Event, Placement, WaitlistChanged
from sync_server.services.unit_of_work import unit_of


class DuplicateId(AlreadyExists):
    """A create intent names a record id that already exists."""

    code = "already_exists"


@dataclass(frozen=True, slots=True)
class MutationRef:
    """The pushed mutation a service call comes from (the sync path)."""

    client_id: str
    mutation_id: int
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: the organization, the domain actor (permissions) and the audit actor."""

    organization_id: str
    actor: Actor
    audit_actor: audit.Actor
    mutation: MutationRef | None = None


@dataclass(frozen=True, slots=True)
class BookingResult:
    """What a service call did. ``refused`` set = nothing changed (except the audit and,
    on the sync path, the conflict). ``records`` are the domain records as written."""

    refused: Refused | None = None
    records: tuple[Any, ...] = ()
    notices: tuple[R, ...] = ()
    overridden: tuple[R, ...] = ()
    version: int | None = None
    occurrences: tuple[OccurrenceResult, ...] = ()
    clinic: model.Clinic | None = None
    names: dict[str, str] = field(default_factory=dict)

    @property
    def appointments(self) -> list[model.Appointment]:
        return [r for r in self.records if isinstance(r, model.Appointment)]


def _intent_name(command: Command) -> str:
    name = INTENTS[type(command)]
    return f"{name}:{command.status.value}" if isinstance(command, ChangeStatus) else name


def _refuse(
    session: Session, caller: Caller, refused: Refused, now: datetime, intent: str,
    target: str, state: CalendarState | None, clinic_id: str | None, *,
    occurrences: tuple[OccurrenceResult, ...] = (), patient_id: str | None = None,
) -> BookingResult:
    """Record ``refused`` (audit; conflict on the sync path). ``patient_id``: the patient
    a booking named; when the rules did not know it and it is another organization's,
    the attempt is audited as an access outside scope, as a direct read would be."""
    version = None
    unit_of(session).note_refusal(refused.code.value)
    if patient_id and refused.code is R.UNKNOWN_RECORD \
            and refused.params.get("kind") == "patient":
        _owned(session, caller, db.Patient, patient_id, now)
    if caller.mutation is not None:
        version = changes.bump_version(session, caller.organization_id)
        _conflict(session, caller, refused, version, now)
    _audit(session, caller, now, intent, _target_type(intent), target, "refused",
           refused.code.value)
    clinic = state.clinics.get(clinic_id) if state is not None and clinic_id else None
    if clinic is None and clinic_id:
        row = session.get(db.Clinic, clinic_id)
        if row is not None and row.organization_id == caller.organization_id:
            clinic = model.Clinic(row.id, row.organization_id, row.name, row.time_zone,
                                  row.locale)
    names = _names(state) if state is not None else {}
    return BookingResult(refused, version=version, occurrences=occurrences, clinic=clinic,
                         names=names)


def _not_permitted(
    session: Session, caller: Caller, now: datetime, intent: str, target: str, action: str
) -> BookingResult:
    return _refuse(session, caller, Refused(R.NOT_PERMITTED, {"action": action}), now, intent,
                   target, None, None)


def _conflict(
    session: Session, caller: Caller, refused: Refused, version: int, now: datetime
) -> None:
    mutation = caller.mutation
    if mutation is None:
        return
    record_conflict(session, caller.organization_id, mutation, refused.code.value,
                    refused.message_id, json_params(refused.params),
                    [alternative_json(a) for a in refused.alternatives], version, now)


def record_conflict(
    session: Session, org: str, mutation: MutationRef, code: str, message_id: str,
    params: dict[str, Any], alternatives: list[dict[str, Any]], version: int, now: datetime,
) -> None:
    """Keep a refused mutation for the desk's conflict inbox (served by pull; a batch
    inserts its conflicts when it flushes)."""
    row = {"id": _new_id(), "organization_id": org, "client_id": mutation.client_id,
           "mutation_id": mutation.mutation_id, "name": mutation.name, "args": mutation.args,
           "code": code, "message_id": message_id, "params": params,
           "alternatives": alternatives, "created_version": version, "created_at": now}
    pending = unit_of(session).conflict_rows
    if pending is not None:
        pending.append(row)
        return
    session.add(db.Conflict(**row))


def _done(
    session: Session, caller: Caller, now: datetime, intent: str, target: str, record: Any,
    event: Event,
) -> BookingResult:
    uow = unit_of(session)
    uow.emit(_accepted(caller, now, intent, entity_of(record), target, [record]), event)
    return BookingResult(records=(record,), version=uow.versions.get(caller.organization_id))


def _accepted(
    caller: Caller, now: datetime, intent: str, target_type: str, target: str,
    records: Iterable[Any] = (), *, deleted: Iterable[tuple[str, str]] = (),
    outcome: str = "accepted", reason: str = "",
) -> ChangeAccepted:
    return ChangeAccepted(caller.organization_id, now, caller.audit_actor.user_id,
                          caller.audit_actor.device_id, intent, target_type, target,
                          outcome, reason, tuple(records), tuple(deleted))


def placement_of(row: db.Appointment) -> Placement:
    """Where an appointment row stands (before it is written over)."""
    return Placement(row.clinic_id, row.provider_id, row.room_id, tuple(row.equipment_ids or ()),
                     row.start_at, row.end_at, model.AppointmentStatus(row.status), row.deleted)


def _waitlist_event(entry: model.WaitlistEntry) -> WaitlistChanged:
    return WaitlistChanged(entry.organization_id, entry.id, entry.clinic_id, entry.patient_id,
                           entry.active)


def _record(session: Session, org: str, version: int, records: Iterable[Any]) -> None:
    """Change-log entries (wire form) for records written at ``version``."""
    for record in records:
        changes.record_change(session, org, version, entity_of(record), record.id, "upsert",
                              to_wire(record))


def _audit(
    session: Session, caller: Caller, now: datetime, intent: str, target_type: str,
    target: str, outcome: str, reason: str = "",
) -> None:
    audit.append(session, caller.organization_id, at=now, actor=caller.audit_actor,
                 intent=intent[:64], outcome=outcome[:32], target_type=target_type,
                 target_id=target[:64], reason=reason[:200] or None)


def _target_type(intent: str) -> str:
    prefix = intent.split(".", 1)[0]
    return {"waitlist": "waitlist_entry"}.get(prefix, prefix)


def _owned(
    session: Session, caller: Caller, table: Any, record_id: str, now: datetime
) -> Any:
    """The row when it belongs to the caller's organization. Another organization's id is
    answered like an unknown one, with an ``access_denied`` audit entry."""
    row = db.get_in_org(session, table, caller.organization_id, record_id)
    if row is not None:
        return row
    if elsewhere(session, table, record_id):
        _audit(session, caller, now, "access_denied", table.__tablename__.rstrip("s"),
               record_id, "refused", "other_organization")
    return None


def _missing_refs(session: Session, org: str, **refs: str) -> str | None:
    tables = {"clinic": db.Clinic, "patient": db.Patient,
              "appointment_type": db.AppointmentType, "resource": db.Resource}
    for kind, record_id in refs.items():
        if db.get_in_org(session, tables[kind], org, record_id) is None:
            return kind.replace("_", " ")
    return None


def _names(state: CalendarState) -> dict[str, str]:
    """Display names for message parameters: resources, types, clinics (never patients)."""
    names = {r.id: r.name for r in state.resources.values()}
    names.update({t.id: t.name for t in state.appointment_types.values()})
    names.update({c.id: c.name for c in state.clinics.values()})
    return names


def json_params(params: Any) -> dict[str, Any]:
    """Refusal parameters as JSON values (instants and dates as ISO text)."""
    return {str(k): _json_value(v) for k, v in dict(params).items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def alternative_json(alternative: Alternative,
                     instant: Callable[[datetime], str] = datetime.isoformat) -> dict[str, Any]:
    """The slot as JSON; ``instant`` writes its times (a caller listing thousands of
    slots passes one that remembers the few distinct starts)."""
    return {"start": instant(alternative.start), "end": instant(alternative.end),
            "provider_id": alternative.provider_id, "room_id": alternative.room_id,
            "equipment_ids": list(alternative.equipment_ids)}


def _new_id() -> str:
    return str(uuid.uuid4())
