"""Confirm or cancel by reply: a reminder's signed link, or an SMS answered C or X.

The change goes through the normal booking path (:func:`sync_server.services.booking.change`)
as a patient acting online: the version moves, desks are poked, the audit log has the
entry, and the rules apply the type's cancellation period (a late cancellation is
refused: the page gives the clinic's phone number). The actor recorded on the
appointment (``last_status_actor_id``) and in the audit log says how:
``patient:email-link`` or ``patient:sms-reply``. A link is single use (one
``notification_replies`` row per notice); a used, expired, foreign or forged link
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduling.commands import Actor, CancelAppointment, ChangeStatus, Permission
from scheduling.model import AppointmentStatus
from scheduling.refusals import RefusalCode
from sync_server.db import models as db
from sync_server.notifications.channels import normalized_phone
from sync_server.notifications.links import LinkKey
from sync_server.notifications.models import Notification, NotificationReply
from sync_server.notifications.policy import policy_of
from sync_server.services import audit, booking

VIA_LINK, VIA_SMS = "email-link", "sms-reply"


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """``outcome``: confirmed, cancelled, invalid, used, expired, other_patient, changed,
    late, not_possible; plus what the page shows."""

    outcome: str
    language: str = "en"
    clinic_name: str = ""
    clinic_phone: str = ""
    start: datetime | None = None
    time_zone: str = "UTC"
    action: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    row: Notification
    appointment: db.Appointment
    base: ReplyOutcome


def find_target(session: Session, key: LinkKey, token: str,
                now: datetime) -> tuple[Target | None, ReplyOutcome]:
    """The notice a link answers, or why it answers none."""
    claim = key.read(token)
    row = session.get(Notification, claim.notification_id) if claim else None
    if claim is None or row is None or row.kind != "reminder":
        return None, ReplyOutcome("invalid")
    return find_target_of(session, row, claim.action, claim.expires, now)


def find_target_of(session: Session, row: Notification, action: str,
                   expires: datetime | None, now: datetime) -> tuple[Target | None, ReplyOutcome]:
    """The appointment a reply to ``row`` may change, or why it may change none."""
    appointment = db.get_in_org(session, db.Appointment, row.organization_id, row.appointment_id)
    patient = db.get_in_org(session, db.Patient, row.organization_id, row.patient_id)
    clinic = session.get(db.Clinic, row.clinic_id)
    base = ReplyOutcome(
        "", patient.preferred_language if patient else "en", clinic.name if clinic else "",
        policy_of(session, row.organization_id).clinic_phone, row.occurrence_start,
        clinic.time_zone if clinic else "UTC", action)
    if session.get(NotificationReply, row.id) is not None:
        return None, _with(base, "used")
    if (expires is not None and expires <= now) or row.occurrence_start <= now:
        return None, _with(base, "expired")
    if appointment is None or patient is None or appointment.patient_id != row.patient_id:
        return None, _with(base, "other_patient")
    if appointment.start_at != row.occurrence_start or appointment.deleted:
        return None, _with(base, "changed")
    return Target(row, appointment, base), base


def act(session: Session, target: Target, action: str, via: str,
        now: datetime) -> ReplyOutcome:
    """Confirm or cancel the target's appointment; the caller commits."""
    row, appointment = target.row, target.appointment
    actor_id = f"patient:{via}"
    caller = booking.Caller(
        row.organization_id,
        Actor(actor_id, None, frozenset({Permission.MODIFY, Permission.CANCEL}),
              online_booking=True),
        audit.Actor(actor_id, None))
    reason = "by patient via e-mail link" if via == VIA_LINK else "by patient via SMS reply"
    current = AppointmentStatus(appointment.status)
    if action == "confirm" and current is AppointmentStatus.CONFIRMED:
        outcome = "confirmed"
    elif action == "confirm":
        result = booking.change(session, caller, ChangeStatus(
            caller.actor, appointment.id, AppointmentStatus.CONFIRMED, reason), now)
        outcome = "confirmed" if result.refused is None else "not_possible"
    else:
        result = booking.change(session, caller, CancelAppointment(
            caller.actor, appointment.id, reason), now)
        if result.refused is None:
            outcome = "cancelled"
        elif result.refused.code is RefusalCode.LATE_CANCELLATION:
            outcome = "late"
        else:
            outcome = "not_possible"
    if outcome in ("confirmed", "cancelled"):
        try:
            with session.begin_nested():
                session.add(NotificationReply(notification_id=row.id,
                                              organization_id=row.organization_id,
                                              action=action, via=via, outcome=outcome, at=now))
        except IntegrityError:
            session.rollback()
            return _with(target.base, "used")
    return _with(target.base, outcome)


def latest_sms_reminder(session: Session, organization_id: str, number: str,
                        now: datetime) -> Notification | None:
    """The last reminder sent by SMS to ``number`` for an appointment still ahead."""
    wanted = normalized_phone(number)
    if wanted is None:
        return None
    rows = session.execute(
        select(Notification, db.Patient.phone).join(
            db.Patient, and_(db.Patient.id == Notification.patient_id,
                             db.Patient.organization_id == Notification.organization_id))
        .where(Notification.organization_id == organization_id,
               Notification.kind == "reminder", Notification.channel == "sms",
               Notification.state == "sent", Notification.occurrence_start > now)
        .order_by(Notification.sent_at.desc()).limit(500))
    for row, phone in rows:
        if normalized_phone(phone) == wanted:
            return row
    return None


def _with(base: ReplyOutcome, outcome: str) -> ReplyOutcome:
    return ReplyOutcome(outcome, base.language, base.clinic_name, base.clinic_phone,
                        base.start, base.time_zone, base.action)
