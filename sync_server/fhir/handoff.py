"""The booking hand-off of seed 004: a client app sends a patient to the portal with
``state`` and ``returnUrl``; the portal sends them back with the outcome.

:func:`begin` checks the ``returnUrl`` against the allow-lists of the organization's
active clients (:mod:`sync_server.fhir.clients`) and the ``state`` (present, at most
512 printable characters, never used before by that client) and records the
hand-off. :func:`finish` records how it ended, once, and gives the URL to redirect
to: the client's ``returnUrl`` with ``state`` (untouched), ``outcome`` and, where
known, ``reason``, ``bookingRef``, ``appointmentRef`` (the FHIR Appointment id) and a
single-use ``resultToken`` (5 minutes, bound to the client) that the client
exchanges at the back channel (:func:`exchange`). Nothing in that URL names the
patient.

Successful calls write in the caller's transaction, which the caller commits (as
with :mod:`sync_server.services.booking`). A refusal rolls the caller's transaction
back, commits its own audit entry (ids and the code only) and raises
:class:`HandoffRefused`.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync_server.core.security import token_digest
from sync_server.db import models as db
from sync_server.fhir import clients
from sync_server.fhir.models import MAX_STATE_LENGTH, FhirClient, Handoff, ResultToken
from sync_server.fhir.resources import booking_ref, fhir_id
from sync_server.services import audit

#: How long a patient may take between the deep link and the return.
HANDOFF_LIFETIME = timedelta(hours=2)
#: How long a result token may wait for its exchange.
RESULT_TOKEN_LIFETIME = timedelta(minutes=5)

OUTCOMES = ("booked", "cancelled", "entered-in-error", "failed")
REASONS = ("slot-unavailable", "system-error", "auth-required", "validation")

# Refusal codes (HandoffRefused.code)
RETURN_URL_NOT_ALLOWED = "return-url-not-allowed"
STATE_MISSING = "state-missing"
STATE_INVALID = "state-invalid"
STATE_REUSED = "state-reused"
HANDOFF_UNKNOWN = "handoff-unknown"
HANDOFF_EXPIRED = "handoff-expired"
HANDOFF_FINISHED = "handoff-finished"
OUTCOME_INVALID = "outcome-invalid"
REASON_INVALID = "reason-invalid"
APPOINTMENT_UNKNOWN = "appointment-unknown"
TOKEN_INVALID = "result-token-invalid"
TOKEN_USED = "result-token-used"
TOKEN_EXPIRED = "result-token-expired"
TOKEN_OTHER_CLIENT = "result-token-other-client"

_ACTOR = audit.Actor(user_id="portal:handoff")


class HandoffRefused(Exception):
    """A hand-off request refused; ``code`` is one of the codes above (stable, no PHI)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class HandoffStart:
    id: str
    client_id: str  # the registered client's public ``client_id``
    expires_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


def _refuse(session: Session, organization_id: str, intent: str, code: str, *,
            target_type: str | None = None, target_id: str | None = None,
            now: datetime) -> HandoffRefused:
    """Roll the caller's transaction back, commit the refusal's audit entry, return the error."""
    session.rollback()
    audit.append(session, organization_id, at=now, actor=_ACTOR, intent=intent,
                 outcome="refused", target_type=target_type, target_id=target_id, reason=code)
    session.commit()
    return HandoffRefused(code)


def begin(session: Session, organization_id: str, return_url: str, state: str, *,
          now: datetime | None = None) -> HandoffStart:
    """Record a hand-off arriving at the portal, or refuse it (module doc)."""
    now = now or _now()
    if not state:
        raise _refuse(session, organization_id, "handoff.begin", STATE_MISSING, now=now)
    if len(state) > MAX_STATE_LENGTH or not state.isprintable():
        raise _refuse(session, organization_id, "handoff.begin", STATE_INVALID, now=now)
    client = clients.client_for_return_url(session, organization_id, return_url)
    if client is None:
        raise _refuse(session, organization_id, "handoff.begin", RETURN_URL_NOT_ALLOWED, now=now)
    state_hash = _state_hash(state)
    used = session.scalars(select(Handoff.id).where(
        Handoff.client_id == client.id, Handoff.state_hash == state_hash)).first()
    if used is not None:
        raise _refuse(session, organization_id, "handoff.begin", STATE_REUSED,
                      target_type="fhir_client", target_id=client.id, now=now)
    handoff = Handoff(id=str(uuid.uuid4()), organization_id=organization_id,
                      client_id=client.id, state=state, state_hash=state_hash,
                      return_url=return_url, created_at=now,
                      expires_at=now + HANDOFF_LIFETIME)
    try:
        with session.begin_nested():
            session.add(handoff)
    except IntegrityError:  # the same state at the same moment from another request
        raise _refuse(session, organization_id, "handoff.begin", STATE_REUSED,
                      target_type="fhir_client", target_id=client.id, now=now) from None
    audit.append(session, organization_id, at=now, actor=_ACTOR, intent="handoff.begin",
                 outcome="done", target_type="handoff", target_id=handoff.id,
                 reason=client.id)
    return HandoffStart(handoff.id, client.client_id, handoff.expires_at)


