"""Organization scoping of ids: another organization's id is a 404 and an audit entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from sync_server.services import audit
from sync_server.services.errors import NotFound


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
    record = session.get(model, record_id)
    if record is not None and record.organization_id == organization_id:
        return record
    if record is not None:
        session.rollback()
        audit.append(
            session,
            organization_id,
            at=now,
            actor=actor,
            intent="access_denied",
            outcome="refused",
            target_type=target_type,
            target_id=record_id,
            reason="other_organization",
        )
        session.commit()
    raise NotFound(f"No {target_type.replace('_', ' ')} with this id.", code="not_found")
