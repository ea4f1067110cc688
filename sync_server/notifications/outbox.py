"""The outbox's writer: the event handler that queues notifications inside the booking's
transaction (registered in :data:`sync_server.services.handlers.HANDLERS`).

For each appointment change it reads the appointment's existing rows once and then:

* **booked**: a ``created`` notice (after the organization's notice delay, so a
  booking moved or cancelled within it sends one notice or none) and one
  ``reminder`` per offset of the appointment type (default 24 h and 2 h before);
* **moved** (start, end, provider or clinic): pending reminders of the old start and
  the unsent ``created``/``modified`` notice are voided; a ``modified`` notice (or
  the ``created`` one again if it was never sent) and the new start's reminders are
  queued;
* **cancelled**: every pending row is voided; a ``cancelled`` notice goes only if
  the patient had been told of the appointment (something was sent);
* **status** no-show, arrived, completed …: pending reminders are voided; an undone
  cancellation queues the reminders again.

Rows go to the patient's first preferred channel; the worker falls back to the next
one. A row whose unique key exists already is re-armed only if it was never sent,
so a reminder is never queued twice for one occurrence (moving an appointment
back and forth re-arms the void row instead of adding one).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.model import CONTACT_PREFERENCES, AppointmentStatus, Patient
from scheduling.reminders import after_quiet_hours, reminder_due
from sync_server.db import models as db
from sync_server.notifications.models import Notification
from sync_server.notifications.policy import Policy, kept_policy
from sync_server.services.calendar import clinic_zone
from sync_server.services.events import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentMoved,
    ChangeAccepted,
)
from sync_server.services.unit_of_work import UnitOfWork

#: States a row is never sent from again.
DONE = ("sent", "sending")
#: After these statuses no reminder is useful any more.
NO_REMINDER = frozenset({AppointmentStatus.ARRIVED, AppointmentStatus.READY,
                         AppointmentStatus.IN_PROGRESS,
                         AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW,
                         AppointmentStatus.ENTERED_IN_ERROR, AppointmentStatus.CANCELLED})
Key = tuple[datetime, str, int, str, str]


def queue_notifications(uow: UnitOfWork, change: AppointmentChanged) -> None:
    """The handler: queue and void this appointment's notifications (see the module doc)."""
    session = uow.session
    now = _change_time(uow)
    after = change.after
    if after.start <= now and not isinstance(change, AppointmentCancelled):
        return  # the desk editing the past: nobody is told
    patient = _patient(uow, change.organization_id, change.patient_id)
    if patient is None:
        return
    policy = _policy(uow, change.organization_id)
    if not (policy.email_enabled or policy.sms_enabled):
        return  # notifications are off until the organization enables a channel
    tz = clinic_zone(session, change.organization_id, after.clinic_id) or "UTC"
    rows = Outbox(session, change, now, policy, tz)
    preferred = CONTACT_PREFERENCES.get(patient.contact_preference, ("email", "sms"))
    if not preferred:
        rows.void(lambda _row: True)
        return
    # The first preferred channel the organization sends on (else the first: the worker
    # then finds it disabled and alerts the staff).
    channel = next((c for c in preferred if policy.enabled(c)), preferred[0])
    reminders = not patient.reminders_opt_out and after.status not in NO_REMINDER
    if isinstance(change, AppointmentBooked):
        rows.notice("created", channel)
        if reminders:
            rows.reminders(channel, change.appointment_type_id)
    elif isinstance(change, AppointmentCancelled):
        rows.void(lambda _row: True)
        if after.start > now and rows.any_sent():
            rows.notice("cancelled", channel)
    elif isinstance(change, AppointmentMoved):
        before = change.before
        if before is None or (before.start, before.end, before.provider_id, before.clinic_id) \
                == (after.start, after.end, after.provider_id, after.clinic_id):
            return  # another room or equipment: nothing the patient needs to hear
        unsent_created = rows.pending_of("created")
        rows.void(lambda row: row.kind in ("created", "modified")
                  or (row.kind == "reminder" and row.occurrence_start != after.start))
        rows.notice("created" if unsent_created else "modified", channel)
        if reminders:
            rows.reminders(channel, change.appointment_type_id)
    elif not reminders:  # a status change after which no reminder helps
        rows.void(lambda row: row.kind == "reminder")
    elif change.before is not None and change.before.status is AppointmentStatus.CANCELLED:
        rows.reminders(channel, change.appointment_type_id)  # a cancellation undone


