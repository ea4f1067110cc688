"""The portal's pages (``/portal/{organization}/…``) and its widget script (the admin API
is in :mod:`.admin`, the request plumbing in :mod:`.visit`).

URLs carry ids, dates and times only: never a name, phone or e-mail (those travel in
POST bodies and live in the server-side session). Every POST checks the CSRF token;
every refusal of the portal's own (CSRF, codes, rate limits, ids that are not the
patient's) is audited; the booking rules' refusals are audited by the booking service.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import Field
from sqlalchemy import select

from scheduling import limits
from scheduling.i18n import render_refusal
from scheduling.refusals import N_, RefusalCode
from sync_server.api.deps import sqlite_write_turn
from sync_server.core.translations import translations
from sync_server.db import models as db
from sync_server.notifications.channels import SendFailed, email_channel, sms_channel
from sync_server.notifications.messages import Rendered
from sync_server.notifications.models import NotificationSettings
from sync_server.portal import handoffs, service, signin
from sync_server.portal.models import PortalCode, PortalSettings
from sync_server.portal.pages import Page
from sync_server.portal.visit import (
    FormDep,
    Posted,
    Visit,
    VisitDep,
    day_or,
    instant_of,
    safe_next,
)
from sync_server.services.booking import BookingResult
from sync_server.services.errors import InvalidInput
from sync_server.telemedicine import checkin, portal_view

router = APIRouter(prefix="/portal", include_in_schema=False,
                   dependencies=[Depends(sqlite_write_turn)])
STATIC = Path(__file__).resolve().parent / "static"

Text = Annotated[str, Field(max_length=200)]
MaybeText = Annotated[str | None, Field(max_length=200)]
#: What the appointment page may say was just done (``?done=``).
DONE = ("booked", "moved", "cancelled", "consented", "uploaded")
#: Refusals the portal answers with other slots to choose from.
TAKEN = {RefusalCode.PROVIDER_BUSY, RefusalCode.ROOM_BUSY, RefusalCode.EQUIPMENT_BUSY,
         RefusalCode.NO_SUITABLE_ROOM, RefusalCode.CAPACITY_REACHED,
         RefusalCode.QUOTA_REACHED, RefusalCode.BUFFER_CONFLICT}

# --------------------------------------------------------------------------- static


@router.get("/static/portal.css")
def stylesheet() -> Response:
    return FileResponse(STATIC / "portal.css", media_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600",
                                 "X-Content-Type-Options": "nosniff"})


@router.get("/{org}/widget.js")
def widget(v: VisitDep) -> Response:
    """The script a clinic's site includes: an iframe showing the slot search."""
    script = (STATIC / "widget.js").read_text("utf-8").replace(
        "__PORTAL__", f"{v.page.base}/?embed=1").replace(
        "__TITLE__", v.page._(N_("Book an appointment online")).replace('"', ""))
    v.db.rollback()
    return Response(script, media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=300",
                             "X-Content-Type-Options": "nosniff"})


# --------------------------------------------------------------------------- find a slot


@router.get("/{org}/")
def find(v: VisitDep, type: MaybeText = None, clinic: MaybeText = None,
         provider: MaybeText = None, first: Annotated[str | None, Field(max_length=10)] = None,
         last: Annotated[str | None, Field(max_length=10)] = None,
         returnUrl: Annotated[str | None, Field(max_length=2000)] = None,
         state: Annotated[str | None, Field(max_length=500)] = None) -> Response:
    """The slot search; with ``returnUrl`` and ``state`` it starts a booking hand-off."""
    if returnUrl is not None or state is not None:
        return handoffs.start(v, returnUrl or "", state or "")
    options = service.choices(v.db, v.org.id)
    today = v.now.date()
    first_day = day_or(first, today)
    last_day = day_or(last, first_day + timedelta(days=13))
    kind = service.online_type(v.db, v.org.id, type) if type else None
    where = service.own_clinic(v.db, v.org.id, clinic) if clinic else None
    if where is None and len(options.clinics) == 1:
        where = options.clinics[0]
    if kind is None and len(options.types) == 1:
        kind = options.types[0]
    chosen_provider = provider if provider and any(
        p.id == provider for p in options.providers) else None
    soonest, slots = None, []
    if kind is not None and where is not None:
        v.page.time_zone = where.time_zone
        soonest = service.next_slot(v.db, v.org.id, where.id, kind.id, chosen_provider, v.now)
        slots = service.free_slots(v.db, v.org.id, where.id, kind.id, chosen_provider,
                                   first_day, last_day, v.now)
    names = {p.id: p.name for p in options.providers}
    sites = v.db.get(PortalSettings, v.org.id)
    allowed = list(sites.widget_sites) if sites and sites.widget_sites else []
    if v.page.embedded and not _framed_by_allowed_site(v, allowed):
        return v.refused("portal.widget", "site_not_allowed", 403, N_(
            "This booking box may not be shown on this website. "
            "Please book on the clinic's own booking page."))
    ancestors = " ".join(allowed) if allowed else "'none'"
    return v.finish(v.page.render(
        "find.html", frame_ancestors=ancestors if v.page.embedded else "'none'",
        options=options, kind=kind, clinic=where, provider=chosen_provider,
        first=first_day.isoformat(), last=last_day.isoformat(), soonest=soonest,
        slots=slots, names=names, phone=v.clinic_phone(), max_shown=service.MAX_SLOTS_SHOWN))


