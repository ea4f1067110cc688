"""A resource out of service, seen from the desk: the server's ``/api/v1/outages`` API.

The server writes the outage (it blocks new bookings at once), lists the appointments
it hits with the placements the rules accept, and moves them through the normal move
path; the desk shows the list with its own patient names and lets staff apply the
proposals one by one or all at once. Failures become
:class:`NotificationsOffline` / :class:`NotificationsRefused`, as for notifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from desktop.services.context import DeskContext
from desktop.services.notifications import NotificationsOffline, NotificationsRefused, ask
from desktop.services.server_call import ServerCall
from desktop.store.models import PatientRow

BASE = "/api/v1/outages/incidents"

__all__ = [
    "Affected",
    "Incident",
    "NotificationsOffline",
    "NotificationsRefused",
    "OutagesService",
    "Outcome",
    "Proposal",
    "patient_names",
]


@dataclass(frozen=True, slots=True)
class Proposal:
    start: datetime
    end: datetime
    provider_id: str
    room_id: str | None
    kind: str  # "other_room", "other_equipment", "other_provider", "other_time"

    def wire(self) -> dict[str, Any]:
        return {"start": _text(self.start), "end": _text(self.end),
                "provider_id": self.provider_id, "room_id": self.room_id, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class Affected:
    appointment_id: str
    patient_id: str
    start: datetime
    end: datetime
    provider_id: str
    room_id: str | None
    proposals: tuple[Proposal, ...]


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    resource_id: str
    start: datetime
    end: datetime
    affected: tuple[Affected, ...]
    decided: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    appointment_id: str
    action: str  # "moved", "refused" or "unplaced"
    code: str | None = None


class OutagesService:
    def __init__(self, call: ServerCall) -> None:
        self._call = call

    def start(self, resource_id: str, start: datetime, end: datetime,
              reason: str) -> Incident:
        return _incident(self._ask("POST", BASE, json={
            "resource_id": resource_id, "start": _text(start), "end": _text(end),
            "reason": reason}))

    def read(self, incident_id: str) -> Incident:
        return _incident(self._ask("GET", f"{BASE}/{incident_id}"))

    def apply(self, incident_id: str, appointment_id: str, proposal: Proposal) -> Outcome:
        return _outcome(self._ask("POST", f"{BASE}/{incident_id}/apply", json={
            "appointment_id": appointment_id, "placement": proposal.wire()}))

    def apply_all(self, incident_id: str) -> list[Outcome]:
        answer = self._ask("POST", f"{BASE}/{incident_id}/apply-all")
        return [_outcome(item) for item in answer["outcomes"]]

    def _ask(self, method: str, path: str, **kwargs: Any) -> Any:
        return ask(self._call, method, path, **kwargs)


def patient_names(ctx: DeskContext, patient_ids: Iterable[str]) -> dict[str, str]:
    """Names of the patients this desk mirrors (the server sends ids)."""
    with ctx.store.session() as session:
        return {p.id: f"{p.given_name} {p.family_name}" for p in session.scalars(
            select(PatientRow).where(PatientRow.id.in_(set(patient_ids))))}


def _text(value: datetime) -> str:
    return value.isoformat()


def _when(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _proposal(item: Mapping[str, Any]) -> Proposal:
    return Proposal(_when(item["start"]), _when(item["end"]), str(item["provider_id"]),
                    item.get("room_id"), str(item["kind"]))


def _incident(item: Mapping[str, Any]) -> Incident:
    return Incident(
        str(item["id"]), str(item["resource_id"]), _when(item["start"]), _when(item["end"]),
        tuple(Affected(str(a["appointment_id"]), str(a["patient_id"]), _when(a["start"]),
                       _when(a["end"]), str(a["provider_id"]), a.get("room_id"),
                       tuple(_proposal(p) for p in a["proposals"]))
              for a in item["affected"]),
        len(item.get("decisions") or ()))


def _outcome(item: Mapping[str, Any]) -> Outcome:
    return Outcome(str(item["appointment_id"]), str(item["action"]), item.get("code"))
