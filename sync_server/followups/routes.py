"""HTTP routes of follow-ups and recalls (docs/user-guide.md, "Follow-ups and recalls").

The desk calls them as itself naming the signed-in user (like the notifications API):
the list of due and overdue follow-ups of a clinic, logging a call, sending a booking
invitation, and the counts for statistics. Booking one is the normal booking path.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from scheduling.commands import Permission
from sync_server.api.deps import NowDep, SessionDep, sqlite_write_turn
from sync_server.api.fields import IdPath, IdQuery, Reason
from sync_server.followups import service
from sync_server.notifications.routes import needs
from sync_server.services import accounts
from sync_server.services.errors import AlreadyExists, InvalidInput, NotFound

router = APIRouter(tags=["follow-ups"], dependencies=[Depends(sqlite_write_turn)])
Viewer = Annotated[accounts.Principal, Depends(needs("booking:view_calendar"))]
Booker = Annotated[accounts.Principal, Depends(needs(Permission.CREATE.value))]


def _refused(error: service.FollowUpError) -> Exception:
    if error.code.startswith("unknown_"):
        return NotFound(error.message, code=error.code)
    if error.code == "follow_up_closed":
        return AlreadyExists(error.message, code=error.code)
    return InvalidInput(error.message, code=error.code)


@router.get("/follow-ups")
def list_follow_ups(user: Viewer, session: SessionDep, now: NowDep,
                    clinic_id: IdQuery) -> dict[str, Any]:
    """Open follow-ups and recalls of the clinic that are due or overdue today (the
    clinic's local day), the most overdue first."""
    items = service.due_list(session, user.organization_id, clinic_id, now)
    return {"items": service.listed_json(items)}


class CallBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Reason = ""


@router.post("/follow-ups/{follow_up_id}/calls", status_code=201)
def log_call(follow_up_id: IdPath, body: CallBody, user: Booker, session: SessionDep,
             now: NowDep) -> dict[str, Any]:
    """Note a call to the patient (who and when come from the request)."""
    try:
        contact = service.log_call(session, user.organization_id, follow_up_id,
                                   user.user_id, body.note, now)
    except service.FollowUpError as error:
        raise _refused(error) from None
    session.commit()
    return {"id": contact.id, "kind": contact.kind, "at": service.instant(contact.at)}


@router.post("/follow-ups/{follow_up_id}/invitation", status_code=201)
def send_invitation(follow_up_id: IdPath, user: Booker, session: SessionDep,
                    now: NowDep) -> dict[str, Any]:
    """Queue a booking invitation to the patient in the notifications outbox."""
    try:
        contact = service.invite(session, user.organization_id, follow_up_id, user.user_id,
                                 now)
    except service.FollowUpError as error:
        raise _refused(error) from None
    session.commit()
    return {"id": contact.id, "kind": contact.kind, "at": service.instant(contact.at),
            "notification_id": contact.notification_id}


@router.get("/follow-ups/summary")
def follow_up_summary(user: Viewer, session: SessionDep, now: NowDep,
                      clinic_id: IdQuery,
                      first: date, last: date) -> dict[str, int]:
    """Statistics: follow-ups whose window ended in local days ``first``..``last``."""
    if last < first or (last - first).days > 3660:
        raise InvalidInput("The range must run forwards and span at most ten years.")
    return service.summary(session, user.organization_id, clinic_id, first, last, now)
