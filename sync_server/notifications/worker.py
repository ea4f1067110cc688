"""The notification worker: claims due outbox rows, sends them, records the outcome.

Exactly once, by construction:

* **Claim** (one short transaction): due ``pending`` rows, and ``sending`` rows whose
  lease ran out (a worker died), become ``sending`` under this worker's lease.
  PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent workers take
  disjoint rows; SQLite: the transaction is ``BEGIN IMMEDIATE`` (one writer at a
  time); on both the ``UPDATE … RETURNING`` repeats the due condition (compare-and-set).
* **Re-check**, per group of ``group`` rows (default 10): one query reads the rows,
  their appointments and patients; a row whose appointment was cancelled, moved or
  finished is voided, never sent.
* **Send** the group, then **record** its outcomes (one short transaction per group,
  each row a compare-and-set on the lease): ``sent`` with the provider's message id
  (written by the statement that marks it sent), or a retry with exponential
  backoff (transient failures), or ``failed`` with the fallback row for the next
  channel after the configured delay; when no channel is left, a staff alert.
  The SMS gateway gets the row's id as idempotency key, so a row sent by a worker
  killed before it recorded the result is answered with the first message when the
  next worker takes it over. An e-mail's Message-ID is the row's id, equally stable:
  a worker killed after sending and before its group committed sends those (at most
  ``group``) e-mails again under the same Message-ID; ``group=1`` narrows that to one.

The worker never holds a database transaction while it talks to SMTP or the gateway.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from scheduling.model import CONTACT_PREFERENCES, AppointmentStatus
from scheduling.reminders import after_quiet_hours
from sync_server.core.context import ServerContext
from sync_server.db import models as db
from sync_server.followups.models import FollowUp
from sync_server.notifications import messages
from sync_server.notifications.channels import (
    EmailChannel,
    SendFailed,
    SmsChannel,
    email_channel,
    email_hint,
    phone_hint,
    sms_channel,
)
from sync_server.notifications.links import OFFER_PATH, PATH, LinkKey
from sync_server.notifications.models import (
    Notification,
    NotificationException,
    NotificationSettings,
    NotificationTemplate,
)
from sync_server.notifications.policy import Policy, policy_from_row
from sync_server.outages.notices import REROUTED, rerouted_appointments
from sync_server.telemedicine import no_join
from sync_server.telemedicine.no_join import NOJOIN_OFFER
from sync_server.telemedicine.rooms import video_url
from sync_server.waitlist.models import WaitlistOffer
from sync_server.waitlist.offers import OFFER_KINDS, offered_place, run_offers

log = logging.getLogger("sync_server.notifications")
_TABLE = cast(Table, Notification.__table__)

MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
#: Which failure codes a staff alert names (the exceptions panel's reasons).
REASON_OF = {"invalid_email": "invalid_email", "invalid_phone": "invalid_phone",
             "smtp_refused": "smtp_refused", "smtp_unavailable": "smtp_refused",
             "gateway_failed": "gateway_failed", "gateway_unavailable": "gateway_failed",
             "no_email": "no_contact", "no_phone": "no_contact",
             "channel_disabled": "no_contact"}


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … at most an hour."""
    delay: timedelta = BACKOFF_BASE * (2 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_CAP)


def due_condition(now: datetime) -> Any:
    return or_(and_(Notification.state == "pending", Notification.next_attempt_at <= now),
               and_(Notification.state == "sending", Notification.lease_until < now))


@dataclass
class Channels:
    """The organization's open channels (made from its settings, kept between batches)."""

    email: EmailChannel | None = None
    sms: SmsChannel | None = None
    signature: tuple[Any, ...] = ()

    def close(self) -> None:
        if self.email:
            self.email.close()
        if self.sms:
            self.sms.close()


