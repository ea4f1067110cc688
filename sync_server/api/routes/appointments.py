"""Booking API: appointments and series. Thin: every write is a booking service call.

Request bodies are read into the very intent arguments a desk pushes and
decoded by :func:`scheduling.intents.decode`, so REST and sync accept exactly
the same requests. A refusal answers 409 with
``{"error": {"code", "message", "params", "alternatives"}}`` (message rendered in
English in the clinic's zone, without patient data).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from scheduling import intents
from scheduling.cancellation import CANCEL_CATEGORIES
from scheduling.commands import Actor, BookAppointment, Command, Refused
from scheduling.errors import SchedulingInputError
from scheduling.i18n import render
from scheduling.model import AppointmentSource, AppointmentStatus, Series
from scheduling.wire import to_wire
from sync_server.api.deps import Gate, NowDep, SessionDep, gate, require, sqlite_write_turn
from sync_server.api.errors import error_response
from sync_server.api.fields import (
    AppointmentId,
    AppointmentIdPath,
    EncounterRef,
    Id,
    IdPath,
    IdQuery,
    Instant,
    Note,
    Reason,
    RRule,
    WallTime,
)
from sync_server.core.translations import translations
from sync_server.services import access, agenda, booking, bookkeeping, departments
from sync_server.services.accounts import Principal
from sync_server.services.booking import BookingResult, Caller
from sync_server.services.errors import InvalidInput
from sync_server.services.organizations import ENCOUNTER_PERMISSION

router = APIRouter(tags=["appointments"], dependencies=[Depends(sqlite_write_turn)])

Viewer = Annotated[Principal, Depends(require("booking:view_calendar"))]
Creator = Annotated[Principal, Depends(require("booking:create_appointment"))]
Modifier = Annotated[Principal, Depends(require("booking:modify_appointment"))]
Canceller = Annotated[Principal, Depends(require("booking:cancel_appointment"))]
Undoer = Annotated[Principal, Depends(require("booking:undo"))]
Encounters = Annotated[Principal, Depends(require(ENCOUNTER_PERMISSION))]
# The booking writes let their caller in on their own thread (one hop per request, see
# :class:`sync_server.api.deps.Gate`); the same permissions as above.
CreatorGate = Annotated[Gate, Depends(gate("booking:create_appointment"))]
ModifierGate = Annotated[Gate, Depends(gate("booking:modify_appointment"))]
CancellerGate = Annotated[Gate, Depends(gate("booking:cancel_appointment"))]
UndoerGate = Annotated[Gate, Depends(gate("booking:undo"))]

MAX_LIST_DAYS = 62


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def intent_args(self, **extra: Any) -> dict[str, Any]:
        args: dict[str, Any] = self.model_dump(mode="json", exclude_unset=True)
        args.update(extra)
        return args


class BookBody(_Body):
    appointment_id: AppointmentId | None = Field(
        None, description="Optional; generated when left out")
    clinic_id: Id
    patient_id: Id
    appointment_type_id: Id
    provider_id: Id
    start: Instant
    end: Instant | None = Field(None, description="Left out: the type's default length")
    room_id: Id | None = Field(None, description="Left out: any suitable free room")
    equipment_ids: Annotated[list[Id], Field(max_length=100)] | None = None
    source: AppointmentSource = AppointmentSource.STAFF
    notes: Note = ""
    patient_notes: Note = ""
    override_reason: Reason | None = None
    slot_template_id: Id | None = Field(
        None, description="Book into this named slot template (recorded on the appointment)")


class MoveBody(_Body):
    start: Instant
    provider_id: Id | None = None
    room_id: Id | None = None
    override_reason: Reason | None = None
    base_version: int | None = Field(None, ge=0, description="Refused as stale when changed")


class ResizeBody(_Body):
    end: Instant
    override_reason: Reason | None = None
    base_version: int | None = Field(None, ge=0)


CancelCategory = Literal[CANCEL_CATEGORIES]  # type: ignore[valid-type]


class CancelBody(_Body):
    reason: Reason
    override_reason: Reason | None = None
    category: CancelCategory | None = Field(None, description="Why, as one of a fixed list")
    base_version: int | None = Field(None, ge=0)


class DetailsBody(_Body):
    appointment_type_id: Id | None = Field(None, description="Left out: the type is kept")
    notes: Note | None = Field(None, description="Left out: the staff notes are kept")
    patient_notes: Note | None = None
    end: Instant | None = Field(None, description="Left out with a new type: its default length")
    override_reason: Reason | None = None
    base_version: int | None = Field(None, ge=0)


class DuplicateBody(_Body):
    start: Instant
    appointment_id: AppointmentId | None = Field(
        None, description="The copy's id; generated when left out")
    provider_id: Id | None = Field(None, description="Left out: the same provider")
    room_id: Id | None = Field(None, description="Left out: any suitable free room")
    override_reason: Reason | None = None


class EncounterBody(_Body):
    encounter_ref: EncounterRef | None = Field(
        ..., description="The EHR's encounter reference; null clears it")


class StatusBody(_Body):
    status: AppointmentStatus
    reason: Reason = ""
    base_version: int | None = Field(None, ge=0)


class UndoBody(_Body):
    base_version: int | None = Field(None, ge=0)


class SeriesBody(_Body):
    series_id: Id | None = None
    clinic_id: Id
    patient_id: Id
    appointment_type_id: Id
    provider_id: Id
    room_id: Id | None = None
    equipment_ids: Annotated[list[Id], Field(max_length=100)] | None = None
    source: AppointmentSource = AppointmentSource.STAFF
    notes: Note = ""
    patient_notes: Note = ""
    override_reason: Reason | None = None
    duration_seconds: int | None = Field(None, ge=60, le=24 * 3600)
    rrule: RRule
    first_local: WallTime
    exdates: Annotated[list[WallTime], Field(max_length=1000)] = Field(default_factory=list)


class SeriesEditBody(_Body):
    appointment_id: AppointmentId
    scope: Literal["this", "following", "all"]
    action: Literal["move", "cancel"]
    start: Instant | None = None
    provider_id: Id | None = None
    room_id: Id | None = None
    reason: Reason = ""
    override_reason: Reason | None = None
    new_series_id: Id | None = None


class ChangeOut(BaseModel):
    appointments: list[dict[str, Any]]
    series: list[dict[str, Any]] = Field(default_factory=list)
    notices: list[str] = Field(default_factory=list)
    overridden: list[str] = Field(default_factory=list)
    refused_occurrences: list[dict[str, Any]] = Field(default_factory=list)
    version: int | None = None


class AppointmentList(BaseModel):
    appointments: list[dict[str, Any]]


REFUSAL: dict[int | str, dict[str, Any]] = {
    409: {"description": "Refused by the booking rules (code, message, alternatives)"},
}


# --------------------------------------------------------------------------- helpers


def _caller(user: Principal) -> Caller:
    return Caller(user.organization_id, Actor(user.user_id, None, departments.granted(user)),
                  user.actor)


def _decode(name: str, args: dict[str, Any], actor: Actor) -> intents.DecodedIntent:
    try:
        return intents.decode(name, args, actor)
    except SchedulingInputError as error:
        raise InvalidInput(f"The request is not valid: {error}") from None


def refusal_response(result: BookingResult) -> JSONResponse:
    refused = result.refused
    assert refused is not None
    clinic = result.clinic
    message = render(refused.message_id, refused.params, catalogue=translations("en"),
                     locale=clinic.locale if clinic else "en_US",
                     tz=clinic.time_zone if clinic else "UTC", names=result.names)
    return error_response(
        409, refused.code.value, message, params=booking.json_params(refused.params),
        alternatives=[booking.alternative_json(a) for a in refused.alternatives],
    )


def _answer(session: Session, result: BookingResult) -> ChangeOut | JSONResponse:
    version = bookkeeping.finish(session, result.version)
    session.commit()
    if result.refused is not None:
        return refusal_response(result)
    refused = [
        {"original_start": r.original_start.isoformat(), "code": r.outcome.code.value,
         "params": booking.json_params(r.outcome.params),
         "alternatives": [booking.alternative_json(a) for a in r.outcome.alternatives]}
        for r in result.occurrences if isinstance(r.outcome, Refused)
    ]
    return ChangeOut(
        appointments=[to_wire(a) for a in result.appointments],
        series=[to_wire(r) for r in result.records if isinstance(r, Series)],
        notices=[c.value for c in result.notices],
        overridden=[c.value for c in result.overridden],
        refused_occurrences=refused, version=version,
    )


def _change(user: Principal, session: Session, now: datetime, *, appointment_id: str,
            name: str, body: _Body) -> ChangeOut | JSONResponse:
    agenda.own_appointment(session, user, appointment_id, now)
    args = body.intent_args(appointment_id=appointment_id)
    departments.check_resources(session, user, departments.VIEW,
                                (args.get("provider_id"), args.get("room_id")), now)
    base_version = args.pop("base_version", None)
    decoded = _decode(name, args, _caller(user).actor)
    command = decoded.request
    assert isinstance(command, Command) and not isinstance(command, BookAppointment)
    bookkeeping.defer(session)
    result = booking.change(session, _caller(user), command, now, base_version=base_version)
    return _answer(session, result)


# --------------------------------------------------------------------------- appointments


@router.post("/appointments", response_model=ChangeOut, status_code=status.HTTP_201_CREATED,
             responses=REFUSAL)
async def book_appointment(body: BookBody, entry: CreatorGate, session: SessionDep,
                           now: NowDep) -> ChangeOut | JSONResponse:
    """Book a patient; the rules pick a free room when ``room_id`` is left out."""
    return await entry.run(partial(_book, body=body), session, now)


def _book(user: Principal, session: Session, now: datetime, *, body: BookBody
          ) -> ChangeOut | JSONResponse:
    args = body.intent_args(appointment_id=body.appointment_id or str(uuid.uuid4()))
    departments.check_resources(session, user, departments.VIEW,
                                (body.provider_id, body.room_id, *(body.equipment_ids or ())),
                                now)
    decoded = _decode(intents.APPOINTMENT_BOOK, args, _caller(user).actor)
    assert isinstance(decoded.request, BookAppointment)
    bookkeeping.defer(session)
    return _answer(session, booking.book(session, _caller(user), decoded.request, now,
                                         fresh_id=body.appointment_id is None))


@router.post("/appointments/{appointment_id}/details", response_model=ChangeOut,
             responses=REFUSAL)
def change_details(appointment_id: AppointmentIdPath, body: DetailsBody, user: Modifier,
                   session: SessionDep, now: NowDep) -> ChangeOut | JSONResponse:
    """Change the type and/or notes after booking; a new type is judged again at the same
    start (length, capacity, online-bookable, rooms and equipment)."""
    agenda.own_appointment(session, user, appointment_id, now)
    result = booking.change_type_and_notes(
        session, _caller(user), appointment_id, now,
        appointment_type_id=body.appointment_type_id, notes=body.notes,
        patient_notes=body.patient_notes, end=body.end, override_reason=body.override_reason,
        base_version=body.base_version)
    return _answer(session, result)


@router.post("/appointments/{appointment_id}/duplicate", response_model=ChangeOut,
             status_code=status.HTTP_201_CREATED, responses=REFUSAL)
def duplicate_appointment(appointment_id: AppointmentIdPath, body: DuplicateBody,
                          user: Creator, session: SessionDep,
                          now: NowDep) -> ChangeOut | JSONResponse:
    """Book a copy (patient, type, length, notes) at another time, judged like a booking."""
    source = agenda.own_appointment(session, user, appointment_id, now)
    command = BookAppointment(
        _caller(user).actor, body.appointment_id or str(uuid.uuid4()), source.clinic_id,
        source.patient_id, source.appointment_type_id, body.provider_id or source.provider_id,
        body.start, body.start + (source.end - source.start), body.room_id,
        source=source.source, notes=source.notes, patient_notes=source.patient_notes,
        override_reason=body.override_reason)
    bookkeeping.defer(session)
    return _answer(session, booking.book(session, _caller(user), command, now))


@router.put("/appointments/{appointment_id}/encounter", response_model=dict[str, Any])
def set_encounter(appointment_id: AppointmentIdPath, body: EncounterBody, user: Encounters,
                  session: SessionDep, now: NowDep) -> dict[str, Any]:
    """Set (or clear) the EHR encounter reference (needs ``ehr:encounter``); the
    appointment's status is not changed (see docs/domain.md)."""
    record = agenda.set_encounter(session, user, appointment_id, body.encounter_ref, now)
    session.commit()
    return to_wire(record)


