"""What the notification API reads and writes: staff alerts (the desk's exceptions panel),
an appointment's notification history, the organization's settings and templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.notifications import messages
from sync_server.notifications.models import (
    Notification,
    NotificationException,
    NotificationSettings,
    NotificationTemplate,
)
from sync_server.notifications.policy import DEFAULT_OFFSETS


class NotifyError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def instant(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# --------------------------------------------------------------------------- exceptions


def exception_json(row: NotificationException) -> dict[str, Any]:
    return {"id": row.id, "appointment_id": row.appointment_id, "patient_id": row.patient_id,
            "appointment_start": instant(row.appointment_start), "kind": row.kind,
            "reason": row.reason, "channels_tried": list(row.channels_tried),
            "created_at": instant(row.created_at), "resolved_at": instant(row.resolved_at),
            "resolved_by": row.resolved_by, "resolution_note": row.resolution_note}


def list_exceptions(session: Session, org: str, state: str) -> list[dict[str, Any]]:
    query = select(NotificationException).where(NotificationException.organization_id == org)
    if state == "open":
        query = query.where(NotificationException.resolved_at.is_(None))
    elif state == "resolved":
        query = query.where(NotificationException.resolved_at.is_not(None))
    rows = session.scalars(query.order_by(NotificationException.appointment_start,
                                          NotificationException.created_at).limit(1000))
    return [exception_json(row) for row in rows]


def resolve_exception(session: Session, org: str, exception_id: str, user_id: str,
                      note: str | None, now: datetime) -> dict[str, Any]:
    row = session.get(NotificationException, exception_id)
    if row is None or row.organization_id != org:
        raise NotifyError("unknown_exception", "There is no such notification alert.")
    if row.resolved_at is not None:
        raise NotifyError("already_resolved", "This alert was resolved already.")
    row.resolved_at, row.resolved_by, row.resolution_note = now, user_id, note
    session.flush()
    return exception_json(row)


# --------------------------------------------------------------------------- history


def history(session: Session, org: str, appointment_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(Notification).where(
        Notification.organization_id == org, Notification.appointment_id == appointment_id,
    ).order_by(Notification.due_at, Notification.created_at))
    return [{"id": row.id, "kind": row.kind, "channel": row.channel,
             "occurrence_start": instant(row.occurrence_start), "due_at": instant(row.due_at),
             "sent_at": instant(row.sent_at), "state": row.state, "attempts": row.attempts,
             "error_code": row.error_code, "recipient_hint": row.recipient_hint,
             "offset_minutes": row.offset_minutes, "next_attempt_at":
                 instant(row.next_attempt_at) if row.state == "pending" else None}
            for row in rows]


# --------------------------------------------------------------------------- settings


def settings_row(session: Session, org: str, now: datetime) -> NotificationSettings:
    """The organization's settings row (created with the defaults on first write)."""
    row = session.get(NotificationSettings, org)
    if row is None:
        row = NotificationSettings(
            organization_id=org, reminder_offsets=list(DEFAULT_OFFSETS), type_offsets={},
            quiet_start=None, quiet_end=None, fallback_delay_minutes=15,
            notice_delay_seconds=60, reply_link_hours=72, public_base_url="", clinic_phone="",
            email_enabled=False, smtp_host="", smtp_port=587, smtp_username=None,
            smtp_password=None, smtp_starttls=True, email_sender="", sms_enabled=False,
            sms_gateway_url="", sms_account_id=None, sms_api_key=None, sms_sender="",
            updated_at=now)
        session.add(row)
    return row


def settings_json(session: Session, org: str, now: datetime) -> dict[str, Any]:
    row = session.get(NotificationSettings, org)
    if row is None:
        row = settings_row(session, org, now)
        session.expunge(row)  # defaults shown, nothing written
    quiet = ({"start": row.quiet_start, "end": row.quiet_end}
             if row.quiet_start and row.quiet_end else None)
    return {
        "reminder_offsets_minutes": list(row.reminder_offsets),
        "type_offsets_minutes": {key: list(value) for key, value in row.type_offsets.items()},
        "quiet_hours": quiet, "fallback_delay_minutes": row.fallback_delay_minutes,
        "notice_delay_seconds": row.notice_delay_seconds,
        "reply_link_hours": row.reply_link_hours, "public_base_url": row.public_base_url,
        "clinic_phone": row.clinic_phone,
        "email": {"enabled": row.email_enabled, "host": row.smtp_host, "port": row.smtp_port,
                  "username": row.smtp_username, "password_set": bool(row.smtp_password),
                  "starttls": row.smtp_starttls, "sender": row.email_sender},
        "sms": {"enabled": row.sms_enabled, "gateway_url": row.sms_gateway_url,
                "account_id": row.sms_account_id, "api_key_set": bool(row.sms_api_key),
                "sender": row.sms_sender},
    }


