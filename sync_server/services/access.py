"""Organization scoping of ids: another organization's id is a 404 and an audit entry;
a missing permission is a 403 and an audit entry; patient reads are audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.db.models import get_in_org
from sync_server.services import audit
from sync_server.services.errors import NotFound, PermissionDenied


class OrgScoped(Protocol):
    organization_id: Any


T = TypeVar("T", bound=OrgScoped)


def get_in_organization(
    session: Session,
    model: type[T],
    record_id: str,
    organization_id: str,
    actor: audit.Actor,
    now: datetime,
    *,
    target_type: str,
) -> T:
    """Return the record when it belongs to ``organization_id``; otherwise 404.

    When the id exists in another organization the attempt is an access
    outside scope: the caller's transaction is rolled back (nothing it did is
    kept), an ``access_denied`` entry is committed, and the answer is the
    same 404 as for an unknown id, so ids of other organizations cannot be probed.
    """
    record = get_in_org(session, model, organization_id, record_id)  # type: ignore[type-var]
    if record is not None:
        return record
    if elsewhere(session, model, record_id):
        _refused(session, organization_id, actor, now, "access_denied", target_type,
                 record_id, "other_organization")
    raise NotFound(f"No {target_type.replace('_', ' ')} with this id.", code="not_found")


def elsewhere(session: Session, model: Any, record_id: str) -> bool:
    """Whether ``record_id`` names a record of ``model`` (in any organization): the
    caller already found none in their own, so it is another organization's."""
    return session.scalar(select(model.id).where(model.id == record_id).limit(1)) is not None


def outside_scope(session: Session, organization_id: str, actor: audit.Actor, now: datetime,
                  target_type: str, target_id: str, reason: str) -> NotFound:
    """A record of the caller's organization outside their scope (another department):
    audited like another organization's id, and answered with the same 404."""
    _refused(session, organization_id, actor, now, "access_denied", target_type, target_id,
             reason)
    return NotFound(f"No {target_type.replace('_', ' ')} with this id.", code="not_found")


def refuse(
    session: Session,
    organization_id: str,
    actor: audit.Actor,
    now: datetime,
    *,
    permission: str,
    message: str | None = None,
) -> PermissionDenied:
    """Audit a refusal for want of ``permission`` and return the 403 to raise.

    Like the 404 above, whatever the caller's transaction did is rolled back and
    the ``permission_denied`` entry is committed on its own.
    """
    _refused(session, organization_id, actor, now, "permission_denied", "permission",
             permission, "missing_permission")
    return PermissionDenied(
        message or f"Your role does not allow this (needs the '{permission}' permission).",
        code="permission_denied",
    )


def record_reads(
    session: Session, organization_id: str, actor: audit.Actor, now: datetime,
    target_type: str, record_ids: list[str],
) -> None:
    """One ``read`` audit entry per record shown (seed 002: audit of all data access)."""
    for record_id in record_ids:
        audit.append(session, organization_id, at=now, actor=actor, intent="read",
                     outcome="done", target_type=target_type, target_id=record_id)
    if record_ids:
        session.commit()


def _refused(session: Session, organization_id: str, actor: audit.Actor, now: datetime,
             intent: str, target_type: str, target_id: str, reason: str) -> None:
    """Undo the caller's transaction, then commit the refusal's audit entry on its own."""
    session.rollback()
    audit.append(session, organization_id, at=now, actor=actor, intent=intent,
                 outcome="refused", target_type=target_type, target_id=target_id,
                 reason=reason)
    session.commit()