@dataclass
class Worker:
    sessions: sessionmaker[Session]
    link_key: LinkKey
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:"
                                                f"{uuid.uuid4().hex[:8]}")
    batch: int = 20
    #: Rows read, sent and recorded together (one read, one write per group). A worker
    #: killed after sending and before the group's outcomes commit sends at most this
    #: many messages again, each with its first Message-ID or idempotency key.
    group: int = 10
    lease: timedelta = timedelta(minutes=2)
    public_url: str = ""
    #: Work for this organization only (default: every organization).
    organization_id: str | None = None
    #: Test hooks: after a claim committed (the ids), after a send before its outcome is
    #: recorded (the id).
    after_claim: Callable[[list[str]], None] | None = None
    after_send: Callable[[str], None] | None = None
    _channels: dict[str, Channels] = field(default_factory=dict)
    #: Rows read once per batch (settings, clinics, providers, types), detached.
    _kept: dict[tuple[type[Any], Any], Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- loop

    def run(self, stop: threading.Event, idle_seconds: float = 1.0) -> None:
        """Work until ``stop`` is set; sleep ``idle_seconds`` when nothing is due."""
        try:
            while not stop.is_set():
                try:
                    done = self.run_once()
                except Exception:  # the loop must outlive a database hiccup
                    log.exception("notification batch failed; retrying")
                    done = 0
                if not done:
                    stop.wait(idle_seconds)
        finally:
            self.close()

    def run_once(self) -> int:
        """Offer freed slots (:func:`sync_server.waitlist.offers.run_offers`) and a backup to
        patients whose provider did not join (:func:`sync_server.telemedicine.no_join.
        run_checks`), then claim and handle one batch; the number of slots, visits and
        rows handled."""
        offered = run_offers(self.sessions, self.clock(), self.organization_id)
        offered += no_join.run_checks(self.sessions, self.clock(), self.owner,
                                      self.organization_id)
        claimed = self.claim()
        self._kept.clear()
        if self.after_claim is not None and claimed:
            self.after_claim(claimed)
        for first in range(0, len(claimed), self.group):
            self.handle(claimed[first:first + self.group])
        return offered + len(claimed)

    def close(self) -> None:
        for channels in self._channels.values():
            channels.close()
        self._channels.clear()

    # ----------------------------------------------------------------- claim

    def claim(self) -> list[str]:
        """The first due rows (PostgreSQL: ``FOR UPDATE SKIP LOCKED``), then one ``UPDATE …
        RETURNING`` of those that are still due (SQLite: ``BEGIN IMMEDIATE`` makes it one
        writer at a time; the repeated due condition is a compare-and-set). Not one
        ``UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)``: PostgreSQL may
        run that subquery again per row and claim far more than ``n``."""
        now = self.clock()
        with self.sessions() as session:
            query = (select(Notification.id).where(due_condition(now))
                     .order_by(Notification.next_attempt_at).limit(self.batch))
            if self.organization_id is not None:
                query = query.where(Notification.organization_id == self.organization_id)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query))
            if not ids:
                session.rollback()
                return []
            won = session.execute(
                update(Notification)
                .where(Notification.id.in_(ids), due_condition(now))
                .values(state="sending", lease_owner=self.owner, lease_until=now + self.lease,
                        attempts=Notification.attempts + 1, updated_at=now)
                .returning(Notification.id, Notification.next_attempt_at)
                .execution_options(synchronize_session=False)).all()
            session.commit()
        return [row_id for row_id, _at in sorted(won, key=lambda found: (found[1], found[0]))]

    # ----------------------------------------------------------------- a group of rows

    def handle(self, notification_ids: list[str]) -> None:
        """Read the rows, their appointments and patients in one query (the re-check),
        send, then record every outcome in one transaction."""
        failures: list[tuple[Notification, datetime, SendFailed, Policy, db.Patient]] = []
        outcomes: list[dict[str, Any]] = []
        ready: list[tuple[Notification, Policy, db.Patient, Callable[[], str]]] = []
        with self.sessions() as session:
            # Reads first, without SQLite's write lock (a plain BEGIN); the outcomes are
            # written in a short transaction of their own.
            session.connection(execution_options={"read_only": True})
            order = {row_id: index for index, row_id in enumerate(notification_ids)}
            found = sorted(session.execute(
                select(Notification, db.Appointment, db.Patient)
                .outerjoin(db.Appointment, and_(
                    db.Appointment.id == Notification.appointment_id,
                    db.Appointment.organization_id == Notification.organization_id))
                .outerjoin(db.Patient, and_(
                    db.Patient.id == Notification.patient_id,
                    db.Patient.organization_id == Notification.organization_id))
                .where(Notification.id.in_(notification_ids), Notification.state == "sending",
                       Notification.lease_owner == self.owner)).all(),
                key=lambda found: order[found[0].id])
            now = self.clock()
            for row, booked, patient in found:
                # An offer has no appointment yet: the offered place stands for it.
                appointment = offered_place(session, row, now) if row.kind in OFFER_KINDS \
                    else _first_rerouted(session, row, now) if row.kind == REROUTED \
                    else no_join.offered_visit(session, row) if row.kind == NOJOIN_OFFER \
                    else booked
                settings = self._get(session, NotificationSettings, row.organization_id)
                policy = policy_from_row(settings) if settings else Policy()
                if row.kind == "staff-alert":
                    outcomes.append(_outcome(row, now, "sent"))
                elif appointment is None or patient is None or not _still_holds(
                        row, appointment, now) or (row.kind == "invitation"
                                                   and not _follow_up_open(session, row)):
                    outcomes.append(_outcome(row, now, "void", error="appointment_changed"))
                    log.info("notification %s void: appointment %s changed", row.id,
                             row.appointment_id)
                elif not CONTACT_PREFERENCES.get(patient.contact_preference, ("email",)) or (
                        row.kind == "reminder" and patient.reminders_opt_out):
                    # The patient changed their preference after the row was queued.
                    outcomes.append(_outcome(row, now, "skipped", error="opted_out"))
                else:
                    try:
                        ready.append((row, policy, patient, self._prepare(
                            session, row, settings, policy, appointment, patient)))
                    except SendFailed as failure:
                        failures.append((row, now, failure, policy, patient))
            session.expunge_all()
            session.rollback()  # no transaction (nor SQLite write lock) while sending
            for row, policy, patient, outgoing in ready:
                try:
                    message_id = outgoing()
                except SendFailed as failure:
                    failures.append((row, self.clock(), failure, policy, patient))
                    continue
                if self.after_send is not None:
                    self.after_send(row.id)
                hint = email_hint(patient.email) if row.channel == "email" else \
                    phone_hint(patient.phone)
                outcomes.append(_outcome(row, self.clock(), "sent", message_id=message_id,
                                         hint=hint))
                log.info("notification %s sent (%s %s, appointment %s)", row.id, row.kind,
                         row.channel, row.appointment_id)
            self._record_all(session, outcomes)
            for row, at, reason, policy, patient in failures:
                self._failed(session, row, at, reason, policy, patient)

    def _prepare(self, session: Session, row: Notification,
                 settings: NotificationSettings | None, policy: Policy,
                 appointment: db.Appointment, patient: db.Patient) -> Callable[[], str]:
        """Everything read and rendered; the returned call only talks to the provider."""
        if not policy.enabled(row.channel) or settings is None:
            raise SendFailed("channel_disabled", transient=False)
        language = patient.preferred_language if patient.preferred_language in \
            messages.LANGUAGES else "en"
        facts = self._facts(session, row, appointment, patient, policy, language)
        template = self._template(session, row.organization_id, row.kind, row.channel,
                                  language)
        try:
            rendered = messages.render(template, messages.variables(facts))
        except messages.TemplateProblem:
            raise SendFailed("template_invalid", transient=False) from None
        channels = self._open(settings)
        if row.channel == "email":
            email, to = channels.email, patient.email
            if not to.strip():
                raise SendFailed("no_email", transient=False)
            assert email is not None
            message_id = f"<{row.id}@clinicdesk.notifications>"
            attachment = messages.ics(facts) if row.kind in messages.APPOINTMENT_KINDS \
                else None
            return lambda: email.send(to, rendered, message_id=message_id,
                                      attachment=attachment, language=language)
        sms, number = channels.sms, patient.phone
        if not number.strip():
            raise SendFailed("no_phone", transient=False)
        assert sms is not None
        key = row.id
        return lambda: sms.send(number, rendered, idempotency_key=key)

    def _facts(self, session: Session, row: Notification, appointment: db.Appointment,
               patient: db.Patient, policy: Policy, language: str) -> messages.Facts:
        clinic = self._get(session, db.Clinic, appointment.clinic_id)
        provider = self._get(session, db.Resource, appointment.provider_id)
        kind = self._get(session, db.AppointmentType, appointment.appointment_type_id)
        confirm = cancel = accept = ""
        hold_until = None
        base = (policy.public_base_url or self.public_url).rstrip("/")
        if row.kind == "reminder" and base:
            expires = min(appointment.start_at,
                          self.clock() + timedelta(hours=policy.reply_link_hours))
            confirm = base + PATH + self.link_key.token(row.id, "confirm", expires)
            cancel = base + PATH + self.link_key.token(row.id, "cancel", expires)
        moved: tuple[tuple[datetime, str], ...] = ()
        if row.kind == REROUTED:
            moved = tuple((a.start_at, getattr(self._get(session, db.Resource, a.provider_id),
                                               "name", ""))
                          for a in rerouted_appointments(session, row.appointment_id,
                                                         row.patient_id, self.clock()))
        if row.kind == "waitlist-offer":
            offer = session.get(WaitlistOffer, row.appointment_id)
            assert offer is not None  # offered_place found it open
            hold_until = offer.expires_at
            accept = base + OFFER_PATH + self.link_key.token(row.id, "accept", hold_until)
        if row.kind == NOJOIN_OFFER:
            organization = self._get(session, db.Organization, row.organization_id)
            accept = base + no_join.link_path(organization.slug or organization.id) + \
                self.link_key.token(row.id, "accept", no_join.link_expiry(row)) + \
                f"?lang={language}"
        return messages.Facts(
            appointment.id, appointment.start_at, appointment.end_at,
            clinic.time_zone if clinic else "UTC", language, patient.given_name,
            clinic.name if clinic else "", policy.clinic_phone,
            provider.name if provider else "", kind.name if kind else "", confirm, cancel,
            appointment.version, row.kind == "cancelled", appointment.updated_at, accept,
            hold_until, moved,
            ((video_url(session, appointment.organization_id, appointment.id) or "")
             if kind is not None and kind.telemedicine and row.kind in messages.VIDEO_KINDS
             else ""), choose=row.kind == NOJOIN_OFFER)

    def _get(self, session: Session, table: type[Any], key: Any) -> Any:
        """A configuration row, read once per batch and kept detached."""
        found = self._kept.get((table, key), self)
        if found is self:
            found = session.get(table, key)
            if found is not None:
                session.expunge(found)
            self._kept[(table, key)] = found
        return found

    def _template(self, session: Session, org: str, kind: str, channel: str,
                  language: str) -> messages.Template:
        own = self._get(session, NotificationTemplate, (org, kind, channel, language))
        if own is not None:
            return messages.Template(own.subject, own.body_text, own.body_html)
        return messages.default_template(kind, channel, language)

    def _open(self, settings: NotificationSettings) -> Channels:
        signature = (settings.smtp_host, settings.smtp_port, settings.smtp_username,
                     settings.smtp_password, settings.smtp_starttls, settings.email_sender,
                     settings.sms_gateway_url, settings.sms_account_id, settings.sms_api_key,
                     settings.sms_sender)
        channels = self._channels.get(settings.organization_id)
        if channels is None or channels.signature != signature:
            if channels is not None:
                channels.close()
            channels = Channels(signature=signature)
            if settings.email_enabled:
                channels.email = email_channel(settings)
            if settings.sms_enabled:
                channels.sms = sms_channel(settings)
            self._channels[settings.organization_id] = channels
        return channels

    # ----------------------------------------------------------------- outcomes

    def _record_all(self, session: Session, outcomes: list[dict[str, Any]]) -> None:
        """Every outcome of a group in one transaction (one ``executemany``), each a
        compare-and-set on this worker's lease; the provider's message id is written in
        the same statement that marks the row sent."""
        if not outcomes:
            return
        session.execute(
            update(_TABLE).where(_TABLE.c.id == bindparam("row_id"),
                                 _TABLE.c.state == "sending",
                                 _TABLE.c.lease_owner == self.owner)
            .values(state=bindparam("new_state"), updated_at=bindparam("at"),
                    lease_owner=None, lease_until=None, error_code=bindparam("error"),
                    sent_at=bindparam("sent"), provider_message_id=bindparam("message_id"),
                    recipient_hint=bindparam("hint")), outcomes)
        session.commit()

    def _record(self, session: Session, row: Notification, now: datetime, state: str, *,
                error: str | None = None, retry_at: datetime | None = None) -> bool:
        """Compare-and-set one failure's outcome: only while this worker still holds the
        lease (in a transaction of its own: the reads before ran without the write lock)."""
        session.expunge_all()
        session.rollback()
        values: dict[str, Any] = {"state": state, "updated_at": now, "lease_owner": None,
                                  "lease_until": None, "error_code": error}
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        done = session.execute(
            update(Notification).where(Notification.id == row.id,
                                       Notification.state == "sending",
                                       Notification.lease_owner == self.owner)
            .values(**values).execution_options(synchronize_session=False))
        session.commit()
        return bool(getattr(done, "rowcount", 0))

    def _failed(self, session: Session, row: Notification, now: datetime,
                failure: SendFailed, policy: Policy, patient: db.Patient) -> None:
        if failure.transient and row.attempts < MAX_ATTEMPTS:
            retry = now + backoff(row.attempts)
            self._record(session, row, now, "pending", error=failure.code, retry_at=retry)
            log.warning("notification %s: %s, attempt %d, retry at %s", row.id, failure.code,
                        row.attempts, retry.isoformat())
            return
        log.warning("notification %s failed: %s (%s)", row.id, failure.code, row.channel)
        if not self._record(session, row, now, "failed", error=failure.code):
            return
        tried = _channels_tried(session, row)
        preferred = CONTACT_PREFERENCES.get(patient.contact_preference, ())
        following = [c for c in preferred if c not in tried and policy.enabled(c)]
        if following:
            _fall_back(session, row, following[0], now, policy)
        else:
            _alert_staff(session, row, now, failure.code, tried)
        session.commit()


