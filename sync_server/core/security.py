"""Passwords (Argon2id), TOTP, signed access tokens and opaque bearer tokens.

Access tokens are JWTs (RFC 7519, PyJWT): HS256 only (an explicit allow-list, so
``alg: none`` or an asymmetric-key confusion is refused), a ``kid`` header naming
the key that signed it, and ``sub``/``org``/``aud``/``iat``/``exp`` claims, valid
≤ 15 minutes and not stored. :class:`TokenKeys` signs with one key and accepts
several, so a key can be rotated across instances without signing anyone out
(docs/admin.md). Refresh, device and enrollment secrets are random (≥ 128 bits)
and only their SHA-256 is stored, so a database leak does not leak credentials.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sync_server.core.config import Settings

MIN_PASSWORD_LENGTH = 10
#: Letters without look-alikes (no 0/O, 1/I/L), for codes read aloud or typed.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_GROUPS, CODE_GROUP_LENGTH = 5, 5  # 25 symbols of 31 → ≈ 124 bits


class InvalidTokenError(Exception):
    """A token is malformed, forged or expired."""


def password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


class Passwords:
    """Argon2id hashing with a dummy verification for unknown accounts (equal timing)."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher
        self._dummy = hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and bool(stored_hash)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def verify_totp(secret: str, code: str, now: datetime) -> bool:
    """Accept the code of the current 30 s step or its neighbours (clock drift)."""
    code = code.strip().replace(" ", "")
    return code.isdigit() and pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` link an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_recovery_code() -> str:
    """A one-time recovery code, ``xxxxx-xxxxx`` (about 50 random bits)."""
    letters = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{letters[:5]}-{letters[5:]}"


def normalize_recovery_code(code: str) -> str:
    """Lower case, without spaces or dashes, as typed from paper."""
    return "".join(ch for ch in code.lower() if ch.isalnum())


def new_opaque_token() -> str:
    """A bearer secret with 256 random bits."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored for an opaque token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_enrollment_code() -> str:
    """A one-time code an administrator reads to a desk: ``ABCDE-FGHJK-…``."""
    groups = (
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
        for _ in range(CODE_GROUPS)
    )
    return "-".join(groups)


def normalize_enrollment_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    organization_id: str
    issued_at: int
    expires_at: int
    #: Space-separated scopes (tokens of FHIR API clients); empty for staff tokens.
    scope: str = ""


#: The only algorithm accepted; anything else in a token's header is refused.
ALGORITHMS = ("HS256",)
AUDIENCE = "clinicdesk-api"
#: How far a token's ``iat`` may lie ahead of this server's clock (instances' clocks differ).
CLOCK_SKEW_SECONDS = 60


def key_id(key: bytes) -> str:
    """A key's public name (``kid``): the start of its SHA-256, never the key itself."""
    return hashlib.sha256(b"clinicdesk token key|" + key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class TokenKeys:
    """The key that signs new access tokens and every key whose tokens are still accepted."""

    signing: bytes
    accepted: tuple[bytes, ...] = ()

    @property
    def by_id(self) -> dict[str, bytes]:
        return {key_id(k): k for k in (self.signing, *self.accepted)}


def issue_access_token(
    keys: TokenKeys, user_id: str, organization_id: str, now: datetime, lifetime: timedelta,
    *, audience: str = AUDIENCE, scope: str | None = None,
) -> tuple[str, datetime]:
    """Sign a short-lived access token; returns it and its expiry. Tokens of another
    ``audience`` (the FHIR API's clients) are never accepted where staff tokens are."""
    expires = now + lifetime
    claims: dict[str, Any] = {
        "sub": user_id,
        "org": organization_id,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    if scope is not None:
        claims["scope"] = scope
    token = jwt.encode(claims, keys.signing, algorithm=ALGORITHMS[0],
                       headers={"kid": key_id(keys.signing)})
    return token, expires


def read_access_token(keys: TokenKeys, token: str, now: datetime, *,
                      audience: str = AUDIENCE) -> AccessClaims:
    """Check algorithm, key, signature, audience, ``iat`` and expiry against ``now``;
    raise :class:`InvalidTokenError` otherwise. A token whose signature checked out
    before is not checked again (:func:`_signed_claims` keeps the last few thousand);
    its times are, on every call."""
    result = _signed_claims(keys, token, audience)
    moment = now.timestamp()
    if moment >= result.expires_at:
        raise InvalidTokenError("expired")
    if result.issued_at > moment + CLOCK_SKEW_SECONDS:
        raise InvalidTokenError("issued in the future")
    return result


@functools.lru_cache(maxsize=4096)
def _signed_claims(keys: TokenKeys, token: str, audience: str) -> AccessClaims:
    """The claims of a token signed by one of ``keys`` for ``audience`` (times unchecked).
    Cached: a refused token raises, and nothing is kept for it."""
    try:
        header = jwt.get_unverified_header(token)
        key = keys.by_id.get(str(header.get("kid")))
        if key is None:
            raise InvalidTokenError("unknown key")
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=list(ALGORITHMS), audience=audience,
            # exp and iat are checked by the caller against the server's (injectable) clock
            options={"require": ["sub", "org", "aud", "iat", "exp"], "verify_exp": False,
                     "verify_iat": False})
        return AccessClaims(str(claims["sub"]), str(claims["org"]), int(claims["iat"]),
                            int(claims["exp"]), str(claims.get("scope", "")))
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError) as exc:
        raise InvalidTokenError("malformed, forged or foreign token") from exc
