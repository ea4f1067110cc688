"""A telemedicine visit seen from the desk: the server's
``/api/v1/appointments/{id}/telemedicine`` API.

The server keeps the video link, the patient's consent and the pre-visit documents (the
documents encrypted at rest); the desk reads them for the appointment shown and fetches
a document's content when the receptionist opens or saves it (the server audits each
download). Failures become :class:`NotificationsOffline` / :class:`NotificationsRefused`,
as for notifications.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from desktop.services.context import DeskContext
from desktop.services.notifications import NotificationsOffline, NotificationsRefused, ask
from desktop.services.server_call import ServerCall
from desktop.store.models import AppointmentTypeRow

__all__ = ["NotificationsOffline", "NotificationsRefused", "TelemedicineService",
           "TelemedicineVisit", "VisitDocument", "is_video_visit"]


@dataclass(frozen=True, slots=True)
class VisitDocument:
    id: str
    name: str
    content_type: str
    size: int
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class TelemedicineVisit:
    appointment_id: str
    telemedicine: bool
    #: ``None``: not a telemedicine visit, cancelled, or no link configured.
    video_url: str | None
    consent_required: bool
    consent_version: int | None
    consent_accepted: bool
    accepted_version: int | None
    accepted_at: datetime | None
    accepted_channel: str | None
    documents: tuple[VisitDocument, ...]


class TelemedicineService:
    """The visit API; ``call`` is the desk's server call naming the user."""

    def __init__(self, call: ServerCall) -> None:
        self._call = call

    def visit(self, appointment_id: str) -> TelemedicineVisit:
        return _visit(ask(self._call, "GET", _path(appointment_id)))

    def document(self, appointment_id: str, document_id: str) -> bytes:
        """The document's content (the server records the download)."""
        content = ask(self._call, "GET",
                      f"{_path(appointment_id)}/documents/{quote(document_id, safe='')}",
                      raw=True)
        return bytes(content)


def _path(appointment_id: str) -> str:
    return f"/api/v1/appointments/{quote(appointment_id, safe='')}/telemedicine"


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def _visit(answer: Mapping[str, Any]) -> TelemedicineVisit:
    consent = answer.get("consent") or {}
    return TelemedicineVisit(
        str(answer["appointment_id"]), bool(answer.get("telemedicine")),
        answer.get("video_url") or None, bool(consent.get("required")),
        consent.get("version"), bool(consent.get("accepted")), consent.get("accepted_version"),
        _instant(consent.get("accepted_at")), consent.get("channel"),
        tuple(VisitDocument(str(d["id"]), str(d["name"]), str(d["content_type"]),
                            int(d["size"]), datetime.fromisoformat(str(d["uploaded_at"])))
              for d in answer.get("documents") or ()))


def is_video_visit(ctx: DeskContext, appointment_type_id: str) -> bool:
    """Whether the type is a telemedicine type (from the desk's own store)."""
    with ctx.store.session() as session:
        kind = session.get(AppointmentTypeRow, appointment_type_id)
        return bool(kind is not None and kind.telemedicine)
