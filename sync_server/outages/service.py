"""Marking a resource out of service and re-routing the appointments it hits.

:func:`start_incident` writes the outage through the administration path (so it blocks
new bookings for that resource and period, as every outage does, and desks pull it)
and records the incident. :func:`plan` lists the appointments still on the resource in
that period and, for each, the placements the rules accept: a **dry run of the normal
move path** (same start and provider, the room and the equipment left to the rules),
rolled back — an accepted dry run is "same provider, other room" (or "other equipment");
a refused one brings the rules' own alternatives ("other provider, same time" or "other
time"). Nothing here invents a rule.

:func:`apply` moves an appointment through :func:`sync_server.services.booking.change`
(locks, rules, events, notices, audit as any move), one transaction per appointment.
A placement taken meanwhile (a desk booked it) is refused under the locks; the
appointment is then planned again and the first new proposal tried. An appointment
with no proposal left goes to the desk's exceptions panel as a staff alert.
Every decision is logged with who made it (:class:`OutageDecision`); each patient
gets one message about all their moved appointments and the staff one summary alert
(:mod:`sync_server.outages.notices`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.commands import MoveAppointment
from scheduling.model import AppointmentStatus
from sync_server.db import models as db
from sync_server.notifications.models import Notification, NotificationException
from sync_server.outages import notices
from sync_server.outages.models import OutageDecision, OutageIncident
from sync_server.services import admin, booking
from sync_server.services.accounts import Principal
from sync_server.services.booking import Caller

S = AppointmentStatus
#: Appointments in these statuses are not moved (done, or not taking place).
SETTLED = (S.CANCELLED.value, S.ENTERED_IN_ERROR.value, S.NO_SHOW.value, S.COMPLETED.value,
           S.IN_PROGRESS.value)
#: How often one appointment is planned again when its placement was taken meanwhile.
RETRIES = 3
#: Staff alert of an appointment that could not be re-routed (exceptions panel).
ALERT_KIND, ALERT_REASON = "outage", "no_alternative"


class OutageError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class Proposal:
    start: datetime
    end: datetime
    provider_id: str
    room_id: str | None
    kind: str  # "other_room", "other_equipment", "other_provider", "other_time"

    def json(self) -> dict[str, Any]:
        return {"start": instant(self.start), "end": instant(self.end),
                "provider_id": self.provider_id, "room_id": self.room_id, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class Affected:
    appointment: db.Appointment
    proposals: tuple[Proposal, ...]

    def json(self) -> dict[str, Any]:
        row = self.appointment
        return {"appointment_id": row.id, "patient_id": row.patient_id,
                "appointment_type_id": row.appointment_type_id,
                "start": instant(row.start_at), "end": instant(row.end_at),
                "provider_id": row.provider_id, "room_id": row.room_id,
                "proposals": [p.json() for p in self.proposals]}


def instant(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# --------------------------------------------------------------------------- incident


def start_incident(session: Session, who: Principal, resource_id: str, start: datetime,
                   end: datetime, reason: str, now: datetime) -> OutageIncident:
    """The outage (through the administration path: it blocks new bookings) and its
    incident, committed."""
    outage = admin.create(session, who, admin.OUTAGE, {
        "resource_id": resource_id, "start": start, "end": end, "reason": reason}, now)
    incident = OutageIncident(id=str(uuid.uuid4()), organization_id=who.organization_id,
                              outage_id=outage["id"], resource_id=resource_id, start_at=start,
                              end_at=end, reason=reason, created_by=who.user_id, created_at=now)
    session.add(incident)
    session.commit()
    return incident


def incident_of(session: Session, org: str, incident_id: str) -> OutageIncident:
    row = session.get(OutageIncident, incident_id)
    if row is None or row.organization_id != org:
        raise OutageError("unknown_incident", "There is no such outage incident.")
    return row


def affected(session: Session, incident: OutageIncident) -> list[db.Appointment]:
    """Appointments still on the resource during the outage, by start."""
    occupied = select(db.AppointmentResource.appointment_id).where(
        db.AppointmentResource.organization_id == incident.organization_id,
        db.AppointmentResource.resource_id == incident.resource_id,
        db.AppointmentResource.active.is_(True),
        db.AppointmentResource.block_start < incident.end_at,
        db.AppointmentResource.block_end > incident.start_at)
    return list(session.scalars(select(db.Appointment).where(
        db.Appointment.id.in_(occupied), db.Appointment.deleted.is_(False),
        db.Appointment.organization_id == incident.organization_id,
        db.Appointment.status.not_in(SETTLED),
        db.Appointment.start_at < incident.end_at, db.Appointment.end_at > incident.start_at,
    ).order_by(db.Appointment.start_at, db.Appointment.id)))


def plan(session: Session, caller: Caller, incident: OutageIncident,
         now: datetime) -> list[Affected]:
    """Every affected appointment with the placements the rules accept now."""
    rows = affected(session, incident)
    found = [(row.id, propose(session, caller, row.id, now)) for row in rows]
    by_id = {row.id: row for row in affected(session, incident)}  # re-read after rollbacks
    return [Affected(by_id[appointment_id], proposals)
            for appointment_id, proposals in found if appointment_id in by_id]


def propose(session: Session, caller: Caller, appointment_id: str,
            now: datetime) -> tuple[Proposal, ...]:
    """The rules' placements for one appointment, each a dry run of the move path rolled
    back: the same provider at the same time with the room and equipment left to the rules
    ("other room", "other equipment"), every other provider of the type at the same time
    ("other provider"), then the alternatives the same provider's refusal offers ("other
    time")."""
    session.rollback()
    current = db.get_in_org(session, db.Appointment, caller.organization_id, appointment_id)
    if current is None:
        return ()
    start, provider, room = current.start_at, current.provider_id, current.room_id
    equipment = tuple(current.equipment_ids or ())
    found: list[Proposal] = []
    same = dry_move(session, caller, appointment_id, start, provider, now,
                    choose_equipment=True)
    if same.refused is None:
        moved = same.appointments[0]
        if moved.room_id != room or tuple(moved.equipment_ids) != equipment:
            found.append(Proposal(moved.start, moved.end, moved.provider_id, moved.room_id,
                                  "other_room" if moved.room_id != room
                                  else "other_equipment"))
    for other in other_providers(session, current):
        tried = dry_move(session, caller, appointment_id, start, other, now,
                         choose_equipment=True)
        if tried.refused is None:
            moved = tried.appointments[0]
            found.append(Proposal(moved.start, moved.end, moved.provider_id, moved.room_id,
                                  "other_provider"))
    if same.refused is not None:
        found += [Proposal(a.start, a.end, a.provider_id, a.room_id,
                           "other_provider" if a.start == start else "other_time")
                  for a in same.refused.alternatives]
    return tuple(found)


