"""The signed-in user's department context on the desk (seed 000, 002).

The desk keeps the whole organization (it judges bookings against every appointment),
but a user whose role is department-scoped sees only their departments: providers,
rooms and equipment of another department, and the appointments that use them, are
left out of the agenda, the patient's lists, free-time searches, the booking dialog's
choices and the today board, as the server's API leaves them out. Resources without a
department are shared. Booking, moving or changing with another department's resource
is refused here in the words the server uses for it (``UNKNOWN_RECORD``: the record
"was not found"), before anything is queued. A user without department limits
(``SignedInUser.departments`` None) sees everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.services.session import SignedInUser
from desktop.store.models import AppointmentRow, ResourceRow
from scheduling.commands import Refused
from scheduling.refusals import RefusalCode


def hidden_resources(session: Session, user: SignedInUser) -> frozenset[str]:
    """Providers, rooms and equipment of departments outside ``user``'s context."""
    if user.departments is None:
        return frozenset()
    mine = {d.id for d in user.departments}
    return frozenset(
        resource_id for resource_id, department_id in session.execute(
            select(ResourceRow.id, ResourceRow.department_id)
            .where(ResourceRow.department_id.is_not(None)))
        if department_id not in mine)


def uses_hidden(hidden: frozenset[str], *resource_ids: str | Iterable[str] | None) -> bool:
    """Whether any of ``resource_ids`` (ids, id collections or None) is hidden."""
    for value in resource_ids:
        if value is None:
            continue
        if (value in hidden) if isinstance(value, str) else bool(set(value) & hidden):
            return True
    return False


#: Command attributes naming a resource, and the record kind a refusal names.
RESOURCE_FIELDS = (("provider_id", "provider"), ("room_id", "room"),
                   ("equipment_ids", "equipment"))


def outside_refusal(session: Session, user: SignedInUser, command: object,
                    target_id: str | None) -> Refused | None:
    """The refusal of a command naming another department's resource, or changing an
    appointment that uses one (as the server refuses it); None when it names none."""
    hidden = hidden_resources(session, user)
    if not hidden:
        return None
    for field, kind in RESOURCE_FIELDS:
        if uses_hidden(hidden, getattr(command, field, None)):
            return Refused(RefusalCode.UNKNOWN_RECORD, {"kind": kind})
    target = None if target_id is None else session.get(AppointmentRow, target_id)
    if target is not None and uses_hidden(hidden, target.provider_id, target.room_id,
                                          target.equipment_ids):
        return Refused(RefusalCode.UNKNOWN_RECORD, {"kind": "appointment"})
    return None


def context_names(user: SignedInUser) -> tuple[str, ...] | None:
    """The names of the user's departments (sorted); None: the whole organization."""
    if user.departments is None:
        return None
    return tuple(sorted(d.name for d in user.departments))


__all__ = ["context_names", "hidden_resources", "outside_refusal", "uses_hidden"]