def _framed_by_allowed_site(v: Visit, allowed: list[str]) -> bool:
    """Whether the page asking for the widget's frame (its ``Referer``) is an allowed site
    or the portal itself. Without a ``Referer`` the browser alone decides, by the page's
    ``frame-ancestors``; with one from elsewhere the server refuses (and audits) too."""
    referer = urlsplit(v.request.headers.get("referer", "")[:2000])
    if not referer.scheme or not referer.netloc:
        return True
    if referer.netloc.lower() == v.request.headers.get("host", "").lower():
        return True
    return f"{referer.scheme}://{referer.netloc}".lower() in {s.lower() for s in allowed}


def _slot_query(clinic: str, kind: str, provider: str, start: datetime) -> str:
    return urlencode({"clinic": clinic, "type": kind, "provider": provider,
                      "start": start.isoformat()})


# --------------------------------------------------------------------------- sign in


@router.get("/{org}/signin")
def signin_page(v: VisitDep, next: Annotated[str | None, Field(max_length=500)] = None
                ) -> Response:
    return v.render("signin.html", next=safe_next(v, next), error="")


@router.post("/{org}/signin")
def ask_code(v: VisitDep, form: FormDep) -> Response:
    """Send a one-time code to the e-mail or phone given (the same answer whether or not
    a patient has it: new patients sign in the same way)."""
    if (problem := v.check_csrf(form.get("csrf"))) is not None:
        return problem
    target = safe_next(v, form.get("next", 500))
    parsed = signin.address_of(form.get("address", limits.EMAIL))
    if parsed is None:
        return v.render("signin.html", 422, next=target, error=v.page._(N_(
            "Please enter an e-mail address or a mobile phone number.")))
    channel, where = parsed
    for window, key, reason in ((v.guard.per_client, v.ip(), "rate_client"),
                                (v.guard.per_address,
                                 signin.keyed(v.key, "address", where), "rate_address")):
        wait = window.admit(key)
        if wait is not None:
            seconds = str(max(1, int(wait) + 1))
            return v.refused("portal.signin", reason, 429, N_(
                "Too many codes were asked for. Please wait a few minutes and try again."),
                headers={"Retry-After": seconds})
    settings = v.db.get(NotificationSettings, v.org.id)
    enabled = settings is not None and (settings.email_enabled if channel == "email"
                                        else settings.sms_enabled)
    if not enabled or settings is None:
        return v.render("signin.html", 422, next=target, error=v.page._(
            N_("Sign-in by e-mail is not available. Please use your mobile phone number.")
            if channel == "email" else
            N_("Sign-in by text message is not available. Please use your e-mail address.")))
    row, code = signin.new_code(v.db, v.key, v.org.id, where, v.now)
    portal = v.session_row()
    portal.channel, portal.address, portal.code_id, portal.verified_at = (
        channel, where, row.id, None)
    portal.patient_id = None
    try:
        _send_code(settings, channel, where, code, v.page)
    except SendFailed:
        v.db.rollback()
        return v.render("signin.html", 503, next=target, error=v.page._(N_(
            "The code could not be sent just now. Please try again in a few minutes.")))
    return v.render("code.html", next=target, channel=channel, error="")


