"""HTTP routes of the session log and the no-join settings (docs/telemedicine.md).

* ``POST /appointments/{id}/telemedicine/join`` / ``leave``: the provider (signed in on a
  desk) joins or leaves the video visit; the answer carries the video link (``null``
  while the visit has none) and the log. Another organization's id is a 404.
* ``GET /appointments/{id}/telemedicine/sessions``: the visit's log (the desk's "Session
  log" dialog) and its no-join case, if any.
* ``GET /telemedicine/statistics``: no-join rates per provider and overall.
* ``GET``/``PUT /telemedicine/settings``: the minutes after the start before a provider
  who has not joined counts as not joining.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from sync_server.api.deps import NowDep, SessionDep, sqlite_write_turn
from sync_server.api.fields import AppointmentIdPath
from sync_server.notifications.routes import needs
from sync_server.services import accounts
from sync_server.services.errors import InvalidInput, NotFound, ServiceError
from sync_server.telemedicine import no_join, rooms, sessions
from sync_server.telemedicine.session_tables import NoJoinSettings

router = APIRouter(tags=["telemedicine"], dependencies=[Depends(sqlite_write_turn)])
Viewer = Annotated[accounts.Principal, Depends(needs("booking:view_calendar"))]
Admin = Annotated[accounts.Principal, Depends(needs("admin:config"))]
#: The longest span the statistics cover.
LONGEST = timedelta(days=3660)


class Conflict(ServiceError):
    status = 409
    code = "conflict"


def _refused(error: sessions.SessionError) -> Exception:
    if error.code == "unknown_appointment":
        return NotFound(error.message, code=error.code)
    return Conflict(error.message, code=error.code)


def _visit(session: SessionDep, user: accounts.Principal, appointment_id: str) -> Any:
    try:
        return sessions.visit_of(session, user.organization_id, appointment_id)
    except sessions.SessionError as error:
        raise _refused(error) from None


def _log(session: SessionDep, org: str, appointment_id: str) -> dict[str, Any]:
    case = no_join.case_of(session, appointment_id, org)
    return {"appointment_id": appointment_id,
            "events": sessions.events(session, org, appointment_id),
            "video_url": rooms.video_url(session, org, appointment_id),
            "no_join": None if case is None else {
                "state": case.state, "detected_at": sessions.instant(case.detected_at),
                "provider_id": case.provider_id,
                "backup_provider_id": case.backup_provider_id, "slots": case.slots}}


def _provider_event(action: str, appointment_id: str, user: accounts.Principal,
                    session: SessionDep, now: datetime) -> dict[str, Any]:
    visit = _visit(session, user, appointment_id)
    try:
        sessions.record(session, visit, "provider", action, now, user_id=user.user_id)
    except sessions.SessionError as error:
        session.rollback()
        raise _refused(error) from None
    session.commit()
    return _log(session, visit.appointment.organization_id, visit.appointment.id)


@router.post("/appointments/{appointment_id}/telemedicine/join")
def provider_joins(appointment_id: AppointmentIdPath, user: Viewer, session: SessionDep,
                   now: NowDep) -> dict[str, Any]:
    """Record that the provider joined (once while they are in); the link and the log."""
    return _provider_event("join", appointment_id, user, session, now)


@router.post("/appointments/{appointment_id}/telemedicine/leave")
def provider_leaves(appointment_id: AppointmentIdPath, user: Viewer, session: SessionDep,
                    now: NowDep) -> dict[str, Any]:
    return _provider_event("leave", appointment_id, user, session, now)


@router.get("/appointments/{appointment_id}/telemedicine/sessions")
def session_log(appointment_id: AppointmentIdPath, user: Viewer,
                session: SessionDep) -> dict[str, Any]:
    visit = _visit(session, user, appointment_id)
    answer = _log(session, visit.appointment.organization_id, visit.appointment.id)
    session.rollback()
    return answer


@router.get("/telemedicine/statistics")
def statistics(user: Viewer, session: SessionDep, now: NowDep,
               since: Annotated[datetime, Query()],
               until: Annotated[datetime, Query()]) -> dict[str, Any]:
    """No-join rates of the video visits that started in [since, until)."""
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidInput("Give since and until with a UTC offset.")
    if until <= since or until - since > LONGEST:
        raise InvalidInput("The range must run forwards and span at most ten years.")
    answer = sessions.statistics(session, user.organization_id, since, until, now)
    session.rollback()
    return answer


class SettingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    no_join_minutes: Annotated[int, Field(ge=1, le=60)]


@router.get("/telemedicine/no-join-settings")
def get_settings(user: Admin, session: SessionDep) -> dict[str, int]:
    minutes = no_join.no_join_minutes(session, user.organization_id)
    session.rollback()
    return {"no_join_minutes": minutes}


@router.put("/telemedicine/no-join-settings")
def put_settings(body: SettingsBody, user: Admin, session: SessionDep) -> dict[str, int]:
    row = session.get(NoJoinSettings, user.organization_id)
    if row is None:
        row = NoJoinSettings(organization_id=user.organization_id)
        session.add(row)
    row.no_join_minutes = body.no_join_minutes
    session.commit()
    return {"no_join_minutes": body.no_join_minutes}
