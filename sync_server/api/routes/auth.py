from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from scheduling import limits
from sync_server.api.deps import ContextDep, CurrentUser, NowDep, SessionDep
from sync_server.api.fields import Email, Slug, text_check
from sync_server.core.context import ServerContext
from sync_server.core.throttle import Throttled
from sync_server.services import accounts, departments, mfa

router = APIRouter(prefix="/auth", tags=["auth"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    organization: Slug = Field(description="Slug or id")
    email: Email = Field(min_length=3)
    password: str = Field(min_length=1, max_length=limits.PASSWORD)
    totp: Annotated[str, Field(max_length=16), AfterValidator(text_check(16))] | None = None


class MfaConfirmRequest(LoginRequest):
    code: Annotated[str, Field(min_length=6, max_length=16),
                    AfterValidator(text_check(16))] = Field(
        description="The code the authenticator app shows for the new secret")


class MfaEnrolmentOut(BaseModel):
    secret: str = Field(description="Base32, for typing into the app by hand")
    otpauth_uri: str = Field(description="For the QR code")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once; each works once")


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    token_type: str = "bearer"
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime

    @classmethod
    def of(cls, pair: accounts.TokenPair) -> TokenResponse:
        return cls(
            access_token=pair.access_token,
            access_expires_at=pair.access_expires_at,
            refresh_token=pair.refresh_token,
            refresh_expires_at=pair.refresh_expires_at,
        )


class DepartmentOut(BaseModel):
    id: str
    name: str
    clinic_id: str


class Me(BaseModel):
    user_id: str
    organization_id: str
    email: str
    roles: list[str]
    permissions: list[str]
    department_permissions: dict[str, list[str]]
    department_context: list[DepartmentOut] | None = Field(
        None, description="The departments whose calendar the user sees (a department-scoped "
                          "role); null: the whole organization")


def client_address(request: Request) -> str:
    """The caller's address (behind a reverse proxy: run uvicorn with proxy headers)."""
    return request.client.host if request.client else "unknown"


async def login_turn(body: LoginRequest, context: ContextDep) -> AsyncIterator[None]:
    """The rate limit per account (the one per client ran in the middleware), then one
    password hashing slot (waited for in the event loop, holding no worker thread); 429
    with Retry-After otherwise."""
    async with _password_turn(context, body):
        yield


async def confirm_turn(body: MfaConfirmRequest, context: ContextDep) -> AsyncIterator[None]:
    """:func:`login_turn` for the enrolment confirmation (its body has a code more)."""
    async with _password_turn(context, body):
        yield


@asynccontextmanager
async def _password_turn(context: ServerContext, body: LoginRequest) -> AsyncIterator[None]:
    guard = context.login_guard
    try:
        guard.check_account(f"{body.organization.lower()}/{body.email.strip().lower()}")
        async with guard.hashing_slot():
            yield
    except Throttled as busy:
        raise HTTPException(429, busy.message,
                            headers={"Retry-After": str(busy.retry_after)}) from None


THROTTLED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong credentials, or a code is required"},
    429: {"description": "Too many sign-in attempts (see Retry-After)"},
}


@router.post("/login", response_model=TokenResponse, responses=THROTTLED,
             dependencies=[Depends(login_turn)])
def login(
    body: LoginRequest, request: Request, context: ContextDep, session: SessionDep, now: NowDep
) -> TokenResponse:
    """Sign in with e-mail, password and (when enabled) a TOTP code."""
    pair = accounts.login(
        session,
        context.settings,
        context.passwords,
        context.token_keys,
        organization=body.organization,
        email=body.email,
        password=body.password,
        totp=body.totp,
        now=now,
        client_address=client_address(request),
    )
    return TokenResponse.of(pair)


@router.post("/refresh", response_model=TokenResponse)
def refresh(
    body: RefreshRequest, context: ContextDep, session: SessionDep, now: NowDep
) -> TokenResponse:
    """Exchange a refresh token for new tokens (the old refresh token stops working)."""
    pair = accounts.refresh(session, context.settings, context.token_keys, body.refresh_token, now)
    return TokenResponse.of(pair)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(body: RefreshRequest, session: SessionDep, now: NowDep) -> None:
    """End a session by revoking its refresh token."""
    accounts.logout(session, body.refresh_token, now)


@router.get("/me", response_model=Me)
def me(user: CurrentUser, session: SessionDep) -> Me:
    """The signed-in user with roles and permissions, and the departments they see."""
    return Me(
        user_id=user.user_id,
        organization_id=user.organization_id,
        email=user.email,
        roles=sorted(user.roles),
        permissions=sorted(user.permissions),
        department_permissions={p: sorted(d) for p, d in user.department_permissions.items()},
        department_context=_department_context(session, user),
    )


def _department_context(session: Session, user: accounts.Principal) -> list[DepartmentOut] | None:
    found = departments.context(session, user)
    return None if found is None else [DepartmentOut(**values) for values in found]


def _credentials(body: LoginRequest, request: Request) -> accounts.Credentials:
    return accounts.Credentials(body.organization, body.email, body.password, body.totp,
                                client_address(request))


@router.post("/mfa/start", response_model=MfaEnrolmentOut, responses=THROTTLED,
             dependencies=[Depends(login_turn)])
def start_mfa_enrolment(body: LoginRequest, request: Request, context: ContextDep,
                        session: SessionDep, now: NowDep) -> MfaEnrolmentOut:
    """Start enrolling an authenticator app: a new secret (pending until confirmed).

    Needs the password, and a code of the current factor when one is enrolled; works
    before the first sign-in of a user whose role requires two-step sign-in."""
    enrolment = mfa.start(session, context.settings, context.passwords,
                          _credentials(body, request), now)
    return MfaEnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


@router.post("/mfa/confirm", response_model=RecoveryCodesOut,
             responses={**THROTTLED, 422: {"description": "Wrong code, or nothing to confirm"}},
             dependencies=[Depends(confirm_turn)])
def confirm_mfa_enrolment(body: MfaConfirmRequest, request: Request, context: ContextDep,
                          session: SessionDep, now: NowDep) -> RecoveryCodesOut:
    """Confirm the new secret with a code from it; answers the recovery codes (once)."""
    codes = mfa.confirm(session, context.settings, context.passwords,
                        _credentials(body, request), body.code, now)
    return RecoveryCodesOut(recovery_codes=codes)
