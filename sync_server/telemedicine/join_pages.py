"""The patient's video-visit pages in the portal (docs/telemedicine.md).

``/portal/{org}/appointments/{id}/video`` is the join page of a signed-in patient's
video visit: "Join" (a POST that records the join and redirects to the video link — the
portal allows no JavaScript), "I have left", "Report a problem", and the no-join offer
when the provider has not joined. ``/portal/{org}/video/{token}`` is the same offer
reached from the patient's message (a signed, expiring link naming the message, not the
patient). Choices go through :func:`sync_server.telemedicine.no_join.choose`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from pydantic import Field
from sqlalchemy.orm import object_session

from scheduling.refusals import N_
from sync_server.api.deps import sqlite_write_turn
from sync_server.db import models as db
from sync_server.notifications.links import LinkKey
from sync_server.notifications.models import Notification
from sync_server.portal import pages, service
from sync_server.portal.visit import FormDep, Posted, Visit, VisitDep, instant_of
from sync_server.telemedicine import no_join, rooms, sessions
from sync_server.telemedicine.session_tables import PROBLEM_TEXT, PROBLEMS

router = APIRouter(prefix="/portal", include_in_schema=False,
                   dependencies=[Depends(sqlite_write_turn)])
Token = Annotated[str, Field(max_length=300)]

#: What the patient reads for each reason an event was not recorded.
REFUSALS = {
    "too_early": N_("The video visit opens 15 minutes before it starts, at {time}."),
    "too_late": N_("This video visit is over. To book a new one, call us."),
    "not_taking_place": N_("This visit is cancelled, so it cannot be joined."),
    "not_joined": N_("You have not joined this video visit."),
    "unknown_problem": N_("Please choose what went wrong."),
    "problem_too_long": N_("Please describe the problem in fewer words."),
    "not_ready": N_("The video link is not ready yet. Please try again in a few minutes."),
}
PROBLEM_LABELS = {
    "no_video": N_("I cannot see the provider"),
    "no_sound": N_("I cannot hear the provider"),
    "cannot_connect": N_("The video does not open"),
    "dropped": N_("The call dropped"),
    "other": N_("Something else"),
}
NOTICES = {
    "joined": N_("Your join is noted. If the video did not open, press Join again."),
    "left": N_("Thank you. We noted that you left the video visit."),
    "reported": N_("Thank you. The clinic has your report."),
    "moved": N_("Done: {provider} will see you now. Press Join to enter the video visit."),
    "rebooked": N_("Done: your video visit has moved to {when}."),
}
CHOICE_PROBLEMS = {
    "busy": N_("That choice was just taken by another booking. These are the choices now:"),
    "used": N_("You have already chosen; your visit was changed then."),
    "closed": N_("This offer no longer stands: your provider may have joined. Please open "
                 "the video visit again."),
    "invalid": N_("This choice is not available any more. Please choose again."),
}


def _is_video_visit(appointment: db.Appointment) -> bool:
    """For the appointment page's include: is this a telemedicine appointment?"""
    session = object_session(appointment)
    kind = session.get(db.AppointmentType, appointment.appointment_type_id) if session else None
    return bool(kind and kind.telemedicine)


def _slot_start(slot: dict[str, Any]) -> datetime | None:
    return instant_of(slot["start"].replace("Z", "+00:00"))


pages.add_global("video_visit", _is_video_visit)
pages.add_global("slot_start", _slot_start)


def _names(v: Visit) -> dict[str, str]:
    return {p.id: p.name for p in service.choices(v.db, v.org.id).providers}


def _visit(v: Visit, appointment_id: str) -> sessions.Visit | Response:
    """The signed-in patient's video visit, or the same 404 for any other id (audited)."""
    if not v.signed_in or v.patient_id is None:
        target = f"{v.page.base}/appointments/{appointment_id[:64]}/video"
        return v.finish(RedirectResponse(f"{v.page.base}/signin?{urlencode({'next': target})}",
                                         status_code=303))
    row = service.patients_appointment(v.db, v.org.id, v.patient_id, appointment_id[:64])
    try:
        if row is None:
            raise sessions.SessionError("unknown_appointment", "")
        visit = sessions.visit_of(v.db, v.org.id, row.id)
    except sessions.SessionError as error:
        return v.refused("portal.video", error.code, 404, N_(
            "We could not find this video visit.") if error.code == "unknown_appointment"
            else N_("This appointment is not a video visit."), target_type="appointment",
            target_id=appointment_id[:64])
    clinic = v.db.get(db.Clinic, row.clinic_id)
    v.page.time_zone = clinic.time_zone if clinic else v.page.time_zone
    return visit