def finish(session: Session, handoff_id: str, *, outcome: str, reason: str | None = None,
           appointment_id: str | None = None, now: datetime | None = None) -> str:
    """Record how the hand-off ended (once) and return the URL to send the patient to."""
    now = now or _now()
    handoff = session.get(Handoff, handoff_id, with_for_update=True)
    if handoff is None:
        raise HandoffRefused(HANDOFF_UNKNOWN)  # no organization to audit it in
    org = handoff.organization_id

    def refuse(code: str) -> HandoffRefused:
        return _refuse(session, org, "handoff.finish", code, target_type="handoff",
                       target_id=handoff_id, now=now)

    if handoff.finished_at is not None:
        raise refuse(HANDOFF_FINISHED)
    if handoff.expires_at <= now:
        raise refuse(HANDOFF_EXPIRED)
    if outcome not in OUTCOMES:
        raise refuse(OUTCOME_INVALID)
    if reason is not None and reason not in REASONS:
        raise refuse(REASON_INVALID)
    appointment = db.get_in_org(session, db.Appointment, org, appointment_id) \
        if appointment_id else None
    if appointment_id is not None and appointment is None:
        raise refuse(APPOINTMENT_UNKNOWN)
    if outcome in ("booked", "entered-in-error") and appointment is None:
        raise refuse(APPOINTMENT_UNKNOWN)
    handoff.finished_at, handoff.outcome, handoff.reason = now, outcome, reason
    handoff.appointment_id = appointment_id
    params: list[tuple[str, str]] = [("state", handoff.state), ("outcome", outcome)]
    if reason is not None:
        params.append(("reason", reason))
    if appointment_id is not None:
        token = secrets.token_urlsafe(32)
        session.add(ResultToken(token_hash=token_digest(token), organization_id=org,
                                client_id=handoff.client_id, handoff_id=handoff.id,
                                appointment_id=appointment_id, created_at=now,
                                expires_at=now + RESULT_TOKEN_LIFETIME))
        params += [("bookingRef", booking_ref(appointment_id)),
                   ("appointmentRef", fhir_id(appointment_id)), ("resultToken", token)]
    session.flush()
    audit.append(session, org, at=now, actor=_ACTOR, intent="handoff.finish", outcome="done",
                 target_type="handoff", target_id=handoff.id, reason=outcome)
    return with_query(handoff.return_url, params)


def with_query(url: str, params: list[tuple[str, str]]) -> str:
    """``url`` with ``params`` added after its own query parameters."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + params
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


@dataclass(frozen=True, slots=True)
class Exchanged:
    appointment_id: str
    handoff_id: str


def exchange(session: Session, client: FhirClient, token: str, *,
             now: datetime | None = None) -> Exchanged:
    """Spend a result token (single use, unexpired, this client's) for its appointment id.

    Refusals are audited in the client's organization; the caller commits a success."""
    now = now or _now()
    org = client.organization_id

    def refuse(code: str, target: str | None = None) -> HandoffRefused:
        return _refuse(session, org, "handoff.exchange", code, target_type="fhir_client",
                       target_id=target or client.id, now=now)

    if not token or len(token) > 200 or not token.isascii():
        raise refuse(TOKEN_INVALID)
    row = session.get(ResultToken, token_digest(token), with_for_update=True)
    if row is None:
        raise refuse(TOKEN_INVALID)
    if row.client_id != client.id:
        # Audited in the exchanging client's organization, naming that client only.
        raise refuse(TOKEN_OTHER_CLIENT)
    if row.used_at is not None:
        raise refuse(TOKEN_USED)
    if row.expires_at <= now:
        raise refuse(TOKEN_EXPIRED)
    row.used_at = now
    session.flush()
    audit.append(session, org, at=now, actor=_ACTOR, intent="handoff.exchange", outcome="done",
                 target_type="handoff", target_id=row.handoff_id, reason=client.id)
    return Exchanged(row.appointment_id, row.handoff_id)
