"""Signing in on the desk, the idle lock, and who is acting.

Online, an injected ``server_check`` verifies the password (and TOTP) and
returns the user's roles, permissions and department context; the desk then caches an Argon2id
verifier of the password with the permissions, so the same user can sign in
offline for ``DeskConfig.offline_signin_validity`` after their last online
check. A user who never signed in online on this desk cannot sign in offline.

Lock policy (one rule for every service): while nobody is signed in, or the
session is locked (idle for ``DeskConfig.idle_lock_after`` or locked by hand),
every service call — actions and queries alike — raises :class:`SessionLocked`
before reading anything, so no patient data reaches a locked screen. The UI
catches it in one place and shows the lock screen. :meth:`SignInService.unlock`
with the same user's password, or a fresh sign-in, opens it again.

Sign-ins, failed sign-ins, locks, unlocks and sign-outs go to the local audit
with the user id (never a password, never patient data).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from desktop.config import DEFAULT_IDLE_LOCK_MINUTES, DEFAULT_OFFLINE_SIGNIN_DAYS, DeskConfig
from desktop.store.engine import Store
from desktop.store.models import CachedUser, LocalAuditEntry
from scheduling.commands import Actor

Clock = Callable[[], datetime]

#: Wrong passwords at the lock screen before the session is ended outright.
MAX_UNLOCK_ATTEMPTS = 5


class SessionLocked(Exception):
    """The session is locked (or nobody is signed in): the service refuses all work."""


class NotSignedIn(SessionLocked):
    """Nobody is signed in on this desk."""


@dataclass(frozen=True, slots=True)
class Department:
    """A department of the signed-in user's context (seed 000, 002)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """What the server says about a user whose credentials it accepted."""

    user_id: str
    organization_id: str
    display_name: str
    roles: tuple[str, ...]
    permissions: frozenset[str]
    #: The departments whose calendar the user sees; None: the whole organization.
    departments: tuple[Department, ...] | None = None


#: ``(email, password, totp) -> identity``, or None when the server refuses the credentials.
#: Network failures are raised (the caller may then offer an offline sign-in).
ServerCheck = Callable[[str, str, str | None], ServerIdentity | None]


@dataclass(frozen=True, slots=True)
class SignedInUser:
    user_id: str
    organization_id: str
    email: str
    display_name: str
    roles: tuple[str, ...]
    permissions: frozenset[str]
    online: bool  # verified by the server for this sign-in, not from the cache
    #: The departments whose providers, rooms and appointments the user sees; None: all.
    departments: tuple[Department, ...] | None = None


class SignInFailure:
    """Why a sign-in was refused (stable codes for the UI and the audit)."""

    BAD_CREDENTIALS = "bad_credentials"
    NOT_CACHED = "never_signed_in_on_this_desk"
    EXPIRED = "offline_signin_expired"


@dataclass(frozen=True, slots=True)
class SignInResult:
    ok: bool
    user: SignedInUser | None = None
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class SessionSettings:
    idle_lock_after: timedelta = timedelta(minutes=DEFAULT_IDLE_LOCK_MINUTES)
    offline_signin_validity: timedelta = timedelta(days=DEFAULT_OFFLINE_SIGNIN_DAYS)

    @classmethod
    def from_config(cls, config: DeskConfig) -> SessionSettings:
        return cls(config.idle_lock_after, config.offline_signin_validity)


def _normal_email(email: str) -> str:
    return email.strip().lower()