def _offer(v: Visit, appointment_id: str) -> no_join.Offer | None:
    case = no_join.case_of(v.db, appointment_id, v.org.id)
    if case is None or case.state != "offered":
        return None
    return no_join.Offer(case.backup_provider_id, list(case.slots))


def _join_page(v: Visit, visit: sessions.Visit, status: int = 200, *, error: str = "",
               notice: str = "", offer: no_join.Offer | None = None) -> Response:
    row = visit.appointment
    try:
        sessions.check_open(visit, v.now)
        is_open = True
    except sessions.SessionError as refusal:
        is_open = False
        error = error or _refusal_text(v, refusal.code, visit)
    return v.render(
        "telemedicine_join.html", status, appointment=row, names=_names(v), error=error,
        notice=notice, open=is_open, inside=sessions.joined(v.db, row.id, "patient"),
        offer=offer or _offer(v, row.id), phone=v.clinic_phone(), max_text=PROBLEM_TEXT,
        problems=[(code, v.page._(PROBLEM_LABELS[code])) for code in PROBLEMS])


def _refusal_text(v: Visit, code: str, visit: sessions.Visit) -> str:
    return v.page._(REFUSALS.get(code, REFUSALS["too_late"])).format(
        time=v.page.clock(visit.opens_at))


@router.get("/{org}/appointments/{appointment_id}/video")
def join_page(v: VisitDep, appointment_id: str,
              done: Annotated[str | None, Field(max_length=20)] = None) -> Response:
    visit = _visit(v, appointment_id)
    if isinstance(visit, Response):
        return visit
    notice = ""
    if done in NOTICES:
        notice = v.page._(NOTICES[done]).format(
            provider=_names(v).get(visit.appointment.provider_id, ""),
            when=v.page.when(visit.appointment.start_at))
    return _join_page(v, visit, notice=notice)


def _posted(v: Visit, appointment_id: str, form: Posted) -> sessions.Visit | Response:
    problem = v.check_csrf(form.get("csrf"))
    return problem if problem is not None else _visit(v, appointment_id)


def _record(v: Visit, visit: sessions.Visit, action: str, done: str, **details: Any) -> Response:
    try:
        sessions.record(v.db, visit, "patient", action, v.now, **details)
    except sessions.SessionError as refusal:
        v.db.rollback()
        return _join_page(v, visit, 409, error=_refusal_text(v, refusal.code, visit))
    return v.to(f"/appointments/{visit.appointment.id}/video?done={done}")


@router.post("/{org}/appointments/{appointment_id}/video/join")
def join(v: VisitDep, appointment_id: str, form: FormDep) -> Response:
    """Record the join and go to the video link (not recorded while there is no link)."""
    visit = _posted(v, appointment_id, form)
    if isinstance(visit, Response):
        return visit
    link = rooms.video_url(v.db, v.org.id, visit.appointment.id)
    try:
        sessions.check_open(visit, v.now)
    except sessions.SessionError as refusal:
        return _join_page(v, visit, 409, error=_refusal_text(v, refusal.code, visit))
    if link is None:
        return _join_page(v, visit, 409, error=v.page._(REFUSALS["not_ready"]))
    sessions.record(v.db, visit, "patient", "join", v.now)
    return v.finish(RedirectResponse(link, status_code=303))


@router.post("/{org}/appointments/{appointment_id}/video/leave")
def leave(v: VisitDep, appointment_id: str, form: FormDep) -> Response:
    visit = _posted(v, appointment_id, form)
    if isinstance(visit, Response):
        return visit
    return _record(v, visit, "leave", "left")


