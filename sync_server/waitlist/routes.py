"""HTTP routes of waitlist offers and no-shows (docs/notifications.md, docs/user-guide.md).

* ``/api/v1/waitlist-offers``: the desk's list of offers, an offer made by hand, a
  withdrawal; ``/api/v1/patients/{id}/no-shows``; ``/api/v1/care/settings`` (hold length,
  offers at once, no-show policy). Signed in as the notification routes are (a desk's
  device token naming its user, or a bearer token).
* ``/notify/offer/{token}``: the patient's accept page. GET shows the place and a button;
  only the POST accepts (a mail scanner following the link changes nothing).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from scheduling.commands import Permission
from scheduling.refusals import N_
from sync_server.api.deps import NowDep, SessionDep, sqlite_write_turn
from sync_server.api.fields import Id, IdPath
from sync_server.core.translations import translations
from sync_server.db import models as db
from sync_server.notifications.models import Notification
from sync_server.notifications.policy import policy_of
from sync_server.notifications.routes import _PAGE, KeyDep, needs
from sync_server.services import accounts
from sync_server.services.errors import InvalidInput, NotFound
from sync_server.waitlist import offers
from sync_server.waitlist.models import CareSettings, FreedSlot, WaitlistOffer
from sync_server.waitlist.no_shows import no_show_dates

router = APIRouter(tags=["waitlist"], dependencies=[Depends(sqlite_write_turn)])
page_router = APIRouter(tags=["waitlist"], include_in_schema=False,
                        dependencies=[Depends(sqlite_write_turn)])

#: How far ahead staff may offer a slot by hand.
OFFER_HORIZON = timedelta(days=366)

Viewer = Annotated[accounts.Principal, Depends(needs(Permission.VIEW_CALENDAR))]
Booker = Annotated[accounts.Principal, Depends(needs(Permission.CREATE))]
Admin = Annotated[accounts.Principal, Depends(needs("admin:config"))]


# --------------------------------------------------------------------------- desk


def _offer_json(offer: WaitlistOffer, slot: FreedSlot) -> dict[str, Any]:
    return {"id": offer.id, "entry_id": offer.entry_id, "patient_id": offer.patient_id,
            "state": offer.state, "rank": offer.rank, "offered_by": offer.offered_by,
            "offered_at": offer.offered_at.isoformat(), "expires_at": offer.expires_at.isoformat(),
            "answered_at": offer.answered_at.isoformat() if offer.answered_at else None,
            "appointment_id": offer.appointment_id, "clinic_id": slot.clinic_id,
            "provider_id": slot.provider_id, "start": slot.start_at.isoformat(),
            "end": slot.end_at.isoformat(), "reason": slot.reason}


@router.get("/waitlist-offers")
def list_offers(user: Viewer, session: SessionDep,
                state: Literal["open", "all"] = "all",
                limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    """The organization's latest offers, newest first."""
    query = (select(WaitlistOffer, FreedSlot).join(FreedSlot, FreedSlot.id == WaitlistOffer.slot_id)
             .where(WaitlistOffer.organization_id == user.organization_id)
             .order_by(WaitlistOffer.offered_at.desc(), WaitlistOffer.rank).limit(limit))
    if state == "open":
        query = query.where(WaitlistOffer.state == "open")
    items = [_offer_json(offer, slot) for offer, slot in session.execute(query)]
    session.rollback()
    return {"items": items}


class OfferBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry_id: Id
    provider_id: Id
    start: datetime
    end: datetime


@router.post("/waitlist-offers")
def offer_by_hand(body: OfferBody, user: Booker, session: SessionDep,
                  now: NowDep) -> dict[str, Any]:
    """Offer this slot to this waitlist entry now (the rules must accept the booking)."""
    if body.start.tzinfo is None or body.end.tzinfo is None or body.end <= body.start \
            or not now < body.start < now + OFFER_HORIZON \
            or body.end - body.start > timedelta(hours=12):
        raise InvalidInput("Give a slot with a time zone, starting in the next year, ending "
                           "after it starts and within 12 hours.", code="invalid_slot")
    made = offers.offer_by_hand(session, user.organization_id, body.entry_id,
                                body.provider_id, body.start, body.end, user.user_id, now)
    if made is None:
        session.rollback()
        raise InvalidInput("This slot cannot be offered to this entry: the rules would not "
                           "book it now, or the entry is closed.", code="not_offerable")
    slot = session.get(FreedSlot, made.slot_id)
    assert slot is not None
    answer = _offer_json(made, slot)
    session.commit()
    return answer


@router.post("/waitlist-offers/{offer_id}/withdraw")
def withdraw_offer(offer_id: IdPath, user: Booker,
                   session: SessionDep, now: NowDep) -> dict[str, Any]:
    if not offers.withdraw(session, user.organization_id, offer_id, now):
        session.rollback()
        raise NotFound("No open offer with this id.", code="unknown_offer")
    session.commit()
    return {"id": offer_id, "state": "withdrawn"}


