"""What every desk service needs: the store, the session, the clock, the policy, new ids.

Built once at start and passed to each service; tests build it with a fixed
clock and a counting id factory.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from sqlalchemy.orm import Session

from desktop.services.dto import RefusalDTO
from desktop.services.session import Clock, SignedInUser, SignInService
from desktop.store.engine import Store
from desktop.store.models import LocalAuditEntry
from scheduling.audit import AuditRecord
from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import Actor, Policy
from scheduling.refusals import N_, RefusalCode, message_for


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class DeskContext:
    store: Store
    sessions: SignInService
    clock: Clock
    policy: Policy = DEFAULT_POLICY
    new_id: Callable[[], str] = field(default=_new_id)

    def now(self) -> datetime:
        return self.clock()

    def user(self) -> SignedInUser:
        """The signed-in, unlocked user; raises :class:`SessionLocked` otherwise."""
        return self.sessions.require_user()

    def actor(self) -> Actor:
        return self.sessions.actor()


def not_permitted(action: str) -> RefusalDTO:
    return RefusalDTO(RefusalCode.NOT_PERMITTED.value, message_for(RefusalCode.NOT_PERMITTED),
                      MappingProxyType({"action": action}))


def add_audit(session: Session, record: AuditRecord) -> None:
    """Persist a domain audit record in the local, append-only audit."""
    session.add(LocalAuditEntry(
        at=record.at, user_id=record.actor_id, intent=record.intent, target=record.target,
        outcome=record.outcome.value, reason=record.reason,
    ))


def add_event(session: Session, at: datetime, user_id: str, intent: str, target: str,
              outcome: str, reason: str = "") -> None:
    """Audit an action the domain has no command for (waitlist, patients, blockouts)."""
    session.add(LocalAuditEntry(at=at, user_id=user_id, intent=intent, target=target,
                                outcome=outcome, reason=reason))


class NotPermitted(Exception):
    """A query the signed-in user may not make (actions return a refusal instead)."""


def require(ctx: DeskContext, permission: str, action: str) -> SignedInUser:
    """The signed-in user if they hold ``permission``; raises :class:`NotPermitted`."""
    user = ctx.user()
    if permission not in user.permissions:
        raise NotPermitted(f"You do not have permission to {action}.")
    return user


def refusal(code: RefusalCode, **params: object) -> RefusalDTO:
    """A refusal decided by a desk service itself (not by the rules engine)."""
    return RefusalDTO(code.value, message_for(code), MappingProxyType(dict(params)))


#: Desk-level refusal codes for records the rules engine does not judge.
MISSING_FIELD = "MISSING_FIELD"
MISSING_FIELD_MESSAGE = N_("Please fill in {field}.")


def missing_field(field_name: str) -> RefusalDTO:
    return RefusalDTO(MISSING_FIELD, MISSING_FIELD_MESSAGE, MappingProxyType({"field": field_name}))
