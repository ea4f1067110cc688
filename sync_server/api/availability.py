"""Availability: free slots for a type at a clinic, and the next available one.

Slots come from :mod:`scheduling.availability`, the same predicate the rules use,
so every slot offered here is one a booking would be accepted for right now.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator, BaseModel

from scheduling import limits
from scheduling.availability import SlotQuery, free_slots
from scheduling.errors import SchedulingInputError
from sync_server.api.deps import NowDep, SessionDep, require
from sync_server.api.fields import Day, IdQuery, Instant, text_check
from sync_server.services.accounts import Principal
from sync_server.services.booking import alternative_json
from sync_server.services.calendar import (
    Scope,
    clinic_zone,
    load_state,
    next_available_in_windows,
)
from sync_server.services.errors import InvalidInput, NotFound

router = APIRouter(prefix="/availability", tags=["availability"])

Viewer = Annotated[Principal, Depends(require("booking:view_calendar"))]
ProviderIds = Annotated[list[Annotated[str, AfterValidator(text_check(limits.ID))]] | None,
                       Query(max_length=50)]
MAX_DAYS = 31
NEXT_HORIZON_DAYS = 60


class Slots(BaseModel):
    slots: list[dict[str, Any]]


class NextSlot(BaseModel):
    slot: dict[str, Any] | None


def _zone(session: SessionDep, user: Principal, clinic_id: str) -> str:
    tz = clinic_zone(session, user.organization_id, clinic_id)
    if tz is None:
        raise NotFound("No clinic with this id.", code="not_found")
    return tz


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
) -> Slots:
    """Every free slot for the type over local days ``from``..``to`` (at most 31 days)."""
    if last_day < first_day or (last_day - first_day).days >= MAX_DAYS:
        raise InvalidInput(f"'to' must be on or after 'from' and cover at most {MAX_DAYS} days.")
    _zone(session, user, clinic_id)
    state = load_state(session, user.organization_id, Scope(clinic_id, first_day, last_day),
                       keep_config=True)
    try:
        query = SlotQuery(clinic_id, appointment_type_id, first_day, last_day,
                          tuple(provider_id) if provider_id else None)
        found = free_slots(state, query, now=now, limit=5000)
    except SchedulingInputError as error:
        raise InvalidInput(f"The request is not valid: {error}") from None
    return Slots(slots=[alternative_json(s) for s in found])


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
            after=after, provider_ids=tuple(provider_id) if provider_id else None,
            horizon_days=NEXT_HORIZON_DAYS)
    except SchedulingInputError as error:
        raise InvalidInput(f"The request is not valid: {error}") from None
    return NextSlot(slot=None if found is None else alternative_json(found))
