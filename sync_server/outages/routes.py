"""HTTP routes of outage re-routing (docs/user-guide.md, "A resource out of service").

``POST /outages/incidents`` marks a resource out of service for a period (the outage
blocks new bookings) and answers the affected appointments with their proposals;
``GET`` plans again; ``apply`` moves one appointment to a chosen proposal,
``apply-all`` every one to its first (those left without go to the exceptions panel).
The desk calls as itself naming the signed-in user, like the notifications API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from scheduling.commands import Actor, Permission
from sync_server.api.deps import NowDep, SessionDep, sqlite_write_turn
from sync_server.api.fields import AppointmentId, Id, IdPath, Instant, Reason
from sync_server.notifications.routes import needs
from sync_server.outages import service
from sync_server.services import accounts
from sync_server.services.booking import Caller
from sync_server.services.errors import InvalidInput, NotFound

router = APIRouter(tags=["outages"], dependencies=[Depends(sqlite_write_turn)])
Configurer = Annotated[accounts.Principal, Depends(needs("admin:config"))]
Mover = Annotated[accounts.Principal, Depends(needs(Permission.MODIFY.value))]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentBody(Body):
    resource_id: Id
    start: Instant
    end: Instant
    reason: Reason = ""


class PlacementBody(Body):
    start: Instant
    end: Instant
    provider_id: Id
    room_id: Id | None = None
    kind: Literal["other_room", "other_equipment", "other_provider", "other_time",
                  "chosen"] = "chosen"


class ApplyBody(Body):
    appointment_id: AppointmentId
    placement: PlacementBody


def _caller(user: accounts.Principal) -> Caller:
    return Caller(user.organization_id, Actor(user.user_id, None, user.permissions), user.actor)


def _refused(error: service.OutageError) -> Exception:
    if error.code.startswith("unknown_"):
        return NotFound(error.message, code=error.code)
    return InvalidInput(error.message, code=error.code)


def _incident(session: SessionDep, user: accounts.Principal, incident_id: str) -> Any:
    try:
        return service.incident_of(session, user.organization_id, incident_id)
    except service.OutageError as error:
        raise _refused(error) from None


def _answer(session: SessionDep, user: accounts.Principal, incident: Any,
            now: NowDep) -> dict[str, Any]:
    plan = service.plan(session, _caller(user), incident, now)
    return {"id": incident.id, "outage_id": incident.outage_id,
            "resource_id": incident.resource_id,
            "start": service.instant(incident.start_at), "end": service.instant(incident.end_at),
            "affected": [item.json() for item in plan],
            "decisions": service.decisions(session, incident)}


@router.post("/outages/incidents", status_code=201)
def start_incident(body: IncidentBody, user: Configurer, session: SessionDep,
                   now: NowDep) -> dict[str, Any]:
    """Mark the resource out of service; answer the appointments it hits and their
    proposals (placements the rules accept)."""
    if body.end <= body.start:
        raise InvalidInput("The outage must end after it starts.")
    incident = service.start_incident(session, user, body.resource_id, body.start, body.end,
                                      body.reason, now)
    return _answer(session, user, incident, now)


@router.get("/outages/incidents/{incident_id}")
def read_incident(incident_id: IdPath, user: Mover, session: SessionDep,
                  now: NowDep) -> dict[str, Any]:
    return _answer(session, user, _incident(session, user, incident_id), now)


@router.post("/outages/incidents/{incident_id}/apply")
def apply_one(incident_id: IdPath, body: ApplyBody, user: Mover, session: SessionDep,
              now: NowDep) -> dict[str, Any]:
    """Move one appointment to the chosen placement through the normal move path."""
    chosen = body.placement
    incident = _incident(session, user, incident_id)
    try:
        outcome = service.apply(session, _caller(user), incident, body.appointment_id,
                                service.Proposal(chosen.start, chosen.end, chosen.provider_id,
                                                 chosen.room_id, chosen.kind), now)
    except service.OutageError as error:
        raise _refused(error) from None
    return outcome.json()


@router.post("/outages/incidents/{incident_id}/apply-all")
def apply_all(incident_id: IdPath, user: Mover, session: SessionDep,
              now: NowDep) -> dict[str, Any]:
    incident = _incident(session, user, incident_id)
    outcomes = service.apply_all(session, _caller(user), incident, now)
    return {"outcomes": [o.json() for o in outcomes]}
