"""Virtual check-in (issue 17 item 3): a patient with a telemedicine appointment checks
in from the portal's appointment page, within the organization's window around the start.

The check-in is the booking service's status change to ``arrived`` (the same rules,
locks, events, audit entry and change-log row a desk's check-in makes; the actor is the
portal's patient) with ``virtual`` set, so the appointment records when it happened
(``virtual_checkin_at``) and every desk learns it through the change log and the poke.
Every refusal (not the patient's, cancelled, finished, in person, outside the window,
already checked in) is audited under ``portal.checkin`` and stores nothing; messages and
audit entries carry ids and codes only, never patient data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from scheduling.checkin import MAX_WINDOW, CheckInWindow, WindowState
from scheduling.commands import ChangeStatus
from scheduling.i18n import render_refusal
from scheduling.model import AppointmentStatus as S
from scheduling.refusals import N_
from sync_server.api.deps import NowDep, SessionDep, require, sqlite_write_turn
from sync_server.core.translations import translations
from sync_server.db import models as db
from sync_server.portal import service
from sync_server.portal.models import PortalSettings
from sync_server.portal.visit import FormDep, Visit, VisitDep
from sync_server.services import booking
from sync_server.services.accounts import Principal
from sync_server.telemedicine import rooms

router = APIRouter(prefix="/portal", include_in_schema=False,
                   dependencies=[Depends(sqlite_write_turn)])
admin_router = APIRouter(prefix="/portal", tags=["portal"])
Admin = Annotated[Principal, Depends(require("admin:config"))]
INTENT = "portal.checkin"
#: Statuses in which the patient is already checked in (by the portal or at the desk).
CHECKED_IN = frozenset({S.ARRIVED.value, S.READY.value, S.IN_PROGRESS.value})
#: Statuses after which there is nothing to check in for.
OVER = frozenset({S.COMPLETED.value, S.NO_SHOW.value, S.ENTERED_IN_ERROR.value})
#: Statuses in which check-in is not offered at all.
NOT_OPEN = OVER | {S.CANCELLED.value, S.PENDING.value}
#: What ``?done=`` may say after a check-in.
DONE = ("checked_in", "already_checked_in")


def window_of(session: Session, organization_id: str) -> CheckInWindow:
    """The organization's check-in window (the default where it set none)."""
    row = session.get(PortalSettings, organization_id)
    default = CheckInWindow()
    if row is None:
        return default
    return CheckInWindow(
        default.opens_before if row.checkin_opens_minutes is None
        else timedelta(minutes=row.checkin_opens_minutes),
        default.closes_after if row.checkin_closes_minutes is None
        else timedelta(minutes=row.checkin_closes_minutes))


# --------------------------------------------------------------------------- the page's part


@dataclass(frozen=True, slots=True)
class CheckInView:
    """What the appointment page shows about check-in (``state`` "" shows nothing)."""

    state: str  # "", "checked_in", "open", "early", "closed"
    opens_at: datetime
    closes_at: datetime
    checked_in_at: datetime | None


def view(v: Visit, row: db.Appointment) -> CheckInView:
    """The check-in part of the signed-in patient's appointment page."""
    window = window_of(v.db, v.org.id)
    opens, closes = window.opens_at(row.start_at), window.closes_at(row.start_at)
    if not rooms.is_telemedicine(v.db, row.appointment_type_id) or row.status in NOT_OPEN:
        state = ""
    elif row.status in CHECKED_IN:
        state = "checked_in"
    else:
        state = window.state(row.start_at, v.now).value
    return CheckInView(state, opens, closes, row.virtual_checkin_at)


# --------------------------------------------------------------------------- checking in


def _refused(v: Visit, row: db.Appointment | None, reason: str, status_code: int,
             message: str, appointment_id: str) -> Response:
    """Audit the refusal (nothing else stored) and say why, with the way back."""
    v.db.rollback()
    service.refuse(v.db, v.org.id, INTENT, reason, v.now, target_type="appointment",
                   target_id=appointment_id)
    return v.render("telemedicine_checkin_refused.html", status_code, error=message,
                    appointment=row, phone=v.clinic_phone())