def _policy(uow: UnitOfWork, organization_id: str) -> Policy:
    """The organization's policy, kept between requests (:func:`kept_policy`); a sync push
    run asks for it once (``uow.known``), not once per booking."""
    if not uow.batch:
        return kept_policy(uow.session, organization_id)
    key = ("notification_policy", organization_id)
    found: Policy | None = uow.known.get(key)
    if found is None:
        found = uow.known[key] = kept_policy(uow.session, organization_id)
    return found


def _patient(uow: UnitOfWork, org: str, patient_id: str) -> db.Patient | Patient | None:
    """The patient (their contact preference and reminders opt-out); a sync push run's
    state holds the patients it books for, read once per run, not once per booking."""
    known = uow.run.patient(patient_id) if uow.run is not None else None
    return known if known is not None else db.get_in_org(uow.session, db.Patient, org,
                                                                   patient_id)


def _change_time(uow: UnitOfWork) -> datetime:
    """The time of the change being handled (its ``ChangeAccepted`` came first)."""
    for event in reversed(uow.events):
        if isinstance(event, ChangeAccepted):
            return event.at
    return datetime.now(UTC)


class Outbox:
    """One appointment's outbox rows, read once, for the handler to void and queue."""

    def __init__(self, session: Session, change: AppointmentChanged, now: datetime,
                 policy: Policy, tz: str) -> None:
        self.session, self.change, self.now, self.policy, self.tz = (
            session, change, now, policy, tz)
        self.rows: dict[Key, Notification] = {
            (row.occurrence_start, row.kind, row.offset_minutes, row.recipient, row.channel): row
            for row in session.scalars(select(Notification).where(
                Notification.appointment_id == change.appointment_id))}

    def any_sent(self) -> bool:
        return any(row.state == "sent" and row.kind != "staff-alert"
                   for row in self.rows.values())

    def pending_of(self, kind: str) -> bool:
        return any(row.kind == kind and row.state == "pending" for row in self.rows.values())

    def void(self, which: Callable[[Notification], bool]) -> None:
        for row in self.rows.values():
            if row.state == "pending" and which(row):
                row.state, row.error_code, row.updated_at = "void", None, self.now

    def notice(self, kind: str, channel: str) -> None:
        due = self.now + timedelta(seconds=self.policy.notice_delay_seconds)
        self._queue(kind, 0, channel, due)

    def reminders(self, channel: str, appointment_type_id: str | None) -> None:
        start = self.change.after.start
        for offset in self.policy.offsets_for(appointment_type_id):
            due = reminder_due(start, offset, self.tz)
            if due > self.now:
                self._queue("reminder", offset, channel, due)

    def _queue(self, kind: str, offset: int, channel: str, due: datetime) -> None:
        start = self.change.after.start
        ready = after_quiet_hours(due, self.policy.quiet, self.tz)
        if ready >= start and kind != "cancelled":
            return  # the quiet hours last until the appointment: no use sending it
        key = (start, kind, offset, self.change.patient_id, channel)
        row = self.rows.get(key)
        if row is None:
            row = Notification(
                id=str(uuid.uuid4()), organization_id=self.change.organization_id,
                clinic_id=self.change.after.clinic_id,
                appointment_id=self.change.appointment_id, patient_id=self.change.patient_id,
                occurrence_start=start, kind=kind, offset_minutes=offset,
                recipient=self.change.patient_id, channel=channel, attempts=0,
                created_at=self.now)
            self.session.add(row)
            self.rows[key] = row
        elif row.state in DONE:
            return  # already on its way or sent: never twice
        row.state, row.due_at, row.next_attempt_at = "pending", due, ready
        row.error_code, row.lease_owner, row.lease_until = None, None, None
        row.updated_at = self.now