@router.post("/appointments/{appointment_id}/move", response_model=ChangeOut,
             responses=REFUSAL)
async def move_appointment(appointment_id: AppointmentIdPath, body: MoveBody,
                          entry: ModifierGate, session: SessionDep,
                          now: NowDep) -> ChangeOut | JSONResponse:
    """Move to a new start (length kept), optionally to another provider or room."""
    return await entry.run(partial(_change, appointment_id=appointment_id,
                                   name=intents.APPOINTMENT_MOVE, body=body), session, now)


@router.post("/appointments/{appointment_id}/resize", response_model=ChangeOut,
             responses=REFUSAL)
async def resize_appointment(appointment_id: AppointmentIdPath, body: ResizeBody,
                            entry: ModifierGate, session: SessionDep,
                            now: NowDep) -> ChangeOut | JSONResponse:
    """Change the end (the start stays)."""
    return await entry.run(partial(_change, appointment_id=appointment_id,
                                   name=intents.APPOINTMENT_RESIZE, body=body), session, now)


@router.post("/appointments/{appointment_id}/cancel", response_model=ChangeOut,
             responses=REFUSAL)
async def cancel_appointment(appointment_id: AppointmentIdPath, body: CancelBody,
                            entry: CancellerGate, session: SessionDep,
                            now: NowDep) -> ChangeOut | JSONResponse:
    """Cancel with a reason (a late cancellation needs an override)."""
    return await entry.run(partial(_change, appointment_id=appointment_id,
                                   name=intents.APPOINTMENT_CANCEL, body=body), session, now)


