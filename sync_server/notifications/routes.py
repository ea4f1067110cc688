"""HTTP routes of the notifications (contract: NOTIFY_API.md, docs/notifications.md).

* ``/api/v1/notifications/...`` and ``/api/v1/appointments/{id}/notifications``: the
  desk's exceptions panel, an appointment's history, and the administrator's settings,
  templates and test message. A desk calls them with its device token and the
  signed-in user in ``X-ClinicDesk-User`` (or a user with a bearer token).
* ``/notify/r/{token}``: the patient's reply page (GET shows, POST acts, so a mail
  scanner that follows links changes nothing).
* ``/notify/sms/inbound``: the SMS gateway's webhook for replies C (confirm) and X
  (cancel), signed like Twilio's (``X-Twilio-Signature``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs
from xml.sax.saxutils import escape as xml_escape
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select

from scheduling.commands import Permission
from scheduling.refusals import N_
from sync_server.api.deps import ContextDep, CurrentUser, NowDep, SessionDep, sqlite_write_turn
from sync_server.api.fields import (
    AccountId,
    BaseUrl,
    Email,
    Host,
    Id,
    IdPath,
    Phone,
    Reason,
    Secret,
    TemplateSubject,
    TemplateText,
    TemplateTextRequired,
    text_check,
)
from sync_server.core.translations import translations
from sync_server.notifications import messages, replies, service
from sync_server.notifications.channels import SendFailed, email_channel, sms_channel
from sync_server.notifications.links import LinkKey
from sync_server.notifications.models import NotificationSettings
from sync_server.services import accounts
from sync_server.services.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    PermissionDenied,
)

router = APIRouter(tags=["notifications"], dependencies=[Depends(sqlite_write_turn)])
page_router = APIRouter(tags=["notifications"], include_in_schema=False,
                        dependencies=[Depends(sqlite_write_turn)])


def needs(permission: str) -> Any:
    """A dependency that lets in a user holding ``permission`` (no I/O: ``async``)."""
    async def check(user: CurrentUser) -> accounts.Principal:
        if not user.can(permission):
            raise PermissionDenied(f"Your role does not allow this (needs the '{permission}' "
                                   "permission).", code="permission_denied")
        return user
    return check


Viewer = Annotated[accounts.Principal, Depends(needs("booking:view_calendar"))]
Modifier = Annotated[accounts.Principal, Depends(needs(Permission.MODIFY))]
Admin = Annotated[accounts.Principal, Depends(needs("admin:config"))]


def _refused(error: service.NotifyError) -> Exception:
    if error.code.startswith("unknown_"):
        return NotFound(error.message, code=error.code)
    if error.code == "already_resolved":
        return AlreadyExists(error.message, code=error.code)
    return InvalidInput(error.message, code=error.code)


# --------------------------------------------------------------------------- desk


@router.get("/notifications/exceptions")
def list_exceptions(user: Viewer, session: SessionDep,
                    state: Literal["open", "resolved", "all"] = "open") -> dict[str, Any]:
    """Staff alerts: notices no channel could deliver."""
    return {"items": service.list_exceptions(session, user.organization_id, state)}



class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Reason | None = None


@router.post("/notifications/exceptions/{exception_id}/resolve")
def resolve_exception(exception_id: IdPath, body: ResolveBody,
                      user: Modifier, session: SessionDep, now: NowDep) -> dict[str, Any]:
    try:
        item = service.resolve_exception(session, user.organization_id, exception_id,
                                         user.user_id, body.note, now)
    except service.NotifyError as error:
        raise _refused(error) from None
    session.commit()
    return item


@router.get("/appointments/{appointment_id}/notifications")
def appointment_history(appointment_id: Annotated[str, Field(max_length=64)], user: Viewer,
                        session: SessionDep) -> dict[str, Any]:
    """What was queued and sent for one appointment, by which channel, in which state."""
    return {"items": service.history(session, user.organization_id, appointment_id)}


# --------------------------------------------------------------------------- admin

Minutes = Annotated[int, Field(ge=1, le=60 * 24 * 30)]
Clock = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: Clock
    end: Clock


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    enabled: bool | None = None
    host: Host | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    username: Host | None = None
    password: Secret | None = None
    starttls: bool | None = None
    sender: Email | None = None


class SmsSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")
    enabled: bool | None = None
    gateway_url: BaseUrl | None = None
    account_id: AccountId | None = None
    api_key: Secret | None = None
    sender: Phone | None = None


class SettingsBody(BaseModel):
    """The GET shape; ``password``/``api_key`` are write-only (left out: unchanged);
    ``password_set``/``api_key_set`` sent back are ignored."""

    model_config = ConfigDict(extra="ignore")
    reminder_offsets_minutes: Annotated[list[Minutes], Field(max_length=5)] | None = None
    type_offsets_minutes: dict[Id,
                               Annotated[list[Minutes], Field(max_length=5)]] | None = None
    quiet_hours: QuietHours | None = None
    fallback_delay_minutes: Annotated[int, Field(ge=0, le=24 * 60)] | None = None
    notice_delay_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None
    reply_link_hours: Annotated[int, Field(ge=1, le=24 * 30)] | None = None
    public_base_url: BaseUrl | None = None
    clinic_phone: Phone | None = None
    email: EmailSettings | None = None
    sms: SmsSettings | None = None


@router.get("/notifications/settings")
def get_settings(user: Admin, session: SessionDep, now: NowDep) -> dict[str, Any]:
    return service.settings_json(session, user.organization_id, now)


@router.put("/notifications/settings")
def put_settings(body: SettingsBody, user: Admin, session: SessionDep,
                 now: NowDep) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    if "quiet_hours" in body.model_fields_set:
        values["quiet_hours"] = body.quiet_hours.model_dump() if body.quiet_hours else None
    service.update_settings(session, user.organization_id, values, now)
    session.commit()
    return service.settings_json(session, user.organization_id, now)


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subject: TemplateSubject | None = None
    body_text: TemplateTextRequired
    body_html: TemplateText | None = None

    def template(self) -> messages.Template:
        return messages.Template(self.subject, self.body_text, self.body_html)


class PreviewBody(TemplateBody):
    kind: Literal["created", "modified", "cancelled", "reminder", "waitlist-offer", "offer-gone",
                  "no-show"]
    channel: Literal["email", "sms"]
    language: Literal["en", "es"]


@router.get("/notifications/templates")
def list_templates(user: Admin, session: SessionDep) -> dict[str, Any]:
    return {"items": service.list_templates(session, user.organization_id)}


@router.put("/notifications/templates/{kind}/{channel}/{language}")
def put_template(kind: str, channel: str, language: str, body: TemplateBody, user: Admin,
                 session: SessionDep, now: NowDep) -> dict[str, Any]:
    try:
        item = service.save_template(session, user.organization_id,
                                     service.TemplateKey(kind, channel, language),
                                     body.template(), now)
    except service.NotifyError as error:
        raise _refused(error) from None
    except messages.TemplateProblem as problem:
        raise InvalidInput(str(problem), code="template_invalid") from None
    session.commit()
    return item


@router.delete("/notifications/templates/{kind}/{channel}/{language}",
               status_code=status.HTTP_204_NO_CONTENT)
def reset_template(kind: str, channel: str, language: str, user: Admin,
                   session: SessionDep) -> Response:
    try:
        service.reset_template(session, user.organization_id,
                               service.TemplateKey(kind, channel, language))
    except service.NotifyError as error:
        raise _refused(error) from None
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/notifications/templates/preview")
def preview_template(body: PreviewBody, user: Admin) -> dict[str, Any]:
    del user
    try:
        shown = service.preview(service.TemplateKey(body.kind, body.channel, body.language),
                                body.template())
    except messages.TemplateProblem as problem:
        raise InvalidInput(str(problem), code="template_invalid") from None
    return {"subject": shown.subject, "text": shown.text, "html": shown.html}


class TestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["email", "sms"]
    to: Annotated[str, Field(min_length=3, max_length=320), AfterValidator(text_check(320))]


@router.post("/notifications/test")
def send_test(body: TestBody, user: Admin, session: SessionDep) -> dict[str, Any]:
    """Send the sample reminder now with the saved settings (the answer names no address)."""
    row = session.get(NotificationSettings, user.organization_id)
    session.rollback()
    if row is None or not (row.email_enabled if body.channel == "email" else row.sms_enabled):
        return {"ok": False, "message": f"The {body.channel} channel is not enabled."}
    facts = messages.sample("en")
    rendered = messages.render(messages.default_template("reminder", body.channel, "en"),
                               messages.variables(facts))
    try:
        if body.channel == "email":
            email = email_channel(row)
            try:
                email.send(body.to, rendered, message_id=f"<test-{facts.appointment_id}-"
                           f"{id(email)}@clinicdesk.notifications>",
                           attachment=messages.ics(facts))
            finally:
                email.close()
        else:
            sms = sms_channel(row)
            try:
                sms.send(body.to, rendered, idempotency_key=f"test-{id(sms)}")
            finally:
                sms.close()
    except SendFailed as failure:
        return {"ok": False, "message": f"The test message was not sent: {failure.code}."}
    return {"ok": True, "message": "The test message was sent."}


# --------------------------------------------------------------------------- patient pages


def link_key(context: ContextDep) -> LinkKey:
    return LinkKey(context.settings.signing_key())


KeyDep = Annotated[LinkKey, Depends(link_key)]

_TITLES = {
    "ask_confirm": N_("Confirm your appointment"),
    "ask_cancel": N_("Cancel your appointment"),
    "confirmed": N_("Your appointment is confirmed"),
    "cancelled": N_("Your appointment is cancelled"),
    "invalid": N_("This link is not valid"),
    "used": N_("This link was used already"),
    "expired": N_("This link has expired"),
    "other_patient": N_("This link is not for this appointment"),
    "changed": N_("Your appointment has changed"),
    "late": N_("It is too late to cancel online"),
    "not_possible": N_("This appointment cannot be changed online"),
}
_TEXTS = {
    "ask_confirm": N_("Your appointment at {clinic} on {when}."),
    "ask_cancel": N_("Your appointment at {clinic} on {when}."),
    "confirmed": N_("Thank you. We expect you at {clinic} on {when}."),
    "cancelled": N_("Your appointment at {clinic} on {when} is cancelled."),
    "invalid": N_("Nothing was changed. Please call the clinic."),
    "used": N_("Nothing was changed. To change your appointment, call {phone}."),
    "expired": N_("Nothing was changed. To change your appointment, call {phone}."),
    "other_patient": N_("Nothing was changed. To change your appointment, call {phone}."),
    "changed": N_("Nothing was changed. Please check the latest message from the clinic or "
                  "call {phone}."),
    "late": N_("Your appointment on {when} is too soon to cancel here. Please call the "
               "clinic at {phone}."),
    "not_possible": N_("Nothing was changed. Please call the clinic at {phone}."),
}
_PAGE = Environment(autoescape=True).from_string(
    '<!DOCTYPE html>\n<html lang="{{ lang }}"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<meta name="robots" content="noindex"><title>{{ title }}</title></head>'
    '<body style="font-family: sans-serif; max-width: 32em; margin: 2em auto">'
    '<h1 class="{{ outcome }}">{{ title }}</h1><p>{{ text }}</p>'
    '{% if button %}<form method="post"><button type="submit">{{ button }}</button></form>'
    '{% endif %}</body></html>\n')


def _page(outcome: replies.ReplyOutcome, shown: str, status_code: int = 200) -> HTMLResponse:
    catalogue = translations(outcome.language)
    when = ""
    if outcome.start is not None:
        when = format_datetime(outcome.start.astimezone(ZoneInfo(outcome.time_zone)),
                               "EEEE d MMMM y, HH:mm",
                               locale="es_ES" if outcome.language == "es" else "en_US")
    text = catalogue.gettext(_TEXTS[shown]).format(
        clinic=outcome.clinic_name, when=when,
        phone=outcome.clinic_phone or catalogue.gettext(N_("the clinic")))
    button = None
    if shown == "ask_confirm":
        button = catalogue.gettext(N_("Confirm"))
    elif shown == "ask_cancel":
        button = catalogue.gettext(N_("Cancel the appointment"))
    body = _PAGE.render(lang=outcome.language, title=catalogue.gettext(_TITLES[shown]),
                        text=text, button=button, outcome=shown)
    return HTMLResponse(body, status_code=status_code,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@page_router.get("/notify/r/{token}", response_class=HTMLResponse)
def reply_page(token: Annotated[str, Field(max_length=300)], session: SessionDep, now: NowDep,
               key: KeyDep) -> HTMLResponse:
    target, outcome = replies.find_target(session, key, token, now)
    session.rollback()
    if target is None:
        return _page(outcome, outcome.outcome, 200 if outcome.outcome != "invalid" else 404)
    return _page(outcome, f"ask_{outcome.action}")


@page_router.post("/notify/r/{token}", response_class=HTMLResponse)
def reply_act(token: Annotated[str, Field(max_length=300)], session: SessionDep, now: NowDep,
              key: KeyDep) -> HTMLResponse:
    target, outcome = replies.find_target(session, key, token, now)
    if target is None:
        session.rollback()
        return _page(outcome, outcome.outcome, 200 if outcome.outcome != "invalid" else 404)
    done = replies.act(session, target, outcome.action, replies.VIA_LINK, now)
    session.commit()
    return _page(done, done.outcome)


def twilio_signature(key: str, url: str, params: dict[str, str]) -> str:
    """Twilio's webhook signature: HMAC-SHA1 over the URL and the sorted form fields."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(key.encode(), data.encode(), hashlib.sha1).digest()
                            ).decode()


