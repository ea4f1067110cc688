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
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from sync_server.api.deps import ContextDep, NowDep, _bearer, _device_header
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


def stream_organization(
    context: ContextDep,
    now: NowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    device_token: Annotated[str | None, Depends(_device_header)],
) -> str:
    """The caller's organization, from a device token or a user access token."""
    with context.sessions() as session:
        if device_token:
            return devices.authenticate(session, device_token, now).organization_id
        if credentials is None:
            raise AuthenticationFailed(
                "The event stream needs a desk's device token or a sign-in.",
                code="not_authenticated",
            )
        try:
            claims = read_access_token(context.token_keys, credentials.credentials, now)
        except InvalidTokenError:
            raise AuthenticationFailed(
                "Your sign-in has expired or is not valid; refresh it or sign in again.",
                code="invalid_token",
            ) from None
        principal = accounts.load_principal(session, claims.user_id, claims.organization_id)
        if principal is None:
            raise AuthenticationFailed("This account is disabled.", code="invalid_token")
        return principal.organization_id


StreamOrganization = Annotated[str, Depends(stream_organization)]


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
    return PokeStream(request.app.state.pokes, request.app.state.context, organization_id)


class PokeStream(Response):
    """The stream as one coroutine and one task that watches for the client leaving.

    Starlette's ``StreamingResponse`` runs a stream under an anyio task group (two
    tasks, their cancel scopes and states, a handle, an event): some thirty more objects
    for the garbage collector per stream. With 10,000 streams open every full
    collection walks them all, and the whole process stops while it does
    (docs/performance.md, item 9). When the client leaves, the watcher closes the
    subscription and wakes it; the stream then ends by itself, no task is cancelled."""

    media_type = EVENT_STREAM

    def __init__(self, broker: pokes.PokeBroker, context: ServerContext,
                 organization_id: str) -> None:
        self.status_code = 200
        self.background = None
        # no-transform / X-Accel-Buffering: proxies must pass each event on at once.
        self.init_headers({"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"})
        self._broker, self._context, self._organization_id = broker, context, organization_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscription = self._broker.subscribe(self._organization_id)
        watcher = asyncio.get_running_loop().create_task(_until_gone(receive, subscription))
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            async with aclosing(poke_stream(subscription, self._context)) as chunks:
                async for chunk in chunks:
                    await send({"type": "http.response.body", "body": chunk,
                                "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            self._broker.unsubscribe(subscription)


async def _until_gone(receive: Receive, subscription: pokes.Subscription) -> None:
    """Read the request's messages until the client disconnects, then end its stream."""
    message = await receive()
    while message["type"] != "http.disconnect":
        message = await receive()
    subscription.close()


async def poke_stream(
    subscription: pokes.Subscription, context: ServerContext,
) -> AsyncGenerator[bytes, None]:
    organization_id = subscription.organization_id
    context.metrics.sse_sessions.inc()
    try:
        yield CONNECTED
        try:
            current = await run_in_threadpool(
                pokes.read_versions, context.sessions, [organization_id]
            )
        except SQLAlchemyError as error:  # the database is away: pokes follow when it is back
            log.warning("event stream: version not readable (%s)", type(error).__name__)
            current = {}
        if organization_id in current:
            subscription.saw(current[organization_id])
            yield pokes.poke_message(current[organization_id])
        while not subscription.closed:
            message = subscription.take()
            if message is None:
                await subscription.wait()  # a poke, the heartbeat tick, shutdown, or gone
                message = subscription.take()
            if message is not None:
                yield message
            elif not subscription.closed:
                yield HEARTBEAT
    finally:
        context.metrics.sse_sessions.dec()