class SignInService:
    """The one signed-in session of a desk. Owned by the UI thread."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: SessionSettings | None = None,
        *,
        hasher: PasswordHasher | None = None,
        device_id: str | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings or SessionSettings()
        self._hasher = hasher or PasswordHasher()
        self.device_id = device_id
        self._user: SignedInUser | None = None
        self._last_activity: datetime | None = None
        self._locked = False
        self._failed_unlocks = 0

    # ------------------------------------------------------------------ signing in and out

    def sign_in_online(
        self, email: str, password: str, totp: str | None, server_check: ServerCheck
    ) -> SignInResult:
        """Ask the server; on success cache a verifier so this user may sign in offline."""
        email = _normal_email(email)
        now = self._clock()
        identity = server_check(email, password, totp)
        if identity is None:
            self._audit(now, self._cached_user_id(email), "session.sign_in", "refused",
                        SignInFailure.BAD_CREDENTIALS)
            return SignInResult(False, failure=SignInFailure.BAD_CREDENTIALS)
        verifier = self._hasher.hash(password)
        with self._store.write() as session:
            # An e-mail address moves with its owner: drop a stale row holding it.
            session.execute(delete(CachedUser).where(CachedUser.email == email,
                                                     CachedUser.user_id != identity.user_id))
            row = session.get(CachedUser, identity.user_id) or CachedUser(
                user_id=identity.user_id)
            row.organization_id = identity.organization_id
            row.email = email
            row.display_name = identity.display_name
            row.verifier = verifier
            row.roles = list(identity.roles)
            row.permissions = sorted(identity.permissions)
            row.departments = None if identity.departments is None else [
                [d.id, d.name] for d in identity.departments]
            row.verified_at = now
            session.add(row)
            self._add_audit(session, now, identity.user_id, "session.sign_in", "accepted",
                            "online")
        user = SignedInUser(identity.user_id, identity.organization_id, email,
                            identity.display_name, tuple(identity.roles),
                            frozenset(identity.permissions), online=True,
                            departments=identity.departments)
        return self._start(user, now)

    def sign_in_offline(self, email: str, password: str) -> SignInResult:
        """Sign in against the cached verifier; only within the offline validity window."""
        email = _normal_email(email)
        now = self._clock()
        with self._store.session() as session:
            row = session.scalar(select(CachedUser).where(CachedUser.email == email))
            cached = None if row is None else _cached(row)
        if cached is None:
            self._audit(now, None, "session.sign_in_offline", "refused",
                        SignInFailure.NOT_CACHED)
            return SignInResult(False, failure=SignInFailure.NOT_CACHED)
        user, verifier, verified_at = cached
        failure = self._offline_failure(verifier, verified_at, password, now)
        if failure is not None:
            self._audit(now, user.user_id, "session.sign_in_offline", "refused", failure)
            return SignInResult(False, failure=failure)
        self._audit(now, user.user_id, "session.sign_in", "accepted", "offline")
        return self._start(user, now)

    def sign_out(self) -> None:
        """End the session (audited); every service refuses until the next sign-in."""
        if self._user is not None:
            self._audit(self._clock(), self._user.user_id, "session.sign_out", "accepted", "")
        self._user = None
        self._locked = False
        self._last_activity = None

    # ------------------------------------------------------------------ idle lock

    def touch(self) -> None:
        """Record user activity. Activity does not reopen a session that has locked."""
        now = self._clock()
        if self._user is not None and not self._check_lock(now):
            self._last_activity = now

    def is_locked(self, now: datetime | None = None) -> bool:
        """Whether services refuse work at ``now``: nobody signed in, locked, or idle."""
        if self._user is None or self._locked:
            return True
        moment = self._clock() if now is None else now
        assert self._last_activity is not None
        return moment - self._last_activity >= self._settings.idle_lock_after

    def lock(self) -> None:
        """Lock now (the user stepped away)."""
        if self._user is not None and not self._locked:
            self._set_locked(self._clock(), "manual")

    def unlock(self, password: str) -> bool:
        """Reopen a locked session with the signed-in user's password (checked offline)."""
        if self._user is None:
            return False
        now = self._clock()
        user_id = self._user.user_id
        with self._store.session() as session:
            row = session.get(CachedUser, user_id)
            cached = None if row is None else _cached(row)
        failure = (
            SignInFailure.NOT_CACHED
            if cached is None
            else self._offline_failure(cached[1], cached[2], password, now)
        )
        if failure is not None:
            self._failed_unlocks += 1
            self._audit(now, user_id, "session.unlock", "refused", failure)
            if self._failed_unlocks >= MAX_UNLOCK_ATTEMPTS:
                self.sign_out()
            return False
        self._audit(now, user_id, "session.unlock", "accepted", "")
        self._locked = False
        self._failed_unlocks = 0
        self._last_activity = now
        return True

    # ------------------------------------------------------------------ for the services

    @property
    def user(self) -> SignedInUser | None:
        return self._user

    def require_user(self) -> SignedInUser:
        """The signed-in user, counting the call as activity; raises :class:`SessionLocked`."""
        if self._user is None:
            raise NotSignedIn("Nobody is signed in on this desk.")
        now = self._clock()
        if self._check_lock(now):
            raise SessionLocked("The session is locked. Sign in again to continue.")
        self._last_activity = now
        return self._user

    def actor(self) -> Actor:
        user = self.require_user()
        return Actor(user.user_id, self.device_id, user.permissions)

    # ------------------------------------------------------------------ internals

    def _start(self, user: SignedInUser, now: datetime) -> SignInResult:
        if self._user is not None and self._user.user_id != user.user_id:
            self._audit(now, self._user.user_id, "session.sign_out", "accepted",
                        "another user signed in")
        self._user = user
        self._locked = False
        self._failed_unlocks = 0
        self._last_activity = now
        return SignInResult(True, user)

    def _check_lock(self, now: datetime) -> bool:
        """Whether locked at ``now``; an idle timeout found here is recorded once."""
        if self._locked:
            return True
        if self.is_locked(now):
            assert self._last_activity is not None
            self._set_locked(self._last_activity + self._settings.idle_lock_after, "idle")
            return True
        return False

    def _set_locked(self, at: datetime, reason: str) -> None:
        self._locked = True
        assert self._user is not None
        self._audit(at, self._user.user_id, "session.lock", "accepted", reason)

    def _offline_failure(
        self, verifier: str, verified_at: datetime, password: str, now: datetime
    ) -> str | None:
        try:
            self._hasher.verify(verifier, password)
        except (VerificationError, InvalidHashError):
            return SignInFailure.BAD_CREDENTIALS
        if now - verified_at > self._settings.offline_signin_validity:
            return SignInFailure.EXPIRED
        return None

    def _cached_user_id(self, email: str) -> str | None:
        with self._store.session() as session:
            return session.scalar(select(CachedUser.user_id).where(CachedUser.email == email))

    def _audit(self, at: datetime, user_id: str | None, intent: str, outcome: str,
               reason: str) -> None:
        with self._store.write() as session:
            self._add_audit(session, at, user_id, intent, outcome, reason)

    @staticmethod
    def _add_audit(session: Session, at: datetime, user_id: str | None, intent: str,
                   outcome: str, reason: str) -> None:
        session.add(LocalAuditEntry(at=at, user_id=user_id, intent=intent, target=user_id or "",
                                    outcome=outcome, reason=reason))


#: Permission names cached by desks before the server took seed 003's names: an offline
#: sign-in after the update keeps the rights the user had.
RENAMED = {"booking:create": "booking:create_appointment",
           "booking:modify": "booking:modify_appointment",
           "booking:cancel": "booking:cancel_appointment"}


def _cached(row: CachedUser) -> tuple[SignedInUser, str, datetime]:
    user = SignedInUser(row.user_id, row.organization_id, row.email, row.display_name,
                        tuple(_strings(row.roles)),
                        frozenset(RENAMED.get(p, p) for p in _strings(row.permissions)),
                        online=False, departments=_departments(row.departments))
    return user, row.verifier, row.verified_at


def _departments(cached: list[Any] | None) -> tuple[Department, ...] | None:
    if cached is None:
        return None
    return tuple(Department(str(pair[0]), str(pair[1])) for pair in cached)


def _strings(values: Iterable[object]) -> list[str]:
    return [str(v) for v in values]
