"""What the patients and the staff hear of an outage incident.

**Patients**: one ``rerouted`` message per patient and incident, about *all* their
appointments the incident moved. The outbox row names the incident as its
``appointment_id`` (the unique key then allows one per patient and channel); the
worker reads the patient's moved appointments when it sends
(:func:`rerouted_appointments`), so moves applied one by one before it goes are all in
it. The change notices the moves queued are voided while the message is still to go;
a move applied after it went keeps its own change notice, so no move goes untold.

**Staff**: one summary alert per incident in the exceptions panel, "N appointments
re-routed, M could not be" (kind ``outage-summary``, reason ``rerouted:N:M``; the
incident's id as its appointment and notification id), updated at each apply and
opened again when its figures change; the appointments that could not be re-routed
have their own alerts.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.model import CONTACT_PREFERENCES
from scheduling.reminders import after_quiet_hours
from sync_server.db import models as db
from sync_server.notifications.models import Notification, NotificationException
from sync_server.notifications.policy import policy_of
from sync_server.outages.models import OutageDecision, OutageIncident

REROUTED = "rerouted"
SUMMARY_KIND = "outage-summary"
#: States of a message that is on its way or gone (never re-armed).
DONE = ("sending", "sent")
#: Appointment notices a move queues (voided while the one message is still to go).
MOVE_NOTICES = ("created", "modified")


def moved_by(session: Session, incident_id: str) -> list[str]:
    return list(session.scalars(select(OutageDecision.appointment_id).where(
        OutageDecision.incident_id == incident_id, OutageDecision.action == "moved")))


def rerouted_appointments(session: Session, incident_id: str, patient_id: str,
                          now: datetime) -> list[db.Appointment]:
    """The patient's appointments the incident moved that still lie ahead, by start."""
    return list(session.scalars(select(db.Appointment).where(
        db.Appointment.id.in_(moved_by(session, incident_id)),
        db.Appointment.patient_id == patient_id, db.Appointment.deleted.is_(False),
        db.Appointment.status.not_in(("cancelled", "entered-in-error")),
        db.Appointment.start_at > now).order_by(db.Appointment.start_at, db.Appointment.id)))


def tell_patients(session: Session, incident: OutageIncident, moved_now: list[str],
                  now: datetime) -> None:
    """Queue (or re-arm) each patient's one message about the moves just applied; the
    caller commits."""
    if not moved_now:
        return
    policy = policy_of(session, incident.organization_id)
    patients = {row.patient_id: row for row in session.scalars(select(db.Appointment).where(
        db.Appointment.id.in_(moved_now),
        db.Appointment.organization_id == incident.organization_id).order_by(
        db.Appointment.start_at))}
    for patient_id, first in patients.items():
        patient = db.get_in_org(session, db.Patient, incident.organization_id, patient_id)
        preferred = CONTACT_PREFERENCES.get(patient.contact_preference, ("email", "sms")) \
            if patient else ()
        channels = [c for c in preferred if policy.enabled(c)]
        if not channels:
            continue  # the patient wants no messages, or none is enabled: nothing was queued
        row = session.scalar(select(Notification).where(
            Notification.appointment_id == incident.id, Notification.kind == REROUTED,
            Notification.recipient == patient_id))
        if row is not None and row.state in DONE:
            continue  # already told: the later moves keep their own change notices
        _void_move_notices(session, incident, patient_id, now)
        clinic = session.get(db.Clinic, first.clinic_id)
        due = now + timedelta(seconds=policy.notice_delay_seconds)
        ready = after_quiet_hours(due, policy.quiet, clinic.time_zone if clinic else "UTC")
        if row is None:
            row = Notification(
                id=str(uuid.uuid4()), organization_id=incident.organization_id,
                clinic_id=first.clinic_id, appointment_id=incident.id, patient_id=patient_id,
                occurrence_start=incident.start_at, kind=REROUTED, offset_minutes=0,
                recipient=patient_id, channel=channels[0], attempts=0, created_at=now)
            session.add(row)
        row.state, row.due_at, row.next_attempt_at, row.updated_at = "pending", due, ready, now
        row.error_code = None


def _void_move_notices(session: Session, incident: OutageIncident, patient_id: str,
                       now: datetime) -> None:
    for row in session.scalars(select(Notification).where(
            Notification.appointment_id.in_(moved_by(session, incident.id)),
            Notification.patient_id == patient_id, Notification.kind.in_(MOVE_NOTICES),
            Notification.state == "pending")):
        row.state, row.updated_at = "void", now


def tell_staff(session: Session, incident: OutageIncident, now: datetime) -> None:
    """The incident's summary alert, created or brought up to date; the caller commits."""
    moved = unplaced = 0
    for action in session.scalars(select(OutageDecision.action).where(
            OutageDecision.incident_id == incident.id)):
        moved += action == "moved"
        unplaced += action == "unplaced"
    reason = f"rerouted:{moved}:{unplaced}"
    row = session.scalar(select(NotificationException).where(
        NotificationException.notification_id == incident.id))
    if row is None:
        session.add(NotificationException(
            id=str(uuid.uuid4()), organization_id=incident.organization_id,
            notification_id=incident.id, appointment_id=incident.id, patient_id="",
            appointment_start=incident.start_at, kind=SUMMARY_KIND, reason=reason,
            channels_tried=[], created_at=now))
    elif row.reason != reason:
        row.reason, row.resolved_at, row.resolved_by, row.resolution_note = (
            reason, None, None, None)
