"""Request dependencies as ``Annotated`` types: context, session, clock, caller."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from scheduling.sync_protocol import DEVICE_TOKEN_HEADER
from sync_server.core.config import Settings
from sync_server.core.context import ServerContext
from sync_server.core.security import AccessClaims, InvalidTokenError, read_access_token
from sync_server.services import access, accounts, devices
from sync_server.services.errors import AuthenticationFailed

log = logging.getLogger("sync_server.db")

T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request says about its caller, its access token's signature and expiry already
    checked (no I/O): the principal is loaded from the database by :func:`authenticate`."""

    claims: AccessClaims | None
    device_token: str | None
    user_id: str | None


async def get_credentials(
    context: ContextDep,
    now: NowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    device_token: Annotated[str | None, Depends(_device_header)] = None,
    user_id: Annotated[str | None, Depends(_user_header)] = None,
) -> Credentials:
    """The request's credentials; a request without any, or with an access token that is
    not valid, is refused here (before its body is read), as it always was."""
    if credentials is None and device_token:
        return Credentials(None, device_token, user_id)
    if credentials is None:
        raise AuthenticationFailed("Sign in first.", code="not_authenticated")
    try:
        claims = read_access_token(context.token_keys, credentials.credentials, now)
    except InvalidTokenError:
        raise AuthenticationFailed(
            "Your sign-in has expired or is not valid; refresh it or sign in again.",
            code="invalid_token",
        ) from None
    return Credentials(claims, None, None)


CredentialsDep = Annotated[Credentials, Depends(get_credentials)]


def authenticate(session: Session, credentials: Credentials, now: datetime
                 ) -> accounts.Principal:
    """The caller: a bearer access token, or an enrolled desk (device token) naming the
    user signed in on it (the desk checked the password; the server checks the rights)."""
    if credentials.claims is None:
        device = devices.authenticate_device(session, credentials.device_token or "", now)
        desk_user = accounts.load_principal(session, credentials.user_id or "",
                                            device.organization_id)
        if desk_user is None:
            raise AuthenticationFailed(f"Name the signed-in user in the {USER_HEADER} header.",
                                       code="not_authenticated")
        return desk_user
    claims = credentials.claims
    principal = accounts.load_principal(session, claims.user_id, claims.organization_id)
    if principal is None:
        raise AuthenticationFailed("This account is disabled.", code="invalid_token")
    return principal


def get_current_user(session: SessionDep, now: NowDep,
                     credentials: CredentialsDep) -> accounts.Principal:
    """The caller (:func:`authenticate`, in the thread pool)."""
    return authenticate(session, credentials, now)


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


def _refuse_unless(session: Session, user: accounts.Principal, now: datetime,
                   permissions: tuple[str, ...]) -> None:
    """Raise the audited 403 naming the first of ``permissions`` unless the user holds one."""
    if not any(user.can(p) for p in permissions):
        raise access.refuse(session, user.organization_id, user.actor, now,
                            permission=permissions[0])


def require(permission: str,
            *alternatives: str) -> Callable[..., Awaitable[accounts.Principal]]:
    """A dependency that lets the request through only when the user holds ``permission``
    (or one of ``alternatives``); otherwise an audited 403 naming ``permission``."""
    permissions = (permission, *alternatives)

    async def check(user: CurrentUser, session: SessionDep, now: NowDep) -> accounts.Principal:
        if not any(user.can(p) for p in permissions):
            await run_in_threadpool(_refuse_unless, session, user, now, permissions)
        return user

    return check


@dataclass(frozen=True, slots=True)
class Gate:
    """A booking write's way in: its caller is let in, and its work runs, on one thread of
    the instance's booking lane (:meth:`run`).

    A plain ``def`` dependency costs the request a hop from the event loop to a thread of
    the pool and back, a turn of the interpreter lock each way: a gate loads the principal
    and checks the permission on the endpoint's own thread, one hop per request instead of
    two or three. What needs no I/O (no credentials, a forged or expired token) is still
    refused before the body is read; a malformed body is a 422 before a missing permission
    is a 403.

    The lane (``CLINICDESK_BOOKING_THREADS``, docs/admin.md) lets that many booking writes
    of the instance run at once; the others wait their turn in arrival order, holding no
    lock and no thread. Every running write competes for the instance's one interpreter
    lock, so a few at a time finish sooner than all at once, and a write holding a
    provider's lock is not slowed by every other write's start. Reads, the health check
    and the event streams do not queue in it."""

    credentials: Credentials
    permissions: tuple[str, ...]
    lane: CapacityLimiter

    def open(self, session: Session, now: datetime) -> accounts.Principal:
        """The caller, holding one of the permissions (else the audited 403)."""
        user = authenticate(session, self.credentials, now)
        _refuse_unless(session, user, now, self.permissions)
        return user

    async def run(self, work: Callable[[accounts.Principal, Session, datetime], T],
                  session: Session, now: datetime) -> T:
        """``work(caller, session, now)`` on a thread of the booking lane, the caller let in
        first on the same thread."""
        def let_in_and_work() -> T:
            return work(self.open(session, now), session, now)
        return await to_thread.run_sync(let_in_and_work, limiter=self.lane)


_LANE: RunVar[CapacityLimiter] = RunVar("clinicdesk_booking_lane")


def booking_lane(settings: Settings) -> CapacityLimiter:
    """This event loop's booking lane (:class:`Gate`), made on first use."""
    try:
        return _LANE.get()
    except LookupError:
        lane = CapacityLimiter(settings.booking_threads or default_booking_threads())
        _LANE.set(lane)
        return lane


def default_booking_threads() -> int:
    """Twice the cores this process may run on (at least two)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(2, 2 * cores)


def gate(permission: str, *alternatives: str) -> Callable[..., Awaitable[Gate]]:
    """A dependency giving the endpoint a :class:`Gate` for ``permission`` (or one of
    ``alternatives``), as :func:`require` would check it."""
    permissions = (permission, *alternatives)

    async def make(context: ContextDep, credentials: CredentialsDep) -> Gate:
        return Gate(credentials, permissions, booking_lane(context.settings))

    return make
