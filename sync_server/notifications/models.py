"""Tables of the notifications (migration 0007_notifications).

``notifications`` is the outbox: one row per (appointment, occurrence start, kind,
reminder offset, recipient, channel) under one unique key, written by the event
handler inside the booking's transaction (:mod:`sync_server.notifications.outbox`) and
sent by the worker (:mod:`sync_server.notifications.worker`). The recipient is the
patient's id (or ``staff``): addresses are read from the patient at send time and
never copied here, so error codes and logs stay free of contact data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from scheduling import limits
from sync_server.db.models import APPOINTMENT_ID, ID, Base, org_fk

KINDS = ("created", "modified", "cancelled", "reminder", "staff-alert", "waitlist-offer",
         "offer-gone", "no-show", "invitation", "rerouted", "nojoin-offer")
CHANNELS = ("email", "sms", "desk")
STATES = ("pending", "sending", "sent", "failed", "void", "skipped")
REASONS = ("no_contact", "invalid_email", "invalid_phone", "smtp_refused", "gateway_failed",
           "all_channels_failed", "opted_out")


class Notification(Base):
    """An ``invitation`` (to book a follow-up, :mod:`sync_server.followups`) names the
    completed visit as its appointment and the moment it was asked for as its
    ``occurrence_start``. A ``rerouted`` message (:mod:`sync_server.outages`) names the
    outage incident as its appointment and the incident's start as its
    ``occurrence_start``: one per patient and incident, about all their moved appointments.
    A ``nojoin-offer`` (:mod:`sync_server.telemedicine.no_join`) names the telemedicine
    appointment whose provider did not join: a backup provider now or a new time."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('created', 'modified', 'cancelled', 'reminder', 'staff-alert', "
            "'waitlist-offer', 'offer-gone', 'no-show', 'invitation', 'rerouted', "
            "'nojoin-offer')",
            name="kind"),
        CheckConstraint("channel IN ('email', 'sms', 'desk')", name="channel"),
        CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'failed', 'void', 'skipped')",
            name="state"),
        # The one key that makes a reminder impossible to queue twice.
        Index("uq_notifications_key", "appointment_id", "occurrence_start", "kind",
              "offset_minutes", "recipient", "channel", "organization_id", unique=True),
        Index("ix_notifications_due", "state", "next_attempt_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    clinic_id: Mapped[str] = mapped_column(ID)
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    patient_id: Mapped[str] = mapped_column(ID)
    #: The appointment's start this notice speaks of (UTC).
    occurrence_start: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    #: Minutes before the start (reminders); 0 for the other kinds.
    offset_minutes: Mapped[int] = mapped_column(Integer, default=0)
    #: The patient's id, or ``staff`` for a staff alert (never an address).
    recipient: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(8), default="pending")
    #: When it was meant to go (before quiet hours and retries moved it).
    due_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    #: The message id recorded before the send commits (SMTP Message-ID, gateway sid).
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    #: A stable code (``smtp_refused``, ``invalid_phone`` …), never contact data.
    error_code: Mapped[str | None] = mapped_column(String(40))
    #: Masked address shown in the history ("a…@example.org"), set when sent.
    recipient_hint: Mapped[str | None] = mapped_column(String(64))
    #: The row this one falls back from (the previous channel).
    fallback_of: Mapped[str | None] = mapped_column(ID)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class NotificationException(Base):
    """A staff alert for the desk's exceptions panel: every channel failed, or no contact."""

    __tablename__ = "notification_exceptions"
    __table_args__ = (Index("ix_notification_exceptions_org_open", "organization_id",
                            "resolved_at"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    notification_id: Mapped[str] = mapped_column(ID, unique=True)
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    patient_id: Mapped[str] = mapped_column(ID)
    appointment_start: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(40))
    channels_tried: Mapped[list[Any]]
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(ID)
    resolution_note: Mapped[str | None] = mapped_column(String(limits.REASON))


class NotificationSettings(Base):
    """An organization's notification settings; no row means the defaults."""

    __tablename__ = "notification_settings"
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    reminder_offsets: Mapped[list[Any]]
    #: ``{"<appointment type id>": [minutes, ...]}``
    type_offsets: Mapped[dict[str, Any]]
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    fallback_delay_minutes: Mapped[int] = mapped_column(Integer, default=15)
    #: Booking notices wait this long, so five moves in a minute send one notice.
    notice_delay_seconds: Mapped[int] = mapped_column(Integer, default=60)
    reply_link_hours: Mapped[int] = mapped_column(Integer, default=72)
    public_base_url: Mapped[str] = mapped_column(String(limits.BASE_URL), default="")
    clinic_phone: Mapped[str] = mapped_column(String(limits.PHONE), default="")
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    smtp_host: Mapped[str] = mapped_column(String(limits.HOST), default="")
    smtp_port: Mapped[int] = mapped_column(Integer, default=587)
    smtp_username: Mapped[str | None] = mapped_column(String(limits.HOST))
    #: Write-only through the API; never returned or logged.
    smtp_password: Mapped[str | None] = mapped_column(String(limits.SECRET))
    smtp_starttls: Mapped[bool] = mapped_column(Boolean, default=True)
    email_sender: Mapped[str] = mapped_column(String(limits.EMAIL), default="")
    sms_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_gateway_url: Mapped[str] = mapped_column(String(limits.BASE_URL), default="")
    sms_account_id: Mapped[str | None] = mapped_column(String(limits.ACCOUNT_ID))
    sms_api_key: Mapped[str | None] = mapped_column(String(limits.SECRET))
    sms_sender: Mapped[str] = mapped_column(String(limits.PHONE), default="")
    updated_at: Mapped[datetime]


class NotificationTemplate(Base):
    """An organization's own text for one (kind, channel, language); none: the default."""

    __tablename__ = "notification_templates"
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str | None] = mapped_column(String(limits.TEMPLATE_SUBJECT))
    body_text: Mapped[str] = mapped_column(String(limits.TEMPLATE))
    body_html: Mapped[str | None] = mapped_column(String(limits.TEMPLATE))
    updated_at: Mapped[datetime]


class NotificationReply(Base):
    """A used reply link or SMS keyword: one per notice (the link is single-use)."""

    __tablename__ = "notification_replies"
    notification_id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    action: Mapped[str] = mapped_column(String(16))
    via: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