@router.post("/{org}/appointments/{appointment_id}/checkin")
def check_in(v: VisitDep, appointment_id: str, form: FormDep) -> Response:
    """Check the signed-in patient in for their telemedicine appointment (idempotent)."""
    if (problem := v.check_csrf(form.get("csrf"))) is not None:
        return problem
    appointment_id = appointment_id[:64]
    if not v.signed_in or v.patient_id is None:
        return v.to(f"/appointments/{appointment_id}")  # the page asks them to sign in
    row = service.patients_appointment(v.db, v.org.id, v.patient_id, appointment_id)
    if row is None:  # another patient's, another organization's or no such id: the same
        return _refused(v, None, "not_own", 404, v.page._(N_(
            "We could not find this appointment.")), appointment_id)
    clinic = v.db.get(db.Clinic, row.clinic_id)
    v.page.time_zone = clinic.time_zone if clinic else v.page.time_zone
    _ = v.page._
    if row.status in CHECKED_IN:
        service.refuse(v.db, v.org.id, INTENT, "already_checked_in", v.now,
                       target_type="appointment", target_id=row.id)
        return v.to(f"/appointments/{row.id}?done=already_checked_in")
    if row.status == S.CANCELLED.value:
        return _refused(v, row, "cancelled", 409, _(N_(
            "This appointment is cancelled, so there is nothing to check in for.")), row.id)
    if row.status in OVER:
        return _refused(v, row, "finished", 409, _(N_(
            "This visit is already over, so it can no longer be checked in.")), row.id)
    if row.status == S.PENDING.value:
        return _refused(v, row, "not_approved", 409, _(N_(
            "This appointment still waits for the clinic's approval, so it cannot be "
            "checked in yet.")), row.id)
    if not rooms.is_telemedicine(v.db, row.appointment_type_id):
        return _refused(v, row, "not_telemedicine", 409, _(N_(
            "This is an in-person visit: please check in at the clinic's front desk.")),
            row.id)
    window = window_of(v.db, v.org.id)
    state = window.state(row.start_at, v.now)
    if state is WindowState.EARLY:
        return _refused(v, row, "too_early", 409, _(N_(
            "Check-in opens at {time}, {minutes} minutes before your visit. Please come "
            "back then.")).format(time=v.page.clock(window.opens_at(row.start_at)),
                                  minutes=int(window.opens_before.total_seconds() // 60)),
            row.id)
    if state is WindowState.CLOSED:
        return _refused(v, row, "too_late", 409, _(N_(
            "Check-in closed at {time}. Please call the clinic.")).format(
            time=v.page.clock(window.closes_at(row.start_at))), row.id)
    caller = service.caller(v.org.id)
    result = booking.change(v.db, caller, ChangeStatus(
        caller.actor, row.id, S.ARRIVED, "checked in online", virtual=True), v.now)
    if result.refused is not None:
        v.db.commit()  # the booking service audited the refusal
        message = render_refusal(result.refused, catalogue=translations(v.page.lang),
                                 locale=v.page.locale, tz=v.page.time_zone)
        return v.render("telemedicine_checkin_refused.html", 409, error=message,
                        appointment=row, phone=v.clinic_phone())
    v.db.commit()
    return v.to(f"/appointments/{row.id}?done=checked_in")


# --------------------------------------------------------------------------- the window (admin)


Minutes = Annotated[int, Field(ge=0, le=int(MAX_WINDOW.total_seconds() // 60))]


class CheckInWindowBody(BaseModel):
    """The organization's check-in window, in minutes before and after the start."""

    model_config = ConfigDict(extra="forbid")
    opens_minutes_before: Minutes
    closes_minutes_after: Minutes


@admin_router.get("/checkin-window", response_model=CheckInWindowBody)
def get_window(user: Admin, session: SessionDep) -> CheckInWindowBody:
    window = window_of(session, user.organization_id)
    session.rollback()
    return CheckInWindowBody(
        opens_minutes_before=int(window.opens_before.total_seconds() // 60),
        closes_minutes_after=int(window.closes_after.total_seconds() // 60))


@admin_router.put("/checkin-window", response_model=CheckInWindowBody)
def put_window(body: CheckInWindowBody, user: Admin, session: SessionDep,
               now: NowDep) -> CheckInWindowBody:
    row = session.get(PortalSettings, user.organization_id)
    if row is None:
        row = PortalSettings(organization_id=user.organization_id, widget_sites=[],
                             updated_at=now)
        session.add(row)
    row.checkin_opens_minutes = body.opens_minutes_before
    row.checkin_closes_minutes = body.closes_minutes_after
    row.updated_at = now
    session.commit()
    return body
