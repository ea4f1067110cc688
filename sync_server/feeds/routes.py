"""HTTP routes of the calendar feeds.

* ``GET``/``HEAD /feeds/{token}.ics``: the feed itself, for calendar apps (no other
  authentication than the token; any token that does not open a live feed of
  that organization answers the same bare 404).
* ``/api/v1/feeds`` (``admin:config``): create (the token is in that one answer),
  list, revoke, and the organization's feed policy. An enrolled desk may call them
  with its device token and ``X-ClinicDesk-User`` naming the signed-in user,
  whose permissions the server checks.
"""

from __future__ import annotations

import threading
from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from scheduling import limits
from sync_server.api.deps import CurrentUser, NowDep, SessionDep
from sync_server.feeds import busy, service, serving
from sync_server.services import access, accounts
from sync_server.services.errors import InvalidInput, NotFound

feed_router = APIRouter(tags=["feeds"])
router = APIRouter(prefix="/feeds", tags=["feeds"])


_CREATING = threading.Lock()


def feed_server(request: Request) -> serving.FeedServer:
    """The app's one :class:`~sync_server.feeds.serving.FeedServer` (made on first use)."""
    with _CREATING:
        server: serving.FeedServer | None = getattr(request.app.state, "feed_server", None)
        if server is None:
            server = request.app.state.feed_server = serving.FeedServer()
    return server


@feed_router.get(
    "/feeds/{token}.ics", response_class=Response,
    summary="A provider's or room's calendar feed (iCalendar)",
    responses={
        200: {"description": "The feed", "content": {"text/calendar": {}}},
        304: {"description": "Not modified (If-None-Match matched the feed's ETag)"},
        404: {"description": "Unknown, revoked, expired or another organization's feed "
                             "(no detail)", "content": {"text/plain": {}}},
    })
def get_feed(token: str, request: Request, session: SessionDep, now: NowDep,
             server: Annotated[serving.FeedServer, Depends(feed_server)],
             if_none_match: Annotated[str | None, Header(max_length=1024)] = None
             ) -> Response:
    address = request.client.host if request.client else ""
    answer = server.answer(session, token, now, if_none_match=if_none_match,
                           method=request.method, client_address=address)
    if answer.status == 200:
        return Response(answer.body, status_code=200, headers=answer.headers,
                        media_type=service.MEDIA_TYPE)
    return Response(answer.body, status_code=answer.status, headers=answer.headers,
                    media_type="text/plain" if answer.status == 404 else None)


feed_router.add_api_route("/feeds/{token}.ics", get_feed, methods=["HEAD"],
                          response_class=Response, include_in_schema=False)


# --------------------------------------------------------------------------- management


def feed_manager(user: CurrentUser, session: SessionDep, now: NowDep) -> accounts.Principal:
    """An administrator (``admin:config``), signed in directly or through an enrolled desk."""
    if not user.can("admin:config"):
        raise access.refuse(session, user.organization_id, user.actor, now,
                            permission="admin:config",
                            message="Your role does not allow managing calendar feeds (needs "
                                    "the 'admin:config' permission).")
    return user


Manager = Annotated[accounts.Principal, Depends(feed_manager)]


class FeedCreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resource_id: Annotated[str, Field(min_length=1, max_length=36)]
    privacy: Literal["busy", "initials", "full"] = "busy"
    label: Annotated[str, Field(max_length=limits.NAME)] = ""
    language: Literal["en", "es"] = "en"
    expires_at: AwareDatetime | None = None


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allow_full: bool = False
    past_days: Annotated[int, Field(ge=0, le=366)] = 30
    ahead_days: Annotated[int, Field(ge=1, le=3 * 366)] = 365
    cancelled_visible_days: Annotated[int, Field(ge=0, le=366)] = 14
    refresh_minutes: Annotated[int, Field(ge=5, le=24 * 60)] = 15


class BusyCalendarBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider_id: Annotated[str, Field(min_length=1, max_length=36)]
    clinic_id: Annotated[str, Field(min_length=1, max_length=36)]
    url: Annotated[str, Field(min_length=8, max_length=limits.URL)]


def _failed(error: service.FeedError | busy.BusyCalendarError) -> Exception:
    if error.code.startswith("unknown_"):
        return NotFound(error.message, code=error.code)
    return InvalidInput(error.message, code=error.code)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_feed(body: FeedCreateBody, user: Manager, session: SessionDep, now: NowDep,
                request: Request) -> dict[str, Any]:
    """Create a feed; the answer is the only time its token (and URL) is shown."""
    try:
        created = service.create_feed(
            session, user.organization_id, body.resource_id, now, privacy=body.privacy,
            label=body.label, language=body.language,
            expires_at=body.expires_at.astimezone(UTC) if body.expires_at else None,
            created_by_user_id=user.user_id)
    except service.FeedError as error:
        raise _failed(error) from None
    session.commit()
    base = str(request.base_url).rstrip("/")
    return {"feed": created.feed.to_json(), "token": created.token,
            "url": base + created.path()}


@router.get("")
def list_feeds(user: Manager, session: SessionDep,
               resource_id: str | None = None) -> dict[str, Any]:
    return {"feeds": [f.to_json() for f in service.list_feeds(
        session, user.organization_id, resource_id)]}


@router.post("/{feed_id}/revoke")
def revoke_feed(feed_id: str, user: Manager, session: SessionDep,
                now: NowDep) -> dict[str, Any]:
    try:
        info = service.revoke_feed(session, user.organization_id, feed_id, now)
    except service.FeedError as error:
        raise _failed(error) from None
    session.commit()
    return {"feed": info.to_json()}


@router.get("/policy")
def get_policy(user: Manager, session: SessionDep) -> dict[str, Any]:
    policy = service.policy_of(session, user.organization_id)
    return PolicyBody.model_validate(policy, from_attributes=True).model_dump()


@router.put("/policy")
def put_policy(body: PolicyBody, user: Manager, session: SessionDep) -> dict[str, Any]:
    service.set_policy(session, user.organization_id, service.Policy(**body.model_dump()))
    session.commit()
    return body.model_dump()


# --------------------------------------------------------------------------- busy calendars


@router.post("/busy-calendars", status_code=status.HTTP_201_CREATED)
def add_busy_calendar(body: BusyCalendarBody, user: Manager, session: SessionDep,
                      now: NowDep) -> dict[str, Any]:
    """Subscribe a provider to an external busy calendar (read-only .ics URL); it is read
    at once, and its answer (busy times or the error) is in the reply."""
    try:
        source = busy.add_source(session, user.organization_id, body.provider_id,
                                 body.clinic_id, body.url, now)
    except busy.BusyCalendarError as error:
        raise _failed(error) from None
    session.commit()
    state = busy.refresh(session, source.id, now)
    return state.to_json()


@router.get("/busy-calendars")
def list_busy_calendars(user: Manager, session: SessionDep,
                        provider_id: str | None = None) -> dict[str, Any]:
    return {"busy_calendars": [s.to_json() for s in busy.list_sources(
        session, user.organization_id, provider_id)]}


@router.post("/busy-calendars/{source_id}/refresh")
def refresh_busy_calendar(source_id: str, user: Manager, session: SessionDep,
                          now: NowDep) -> dict[str, Any]:
    if busy.source_of(session, user.organization_id, source_id) is None:
        raise NotFound("There is no such busy calendar.", code="unknown_busy_calendar")
    return busy.refresh(session, source_id, now).to_json()
