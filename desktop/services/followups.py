"""Follow-ups and recalls seen from the desk: the server's ``/api/v1/follow-ups`` API.

The server keeps the follow-ups (opened when a visit is completed, satisfied when a
matching appointment is booked); the desk lists those due and overdue today in the
clinic, logs calls, asks the server to send a booking invitation, and reads the
counts. Names, phones and type names come from the desk's own store
(:func:`follow_up_people`): the server sends ids. Failures become
:class:`NotificationsOffline` / :class:`NotificationsRefused`, as for notifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from desktop.services.context import DeskContext
from desktop.services.dto import PatientDTO
from desktop.services.notifications import NotificationsOffline, NotificationsRefused, ask
from desktop.services.patients import get as get_patient
from desktop.services.server_call import ServerCall
from desktop.store.models import AppointmentTypeRow, PatientRow

BASE = "/api/v1/follow-ups"

__all__ = ["FollowUp", "FollowUpContact", "FollowUpPerson", "FollowUpsService",
           "NotificationsOffline", "NotificationsRefused", "follow_up_patient",
           "follow_up_people"]


@dataclass(frozen=True, slots=True)
class FollowUpContact:
    kind: str  # "invitation" or "call"
    note: str
    by_user_id: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class FollowUp:
    id: str
    clinic_id: str
    patient_id: str
    appointment_type_id: str
    kind: str  # "follow_up" or "recall"
    due_from: date
    due_until: date
    standing: str  # "due" or "overdue"
    contacts: tuple[FollowUpContact, ...] = ()

    @property
    def overdue(self) -> bool:
        return self.standing == "overdue"


@dataclass(frozen=True, slots=True)
class FollowUpPerson:
    """What the desk itself knows of a follow-up's patient and wanted type."""

    name: str
    phone: str
    type_name: str


class FollowUpsService:
    """The follow-ups API; ``call`` is the desk's server call naming the user."""

    def __init__(self, call: ServerCall) -> None:
        self._call = call

    def due(self, clinic_id: str) -> list[FollowUp]:
        answer = self._ask("GET", BASE, params={"clinic_id": clinic_id})
        return [_follow_up(item) for item in answer["items"]]

    def log_call(self, follow_up_id: str, note: str) -> None:
        self._ask("POST", f"{BASE}/{follow_up_id}/calls", json={"note": note})

    def invite(self, follow_up_id: str) -> None:
        self._ask("POST", f"{BASE}/{follow_up_id}/invitation")

    def summary(self, clinic_id: str, first: date, last: date) -> dict[str, int]:
        answer = self._ask("GET", f"{BASE}/summary", params={
            "clinic_id": clinic_id, "first": first.isoformat(), "last": last.isoformat()})
        return {str(k): int(v) for k, v in answer.items()}

    def _ask(self, method: str, path: str, **kwargs: Any) -> Any:
        return ask(self._call, method, path, **kwargs)


def follow_up_people(ctx: DeskContext, items: Iterable[FollowUp]) -> dict[str, FollowUpPerson]:
    """Per follow-up id: the patient's name and phone and the type's name from the desk's
    store (empty when the desk does not mirror them)."""
    wanted = list(items)
    with ctx.store.session() as session:
        patients = {p.id: p for p in session.scalars(select(PatientRow).where(
            PatientRow.id.in_({f.patient_id for f in wanted})))}
        types = {str(i): str(n) for i, n in session.execute(
            select(AppointmentTypeRow.id, AppointmentTypeRow.name))}
    found: dict[str, FollowUpPerson] = {}
    for item in wanted:
        patient = patients.get(item.patient_id)
        name = f"{patient.given_name} {patient.family_name}" if patient else ""
        found[item.id] = FollowUpPerson(name, patient.phone if patient else "",
                                        types.get(item.appointment_type_id, ""))
    return found


def follow_up_patient(ctx: DeskContext, item: FollowUp) -> PatientDTO | None:
    """The patient to book the follow-up for (None when this desk does not know them)."""
    return get_patient(ctx, item.patient_id)


def _follow_up(item: Mapping[str, Any]) -> FollowUp:
    return FollowUp(
        str(item["id"]), str(item["clinic_id"]), str(item["patient_id"]),
        str(item["appointment_type_id"]), str(item["kind"]),
        date.fromisoformat(str(item["due_from"])), date.fromisoformat(str(item["due_until"])),
        str(item["standing"]),
        tuple(FollowUpContact(str(c["kind"]), str(c.get("note") or ""),
                              c.get("by_user_id"),
                              datetime.fromisoformat(str(c["at"]).replace("Z", "+00:00")))
              for c in item.get("contacts") or ()))