def _outcome(row: Notification, at: datetime, state: str, *, message_id: str | None = None,
             hint: str | None = None, error: str | None = None) -> dict[str, Any]:
    """One row's outcome, as :meth:`Worker._record_all`'s parameters."""
    return {"row_id": row.id, "new_state": state, "at": at, "error": error,
            "sent": at if state == "sent" else None, "message_id": message_id, "hint": hint}


def _first_rerouted(session: Session, row: Notification, now: datetime) -> db.Appointment | None:
    """A ``rerouted`` message's first appointment still ahead (its clinic and type)."""
    found = rerouted_appointments(session, row.appointment_id, row.patient_id, now)
    return found[0] if found else None


def _still_holds(row: Notification, appointment: db.Appointment, now: datetime) -> bool:
    status = AppointmentStatus(appointment.status)
    if row.kind in OFFER_KINDS or row.kind in (REROUTED, NOJOIN_OFFER):
        return True  # offered_place / _first_rerouted / offered_visit answered None then
    if row.kind == "no-show":
        return status is AppointmentStatus.NO_SHOW and not appointment.deleted
    if row.kind == "cancelled":
        return status is AppointmentStatus.CANCELLED
    if row.kind == "invitation":  # about the completed visit: it stays completed
        return not appointment.deleted and status is AppointmentStatus.COMPLETED
    if appointment.deleted or status in (AppointmentStatus.CANCELLED,
                                         AppointmentStatus.ENTERED_IN_ERROR):
        return False
    if appointment.start_at != row.occurrence_start or appointment.start_at <= now:
        return False
    if row.kind == "reminder":
        return status in (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED,
                          AppointmentStatus.PENDING, AppointmentStatus.MESSAGE_LEFT)
    return True