@router.post("/appointments/{appointment_id}/status", response_model=ChangeOut,
             responses=REFUSAL)
async def change_status(appointment_id: AppointmentIdPath, body: StatusBody,
                       entry: ModifierGate, session: SessionDep,
                       now: NowDep) -> ChangeOut | JSONResponse:
    """Step the status machine (confirm, check in, start, complete, no-show …)."""
    return await entry.run(partial(_change, appointment_id=appointment_id,
                                   name=intents.APPOINTMENT_CHANGE_STATUS, body=body), session, now)


@router.post("/appointments/{appointment_id}/undo-status", response_model=ChangeOut,
             responses=REFUSAL)
async def undo_status(appointment_id: AppointmentIdPath, body: UndoBody,
                     entry: UndoerGate, session: SessionDep,
                     now: NowDep) -> ChangeOut | JSONResponse:
    """Undo the last status step within the undo window."""
    return await entry.run(partial(_change, appointment_id=appointment_id,
                                   name=intents.APPOINTMENT_UNDO_STATUS, body=body), session, now)


@router.get("/appointments", response_model=AppointmentList)
def list_appointments(
    user: Viewer,
    session: SessionDep,
    start: Annotated[Instant, Query(alias="from")],
    end: Annotated[Instant, Query(alias="to")],
    provider_id: IdQuery | None = None,
    clinic_id: IdQuery | None = None,
) -> AppointmentList:
    """Appointments overlapping ``[from, to)`` (at most 62 days), cancelled ones included."""
    if end <= start or end - start > timedelta(days=MAX_LIST_DAYS):
        raise InvalidInput(f"'to' must be after 'from' and at most {MAX_LIST_DAYS} days later.")
    found = agenda.appointments_between(session, user.organization_id, start, end,
                                        provider_id=provider_id, clinic_id=clinic_id,
                                        hidden=departments.hidden_resources(session, user))
    return AppointmentList(appointments=[to_wire(a) for a in found])


