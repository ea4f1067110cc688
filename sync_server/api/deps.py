"""Request dependencies as ``Annotated`` types: context, session, clock, caller."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from scheduling.sync_protocol import DEVICE_TOKEN_HEADER
from sync_server.core.context import ServerContext
from sync_server.core.security import InvalidTokenError, read_access_token
from sync_server.services import access, accounts, devices
from sync_server.services.errors import AuthenticationFailed

log = logging.getLogger("sync_server.db")


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency
# in the thread pool, and each such hop costs a thread wake-up and a turn of the GIL
# per request (about a tenth of a booking's server time when they were all plain).


async def get_context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


ContextDep = Annotated[ServerContext, Depends(get_context)]


async def get_session(context: ContextDep) -> AsyncIterator[Session]:
    """A session for the request. Making one does no I/O (it connects on first use); it is
    closed in the thread pool when it still holds a transaction (closing rolls it back)."""
    session = context.sessions()
    try:
        yield session
    finally:
        try:
            if session.in_transaction():
                await run_in_threadpool(session.close)
            else:
                session.close()
        except SQLAlchemyError as error:
            # The answer is already on its way; a connection lost now (a database outage)
            # changes nothing for this request, so it is worth a line, not a traceback.
            log.warning("closing a database session failed after the answer: %s",
                        type(error).__name__)


SessionDep = Annotated[Session, Depends(get_session)]


async def get_now(context: ContextDep) -> datetime:
    """The request's one "now" (UTC), taken from the server's clock."""
    return context.clock()


NowDep = Annotated[datetime, Depends(get_now)]

_SQLITE_TURNS: dict[int, asyncio.Semaphore] = {}


async def sqlite_write_turn(context: ContextDep) -> AsyncIterator[None]:
    """On SQLite, let one request of this process write at a time (a router dependency,
    resolved before the session's ``BEGIN IMMEDIATE``): waiting writers queue in the event
    loop instead of polling SQLite's busy handler, whose growing sleeps collapse throughput
    under many concurrent desks, and they hold no worker thread while they wait.
    PostgreSQL needs no such turn."""
    if context.engine.dialect.name != "sqlite":
        yield
        return
    turn = _SQLITE_TURNS.setdefault(id(context.engine), asyncio.Semaphore(1))
    async with turn:
        yield

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")
_device_header = APIKeyHeader(
    name=DEVICE_TOKEN_HEADER, auto_error=False, description="Device token from enrollment"
)


#: Names the user signed in on an enrolled desk that calls with its device token.
USER_HEADER = "X-ClinicDesk-User"
_user_header = APIKeyHeader(name=USER_HEADER, auto_error=False,
                            description="The desk's signed-in user (with the device token)")


def get_current_user(
    context: ContextDep,
    session: SessionDep,
    now: NowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    device_token: Annotated[str | None, Depends(_device_header)] = None,
    user_id: Annotated[str | None, Depends(_user_header)] = None,
) -> accounts.Principal:
    """The caller: a bearer access token, or an enrolled desk (device token) naming the
    user signed in on it (the desk checked the password; the server checks the rights)."""
    if credentials is None and device_token:
        device = devices.authenticate_device(session, device_token, now)
        desk_user = accounts.load_principal(session, user_id or "", device.organization_id)
        if desk_user is None:
            raise AuthenticationFailed(f"Name the signed-in user in the {USER_HEADER} header.",
                                       code="not_authenticated")
        return desk_user
    if credentials is None:
        raise AuthenticationFailed("Sign in first.", code="not_authenticated")
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
    return principal


CurrentUser = Annotated[accounts.Principal, Depends(get_current_user)]


def get_current_device(
    session: SessionDep,
    now: NowDep,
    token: Annotated[str | None, Depends(_device_header)],
) -> devices.DeskDevice:
    if not token:
        raise AuthenticationFailed(
            f"This request needs the desk's {DEVICE_TOKEN_HEADER} header.", code="no_device"
        )
    return devices.authenticate(session, token, now)


CurrentDevice = Annotated[devices.DeskDevice, Depends(get_current_device)]


def require(permission: str,
            *alternatives: str) -> Callable[..., Awaitable[accounts.Principal]]:
    """A dependency that lets the request through only when the user holds ``permission``
    (or one of ``alternatives``); otherwise an audited 403 naming ``permission``."""

    async def check(user: CurrentUser, session: SessionDep, now: NowDep) -> accounts.Principal:
        if not any(user.can(p) for p in (permission, *alternatives)):
            raise await run_in_threadpool(partial(
                access.refuse, session, user.organization_id, user.actor, now,
                permission=permission))
        return user

    return check
