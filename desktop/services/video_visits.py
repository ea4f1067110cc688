"""Video visits seen from the desk: the server's ``/api/v1/appointments/{id}/telemedicine``
API (docs/telemedicine.md, "Session log").

"Join video" records the provider's join on the server and answers the visit's video
link; "Leave video" records the leave; the session log lists who joined and left and
the problems the patient reported. Failures become :class:`NotificationsOffline` /
:class:`NotificationsRefused`, as for the other server screens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from desktop.services.context import DeskContext
from desktop.services.notifications import NotificationsOffline, NotificationsRefused, ask
from desktop.services.server_call import ServerCall
from desktop.store.models import AppointmentTypeRow

__all__ = ["NotificationsOffline", "NotificationsRefused", "SessionEntry", "SessionLog",
           "VideoVisitsService", "is_video_type"]


@dataclass(frozen=True, slots=True)
class SessionEntry:
    role: str  # "patient" or "provider"
    action: str  # "join", "leave" or "problem"
    at: datetime
    problem: str | None = None
    problem_text: str | None = None


@dataclass(frozen=True, slots=True)
class SessionLog:
    appointment_id: str
    entries: tuple[SessionEntry, ...]
    video_url: str | None
    #: The no-join case's state ("offered", "moved", "rebooked", "closed") or None.
    no_join: str | None = None


class VideoVisitsService:
    def __init__(self, call: ServerCall) -> None:
        self._call = call

    def join(self, appointment_id: str) -> SessionLog:
        return _log(ask(self._call, "POST", _path(appointment_id, "join")))

    def leave(self, appointment_id: str) -> SessionLog:
        return _log(ask(self._call, "POST", _path(appointment_id, "leave")))

    def log(self, appointment_id: str) -> SessionLog:
        return _log(ask(self._call, "GET", _path(appointment_id, "sessions")))


def is_video_type(ctx: DeskContext, appointment_type_id: str) -> bool:
    """Whether the desk's mirror marks the type as a video visit."""
    with ctx.store.session() as session:
        return bool(session.scalar(select(AppointmentTypeRow.telemedicine).where(
            AppointmentTypeRow.id == appointment_type_id)))


def _path(appointment_id: str, what: str) -> str:
    return f"/api/v1/appointments/{appointment_id}/telemedicine/{what}"


def _log(item: Mapping[str, Any]) -> SessionLog:
    case = item.get("no_join")
    return SessionLog(
        str(item["appointment_id"]),
        tuple(SessionEntry(str(e["role"]), str(e["action"]),
                           datetime.fromisoformat(str(e["at"]).replace("Z", "+00:00")),
                           e.get("problem"), e.get("problem_text"))
              for e in item["events"]),
        item.get("video_url"), case.get("state") if case else None)