def update_settings(session: Session, org: str, values: dict[str, Any],
                    now: datetime) -> None:
    """Apply a settings body (the GET shape; ``password``/``api_key`` write-only; a left-out
    field stays as it is)."""
    row = settings_row(session, org, now)
    plain = {"reminder_offsets_minutes": "reminder_offsets",
             "type_offsets_minutes": "type_offsets",
             "fallback_delay_minutes": "fallback_delay_minutes",
             "notice_delay_seconds": "notice_delay_seconds",
             "reply_link_hours": "reply_link_hours", "public_base_url": "public_base_url",
             "clinic_phone": "clinic_phone"}
    def put(source: dict[str, Any], key: str, column: str) -> None:
        # null for a column that cannot be empty means "unchanged", like a left-out field
        if key in source and (source[key] is not None
                              or NotificationSettings.__table__.c[column].nullable):
            setattr(row, column, source[key])

    for key, column in plain.items():
        put(values, key, column)
    if "quiet_hours" in values:
        quiet = values["quiet_hours"]
        row.quiet_start, row.quiet_end = (quiet["start"], quiet["end"]) if quiet else (None,
                                                                                      None)
    email, sms = values.get("email") or {}, values.get("sms") or {}
    for key, column in {"enabled": "email_enabled", "host": "smtp_host", "port": "smtp_port",
                        "username": "smtp_username", "password": "smtp_password",
                        "starttls": "smtp_starttls", "sender": "email_sender"}.items():
        put(email, key, column)
    for key, column in {"enabled": "sms_enabled", "gateway_url": "sms_gateway_url",
                        "account_id": "sms_account_id", "api_key": "sms_api_key",
                        "sender": "sms_sender"}.items():
        put(sms, key, column)
    row.updated_at = now
    session.flush()


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True, slots=True)
class TemplateKey:
    kind: str
    channel: str
    language: str


def template_keys() -> list[TemplateKey]:
    return [TemplateKey(kind, channel, language) for kind in messages.PATIENT_KINDS
            for channel in messages.PATIENT_CHANNELS for language in messages.LANGUAGES]


def template_json(key: TemplateKey, template: messages.Template,
                  customized: bool) -> dict[str, Any]:
    return {"kind": key.kind, "channel": key.channel, "language": key.language,
            "subject": template.subject, "body_text": template.body_text,
            "body_html": template.body_html, "customized": customized}


def list_templates(session: Session, org: str) -> list[dict[str, Any]]:
    own = {(t.kind, t.channel, t.language): t for t in session.scalars(
        select(NotificationTemplate).where(NotificationTemplate.organization_id == org))}
    items = []
    for key in template_keys():
        row = own.get((key.kind, key.channel, key.language))
        template = (messages.Template(row.subject, row.body_text, row.body_html) if row
                    else messages.default_template(key.kind, key.channel, key.language))
        items.append(template_json(key, template, row is not None))
    return items


def check_key(key: TemplateKey) -> None:
    if key not in template_keys():
        raise NotifyError("unknown_template",
                          "There is no such template (kind created, modified, cancelled or "
                          "reminder; channel email or sms; language en or es).")


def preview(key: TemplateKey, template: messages.Template) -> messages.Rendered:
    """Render ``template`` for the sample appointment (:class:`messages.TemplateProblem`
    names an unknown variable or a syntax error)."""
    check_key(key)
    if key.channel == "sms":
        template = messages.Template(None, template.body_text, None)
    return messages.render(template, messages.variables(messages.sample(key.language)))


def save_template(session: Session, org: str, key: TemplateKey, template: messages.Template,
                  now: datetime) -> dict[str, Any]:
    preview(key, template)  # refuses what cannot be rendered
    if key.channel == "sms":
        template = messages.Template(None, template.body_text, None)
    row = session.get(NotificationTemplate, (org, key.kind, key.channel, key.language))
    if row is None:
        row = NotificationTemplate(organization_id=org, kind=key.kind, channel=key.channel,
                                   language=key.language, body_text="")
        session.add(row)
    row.subject, row.body_text, row.body_html = (template.subject, template.body_text,
                                                 template.body_html)
    row.updated_at = now
    session.flush()
    return template_json(key, template, True)


def reset_template(session: Session, org: str, key: TemplateKey) -> None:
    check_key(key)
    row = session.get(NotificationTemplate, (org, key.kind, key.channel, key.language))
    if row is not None:
        session.delete(row)
        session.flush()
