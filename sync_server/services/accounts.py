"""Users, sign-in (password + optional TOTP, lockout), tokens and permissions.

Sign-in never tells which part was wrong (unknown e-mail, wrong password,
wrong code or a paused sign-in all get the same answer), so it cannot be
used to find out who has an account. Only a correct password on an account
with TOTP may learn that a code is required.

Failed sign-ins are counted per (account, client address)
(:class:`~sync_server.db.models.LoginLockout`): after ``lockout_threshold`` in a
row that pair is paused for ``lockout_minutes``, while the same account signs in
normally from other addresses. :func:`unlock` lifts the pauses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    CompoundSelect,
    String,
    bindparam,
    cast,
    delete,
    func,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.core.security import (
    MIN_PASSWORD_LENGTH,
    Passwords,
    TokenKeys,
    issue_access_token,
    new_opaque_token,
    normalize_recovery_code,
    token_digest,
    verify_totp,
)
from sync_server.db.models import (
    ConfigVersion,
    LoginLockout,
    RecoveryCode,
    RefreshToken,
    Role,
    RolePermission,
    User,
    UserDepartment,
    UserRole,
)
from sync_server.services import audit
from sync_server.services.errors import (
    AlreadyExists,
    AuthenticationFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from sync_server.services.organizations import find_organization
from sync_server.services.unit_of_work import unit_of


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in user as the API sees it: organization, roles and permissions.

    ``permissions`` are granted organization-wide; ``department_permissions``
    maps a permission to the departments where a department-scoped role grants it.
    """

    user_id: str
    organization_id: str
    email: str
    roles: frozenset[str]
    permissions: frozenset[str]
    department_permissions: dict[str, frozenset[str]]

    def can(self, permission: str, department_id: str | None = None) -> bool:
        if permission in self.permissions:
            return True
        departments = self.department_permissions.get(permission, frozenset())
        return bool(departments) if department_id is None else department_id in departments

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor(user_id=self.user_id)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


def _failure_message(settings: Settings) -> str:
    return (
        "The organization, e-mail, password or security code is not correct, or sign-ins "
        f"from this computer are locked for {settings.lockout_minutes} minutes after "
        f"{settings.lockout_threshold} failed attempts. Check your details or ask an "
        "administrator."
    )