def _send_code(settings: NotificationSettings, channel: str, address: str, code: str,
               page: Page) -> None:
    text = page._(N_("Your {organization} sign-in code is {code}. It expires in {minutes} "
                     "minutes. If you did not ask for it, ignore this message.")).format(
        organization=page.org_name, code=code, minutes=signin.CODE_MINUTES)
    if channel == "email":
        email = email_channel(settings)
        try:
            email.send(address, Rendered(page._(N_("Your sign-in code")), text, None),
                       message_id=f"<portal-{secrets.token_hex(8)}@clinicdesk.portal>",
                       language=page.lang)
        finally:
            email.close()
    else:
        sms = sms_channel(settings)
        try:
            sms.send(address, Rendered(None, text, None),
                     idempotency_key=f"portal-{secrets.token_hex(8)}")
        finally:
            sms.close()


@router.post("/{org}/signin/code")
def check_code(v: VisitDep, form: FormDep) -> Response:
    if (problem := v.check_csrf(form.get("csrf"))) is not None:
        return problem
    target = safe_next(v, form.get("next", 500))
    wait = v.guard.checks.admit(v.ip())
    if wait is not None:
        return v.refused("portal.signin", "rate_checks", 429, N_(
            "Too many tries. Please wait a few minutes and try again."),
            headers={"Retry-After": str(max(1, int(wait) + 1))})
    portal = v.portal
    row = v.db.get(PortalCode, portal.code_id) if portal and portal.code_id else None
    outcome = signin.check_code(v.db, v.key, row, form.get("code", 12), v.now)
    if outcome == "ok" and portal is not None:
        patient = service.patient_for(v.db, v.org.id, portal.channel, portal.address)
        # A new token once signed in (the one used before signing in is dropped).
        fresh, v.new_token = signin.open_session(v.db, v.org.id, v.now)
        fresh.channel, fresh.address, fresh.verified_at = portal.channel, portal.address, v.now
        fresh.patient_id = patient.id if patient else None
        fresh.handoff_id = portal.handoff_id
        v.db.delete(portal)
        v.portal = fresh
        return v.finish(RedirectResponse(target, status_code=303))
    if outcome == "wrong" and portal is not None:
        v.db.commit()  # the try counts
        left = signin.MAX_ATTEMPTS - (row.attempts if row else 0)
        return v.render("code.html", 422, next=target, channel=portal.channel,
                        error=v.page._(N_("That code is not right. Tries left: {left}.")).format(
                            left=left))
    v.db.commit()
    service.refuse(v.db, v.org.id, "portal.signin", f"code_{outcome}", v.now)
    return v.render("signin.html", 422, next=target, error=v.page._(
        N_("Too many wrong codes. Please ask for a new code.") if outcome == "locked"
        else N_("This code has expired. Please ask for a new code.")))


@router.post("/{org}/signout")
def sign_out(v: VisitDep, form: FormDep) -> Response:
    if (problem := v.check_csrf(form.get("csrf"))) is not None:
        return problem
    if v.portal is not None:
        v.db.delete(v.portal)
        v.portal = None
    response = v.to("/")
    response.delete_cookie(signin.SESSION_COOKIE, path="/portal/")
    return response


# --------------------------------------------------------------------------- book


def _need_sign_in(v: Visit) -> Response:
    target = v.request.url.path + (f"?{v.request.url.query}" if v.request.url.query else "")
    return v.finish(RedirectResponse(
        f"{v.page.base}/signin?{urlencode({'next': target})}", status_code=303))


def _booking_subject(v: Visit, clinic: str, type: str, provider: str, start: str
                     ) -> tuple[db.Clinic, db.AppointmentType, db.Resource, datetime] | None:
    where = service.own_clinic(v.db, v.org.id, clinic)
    kind = service.online_type(v.db, v.org.id, type)
    who = v.db.get(db.Resource, provider)
    moment = instant_of(start)
    if where is None or kind is None or who is None or who.organization_id != v.org.id \
            or moment is None:
        return None
    v.page.time_zone = where.time_zone
    return where, kind, who, moment


@router.get("/{org}/book")
def book_page(v: VisitDep, clinic: Text, type: Text, provider: Text, start: Text,
              returnUrl: Annotated[str | None, Field(max_length=2000)] = None,
              state: Annotated[str | None, Field(max_length=500)] = None) -> Response:
    """Book one slot (a published slot's deep link lands here, with ``returnUrl`` and
    ``state`` when an app hands the patient over)."""
    if returnUrl is not None or state is not None:
        return handoffs.start(v, returnUrl or "", state or "")
    subject = _booking_subject(v, clinic, type, provider, start)
    if subject is None:
        return v.refused("portal.book", "not_online_bookable", 404, N_(
            "This appointment cannot be booked online. Please call the clinic."))
    if not v.signed_in:
        return _need_sign_in(v)
    where, kind, who, moment = subject
    return v.render("book.html", clinic=where, kind=kind, provider=who, start=moment,
                    new_patient=v.patient_id is None, error="", alternatives=[])


