"""HTTP routes of the calendar feeds.

* ``GET``/``HEAD /feeds/{token}.ics``: the feed itself, for calendar apps (no other
  authentication than the token; any token that does not open a live feed of
  that organization answers the same bare 404).
* ``/api/v1/feeds`` (``admin:config``, or ``schedule:own`` for the providers linked
  to the caller's account): create (the token is in that one answer), list,
  revoke, busy calendars; the organization's feed policy is changed by
  administrators only. An enrolled desk may call them
  with its device token and ``X-ClinicDesk-User`` naming the signed-in user,
  whose permissions the server checks.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from scheduling import limits
from sync_server.api.deps import CurrentUser, NowDep, SessionDep
from sync_server.api.fields import Id, Instant, Label, text_check
from sync_server.core.context import ServerContext
from sync_server.feeds import busy, service, serving
from sync_server.feeds.models import CalendarFeed
from sync_server.services import access, accounts, admin
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
def get_feed(token: str, request: Request,
             if_none_match: Annotated[str | None, Header(max_length=1024)] = None
             ) -> Response:
    # No dependencies: each would be a thread hop of its own on the path calendar apps
    # poll; the session, clock and feed server are taken here, in the one hop.
    context: ServerContext = request.app.state.context
    address = request.client.host if request.client else ""
    with context.sessions() as session:
        answer = feed_server(request).answer(
            session, token, context.clock(), if_none_match=if_none_match,
            method=request.method, client_address=address)
    if answer.status == 200:
        return Response(answer.body, status_code=200, headers=answer.headers,
                        media_type=service.MEDIA_TYPE)
    return Response(answer.body, status_code=answer.status, headers=answer.headers,
                    media_type="text/plain" if answer.status == 404 else None)


feed_router.add_api_route("/feeds/{token}.ics", get_feed, methods=["HEAD"],
                          response_class=Response, include_in_schema=False)


# --------------------------------------------------------------------------- management


@dataclass(frozen=True, slots=True)
class FeedManager:
    """Who manages feeds: an administrator (``admin:config``, every provider and room of
    the organization) or a provider's own user (``schedule:own``, only the providers
    linked to their account: ``own`` holds their ids)."""

    user: accounts.Principal
    own: frozenset[str] | None = None

    @property
    def organization_id(self) -> str:
        return self.user.organization_id

    @property
    def administrator(self) -> bool:
        return self.own is None

    def check(self, session: Session, resource_id: str, now: datetime) -> None:
        """Refuse (403, audited) a resource that is not the caller's own provider."""
        if self.own is not None and resource_id not in self.own:
            raise access.refuse(
                session, self.organization_id, self.user.actor, now, permission=CONFIGURE,
                message="You may manage only your own calendar's feeds (the "
                        "'schedule:own' permission); this calendar is not linked to your "
                        "account.")

    def scope(self) -> Collection[str] | None:
        """The resources whose feeds the caller sees (None: all of the organization's)."""
        return self.own


def feed_manager(user: CurrentUser, session: SessionDep, now: NowDep) -> FeedManager:
    """An administrator, or a provider for their own calendar, signed in directly or
    through an enrolled desk."""
    if user.can(CONFIGURE):
        return FeedManager(user)
    if user.can(admin.OWN_SCHEDULE):
        return FeedManager(user, frozenset(admin.own_providers(session, user)))
    raise access.refuse(session, user.organization_id, user.actor, now,
                        permission=CONFIGURE,
                        message="Your role does not allow managing calendar feeds (needs "
                                "the 'admin:config' permission, or 'schedule:own' for your "
                                "own calendar).")


def administrator(user: CurrentUser, session: SessionDep, now: NowDep) -> accounts.Principal:
    """An administrator (``admin:config``): the organization's feed policy."""
    if not user.can(CONFIGURE):
        raise access.refuse(session, user.organization_id, user.actor, now,
                            permission=CONFIGURE,
                            message="Your role does not allow changing the feed policy "
                                    "(needs the 'admin:config' permission).")
    return user


CONFIGURE = admin.CONFIGURE
Manager = Annotated[FeedManager, Depends(feed_manager)]
Administrator = Annotated[accounts.Principal, Depends(administrator)]


class FeedCreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resource_id: Id
    privacy: Literal["busy", "initials", "full"] = "busy"
    label: Label = ""
    language: Literal["en", "es"] = "en"
    expires_at: Instant | None = None


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allow_full: bool = False
    past_days: Annotated[int, Field(ge=0, le=366)] = 30
    ahead_days: Annotated[int, Field(ge=1, le=3 * 366)] = 365
    cancelled_visible_days: Annotated[int, Field(ge=0, le=366)] = 14
    refresh_minutes: Annotated[int, Field(ge=5, le=24 * 60)] = 15


class BusyCalendarBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider_id: Id
    clinic_id: Id
    url: Annotated[str, Field(min_length=8, max_length=limits.URL),
                   AfterValidator(text_check(limits.URL))]


def _failed(error: service.FeedError | busy.BusyCalendarError) -> Exception:
    if error.code.startswith("unknown_"):
        return NotFound(error.message, code=error.code)
    return InvalidInput(error.message, code=error.code)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_feed(body: FeedCreateBody, manager: Manager, session: SessionDep, now: NowDep,
                request: Request) -> dict[str, Any]:
    """Create a feed; the answer is the only time its token (and URL) is shown."""
    manager.check(session, body.resource_id, now)
    try:
        created = service.create_feed(
            session, manager.organization_id, body.resource_id, now, privacy=body.privacy,
            label=body.label, language=body.language,
            expires_at=body.expires_at.astimezone(UTC) if body.expires_at else None,
            created_by_user_id=manager.user.user_id)
    except service.FeedError as error:
        raise _failed(error) from None
    session.commit()
    base = str(request.base_url).rstrip("/")
    return {"feed": created.feed.to_json(), "token": created.token,
            "url": base + created.path()}


@router.get("")
def list_feeds(manager: Manager, session: SessionDep,
               resource_id: str | None = None) -> dict[str, Any]:
    return {"feeds": [f.to_json() for f in service.list_feeds(
        session, manager.organization_id, resource_id, within=manager.scope())]}


@router.get("/resources")
def feed_resources(manager: Manager, session: SessionDep) -> dict[str, Any]:
    """The providers and rooms the caller may make feeds for (a provider: their own)."""
    return {"resources": [{"id": r.id, "name": r.name, "kind": r.kind}
                          for r in service.feed_resources(session, manager.organization_id,
                                                          within=manager.scope())]}


@router.post("/{feed_id}/revoke")
def revoke_feed(feed_id: str, manager: Manager, session: SessionDep,
                now: NowDep) -> dict[str, Any]:
    feed = access.get_in_organization(session, CalendarFeed, feed_id, manager.organization_id,
                                      manager.user.actor, now, target_type="calendar_feed")
    manager.check(session, feed.resource_id, now)
    info = service.revoke_feed(session, manager.organization_id, feed_id, now)
    session.commit()
    return {"feed": info.to_json()}


@router.get("/policy")
def get_policy(manager: Manager, session: SessionDep) -> dict[str, Any]:
    policy = service.policy_of(session, manager.organization_id)
    return PolicyBody.model_validate(policy, from_attributes=True).model_dump()


@router.put("/policy")
def put_policy(body: PolicyBody, user: Administrator, session: SessionDep) -> dict[str, Any]:
    service.set_policy(session, user.organization_id, service.Policy(**body.model_dump()))
    session.commit()
    return body.model_dump()


# --------------------------------------------------------------------------- busy calendars


@router.post("/busy-calendars", status_code=status.HTTP_201_CREATED)
def add_busy_calendar(body: BusyCalendarBody, manager: Manager, session: SessionDep,
                      now: NowDep) -> dict[str, Any]:
    """Subscribe a provider to an external busy calendar (read-only .ics URL); it is read
    at once, and its answer (busy times or the error) is in the reply."""
    manager.check(session, body.provider_id, now)
    try:
        source = busy.add_source(session, manager.organization_id, body.provider_id,
                                 body.clinic_id, body.url, now)
    except busy.BusyCalendarError as error:
        raise _failed(error) from None
    session.commit()
    state = busy.refresh(session, source.id, now)
    return state.to_json()


@router.get("/busy-calendars")
def list_busy_calendars(manager: Manager, session: SessionDep,
                        provider_id: str | None = None) -> dict[str, Any]:
    own = manager.scope()
    return {"busy_calendars": [s.to_json() for s in busy.list_sources(
        session, manager.organization_id, provider_id)
        if own is None or s.provider_id in own]}


@router.post("/busy-calendars/{source_id}/refresh")
def refresh_busy_calendar(source_id: str, manager: Manager, session: SessionDep,
                          now: NowDep) -> dict[str, Any]:
    source = busy.source_of(session, manager.organization_id, source_id)
    if source is None:
        raise NotFound("There is no such busy calendar.", code="unknown_busy_calendar")
    manager.check(session, source.provider_id, now)
    return busy.refresh(session, source_id, now).to_json()
