"""Notifications seen from the desk: the server's ``/api/v1/notifications`` API.

Staff alerts (a reminder or notice that reached the patient by no channel), the
notification history of one appointment, and — for ``admin:config`` — the
channel settings, the message templates with a server-rendered preview and a
test message. The desk calls as itself (device token) naming the signed-in user,
like the feeds API. Every failure becomes a :class:`NotificationsOffline` (the
server cannot be reached: show the last list, marked offline) or a
:class:`NotificationsRefused` (the server answered no: its words, never a body).

The people behind an alert (initials, phone, the clinic's zone) come from the
desk's own store (:func:`alert_people`): the server sends ids, never contact data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import delete, select

from desktop.services.context import DeskContext
from desktop.services.feeds import MANAGE
from desktop.services.server_call import ServerCall
from desktop.store.models import (
    SYNC_STATE_ID,
    AppointmentRow,
    AppointmentTypeRow,
    ClinicRow,
    PatientRow,
    StaffAlertRow,
    SyncState,
)
from desktop.sync.errors import RequestRefused, SyncError
from scheduling.commands import Permission
from scheduling.ical import initials

BASE = "/api/v1/notifications"
#: Why a message reached nobody (the contract's ``reason`` values).
REASONS = ("no_contact", "invalid_email", "invalid_phone", "smtp_refused", "gateway_failed",
           "all_channels_failed", "opted_out")
KINDS = ("created", "modified", "cancelled", "reminder", "invitation", "rerouted",
         "nojoin-offer")
CHANNELS = ("email", "sms")
RESOLVE = Permission.MODIFY.value


class NotificationsError(Exception):
    """The server did not do what the desk asked (see the two subclasses)."""


class NotificationsOffline(NotificationsError):
    """The server cannot be reached (network, timeout, server failure, not enrolled)."""

    def __init__(self, cause: SyncError | None = None) -> None:
        super().__init__(type(cause).__name__ if cause else "offline")
        self.cause = cause


class NotificationsRefused(NotificationsError):
    """The server answered no: ``status`` (404, 409, 422 …) and its message for the desk."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}".strip())
        self.status, self.code, self.message = status, code, message


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class StaffAlert:
    """A notification no channel delivered: an item of the exceptions panel."""

    id: str
    appointment_id: str
    patient_id: str
    appointment_start: datetime
    kind: str
    reason: str
    channels_tried: tuple[str, ...]
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True, slots=True)
class SentNotification:
    """One row of an appointment's notification history (the recipient masked)."""

    id: str
    kind: str
    channel: str
    occurrence_start: datetime
    due_at: datetime
    sent_at: datetime | None
    state: str
    attempts: int
    error_code: str | None
    recipient_hint: str | None


@dataclass(frozen=True, slots=True)
class EmailSettings:
    enabled: bool = False
    host: str = ""
    port: int = 587
    username: str | None = None
    password_set: bool = False
    starttls: bool = True
    sender: str = ""


@dataclass(frozen=True, slots=True)
class SmsSettings:
    enabled: bool = False
    gateway_url: str = ""
    account_id: str | None = None
    api_key_set: bool = False
    sender: str = ""


