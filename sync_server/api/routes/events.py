"""``GET /api/v1/sync/events``: the poke stream (server-sent events, DESIGN §3).

Desks (device token) and signed-in users (access token) of an organization
get ``event: poke`` / ``data: {"version": N}`` whenever its version moves,
the first one right after connecting (the current version, so a change made
while the desk was connecting is never missed), and a ``: heartbeat`` comment
every ``sse_heartbeat_seconds``. The stream ends when the server shuts down;
the desk reconnects. Authentication opens its own short session, closed before
streaming, so open streams hold no database connection.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from scheduling.sync_protocol import DEVICE_TOKEN_HEADER
from sync_server.api.deps import ContextDep, NowDep, _bearer, _device_header
from sync_server.api.errors import expected_failure_answer
from sync_server.core.context import ServerContext
from sync_server.core.security import InvalidTokenError, read_access_token
from sync_server.services import accounts, devices, pokes
from sync_server.services.errors import AuthenticationFailed

router = APIRouter(prefix="/sync", tags=["sync"])
log = logging.getLogger("sync_server.events")

EVENT_STREAM = "text/event-stream"
#: Tells the browser-style client how long to wait before reconnecting (milliseconds).
RETRY_MILLISECONDS = 3000
CONNECTED = f"retry: {RETRY_MILLISECONDS}\n: connected\n\n".encode()
HEARTBEAT = b": heartbeat\n\n"


def organization_of(context: ServerContext, now: datetime, access_token: str | None,
                    device_token: str | None) -> str:
    """The caller's organization, from a device token or a user access token."""
    with context.sessions() as session:
        if device_token:
            return devices.authenticate(session, device_token, now).organization_id
        if access_token is None:
            raise AuthenticationFailed(
                "The event stream needs a desk's device token or a sign-in.",
                code="not_authenticated",
            )
        try:
            claims = read_access_token(context.token_keys, access_token, now)
        except InvalidTokenError:
            raise AuthenticationFailed(
                "Your sign-in has expired or is not valid; refresh it or sign in again.",
                code="invalid_token",
            ) from None
        principal = accounts.load_principal(session, claims.user_id, claims.organization_id)
        if principal is None:
            raise AuthenticationFailed("This account is disabled.", code="invalid_token")
        return principal.organization_id


def stream_organization(
    context: ContextDep,
    now: NowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    device_token: Annotated[str | None, Depends(_device_header)],
) -> str:
    """:func:`organization_of` as a dependency (it declares both ways in the OpenAPI
    document)."""
    return organization_of(context, now, credentials.credentials if credentials else None,
                           device_token)


StreamOrganization = Annotated[str, Depends(stream_organization)]


class EventsEntry:
    """Serves ``GET /api/v1/sync/events`` as a pure ASGI layer inside the request-context
    middleware (request id, protocol check, access log and metrics still apply), ahead of
    the routing layer; the documented route below declares it for the OpenAPI document
    (and answers ``HEAD``).

    An open stream keeps alive every layer it was called through. Routing and FastAPI's
    request handling (the included routers, the exception wrapper, the exit stacks, the
    request, the dependencies' results) added some 65 objects per stream for the
    garbage collector; with 10,000 streams open every full collection walks them all,
    and the whole process stops while it does (docs/performance.md, item 9). A refused
    token or a database outage gets the same answer as from any route."""

    def __init__(self, app: ASGIApp, *, path: str, broker: pokes.PokeBroker,
                 context: ServerContext) -> None:
        self.app, self.path, self.broker, self.context = app, path, broker, context
        self.route = _Served(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # for the access log and the request metrics, as routing does
        context = self.context
        access_token, device_token = _credentials(scope)
        try:
            organization_id = await run_in_threadpool(
                organization_of, context, context.clock(), access_token, device_token)
        except Exception as failure:
            answer = expected_failure_answer(failure)
            if answer is None:
                raise  # the app's handler for the unexpected (500) answers it
            await answer(scope, receive, send)
            return
        await serve_pokes(self.broker, context, organization_id, receive, send)


@dataclass(frozen=True, slots=True)
class _Served:
    """What routing would put in the scope as the matched route: its path template."""

    path: str


def _credentials(scope: Scope) -> tuple[str | None, str | None]:
    """The request's bearer token and device token, read as the documented route's
    dependencies read them."""
    headers = Headers(scope=scope)
    scheme, token = get_authorization_scheme_param(headers.get("authorization"))
    access_token = token if scheme.lower() == "bearer" and token else None
    return access_token, headers.get(DEVICE_TOKEN_HEADER) or None


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
            "description": "An endless stream of pokes and heartbeats",
        }
    },
    summary="Server-sent events: a poke whenever the organization's version moves",
)
async def events(request: Request, organization_id: StreamOrganization) -> Response:
    """Declared for the OpenAPI document (and answers ``HEAD``); :class:`EventsEntry`
    serves ``GET``."""
    return PokeStream(request.app.state.pokes, request.app.state.context, organization_id)


class PokeStream(Response):
    """The stream (:func:`serve_pokes`, which sends its own headers) as a response."""

    def __init__(self, broker: pokes.PokeBroker, context: ServerContext,
                 organization_id: str) -> None:
        self.status_code = 200
        self.background = None
        self._broker, self._context, self._organization_id = broker, context, organization_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await serve_pokes(self._broker, self._context, self._organization_id, receive, send)


#: no-transform / X-Accel-Buffering: proxies must pass each event on at once.
_STREAM_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"),
                   (b"cache-control", b"no-cache, no-transform"), (b"x-accel-buffering", b"no")]


async def serve_pokes(broker: pokes.PokeBroker, context: ServerContext, organization_id: str,
                      receive: Receive, send: Send) -> None:
    """The stream as one coroutine, and one task that watches for the client leaving.

    Not Starlette's ``StreamingResponse``, which runs a stream under an anyio task group
    (two tasks, their cancel scopes and states, a handle, an event), and no async
    generator: each of those is more objects per stream, or per wait, for the garbage
    collector. When the client leaves, the watcher closes the subscription and wakes
    it; the stream then ends by itself, no task is cancelled."""
    subscription = broker.subscribe(organization_id)
    watcher = asyncio.get_running_loop().create_task(_until_gone(receive, subscription))
    context.metrics.sse_sessions.inc()
    try:
        await send({"type": "http.response.start", "status": 200, "headers": _STREAM_HEADERS})
        await send({"type": "http.response.body", "body": CONNECTED, "more_body": True})
        try:
            current = await run_in_threadpool(
                pokes.read_versions, context.sessions, [organization_id]
            )
        except SQLAlchemyError as error:  # the database is away: pokes follow when it is back
            log.warning("event stream: version not readable (%s)", type(error).__name__)
            current = {}
        if organization_id in current:
            subscription.saw(current[organization_id])
            await send({"type": "http.response.body",
                        "body": pokes.poke_message(current[organization_id]), "more_body": True})
        while not subscription.closed:
            message = subscription.take()
            if message is None:
                wake_up = subscription.wake_up()
                if wake_up is not None:
                    await wake_up  # a poke, the heartbeat tick, shutdown, or gone
                message = subscription.take()
                if message is None and subscription.closed:
                    break
            await send({"type": "http.response.body", "body": message or HEARTBEAT,
                        "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        context.metrics.sse_sessions.dec()
        watcher.cancel()
        broker.unsubscribe(subscription)


async def _until_gone(receive: Receive, subscription: pokes.Subscription) -> None:
    """Read the request's messages until the client disconnects, then end its stream."""
    message = await receive()
    while message["type"] != "http.disconnect":
        message = await receive()
    subscription.close()
