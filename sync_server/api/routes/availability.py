"""Availability: free slots for a type at a clinic, and the next available one.

Slots come from :mod:`scheduling.availability`, the same predicate the rules use,
so every slot offered here is one a booking would be accepted for right now.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AfterValidator, BaseModel, Field

from scheduling import limits
from scheduling.errors import SchedulingInputError
from sync_server.api.deps import NowDep, SessionDep, require
from sync_server.api.fields import Day, IdQuery, Instant, text_check
from sync_server.services import agenda, departments
from sync_server.services.accounts import Principal
from sync_server.services.booking import alternative_json
from sync_server.services.calendar import next_available_in_windows
from sync_server.services.errors import InvalidInput, NotFound

router = APIRouter(prefix="/availability", tags=["availability"])

Viewer = Annotated[Principal, Depends(require("booking:view_calendar"))]
ProviderIds = Annotated[list[Annotated[str, AfterValidator(text_check(limits.ID))]] | None,
                       Query(max_length=50)]
MAX_DAYS = 31
#: The most slots one answer carries (a clinic-wide month can hold many more).
MAX_SLOTS = 5000
NEXT_HORIZON_DAYS = 60


class Slots(BaseModel):
    slots: list[dict[str, Any]]
    truncated: bool = Field(False, description="More slots follow: ask again with `cursor`")
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` (same other parameters) for the next page")


def _slot_key(slot: Any) -> tuple[str, str, str]:
    return (slot.start.isoformat(), slot.provider_id, slot.room_id or "")


def _cursor(slot: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(_slot_key(slot)).encode()).decode()


def _after(cursor: str) -> tuple[str, str, str]:
    try:
        start, provider, room = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        datetime.fromisoformat(start)
        return str(start), str(provider), str(room)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error):
        raise InvalidInput("The cursor is not one this server gave out; start again "
                           "without it.", code="invalid_cursor") from None


class NextSlot(BaseModel):
    slot: dict[str, Any] | None


@router.get("", response_model=Slots)
def slots(
    user: Viewer,
    session: SessionDep,
    now: NowDep,
    clinic_id: IdQuery,
    appointment_type_id: IdQuery,
    first_day: Annotated[Day, Query(alias="from", description="First local day")],
    last_day: Annotated[Day, Query(alias="to", description="Last local day (inclusive)")],
    provider_id: ProviderIds = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SLOTS)] = MAX_SLOTS,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    slot_template_id: Annotated[IdQuery | None, Query(
        description="Only slots inside this named slot template")] = None,
) -> Response:
    """Every free slot for the type over local days ``from``..``to`` (at most 31 days),
    ordered by start, provider and room, ``limit`` at a time: when more follow,
    ``truncated`` is true and ``next_cursor`` continues after the last slot given."""
    if last_day < first_day or (last_day - first_day).days >= MAX_DAYS:
        raise InvalidInput(f"'to' must be on or after 'from' and cover at most {MAX_DAYS} days.")
    try:
        found = agenda.free_slots_between(
            session, user.organization_id, clinic_id, appointment_type_id, first_day,
            last_day, departments.visible_providers(session, user, provider_id, now), now)
    except SchedulingInputError as error:
        raise InvalidInput(f"The request is not valid: {error}") from None
    if found is None:
        raise NotFound("No clinic with this id.", code="not_found")
    if slot_template_id is not None:
        found = agenda.inside_template(session, user, slot_template_id, clinic_id,
                                       appointment_type_id, found, now)
    hidden = departments.hidden_resources(session, user)
    if hidden:  # a room of another department
        found = [s for s in found if s.room_id not in hidden]
    if cursor is not None:
        after = _after(cursor)
        found = [s for s in found if _slot_key(s) > after]
    page = found[:limit]
    truncated = len(found) > limit
    # Written here, not by the response model: validating and encoding thousands of
    # slot dicts again costs more than finding them (a clinic-wide month: ~2,000).
    written: dict[datetime, str] = {}

    def instant(moment: datetime) -> str:
        text = written.get(moment)
        if text is None:
            text = written[moment] = moment.isoformat()
        return text

    body = {"slots": [alternative_json(s, instant) for s in page], "truncated": truncated,
            "next_cursor": _cursor(page[-1]) if truncated and page else None}
    return Response(json.dumps(body, separators=(",", ":")).encode(),
                    media_type="application/json")


@router.get("/next", response_model=NextSlot)
def next_slot(
    user: Viewer,
    session: SessionDep,
    now: NowDep,
    clinic_id: IdQuery,
    appointment_type_id: IdQuery,
    after: Instant | None = None,
    provider_id: ProviderIds = None,
) -> NextSlot:
    """The earliest free slot at or after ``after`` (default now), up to 60 days ahead."""
    try:
        found = next_available_in_windows(
            session, user.organization_id, clinic_id, appointment_type_id, now=now,
            after=after,
            provider_ids=departments.visible_providers(session, user, provider_id, now),
            horizon_days=NEXT_HORIZON_DAYS)
    except SchedulingInputError as error:
        raise InvalidInput(f"The request is not valid: {error}") from None
    return NextSlot(slot=None if found is None else alternative_json(found))


class ClinicWithRoom(BaseModel):
    clinic_id: str
    free_slots: int = Field(description="Free slots for the type on that day")
    first: dict[str, Any] = Field(description="The earliest free slot")


class AvailableClinics(BaseModel):
    clinics: list[ClinicWithRoom]


@router.get("/clinics", response_model=AvailableClinics)
def available_clinics(
    user: Viewer,
    session: SessionDep,
    now: NowDep,
    appointment_type_id: IdQuery,
    day: Annotated[Day, Query(description="The local day at each clinic")],
    provider_id: ProviderIds = None,
) -> AvailableClinics:
    """Which clinics have room for the type on ``day`` (``get_available_clinics``):
    those with at least one free slot, earliest free slot first."""
    try:
        found = agenda.available_clinics(session, user.organization_id, appointment_type_id,
                                         day, now, tuple(provider_id) if provider_id else None)
    except SchedulingInputError as error:
        raise InvalidInput(f"The request is not valid: {error}") from None
    return AvailableClinics(clinics=[
        ClinicWithRoom(clinic_id=c.clinic_id, free_slots=c.free_slots,
                       first=alternative_json(c.first)) for c in found])