def _no_offsets() -> Mapping[str, tuple[int, ...]]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    """The organization's reminder policy and channels (secrets only as "is set")."""

    reminder_offsets_minutes: tuple[int, ...] = (1440, 120)
    type_offsets_minutes: Mapping[str, tuple[int, ...]] = field(default_factory=_no_offsets)
    quiet_hours: tuple[str, str] | None = None  # ("21:00", "08:00") in the clinic's zone
    fallback_delay_minutes: int = 15
    email: EmailSettings = field(default_factory=EmailSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    #: Fields this desk does not edit (newer servers may add some): sent back unchanged.
    other: Mapping[str, Any] = field(default_factory=_no_offsets)


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    kind: str
    channel: str
    language: str
    subject: str | None
    body_text: str
    body_html: str | None
    customized: bool = False


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A template rendered by the server for a sample appointment."""

    subject: str | None
    text: str
    html: str | None


@dataclass(frozen=True, slots=True)
class TestOutcome:
    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class AlertPerson:
    """What the desk itself knows about an alert's patient and appointment."""

    initials: str
    phone: str
    email: str
    time_zone: str
    clinic_locale: str
    appointment_known: bool


# --------------------------------------------------------------------------- the service


class NotificationsService:
    """The notifications API; ``call`` is the desk's server call naming the user."""

    def __init__(self, call: ServerCall) -> None:
        self._call = call

    def staff_alerts(self, state: str = "open") -> list[StaffAlert]:
        """The staff alerts in ``state`` (``open``, ``resolved`` or ``all``), the soonest
        appointment first (the most urgent call)."""
        answer = self._ask("GET", f"{BASE}/exceptions", params={"state": state})
        alerts = [_alert(item) for item in answer["items"]]
        return sorted(alerts, key=lambda a: (a.appointment_start, a.created_at))

    def resolve(self, alert_id: str, note: str | None = None) -> StaffAlert:
        return _alert(self._ask("POST", f"{BASE}/exceptions/{alert_id}/resolve",
                                json={"note": note or None}))

    def history(self, appointment_id: str) -> list[SentNotification]:
        """What was (or will be) sent about ``appointment_id``, by due time."""
        answer = self._ask("GET", f"/api/v1/appointments/{appointment_id}/notifications")
        found = [_sent(item) for item in answer["items"]]
        return sorted(found, key=lambda n: (n.due_at, n.kind, n.channel))

    def settings(self) -> NotificationSettings:
        return _settings(self._ask("GET", f"{BASE}/settings"))

    def save_settings(self, settings: NotificationSettings, *, password: str | None = None,
                      api_key: str | None = None) -> NotificationSettings:
        """Store ``settings``; ``password``/``api_key`` only when typed (None: unchanged)."""
        return _settings(self._ask("PUT", f"{BASE}/settings",
                                   json=settings_body(settings, password, api_key)))

    def templates(self) -> list[MessageTemplate]:
        return [_template(item) for item in self._ask("GET", f"{BASE}/templates")["items"]]

    def save_template(self, template: MessageTemplate) -> MessageTemplate:
        return _template(self._ask("PUT", _template_path(template), json=_template_body(
            template)))

    def reset_template(self, template: MessageTemplate) -> None:
        """Back to the built-in text for the template's kind, channel and language."""
        self._ask("DELETE", _template_path(template))

    def preview(self, template: MessageTemplate) -> RenderedMessage:
        answer = self._ask("POST", f"{BASE}/templates/preview", json={
            "kind": template.kind, "channel": template.channel,
            "language": template.language, **_template_body(template)})
        return RenderedMessage(_text_or_none(answer.get("subject")), str(answer.get("text", "")),
                               _text_or_none(answer.get("html")))

    def send_test(self, channel: str, to: str) -> TestOutcome:
        answer = self._ask("POST", f"{BASE}/test", json={"channel": channel, "to": to})
        return TestOutcome(bool(answer.get("ok")), str(answer.get("message", "")))

    def _ask(self, method: str, path: str, **kwargs: Any) -> Any:
        return ask(self._call, method, path, **kwargs)


def ask(call: ServerCall, method: str, path: str, **kwargs: Any) -> Any:
    """``call`` with the failures the desk's server screens tell apart: offline
    (:class:`NotificationsOffline`) or refused (:class:`NotificationsRefused`)."""
    try:
        return call(method, path, **kwargs)
    except RequestRefused as refused:
        raise NotificationsRefused(refused.status, refused.code,
                                   refused.server_message) from None
    except SyncError as error:
        raise NotificationsOffline(error) from None


def can_configure(ctx: DeskContext) -> bool:
    """Whether the signed-in user may see the settings and templates (``admin:config``)."""
    return MANAGE in ctx.user().permissions


def can_resolve(ctx: DeskContext) -> bool:
    return RESOLVE in ctx.user().permissions


def appointment_types(ctx: DeskContext) -> list[tuple[str, str]]:
    """(id, name) of the organization's appointment types, by name (per-type reminders)."""
    ctx.user()
    with ctx.store.session() as session:
        rows = session.execute(select(AppointmentTypeRow.id, AppointmentTypeRow.name))
        return sorted(((str(i), str(n)) for i, n in rows), key=lambda t: t[1].casefold())


def remember_alerts(ctx: DeskContext, alerts: Iterable[StaffAlert], read_at: datetime) -> None:
    """Keep the open alerts just read (replacing the last list) for an offline desk."""
    ctx.user()
    with ctx.store.write() as session:
        session.execute(delete(StaffAlertRow))
        session.add_all(StaffAlertRow(
            id=a.id, appointment_id=a.appointment_id, patient_id=a.patient_id,
            appointment_start=a.appointment_start, kind=a.kind, reason=a.reason,
            channels_tried=list(a.channels_tried), created_at=a.created_at)
            for a in alerts if a.is_open)
        state = session.get(SyncState, SYNC_STATE_ID)
        if state is not None:
            state.staff_alerts_read_at = read_at


def remembered_alerts(ctx: DeskContext) -> tuple[list[StaffAlert], datetime | None]:
    """The open alerts as last read from the server, and when (None: never read here)."""
    ctx.user()
    with ctx.store.session() as session:
        state = session.get(SyncState, SYNC_STATE_ID)
        rows = session.scalars(select(StaffAlertRow).order_by(
            StaffAlertRow.appointment_start, StaffAlertRow.created_at)).all()
        return ([StaffAlert(r.id, r.appointment_id, r.patient_id, r.appointment_start, r.kind,
                            r.reason, tuple(r.channels_tried), r.created_at) for r in rows],
                None if state is None else state.staff_alerts_read_at)


def alert_people(ctx: DeskContext, alerts: Iterable[StaffAlert]) -> dict[str, AlertPerson]:
    """Per alert id: the patient's initials and contact and the clinic's zone, from the desk's
    own store (a patient or appointment it does not mirror gives empty values)."""
    wanted = list(alerts)
    patient_ids = {a.patient_id for a in wanted}
    appointment_ids = {a.appointment_id for a in wanted}
    with ctx.store.session() as session:
        patients = {p.id: p for p in session.scalars(
            select(PatientRow).where(PatientRow.id.in_(patient_ids)))}
        clinic_of = {str(i): str(c) for i, c in session.execute(
            select(AppointmentRow.id, AppointmentRow.clinic_id).where(
                AppointmentRow.id.in_(appointment_ids), AppointmentRow.deleted.is_(False)))}
        clinics = {c.id: (c.time_zone, c.locale) for c in session.scalars(select(ClinicRow))}
    default = next(iter(sorted(clinics.items())), ("", ("UTC", "en_US")))[1]
    found: dict[str, AlertPerson] = {}
    for alert in wanted:
        patient = patients.get(alert.patient_id)
        clinic_id = clinic_of.get(alert.appointment_id)
        zone, locale = clinics.get(clinic_id, default) if clinic_id else default
        found[alert.id] = AlertPerson(
            initials(patient.given_name, patient.family_name) if patient else "",
            patient.phone if patient else "", patient.email if patient else "",
            zone, locale, clinic_id is not None)
    return found


# --------------------------------------------------------------------------- wire


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _must(value: Any) -> datetime:
    found = _when(value)
    if found is None:
        raise ValueError("an instant is missing")
    return found


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _alert(item: Mapping[str, Any]) -> StaffAlert:
    return StaffAlert(
        str(item["id"]), str(item["appointment_id"]), str(item["patient_id"]),
        _must(item["appointment_start"]), str(item["kind"]), str(item["reason"]),
        tuple(str(c) for c in item.get("channels_tried") or ()), _must(item["created_at"]),
        _when(item.get("resolved_at")), _text_or_none(item.get("resolved_by")),
        _text_or_none(item.get("resolution_note")))


def _sent(item: Mapping[str, Any]) -> SentNotification:
    return SentNotification(
        str(item["id"]), str(item["kind"]), str(item["channel"]),
        _must(item["occurrence_start"]), _must(item["due_at"]), _when(item.get("sent_at")),
        str(item["state"]), int(item.get("attempts") or 0), _text_or_none(item.get("error_code")),
        _text_or_none(item.get("recipient_hint")))


def _offsets(values: Any) -> tuple[int, ...]:
    return tuple(sorted((int(v) for v in values or ()), reverse=True))


def _settings(body: Mapping[str, Any]) -> NotificationSettings:
    quiet = body.get("quiet_hours")
    email, sms = body.get("email") or {}, body.get("sms") or {}
    return NotificationSettings(
        _offsets(body.get("reminder_offsets_minutes")),
        MappingProxyType({str(k): _offsets(v)
                          for k, v in (body.get("type_offsets_minutes") or {}).items()}),
        (str(quiet["start"]), str(quiet["end"])) if quiet else None,
        int(body.get("fallback_delay_minutes") or 0),
        EmailSettings(bool(email.get("enabled")), str(email.get("host") or ""),
                      int(email.get("port") or 587), _text_or_none(email.get("username")),
                      bool(email.get("password_set")), bool(email.get("starttls", True)),
                      str(email.get("sender") or "")),
        SmsSettings(bool(sms.get("enabled")), str(sms.get("gateway_url") or ""),
                    _text_or_none(sms.get("account_id")), bool(sms.get("api_key_set")),
                    str(sms.get("sender") or "")),
        MappingProxyType({k: v for k, v in body.items() if k not in _EDITED}))


_EDITED = frozenset({"reminder_offsets_minutes", "type_offsets_minutes", "quiet_hours",
                     "fallback_delay_minutes", "email", "sms"})


def settings_body(settings: NotificationSettings, password: str | None,
                  api_key: str | None) -> dict[str, Any]:
    """The PUT body: the secrets only when typed (omitted = unchanged on the server)."""
    email, sms = settings.email, settings.sms
    email_body: dict[str, Any] = {
        "enabled": email.enabled, "host": email.host, "port": email.port,
        "username": email.username or None, "starttls": email.starttls, "sender": email.sender}
    if password:
        email_body["password"] = password
    sms_body: dict[str, Any] = {
        "enabled": sms.enabled, "gateway_url": sms.gateway_url,
        "account_id": sms.account_id or None, "sender": sms.sender}
    if api_key:
        sms_body["api_key"] = api_key
    quiet = settings.quiet_hours
    return {**settings.other,
            "reminder_offsets_minutes": list(settings.reminder_offsets_minutes),
            "type_offsets_minutes": {k: list(v) for k, v in settings.type_offsets_minutes.items()},
            "quiet_hours": {"start": quiet[0], "end": quiet[1]} if quiet else None,
            "fallback_delay_minutes": settings.fallback_delay_minutes,
            "email": email_body, "sms": sms_body}


def _template(item: Mapping[str, Any]) -> MessageTemplate:
    return MessageTemplate(str(item["kind"]), str(item["channel"]), str(item["language"]),
                           _text_or_none(item.get("subject")), str(item.get("body_text") or ""),
                           _text_or_none(item.get("body_html")), bool(item.get("customized")))


def _template_body(template: MessageTemplate) -> dict[str, Any]:
    return {"subject": template.subject, "body_text": template.body_text,
            "body_html": template.body_html}


def _template_path(template: MessageTemplate) -> str:
    return f"{BASE}/templates/{template.kind}/{template.channel}/{template.language}"