@router.post("/{org}/appointments/{appointment_id}/video/problem")
def report_problem(v: VisitDep, appointment_id: str, form: FormDep) -> Response:
    visit = _posted(v, appointment_id, form)
    if isinstance(visit, Response):
        return visit
    details = form.fields.get("details", "")
    if len(details) > PROBLEM_TEXT:
        return _join_page(v, visit, 422, error=v.page._(REFUSALS["problem_too_long"]))
    return _record(v, visit, "problem", "reported", problem=form.get("problem", 20),
                   problem_text=details)


def _choose(v: Visit, appointment_id: str, form: Posted) -> no_join.Choice:
    return no_join.choose(v.db, v.org.id, appointment_id, form.get("choice", 10), v.now,
                          instant_of(form.get("start", 40).replace("Z", "+00:00")),
                          form.get("provider", 36) or None)


@router.post("/{org}/appointments/{appointment_id}/video/choice")
def choose(v: VisitDep, appointment_id: str, form: FormDep) -> Response:
    """The patient's choice on the join page: the backup provider now, or a new time."""
    visit = _posted(v, appointment_id, form)
    if isinstance(visit, Response):
        return visit
    chosen = _choose(v, visit.appointment.id, form)
    if chosen.outcome in ("moved", "rebooked"):
        return v.to(f"/appointments/{visit.appointment.id}/video?done={chosen.outcome}")
    v.db.expire_all()
    fresh = sessions.visit_of(v.db, v.org.id, visit.appointment.id)
    return _join_page(v, fresh, 409, error=v.page._(CHOICE_PROBLEMS[chosen.outcome]),
                      offer=chosen.offer)


# --------------------------------------------------------------------------- signed link


def _by_token(v: Visit, token: str) -> Notification | None:
    claim = LinkKey(v.key).read(token)
    row = v.db.get(Notification, claim.notification_id) if claim else None
    if claim is None or row is None or claim.action != "accept" or \
            row.kind != no_join.NOJOIN_OFFER or row.organization_id != v.org.id:
        return None
    return row if claim.expires > v.now else None


def _offer_page(v: Visit, row: Notification | None, status: int = 200, *, error: str = "",
                notice: str = "", offer: no_join.Offer | None = None) -> Response:
    if row is None:
        return v.refused("portal.video_offer", "bad_link", 404, N_(
            "This link is not valid or has expired. Please open your appointment in the "
            "portal or call the clinic."))
    appointment = db.get_in_org(v.db, db.Appointment, v.org.id, row.appointment_id)
    clinic = v.db.get(db.Clinic, row.clinic_id)
    v.page.time_zone = clinic.time_zone if clinic else v.page.time_zone
    shown = offer or _offer(v, row.appointment_id)
    if shown is None and not (error or notice):
        error = v.page._(CHOICE_PROBLEMS["closed"])
    return v.render("telemedicine_offer.html", status, appointment=appointment,
                    names=_names(v), error=error, notice=notice, offer=shown,
                    phone=v.clinic_phone(), action=v.request.url.path)


@router.get("/{org}/video/{token}")
def offer_page(v: VisitDep, token: Token) -> Response:
    return _offer_page(v, _by_token(v, token))


@router.post("/{org}/video/{token}")
def choose_by_link(v: VisitDep, token: Token, form: FormDep) -> Response:
    if (problem := v.check_csrf(form.get("csrf"))) is not None:
        return problem
    row = _by_token(v, token)
    if row is None:
        return _offer_page(v, None)
    notification_id = row.id
    chosen = _choose(v, row.appointment_id, form)
    row = v.db.get(Notification, notification_id)
    if chosen.outcome in ("moved", "rebooked"):
        appointment = db.get_in_org(
            v.db, db.Appointment, v.org.id, row.appointment_id) if row else None
        notice = v.page._(NOTICES[chosen.outcome]).format(
            provider=_names(v).get(appointment.provider_id, "") if appointment else "",
            when=v.page.when(appointment.start_at) if appointment else "")
        return _offer_page(v, row, notice=notice)
    return _offer_page(v, row, 409, error=v.page._(CHOICE_PROBLEMS[chosen.outcome]),
                       offer=chosen.offer)
