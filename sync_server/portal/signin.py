"""Signing in to the portal: a one-time code sent by e-mail or SMS, a short cookie session,
and the CSRF token every form carries.

* A code is 6 digits, valid :data:`CODE_MINUTES`, stored only as an HMAC with the
  server's signing key (as is the address it went to); after :data:`MAX_ATTEMPTS`
  wrong tries it is spent, and a new one must be asked for.
* Codes asked for are limited per address and per client address (:class:`Guard`,
  in-process sliding windows like the staff sign-in's); so are code checks per client.
* The session cookie holds a random token; the database keeps its SHA-256. It lives
  :data:`SESSION_MINUTES` after its last use, is ``HttpOnly``, ``SameSite=Lax`` and
  ``Secure`` when the request came over https.
* CSRF: every form carries ``HMAC(key, "csrf:" + cookie)`` of a random per-browser
  cookie (signed double submit), checked on every POST.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from sync_server.core.throttle import SlidingWindow
from sync_server.notifications.channels import normalized_phone, valid_email
from sync_server.portal.models import PortalCode, PortalSession

CODE_MINUTES = 10
MAX_ATTEMPTS = 5
SESSION_MINUTES = 30
SESSION_COOKIE = "cd_portal"
CSRF_COOKIE = "cd_portal_csrf"
#: Codes one address may be sent per quarter hour; codes one client address may ask for.
CODES_PER_ADDRESS = 3
CODES_PER_CLIENT = 10
#: Code checks one client address may make per quarter hour.
CHECKS_PER_CLIENT = 20
WINDOW = 15 * 60.0


@dataclass
class Guard:
    """The portal's rate limits, kept in the process (one per application)."""

    per_address: SlidingWindow = field(
        default_factory=lambda: SlidingWindow(CODES_PER_ADDRESS, WINDOW))
    per_client: SlidingWindow = field(
        default_factory=lambda: SlidingWindow(CODES_PER_CLIENT, WINDOW))
    checks: SlidingWindow = field(
        default_factory=lambda: SlidingWindow(CHECKS_PER_CLIENT, WINDOW))


def address_of(given: str) -> tuple[str, str] | None:
    """``("email", address)`` or ``("sms", +number)`` for what a patient typed, else None."""
    text = given.strip()
    if "@" in text:
        return ("email", text.lower()) if valid_email(text) else None
    number = normalized_phone(text)
    return ("sms", number) if number else None


def keyed(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_code(session: Session, key: bytes, organization_id: str, address: str,
             now: datetime) -> tuple[PortalCode, str]:
    """A fresh code for ``address``: the row (hashes only) and the code to send."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = PortalCode(id=str(uuid.uuid4()), organization_id=organization_id,
                     address_hash=keyed(key, "address", address),
                     code_hash=keyed(key, "code", code), created_at=now,
                     expires_at=now + timedelta(minutes=CODE_MINUTES), attempts=0)
    session.add(row)
    return row, code


def check_code(session: Session, key: bytes, row: PortalCode | None, given: str,
               now: datetime) -> str:
    """``ok``, ``wrong``, ``expired`` or ``locked`` (too many tries: spent); counts the try."""
    if row is None or row.used_at is not None:
        return "expired"
    if row.attempts >= MAX_ATTEMPTS:
        return "locked"
    if row.expires_at <= now:
        return "expired"
    row.attempts += 1
    if hmac.compare_digest(row.code_hash, keyed(key, "code", given.strip())):
        row.used_at = now
        return "ok"
    return "locked" if row.attempts >= MAX_ATTEMPTS else "wrong"


def open_session(session: Session, organization_id: str,
                 now: datetime) -> tuple[PortalSession, str]:
    token = secrets.token_urlsafe(32)
    row = PortalSession(token_hash=token_hash(token), organization_id=organization_id,
                        channel="", address="", created_at=now,
                        expires_at=now + timedelta(minutes=SESSION_MINUTES))
    session.add(row)
    return row, token


def find_session(session: Session, organization_id: str, token: str | None,
                 now: datetime) -> PortalSession | None:
    if not token or len(token) > 100:
        return None
    row = session.get(PortalSession, token_hash(token))
    if row is None or row.organization_id != organization_id or row.expires_at <= now:
        return None
    return row


def csrf_token(key: bytes, browser: str) -> str:
    return keyed(key, "csrf", browser)


def csrf_ok(key: bytes, browser: str | None, given: str | None) -> bool:
    return bool(browser) and bool(given) and hmac.compare_digest(
        csrf_token(key, browser or ""), given or "")