def dry_move(session: Session, caller: Caller, appointment_id: str, start: datetime,
             provider_id: str, now: datetime, *,
             waiting_room: bool = False,
             choose_equipment: bool = False) -> booking.BookingResult:
    """What the move path would do (rooms left to the rules); nothing is kept.
    ``waiting_room``, ``choose_equipment``: see :class:`scheduling.commands.MoveAppointment`."""
    try:
        return booking.change(session, caller, MoveAppointment(
            caller.actor, appointment_id, start, provider_id, None,
            waiting_room=waiting_room, choose_equipment=choose_equipment), now)
    finally:
        session.rollback()


def other_providers(session: Session, current: db.Appointment) -> list[str]:
    """The type's providers (or, when it names none, the clinic's active providers) other
    than the appointment's own."""
    kind = session.get(db.AppointmentType, current.appointment_type_id)
    named = list((kind.requirement or {}).get("providers") or ()) if kind else []
    if not named:
        named = list(session.scalars(select(db.Resource.id).join(
            db.ResourceClinic, db.ResourceClinic.resource_id == db.Resource.id).where(
            db.ResourceClinic.clinic_id == current.clinic_id, db.Resource.kind == "provider",
            db.Resource.active.is_(True)).order_by(db.Resource.name, db.Resource.id)))
    return [provider for provider in named if provider != current.provider_id]


# --------------------------------------------------------------------------- applying


@dataclass(frozen=True, slots=True)
class Outcome:
    appointment_id: str
    action: str  # "moved", "refused" (one by one: choose again) or "unplaced"
    placement: Proposal | None = None
    code: str | None = None

    def json(self) -> dict[str, Any]:
        return {"appointment_id": self.appointment_id, "action": self.action,
                "placement": self.placement.json() if self.placement else None,
                "code": self.code}


def apply(session: Session, caller: Caller, incident: OutageIncident, appointment_id: str,
          placement: Proposal, now: datetime) -> Outcome:
    """Move one appointment to ``placement`` (staff's choice) through the move path."""
    session.rollback()
    current = db.get_in_org(session, db.Appointment, incident.organization_id, appointment_id)
    if current is None or \
            current.id not in {row.id for row in affected(session, incident)}:
        raise OutageError("not_affected", "This appointment is not hit by the outage.")
    outcome = _move(session, caller, incident, current, placement, now)
    _tell(session, incident, [outcome], now)
    return outcome