@router.post("/{org}/book")
def book(v: VisitDep, form: FormDep) -> Response:
    if (problem := v.check_csrf(form.get("csrf"))) is not None:
        return problem
    if not v.signed_in or v.portal is None:
        return _need_sign_in(v)
    subject = _booking_subject(v, form.get("clinic"), form.get("type"), form.get("provider"),
                               form.get("start"))
    given_name = form.get("given_name", limits.PERSON_NAME)
    family_name = form.get("family_name", limits.PERSON_NAME)
    note = form.get("note", 500)
    if subject is None:
        return v.refused("portal.book", "not_online_bookable", 404, N_(
            "This appointment cannot be booked online. Please call the clinic."))
    where, kind, who, moment = subject
    patient_id = v.patient_id
    if patient_id is None:
        if not given_name.strip() or not family_name.strip():
            return v.render("book.html", 422, clinic=where, kind=kind, provider=who,
                            start=moment, new_patient=True, alternatives=[], error=v.page._(
                                N_("Please give your first name and last name.")))
        created = service.register_patient(v.db, v.org.id, v.portal.channel, v.portal.address,
                                           given_name, family_name, v.page.lang, v.now)
        if created.refused is not None:
            return _refusal(v, created, "book.html", clinic=where, kind=kind, provider=who,
                            start=moment, new_patient=True)
        patient_id = next(r.id for r in created.records)
        v.portal.patient_id = patient_id
    result = service.book(v.db, v.org.id, patient_id, where.id, kind.id, who.id, moment,
                          note.strip(), v.now)
    if result.refused is not None:
        return _refusal(v, result, "book.html", clinic=where, kind=kind, provider=who,
                        start=moment, new_patient=False)
    booked = result.appointments[0]
    v.db.commit()
    if v.portal.handoff_id:
        return handoffs.finish(v, "booked", appointment_id=booked.id,
                               fallback=f"/appointments/{booked.id}?done=booked")
    return v.to(f"/appointments/{booked.id}?done=booked")


def _refusal(v: Visit, result: BookingResult, template: str, **values: Any) -> Response:
    """The rules said no: why, the clinic's phone, and other free slots when there are."""
    refused = result.refused
    assert refused is not None
    v.db.commit()  # the booking service audited the refusal
    clinic = result.clinic
    message = render_refusal(refused, catalogue=translations(v.page.lang), locale=v.page.locale,
                             tz=clinic.time_zone if clinic else v.page.time_zone,
                             names=result.names)
    taken = refused.code in TAKEN
    return v.render(template, 409, error=message, taken=taken,
                    alternatives=[service.Slot(a.start, a.end, a.provider_id)
                                  for a in refused.alternatives][:5],
                    names=_provider_names(v), phone=v.clinic_phone(), **values)


def _provider_names(v: Visit) -> dict[str, str]:
    return {p.id: p.name for p in service.choices(v.db, v.org.id).providers}


# --------------------------------------------------------------------------- my appointments


@router.get("/{org}/appointments")
def my_appointments(v: VisitDep) -> Response:
    if not v.signed_in:
        return _need_sign_in(v)
    found = service.upcoming(v.db, v.org.id, v.patient_id, v.now) if v.patient_id else []
    return v.render("appointments.html", appointments=found, names=_names(v))


def _names(v: Visit) -> dict[str, str]:
    options = service.choices(v.db, v.org.id)
    names = {p.id: p.name for p in options.providers}
    names.update({c.id: c.name for c in options.clinics})
    names.update({t.id: t.name for t in v.db.scalars(select(db.AppointmentType).where(
        db.AppointmentType.organization_id == v.org.id))})
    return names


def _own(v: Visit, appointment_id: str) -> db.Appointment | Response:
    """The signed-in patient's appointment, or the same 404 for any other id (audited)."""
    if not v.signed_in or v.patient_id is None:
        return _need_sign_in(v)
    row = service.patients_appointment(v.db, v.org.id, v.patient_id, appointment_id[:64])
    if row is None:
        return v.refused("portal.appointment", "not_own", 404, N_(
            "We could not find this appointment."), target_type="appointment",
            target_id=appointment_id[:64])
    clinic = v.db.get(db.Clinic, row.clinic_id)
    v.page.time_zone = clinic.time_zone if clinic else v.page.time_zone
    return row


