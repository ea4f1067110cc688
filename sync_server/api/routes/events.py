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

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

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
async def events(request: Request, organization_id: StreamOrganization) -> StreamingResponse:
    context: ServerContext = request.app.state.context
    broker: pokes.PokeBroker = request.app.state.pokes
    return StreamingResponse(
        poke_stream(broker, context, organization_id),
        media_type=EVENT_STREAM,
        # no-transform / X-Accel-Buffering: proxies must pass each event on at once.
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )


async def poke_stream(
    broker: pokes.PokeBroker, context: ServerContext, organization_id: str
) -> AsyncIterator[bytes]:
    subscription = broker.subscribe(organization_id)
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
                await subscription.wait()  # a poke, the heartbeat tick, or shutdown
                message = subscription.take()
            if message is not None:
                yield message
            elif not subscription.closed:
                yield HEARTBEAT
    finally:
        broker.unsubscribe(subscription)
        context.metrics.sse_sessions.dec()