def create_user(
    session: Session,
    passwords: Passwords,
    organization_id: str,
    email: str,
    password: str,
    roles: list[str],
    now: datetime,
    *,
    display_name: str = "",
    totp_secret: str | None = None,
    actor: audit.Actor | None = None,
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise InvalidInput("An account needs a valid e-mail address.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    exists = session.scalar(
        select(User.id).where(User.organization_id == organization_id, User.email == email)
    )
    if exists:
        raise AlreadyExists("An account with this e-mail already exists in the organization.")
    found = {
        r.name: r
        for r in session.scalars(
            select(Role).where(Role.organization_id == organization_id, Role.name.in_(roles))
        )
    }
    missing = sorted(set(roles) - set(found))
    if missing:
        raise NotFound(f"Unknown role(s): {', '.join(missing)}.", code="unknown_role")
    user = User(
        id=str(uuid.uuid4()),
        organization_id=organization_id,
        email=email,
        display_name=display_name,
        password_hash=passwords.hash(password),
        totp_secret=totp_secret,
        failed_attempts=0,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    session.add_all(
        UserRole(
            id=str(uuid.uuid4()), organization_id=organization_id, user_id=user.id, role_id=role.id
        )
        for role in found.values()
    )
    audit.append(
        session,
        organization_id,
        at=now,
        actor=actor or audit.Actor(),
        intent="create_user",
        outcome="done",
        target_type="user",
        target_id=user.id,
    )
    session.flush()
    return user


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a person types to sign in (or to enrol a second factor)."""

    organization: str
    email: str
    password: str
    totp: str | None
    client_address: str = "unknown"


def authenticate(
    session: Session, settings: Settings, passwords: Passwords, given: Credentials,
    now: datetime,
) -> User:
    """The account whose password (and, once enrolled, second factor) is correct; failures
    are counted and committed before :class:`AuthenticationFailed` is raised."""
    org = find_organization(session, given.organization)
    user = None
    if org is not None:
        user = session.scalars(
            select(User)
            .where(User.organization_id == org.id, User.email == given.email.strip().lower())
            .with_for_update()
        ).first()
    password_ok = passwords.verify(user.password_hash if user else None, given.password)
    if org is None or user is None:
        session.rollback()
        raise AuthenticationFailed(_failure_message(settings), code="invalid_credentials")

    address = given.client_address[:64]
    lockout = session.get(LoginLockout, (user.id, address), with_for_update=True)
    locked = any(until is not None and until > now
                 for until in (user.locked_until, lockout.locked_until if lockout else None))
    if not user.active or locked or not password_ok:
        _record_failure(session, settings, user, lockout, address, now,
                        "locked" if locked else "bad_credentials")
    if user.totp_secret:
        if not given.totp:
            session.rollback()
            raise AuthenticationFailed(
                "This account needs the 6-digit code from its authenticator app "
                "(or one of its recovery codes).",
                code="totp_required",
            )
        if not second_factor_ok(session, user, given.totp, now):
            _record_failure(session, settings, user, lockout, address, now, "bad_totp")
    if lockout is not None:
        session.delete(lockout)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(given.password)
    return user


def login(
    session: Session,
    settings: Settings,
    passwords: Passwords,
    token_keys: TokenKeys,
    *,
    organization: str,
    email: str,
    password: str,
    totp: str | None,
    now: datetime,
    client_address: str = "unknown",
) -> TokenPair:
    """Check credentials and issue tokens; commits failure counters before raising.

    A user whose role requires a second factor and who has none is refused (403
    ``mfa_enrolment_required``) after a correct password only."""
    user = authenticate(session, settings, passwords,
                        Credentials(organization, email, password, totp, client_address), now)
    if not user.totp_secret and mfa_required(session, user):
        session.rollback()
        audit.append(session, user.organization_id, at=now, actor=audit.Actor(user_id=user.id),
                     intent="login", outcome="refused", target_type="user", target_id=user.id,
                     reason="mfa_enrolment_required")
        session.commit()
        raise PermissionDenied(
            "Your role requires two-step sign-in and this account has none yet. Enrol an "
            "authenticator app first (on the desk: 'Enrol two-step sign-in' on the sign-in "
            "screen), then sign in with its code.",
            code="mfa_enrolment_required",
        )
    pair = _issue_tokens(session, settings, token_keys, user, now)
    audit.append(
        session,
        user.organization_id,
        at=now,
        actor=audit.Actor(user_id=user.id),
        intent="login",
        outcome="done",
        target_type="user",
        target_id=user.id,
    )
    session.commit()
    return pair


def second_factor_ok(session: Session, user: User, code: str, now: datetime) -> bool:
    """The authenticator's current code, or an unused recovery code (then used up)."""
    assert user.totp_secret is not None
    if verify_totp(user.totp_secret, code, now):
        return True
    used = session.scalars(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
        RecoveryCode.code_hash == token_digest(normalize_recovery_code(code)),
    ).with_for_update()).first()
    if used is None:
        return False
    used.used_at = now
    return True


def mfa_required(session: Session, user: User) -> bool:
    """Whether one of the user's roles asks for a second factor."""
    return bool(session.scalar(
        select(func.count()).select_from(UserRole).join(Role, Role.id == UserRole.role_id)
        .where(UserRole.user_id == user.id, Role.mfa_required.is_(True))))


def _record_failure(
    session: Session, settings: Settings, user: User, lockout: LoginLockout | None,
    address: str, now: datetime, reason: str,
) -> None:
    if reason != "locked":
        if lockout is None:
            lockout = LoginLockout(user_id=user.id, client_address=address,
                                   organization_id=user.organization_id, failed_attempts=0)
            session.add(lockout)
        lockout.failed_attempts += 1
        lockout.updated_at = now
        if lockout.failed_attempts >= settings.lockout_threshold:
            lockout.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            lockout.failed_attempts = 0
            reason = "locked_now"
    audit.append(
        session,
        user.organization_id,
        at=now,
        actor=audit.Actor(),
        intent="login",
        outcome="refused",
        target_type="user",
        target_id=user.id,
        reason=reason,
    )
    session.commit()
    raise AuthenticationFailed(_failure_message(settings), code="invalid_credentials")


def _issue_tokens(
    session: Session, settings: Settings, token_keys: TokenKeys, user: User, now: datetime
) -> TokenPair:
    access, access_expires = issue_access_token(
        token_keys,
        user.id,
        user.organization_id,
        now,
        timedelta(minutes=settings.access_token_minutes),
    )
    refresh = new_opaque_token()
    refresh_expires = now + timedelta(days=settings.refresh_token_days)
    session.add(
        RefreshToken(
            id=str(uuid.uuid4()),
            organization_id=user.organization_id,
            user_id=user.id,
            token_hash=token_digest(refresh),
            created_at=now,
            expires_at=refresh_expires,
        )
    )
    return TokenPair(access, access_expires, refresh, refresh_expires)


def refresh(
    session: Session, settings: Settings, token_keys: TokenKeys, token: str, now: datetime
) -> TokenPair:
    """Rotate a refresh token. Re-using a rotated one revokes all of the user's tokens."""
    invalid = AuthenticationFailed(
        "This session has ended; please sign in again.", code="invalid_refresh_token"
    )
    stored = session.scalars(
        select(RefreshToken).where(RefreshToken.token_hash == token_digest(token)).with_for_update()
    ).first()
    if stored is None:
        session.rollback()
        raise invalid
    if stored.revoked_at is not None:
        revoke_all_refresh_tokens(session, stored.user_id, now)
        audit.append(
            session,
            stored.organization_id,
            at=now,
            actor=audit.Actor(),
            intent="refresh",
            outcome="refused",
            target_type="user",
            target_id=stored.user_id,
            reason="revoked_token_reused",
        )
        session.commit()
        raise invalid
    user = session.get(User, stored.user_id)
    if (
        stored.expires_at <= now
        or user is None
        or not user.active
        or (user.locked_until is not None and user.locked_until > now)
    ):
        session.rollback()
        raise invalid
    stored.revoked_at = now
    pair = _issue_tokens(session, settings, token_keys, user, now)
    session.commit()
    return pair


def logout(session: Session, token: str, now: datetime) -> None:
    """Revoke a refresh token (unknown or already revoked tokens are ignored)."""
    stored = session.scalars(
        select(RefreshToken).where(RefreshToken.token_hash == token_digest(token))
    ).first()
    if stored is not None and stored.revoked_at is None:
        stored.revoked_at = now
        audit.append(
            session,
            stored.organization_id,
            at=now,
            actor=audit.Actor(user_id=stored.user_id),
            intent="logout",
            outcome="done",
            target_type="user",
            target_id=stored.user_id,
        )
    session.commit()


def unlock(session: Session, user: User, now: datetime, *, client_address: str | None = None,
           actor: audit.Actor | None = None) -> int:
    """Lift the sign-in pauses of ``user`` (from one address, or all); returns how many
    (account, address) pairs were paused. Audited."""
    query = delete(LoginLockout).where(LoginLockout.user_id == user.id)
    if client_address is not None:
        query = query.where(LoginLockout.client_address == client_address)
    paused = session.scalar(select(func.count()).select_from(LoginLockout).where(
        LoginLockout.user_id == user.id, LoginLockout.locked_until > now,
        *([LoginLockout.client_address == client_address] if client_address else [])))
    session.execute(query)
    if client_address is None:
        user.failed_attempts, user.locked_until = 0, None
    audit.append(session, user.organization_id, at=now, actor=actor or audit.Actor(),
                 intent="unlock_account", outcome="done", target_type="user",
                 target_id=user.id)
    session.commit()
    return int(paused or 0)


def _principal_statement() -> CompoundSelect[Any]:
    """(kind, a, b, c, flag) rows: ``user`` (email, organization, -, active), ``role``
    (name, permission, department, department-scoped), ``member`` (department) and
    ``config`` (the organization's configuration counter, as text), for the bound
    ``user`` and ``org``."""
    text_ = String()
    empty = cast(null(), text_)
    user_id, organization_id = bindparam("user", type_=text_), bindparam("org", type_=text_)
    return union_all(
        select(literal("user", text_).label("kind"), User.email.label("a"),
               User.organization_id.label("b"), empty.label("c"), User.active.label("flag"))
        .where(User.id == user_id),
        select(literal("role", text_), Role.name, RolePermission.permission,
               UserRole.department_id, Role.department_scoped)
        .join(UserRole, UserRole.role_id == Role.id)
        .outerjoin(RolePermission, RolePermission.role_id == Role.id)
        .where(UserRole.user_id == user_id, Role.organization_id == organization_id),
        select(literal("member", text_), UserDepartment.department_id, empty, empty,
               cast(null(), Boolean()))
        .where(UserDepartment.user_id == user_id),
        select(literal("config", text_), cast(ConfigVersion.version, text_), empty, empty,
               cast(null(), Boolean()))
        .where(ConfigVersion.organization_id == organization_id),
    )


#: Built once: every authenticated request runs it (building it cost more than running it).
_PRINCIPAL_ROWS = _principal_statement()


def find_user(session: Session, organization_id: str, email: str) -> User:
    user = session.scalars(select(User).where(User.organization_id == organization_id,
                                              User.email == email.strip().lower())).first()
    if user is None:
        raise NotFound("No account with this e-mail in the organization.", code="unknown_user")
    return user


def revoke_all_refresh_tokens(session: Session, user_id: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def load_principal(session: Session, user_id: str, organization_id: str) -> Principal | None:
    """The active user's roles and permissions, or None when the account is gone/disabled.
    One statement (every authenticated request runs it): the user, their roles'
    permissions and their departments, as tagged rows of one ``UNION ALL``. The same
    statement reads the organization's configuration counter for the transaction's unit
    of work, so a booking that follows needs no statement of its own for it."""
    found = session.execute(_PRINCIPAL_ROWS,
                            {"user": user_id, "org": organization_id}).all()
    counter = next((row.a for row in found if row.kind == "config"), None)
    unit_of(session).config_version(organization_id, lambda: int(counter or 0))
    user = next((row for row in found if row.kind == "user"), None)
    if user is None or not user.flag or user.b != organization_id:
        return None
    # A department-scoped role grants its permissions in the user's departments only.
    members = {row.a for row in found if row.kind == "member"}
    rows = [(row.a, row.b, row.c, row.flag) for row in found if row.kind == "role"]
    roles: set[str] = set()
    org_wide: set[str] = set()
    scoped: dict[str, set[str]] = {}
    for role_name, permission, department_id, department_scoped in rows:
        roles.add(role_name)
        if permission is None:
            continue
        if department_id is not None:
            scoped.setdefault(permission, set()).add(department_id)
        elif department_scoped:
            scoped.setdefault(permission, set()).update(members)
        else:
            org_wide.add(permission)
    return Principal(
        user_id=user_id,
        organization_id=organization_id,
        email=user.a,
        roles=frozenset(roles),
        permissions=frozenset(org_wide),
        department_permissions={p: frozenset(d) for p, d in scoped.items()},
    )