@router.get("/patients/{patient_id}/no-shows")
def patient_no_shows(patient_id: IdPath, user: Viewer,
                     session: SessionDep, now: NowDep) -> dict[str, Any]:
    """The patient's no-shows: all, within the policy's window, and whether they are at
    the limit."""
    patient = db.get_in_org(session, db.Patient, user.organization_id, patient_id)
    if patient is None:
        raise NotFound("No patient with this id.", code="unknown_patient")
    dates = no_show_dates(session, user.organization_id, patient_id)
    policy = offers.no_show_policy(offers.care_settings(session, user.organization_id))
    session.rollback()
    return {"count": len(dates), "recent": policy.recent(dates, now),
            "limit": policy.limit, "months": policy.months,
            "at_limit": policy.reached(dates, now) is not None,
            "dates": [moment.isoformat() for moment in dates]}


class CareBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offer_hold_minutes: Annotated[int, Field(ge=5, le=24 * 60)] | None = None
    offers_at_once: Annotated[int, Field(ge=1, le=10)] | None = None
    offers_enabled: bool | None = None
    no_show_limit: Annotated[int, Field(ge=0, le=50)] | None = None
    no_show_months: Annotated[int, Field(ge=1, le=60)] | None = None
    no_show_message: bool | None = None


def _care_json(row: CareSettings) -> dict[str, Any]:
    return {name: getattr(row, name) for name in CareBody.model_fields}


@router.get("/care/settings")
def get_care_settings(user: Admin, session: SessionDep) -> dict[str, Any]:
    answer = _care_json(offers.care_settings(session, user.organization_id))
    session.rollback()
    return answer


@router.put("/care/settings")
def put_care_settings(body: CareBody, user: Admin, session: SessionDep) -> dict[str, Any]:
    row = offers.care_settings(session, user.organization_id)
    session.add(row)
    for name, value in body.model_dump(exclude_none=True).items():  # null: unchanged
        setattr(row, name, value)
    answer = _care_json(row)
    session.commit()
    return answer


# --------------------------------------------------------------------------- patient page

_TITLES = {
    "ask": N_("A place is free for you"),
    "booked": N_("The place is yours"),
    "gone": N_("This place has been taken"),
    "expired": N_("This offer has expired"),
    "used": N_("You accepted this place already"),
    "invalid": N_("This link is not valid"),
}
_TEXTS = {
    "ask": N_("{clinic}, {when}. Press the button to book it."),
    "booked": N_("Your appointment at {clinic} on {when} is booked."),
    "gone": N_("Another patient accepted it first. You stay on the waiting list; to ask "
               "about other times, call {phone}."),
    "expired": N_("The hold ran out. You stay on the waiting list; to ask about other "
                  "times, call {phone}."),
    "used": N_("Your appointment at {clinic} on {when} is booked."),
    "invalid": N_("Nothing was changed. Please call the clinic."),
}


def _find(session: SessionDep, key: KeyDep, token: str) -> Notification | None:
    claim = key.read(token)
    row = session.get(Notification, claim.notification_id) if claim else None
    if claim is None or row is None or claim.action != "accept" or row.kind != "waitlist-offer":
        return None
    return row


def _offer_page(session: SessionDep, row: Notification | None, shown: str) -> HTMLResponse:
    language, clinic_name, when, phone = "en", "", "", ""
    if row is not None:
        patient = db.get_in_org(session, db.Patient, row.organization_id, row.patient_id)
        clinic = session.get(db.Clinic, row.clinic_id)
        language = patient.preferred_language if patient and \
            patient.preferred_language in ("en", "es") else "en"
        clinic_name = clinic.name if clinic else ""
        when = format_datetime(row.occurrence_start.astimezone(
            ZoneInfo(clinic.time_zone if clinic else "UTC")), "EEEE d MMMM y, HH:mm",
            locale="es_ES" if language == "es" else "en_US")
        phone = policy_of(session, row.organization_id).clinic_phone
    catalogue = translations(language)
    text = catalogue.gettext(_TEXTS[shown]).format(
        clinic=clinic_name, when=when, phone=phone or catalogue.gettext(N_("the clinic")))
    body = _PAGE.render(lang=language, title=catalogue.gettext(_TITLES[shown]), text=text,
                        outcome=shown, button=catalogue.gettext(N_("Accept the place"))
                        if shown == "ask" else None)
    session.rollback()
    return HTMLResponse(body, status_code=404 if shown == "invalid" else 200,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@page_router.get("/notify/offer/{token}", response_class=HTMLResponse)
def offer_page(token: Annotated[str, Field(max_length=300)], session: SessionDep, now: NowDep,
               key: KeyDep) -> HTMLResponse:
    row = _find(session, key, token)
    offer = session.get(WaitlistOffer, row.appointment_id) if row else None
    if row is None or offer is None:
        return _offer_page(session, None, "invalid")
    if offer.state == "open" and offer.expires_at > now:
        shown = "ask"
    else:
        shown = {"accepted": "used", "expired": "expired"}.get(
            offer.state, "expired" if offer.state == "open" else "gone")
    return _offer_page(session, row, shown)


@page_router.post("/notify/offer/{token}", response_class=HTMLResponse)
def accept_offer(token: Annotated[str, Field(max_length=300)], session: SessionDep,
                 now: NowDep, key: KeyDep) -> HTMLResponse:
    row = _find(session, key, token)
    if row is None:
        return _offer_page(session, None, "invalid")
    offer_id, notification_id = row.appointment_id, row.id
    outcome = offers.accept(session, offer_id, now)
    return _offer_page(session, session.get(Notification, notification_id), outcome)