def apply_all(session: Session, caller: Caller, incident: OutageIncident,
              now: datetime) -> list[Outcome]:
    """Every affected appointment to its first proposal (planned again right before its
    move, so earlier moves are seen); those with none left go to the exceptions panel."""
    outcomes: list[Outcome] = []
    for appointment_id in [row.id for row in affected(session, incident)]:
        outcomes.append(_reroute(session, caller, incident, appointment_id, now))
    _tell(session, incident, outcomes, now)
    return outcomes


def _reroute(session: Session, caller: Caller, incident: OutageIncident, appointment_id: str,
             now: datetime) -> Outcome:
    for _attempt in range(RETRIES):
        proposals = propose(session, caller, appointment_id, now)
        current = db.get_in_org(session, db.Appointment, incident.organization_id,
                                appointment_id)
        if current is None:
            break
        if not proposals:
            return _unplaced(session, caller, incident, current, now)
        outcome = _move(session, caller, incident, current, proposals[0], now)
        if outcome.action == "moved":
            return outcome
    current = db.get_in_org(session, db.Appointment, incident.organization_id, appointment_id)
    assert current is not None
    return _unplaced(session, caller, incident, current, now)


def _move(session: Session, caller: Caller, incident: OutageIncident,
          current: db.Appointment, placement: Proposal, now: datetime) -> Outcome:
    appointment_id = current.id
    result = booking.change(session, caller, MoveAppointment(
        caller.actor, appointment_id, placement.start, placement.provider_id,
        placement.room_id, choose_equipment=True), now)
    if result.refused is not None:
        session.commit()  # the refusal's audit entry
        return Outcome(appointment_id, "refused", code=result.refused.code.value)
    _decide(session, caller, incident, appointment_id, "moved", placement, now)
    session.commit()
    return Outcome(appointment_id, "moved", placement)


def _unplaced(session: Session, caller: Caller, incident: OutageIncident,
              current: db.Appointment, now: datetime) -> Outcome:
    """A staff alert in the exceptions panel and the decision logged."""
    session.add(NotificationException(
        id=str(uuid.uuid4()), organization_id=incident.organization_id,
        notification_id=str(uuid.uuid4()), appointment_id=current.id,
        patient_id=current.patient_id, appointment_start=current.start_at, kind=ALERT_KIND,
        reason=ALERT_REASON, channels_tried=[], created_at=now))
    _decide(session, caller, incident, current.id, "unplaced", None, now)
    session.commit()
    return Outcome(current.id, "unplaced")


def _decide(session: Session, caller: Caller, incident: OutageIncident, appointment_id: str,
            action: str, placement: Proposal | None, now: datetime) -> None:
    session.add(OutageDecision(
        id=str(uuid.uuid4()), organization_id=incident.organization_id,
        incident_id=incident.id, appointment_id=appointment_id, action=action,
        start_at=placement.start if placement else None,
        provider_id=placement.provider_id if placement else None,
        room_id=placement.room_id if placement else None,
        by_user_id=caller.actor.user_id, at=now))


def _tell(session: Session, incident: OutageIncident, outcomes: list[Outcome],
          now: datetime) -> None:
    """The patients' messages about these moves and the staff's summary, committed."""
    notices.tell_patients(session, incident, [o.appointment_id for o in outcomes
                                              if o.action == "moved"], now)
    notices.tell_staff(session, incident, now)
    session.commit()


def decisions(session: Session, incident: OutageIncident) -> list[dict[str, Any]]:
    return [{"appointment_id": d.appointment_id, "action": d.action,
             "start": instant(d.start_at), "provider_id": d.provider_id,
             "room_id": d.room_id, "by_user_id": d.by_user_id, "at": instant(d.at)}
            for d in session.scalars(select(OutageDecision).where(
                OutageDecision.incident_id == incident.id).order_by(OutageDecision.at))]


def patients_told(session: Session, incident: OutageIncident) -> dict[str, int]:
    """Per patient: messages about the incident's moves that will go or went — its
    ``rerouted`` messages and any change notice of a moved appointment (tests, docs)."""
    moved = notices.moved_by(session, incident.id)
    counts: dict[str, int] = {}
    for row in session.scalars(select(Notification).where(
            ((Notification.appointment_id.in_(moved))
             & Notification.kind.in_(notices.MOVE_NOTICES))
            | ((Notification.appointment_id == incident.id)
               & (Notification.kind == notices.REROUTED)),
            Notification.state.in_(("pending", "sending", "sent")))):
        counts[row.patient_id] = counts.get(row.patient_id, 0) + 1
    return counts
