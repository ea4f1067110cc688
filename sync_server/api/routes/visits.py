"""Visits: several appointments of one patient booked, moved and cancelled together, all
or nothing (:mod:`sync_server.services.booking.visits`). A refused part refuses the
whole visit (409, the part's refusal with ``params.part`` its index); nothing is kept."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse
from pydantic import Field

from scheduling import intents
from scheduling.commands import BookAppointment
from scheduling.wire import to_wire
from sync_server.api.deps import NowDep, SessionDep, require, sqlite_write_turn
from sync_server.api.fields import Id, IdPath, Instant, Reason
from sync_server.api.routes.appointments import (
    REFUSAL,
    AppointmentList,
    BookBody,
    CancelCategory,
    ChangeOut,
    _answer,
    _Body,
    _caller,
    _decode,
)
from sync_server.services import booking
from sync_server.services.accounts import Principal
from sync_server.services.booking.visits import MAX_PARTS
from sync_server.services.calendar import appointment_record
from sync_server.services.errors import NotFound

router = APIRouter(prefix="/visits", tags=["visits"], dependencies=[Depends(sqlite_write_turn)])

Viewer = Annotated[Principal, Depends(require("booking:view_calendar"))]
Creator = Annotated[Principal, Depends(require("booking:create_appointment"))]
Modifier = Annotated[Principal, Depends(require("booking:modify_appointment"))]
Canceller = Annotated[Principal, Depends(require("booking:cancel_appointment"))]


class VisitBody(_Body):
    visit_id: Id | None = Field(None, description="Generated when left out")
    appointments: list[BookBody] = Field(..., min_length=1, max_length=MAX_PARTS)


class VisitMoveBody(_Body):
    start: Instant = Field(..., description="The new start of the visit's earliest part")
    override_reason: Reason | None = None


class VisitCancelBody(_Body):
    reason: Reason
    category: CancelCategory | None = None
    override_reason: Reason | None = None


@router.post("", response_model=ChangeOut, status_code=status.HTTP_201_CREATED,
             responses=REFUSAL)
def book_visit(body: VisitBody, user: Creator, session: SessionDep,
               now: NowDep) -> ChangeOut | JSONResponse:
    """Book every appointment of a visit (one patient, one clinic), or none."""
    visit_id = body.visit_id or str(uuid.uuid4())
    actor = _caller(user).actor
    parts: list[BookAppointment] = []
    for part in body.appointments:
        args = part.intent_args(appointment_id=part.appointment_id or str(uuid.uuid4()),
                                visit_id=visit_id)
        decoded = _decode(intents.APPOINTMENT_BOOK, args, actor)
        assert isinstance(decoded.request, BookAppointment)
        parts.append(decoded.request)
    return _answer(session, booking.book_visit(session, _caller(user), visit_id, parts, now))


@router.get("/{visit_id}", response_model=AppointmentList)
def get_visit(visit_id: IdPath, user: Viewer, session: SessionDep) -> AppointmentList:
    """The visit's appointments, earliest first (cancelled ones included)."""
    rows = booking.visit_parts(session, user.organization_id, visit_id)
    if not rows:
        raise NotFound("No visit with this id.", code="not_found")
    return AppointmentList(appointments=[to_wire(appointment_record(r)) for r in rows])


@router.post("/{visit_id}/move", response_model=ChangeOut, responses=REFUSAL)
def move_visit(visit_id: IdPath, body: VisitMoveBody, user: Modifier, session: SessionDep,
               now: NowDep) -> ChangeOut | JSONResponse:
    """Move every part still to come by the same shift, or none."""
    return _answer(session, booking.move_visit(session, _caller(user), visit_id, body.start,
                                               now, override_reason=body.override_reason))


@router.post("/{visit_id}/cancel", response_model=ChangeOut, responses=REFUSAL)
def cancel_visit(visit_id: IdPath, body: VisitCancelBody, user: Canceller,
                 session: SessionDep, now: NowDep) -> ChangeOut | JSONResponse:
    """Cancel every part that still occupies time, or none."""
    return _answer(session, booking.cancel_visit(
        session, _caller(user), visit_id, body.reason, now, category=body.category,
        override_reason=body.override_reason))
