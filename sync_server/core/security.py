"""Passwords (Argon2id), TOTP, signed access tokens and opaque bearer tokens.

Access tokens are ``v1.<payload>.<signature>``: base64url JSON claims signed
with HMAC-SHA256 under the server's signing key, valid ≤ 15 minutes and not
stored. Refresh, device and enrollment secrets are random (≥ 128 bits) and
only their SHA-256 is stored, so a database leak does not leak credentials.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sync_server.core.config import Settings

TOKEN_PREFIX = "v1"
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


def issue_access_token(
    key: bytes, user_id: str, organization_id: str, now: datetime, lifetime: timedelta
) -> tuple[str, datetime]:
    """Sign a short-lived access token; returns it and its expiry."""
    expires = now + lifetime
    claims = {
        "sub": user_id,
        "org": organization_id,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{TOKEN_PREFIX}.{payload}"
    return f"{signed}.{_b64(_sign(key, signed))}", expires


def read_access_token(key: bytes, token: str, now: datetime) -> AccessClaims:
    """Check signature and expiry; raise :class:`InvalidTokenError` otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise InvalidTokenError("malformed token")
    signed = f"{parts[0]}.{parts[1]}"
    try:
        signature = _unb64(parts[2])
        claims: dict[str, Any] = json.loads(_unb64(parts[1]))
    except (ValueError, binascii.Error) as exc:
        raise InvalidTokenError("malformed token") from exc
    if not hmac.compare_digest(signature, _sign(key, signed)):
        raise InvalidTokenError("bad signature")
    try:
        result = AccessClaims(
            str(claims["sub"]), str(claims["org"]), int(claims["iat"]), int(claims["exp"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidTokenError("malformed claims") from exc
    if now.timestamp() >= result.expires_at:
        raise InvalidTokenError("expired")
    return result


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
