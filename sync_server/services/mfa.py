"""Enrolling a second factor: a TOTP secret confirmed with a code, and recovery codes.

Both steps ask for the password again (and, when a factor is already enrolled, a
code from it), so an unattended signed-in desk cannot swap the factor, and a user
whose role requires two-step sign-in can enrol before their first sign-in. The
new secret replaces the old one only when a code from it is confirmed; recovery
codes are shown once in that answer and stored as SHA-256 digests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.core.security import (
    Passwords,
    new_recovery_code,
    new_totp_secret,
    normalize_recovery_code,
    token_digest,
    totp_uri,
    verify_totp,
)
from sync_server.db.models import Organization, RecoveryCode, User
from sync_server.services import audit
from sync_server.services.accounts import Credentials, authenticate
from sync_server.services.errors import InvalidInput

RECOVERY_CODES = 10
ISSUER = "ClinicDesk"


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    otpauth_uri: str


def start(session: Session, settings: Settings, passwords: Passwords, given: Credentials,
          now: datetime) -> Enrolment:
    """A new secret for the user's authenticator app, pending until confirmed."""
    user = authenticate(session, settings, passwords, given, now)
    user.totp_pending_secret = new_totp_secret()
    org = session.get(Organization, user.organization_id)
    issuer = f"{ISSUER} ({org.name})" if org is not None else ISSUER
    _audit(session, user, now, "mfa_enrolment_start", "done")
    session.commit()
    return Enrolment(user.totp_pending_secret, totp_uri(user.totp_pending_secret, user.email,
                                                         issuer))


def confirm(session: Session, settings: Settings, passwords: Passwords, given: Credentials,
            code: str, now: datetime) -> list[str]:
    """Make the pending secret the user's factor when ``code`` comes from it; return the
    new recovery codes (the old ones stop working)."""
    user = authenticate(session, settings, passwords, given, now)
    pending = user.totp_pending_secret
    if pending is None:
        session.rollback()
        raise InvalidInput("Start the enrolment first: there is no code to confirm.",
                           code="no_enrolment")
    if not verify_totp(pending, code, now):
        _audit(session, user, now, "mfa_enrolment_confirm", "refused", "wrong_code")
        session.commit()
        raise InvalidInput(
            "This code does not match the new secret. Type the 6-digit code your "
            "authenticator app shows now for ClinicDesk (check that the phone's clock is "
            "right).", code="wrong_code")
    user.totp_secret, user.totp_pending_secret = pending, None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(id=str(uuid.uuid4()), organization_id=user.organization_id,
                                 user_id=user.id, created_at=now,
                                 code_hash=token_digest(normalize_recovery_code(code)))
                    for code in codes)
    _audit(session, user, now, "mfa_enrolment_confirm", "done")
    session.commit()
    return codes


def _audit(session: Session, user: User, now: datetime, intent: str, outcome: str,
           reason: str | None = None) -> None:
    audit.append(session, user.organization_id, at=now, actor=audit.Actor(user_id=user.id),
                 intent=intent, outcome=outcome, target_type="user", target_id=user.id,
                 reason=reason)