def _follow_up_open(session: Session, row: Notification) -> bool:
    """An invitation goes only while its visit's follow-up is still to be booked."""
    return session.scalar(select(FollowUp.id).where(
        FollowUp.source_appointment_id == row.appointment_id,
        FollowUp.state == "open").limit(1)) is not None


def _channels_tried(session: Session, row: Notification) -> list[str]:
    tried = [row.channel]
    previous = row.fallback_of
    while previous:
        earlier = session.get(Notification, previous)
        if earlier is None:
            break
        tried.insert(0, earlier.channel)
        previous = earlier.fallback_of
    return tried


def _fall_back(session: Session, row: Notification, channel: str, now: datetime,
               policy: Policy) -> None:
    exists = session.scalar(select(Notification.id).where(
        Notification.appointment_id == row.appointment_id,
        Notification.occurrence_start == row.occurrence_start, Notification.kind == row.kind,
        Notification.offset_minutes == row.offset_minutes,
        Notification.recipient == row.recipient, Notification.channel == channel))
    if exists is not None:
        return
    clinic = session.get(db.Clinic, row.clinic_id)
    due = now + timedelta(minutes=policy.fallback_delay_minutes)
    ready = after_quiet_hours(due, policy.quiet, clinic.time_zone if clinic else "UTC")
    session.add(Notification(
        id=str(uuid.uuid4()), organization_id=row.organization_id, clinic_id=row.clinic_id,
        appointment_id=row.appointment_id, patient_id=row.patient_id,
        occurrence_start=row.occurrence_start, kind=row.kind, offset_minutes=row.offset_minutes,
        recipient=row.recipient, channel=channel, state="pending", due_at=due,
        next_attempt_at=ready, attempts=0, fallback_of=row.id, created_at=now, updated_at=now))
    log.info("notification %s falls back to %s as a new row", row.id, channel)