@page_router.post("/notify/sms/inbound")
async def sms_inbound(request: Request, session: SessionDep, now: NowDep) -> Response:
    """An SMS reply: ``C`` confirms, ``X`` cancels the last reminder's appointment."""
    # Twilio posts application/x-www-form-urlencoded (read here without python-multipart).
    form = {name: values[0] for name, values in
            parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    account = form.get("AccountSid", "")
    given = request.headers.get("X-Twilio-Signature", "")
    # Organizations sending through this gateway account (one, unless they share it).
    orgs = [s for s in session.scalars(select(NotificationSettings).where(
        NotificationSettings.sms_account_id == account, NotificationSettings.sms_enabled))
        if s.sms_api_key and hmac.compare_digest(
            given, twilio_signature(s.sms_api_key, str(request.url), form))]
    if not orgs:
        session.rollback()
        return Response(status_code=403)
    action = {"C": "confirm", "X": "cancel"}.get(form.get("Body", "").strip().upper())
    answer, language = "ignored", "en"
    row = next((found for settings in orgs if (found := replies.latest_sms_reminder(
        session, settings.organization_id, form.get("From", ""), now)) is not None), None)
    if action is not None and row is not None:
        target, outcome = replies.find_target_of(session, row, action, None, now)
        language, answer = outcome.language, outcome.outcome
        if target is not None:
            answer = replies.act(session, target, action, replies.VIA_SMS, now).outcome
    session.commit()
    catalogue = translations(language)
    reply = {
        "confirmed": N_("Thank you, your appointment is confirmed."),
        "cancelled": N_("Your appointment is cancelled."),
        "late": N_("It is too late to cancel by SMS. Please call the clinic."),
    }.get(answer, N_("Reply C to confirm or X to cancel your next appointment."))
    twiml = ('<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
             f"{xml_escape(catalogue.gettext(reply))}</Message></Response>")
    return Response(twiml, media_type="application/xml")