def _own_posted(v: Visit, appointment_id: str, form: Posted) -> db.Appointment | Response:
    """A form about the patient's appointment: its CSRF token checked, then the id."""
    problem = v.check_csrf(form.get("csrf"))
    return problem if problem is not None else _own(v, appointment_id)


@router.get("/{org}/appointments/{appointment_id}")
def appointment_page(v: VisitDep, appointment_id: str,
                     done: Annotated[str | None, Field(max_length=20)] = None) -> Response:
    row = _own(v, appointment_id)
    if isinstance(row, Response):
        return row
    return show_appointment(v, row, done=done if done in (*DONE, *checkin.DONE) else "")


def show_appointment(v: Visit, row: db.Appointment, *, done: str = "", status_code: int = 200,
                     telemedicine_error: str = "") -> Response:
    """The appointment page (its route's answer, and the answer of the forms on it)."""
    return v.render("appointment.html", status_code, appointment=row, names=_names(v),
                    done=done,
                    changeable=row.status in service.CHANGEABLE and row.start_at > v.now,
                    checkin=checkin.view(v, row),
                    telemedicine=portal_view.visit_view(v, row),
                    telemedicine_error=telemedicine_error)


@router.get("/{org}/appointments/{appointment_id}/reschedule")
def reschedule_page(v: VisitDep, appointment_id: str,
                    first: Annotated[str | None, Field(max_length=10)] = None,
                    last: Annotated[str | None, Field(max_length=10)] = None) -> Response:
    row = _own(v, appointment_id)
    if isinstance(row, Response):
        return row
    first_day = day_or(first, v.now.date())
    last_day = day_or(last, first_day + timedelta(days=13))
    slots = service.free_slots(v.db, v.org.id, row.clinic_id, row.appointment_type_id, None,
                               first_day, last_day, v.now)
    return v.render("reschedule.html", appointment=row, names=_names(v), slots=slots,
                    first=first_day.isoformat(), last=last_day.isoformat(), error="",
                    alternatives=[])


@router.post("/{org}/appointments/{appointment_id}/reschedule")
def reschedule(v: VisitDep, appointment_id: str, form: FormDep) -> Response:
    row = _own_posted(v, appointment_id, form)
    if isinstance(row, Response):
        return row
    moment = instant_of(form.get("start"))
    if moment is None:
        raise InvalidInput("The start is not a time.")
    result = service.move(v.db, v.org.id, row.id, moment, form.get("provider"), v.now)
    if result.refused is not None:
        return _refusal(v, result, "reschedule.html", appointment=row, slots=[],
                        first=v.now.date().isoformat(), last=v.now.date().isoformat())
    v.db.commit()
    return v.to(f"/appointments/{row.id}?done=moved")


@router.get("/{org}/appointments/{appointment_id}/cancel")
def cancel_page(v: VisitDep, appointment_id: str) -> Response:
    row = _own(v, appointment_id)
    if isinstance(row, Response):
        return row
    return v.render("cancel.html", appointment=row, names=_names(v), error="", alternatives=[])


@router.post("/{org}/appointments/{appointment_id}/cancel")
def cancel(v: VisitDep, appointment_id: str, form: FormDep) -> Response:
    row = _own_posted(v, appointment_id, form)
    if isinstance(row, Response):
        return row
    result = service.cancel(v.db, v.org.id, row.id, v.now)
    if result.refused is not None:
        return _refusal(v, result, "cancel.html", appointment=row)
    v.db.commit()
    if v.portal is not None and v.portal.handoff_id:
        return handoffs.finish(v, "cancelled", appointment_id=row.id,
                               fallback=f"/appointments/{row.id}?done=cancelled")
    return v.to(f"/appointments/{row.id}?done=cancelled")


# --------------------------------------------------------------------------- hand-off


@router.post("/{org}/handoff/return")
def leave(v: VisitDep, form: FormDep) -> Response:
    """Back to the app that sent the patient, without booking: ``cancelled`` (the patient
    chose to), or ``failed`` with ``slot-unavailable`` from the "slot just taken" page."""
    if (problem := v.check_csrf(form.get("csrf"))) is not None:
        return problem
    if v.portal is None or not v.portal.handoff_id:
        return v.to("/")
    if form.get("why") == "slot-unavailable":
        return handoffs.finish(v, "failed", reason="slot-unavailable")
    return handoffs.finish(v, "cancelled")