def _alert_staff(session: Session, row: Notification, now: datetime, code: str,
                 tried: Iterable[str]) -> None:
    tried = list(tried)
    recipient = f"staff:{row.kind}"
    if session.scalar(select(Notification.id).where(
            Notification.appointment_id == row.appointment_id,
            Notification.occurrence_start == row.occurrence_start,
            Notification.kind == "staff-alert", Notification.offset_minutes == row.offset_minutes,
            Notification.recipient == recipient)) is not None:
        return  # the staff already have this alert
    alert_id = str(uuid.uuid4())
    session.add(Notification(
        id=alert_id, organization_id=row.organization_id, clinic_id=row.clinic_id,
        appointment_id=row.appointment_id, patient_id=row.patient_id,
        occurrence_start=row.occurrence_start, kind="staff-alert",
        offset_minutes=row.offset_minutes, recipient=recipient, channel="desk", state="sent",
        due_at=now, next_attempt_at=now, attempts=1, fallback_of=row.id, sent_at=now,
        error_code=code, created_at=now, updated_at=now))
    reason = "all_channels_failed" if len(tried) > 1 else REASON_OF.get(code, "no_contact")
    session.add(NotificationException(
        id=str(uuid.uuid4()), organization_id=row.organization_id, notification_id=alert_id,
        appointment_id=row.appointment_id, patient_id=row.patient_id,
        appointment_start=row.occurrence_start, kind=row.kind, reason=reason,
        channels_tried=tried, created_at=now))
    log.warning("notification %s: every channel failed; staff alert %s", row.id, alert_id)


@contextmanager
def in_thread(context: ServerContext) -> Iterator[Worker]:
    """A worker in a thread of this process while the block runs (``CLINICDESK_RUN_WORKER``)."""
    settings = context.settings
    worker = Worker(context.sessions, LinkKey(settings.signing_key()), clock=context.clock,
                    public_url=settings.public_url)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, settings.worker_idle_seconds),
                              name="notification-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(timeout=30)