@router.get("/appointments/upcoming", response_model=AppointmentList)
def upcoming_appointments(
    user: Viewer, session: SessionDep, now: NowDep, patient_id: IdQuery,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> AppointmentList:
    """A patient's appointments still to come (not cancelled), soonest first."""
    found = agenda.upcoming_for_patient(session, user, patient_id, now, limit)
    return AppointmentList(appointments=[to_wire(a) for a in found])


@router.get("/appointments/{appointment_id}", response_model=dict[str, Any])
def get_appointment(appointment_id: AppointmentIdPath, user: Viewer, session: SessionDep,
                    now: NowDep) -> dict[str, Any]:
    """One appointment in its wire form."""
    return to_wire(agenda.own_appointment(session, user, appointment_id, now))


# --------------------------------------------------------------------------- series


@router.post("/series", response_model=ChangeOut, status_code=status.HTTP_201_CREATED,
             responses=REFUSAL)
def book_series(body: SeriesBody, user: Creator, session: SessionDep,
                now: NowDep) -> ChangeOut | JSONResponse:
    """Book a recurring series; occurrences the rules refuse are listed and left out."""
    args = body.intent_args(series_id=body.series_id or str(uuid.uuid4()))
    decoded = _decode(intents.SERIES_BOOK, args, _caller(user).actor)
    assert isinstance(decoded.request, intents.SeriesBooking)
    try:
        result = booking.book_recurring(session, _caller(user), decoded.request, now)
    except SchedulingInputError as error:
        raise InvalidInput(f"The request is not valid: {error}") from None
    return _answer(session, result)


@router.post("/series/{series_id}/edit", response_model=ChangeOut, responses=REFUSAL)
def edit_series(series_id: IdPath, body: SeriesEditBody, user: Modifier, session: SessionDep,
                now: NowDep) -> ChangeOut | JSONResponse:
    """Move or cancel this / this and following / all occurrences."""
    agenda.check_own_series(session, user, series_id, now)
    args = body.intent_args(series_id=series_id)
    if body.action == "move" and body.scope == "following" and not body.new_series_id:
        args["new_series_id"] = str(uuid.uuid4())
    decoded = _decode(intents.SERIES_EDIT, args, _caller(user).actor)
    assert isinstance(decoded.request, intents.SeriesEdit)
    if body.action == "cancel" and not user.can("booking:cancel_appointment"):
        raise access.refuse(session, user.organization_id, user.actor, now,
                            permission="booking:cancel_appointment")
    try:
        result = booking.edit_recurring(session, _caller(user), decoded.request, now)
    except SchedulingInputError as error:
        raise InvalidInput(f"The request is not valid: {error}") from None
    return _answer(session, result)
