"""Visits (several appointments of one patient booked, moved and cancelled together) and
"which clinics have room on a day", asked of the server.

A visit is all or nothing, so the desk never books one optimistically: it asks the
server's visit endpoint (as itself, naming the signed-in user) and the next pull brings
the appointments. Offline, nothing is sent and the caller says that visits need the
server. A refusal names the part that failed (``params["part"]``, counted from 0) with
the rules' reason and alternatives. Where an appointment stands in its visit is read
from this desk's copy (:func:`visit_position`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import select

from desktop.services.admin import ServerCall
from desktop.services.context import DeskContext
from desktop.services.dto import AlternativeDTO, RefusalDTO
from desktop.store.models import AppointmentRow, ClinicRow
from desktop.sync.errors import RequestRefused, SyncError
from scheduling.model import AppointmentStatus
from scheduling.refusals import RefusalCode, message_for

API = "/api/v1"
#: Statuses of a part that no longer occupies time: it leaves the visit's count (the
#: server moves and cancels only the parts that still occupy time, counted the same way).
_GONE = tuple(s.value for s in AppointmentStatus if not s.occupies_time)


@dataclass(frozen=True, slots=True)
class VisitPart:
    """One appointment of a visit as the booking dialog lists it before booking."""

    appointment_type_id: str
    provider_id: str
    start: datetime
    end: datetime
    room_id: str | None = None
    notes: str = ""
    slot_template_id: str | None = None


@dataclass(frozen=True, slots=True)
class VisitOutcome:
    """The server's answer: ``ok`` with the visit id, or the refusal of one part
    (``part`` counted from 0; None when the refusal concerns the whole visit), or
    ``offline`` when the server could not be reached (nothing was booked)."""

    ok: bool
    visit_id: str = ""
    refusal: RefusalDTO | None = None
    part: int | None = None
    offline: bool = False
    #: The server's own words when it refused something that is not a booking rule.
    server_message: str = ""


@dataclass(frozen=True, slots=True)
class ClinicWithRoom:
    clinic_id: str
    free_slots: int
    first: AlternativeDTO


class VisitsService:
    """The visit and clinic-availability APIs for one desk session."""

    def __init__(self, call: ServerCall, new_id: Any) -> None:
        self._call = call
        self._new_id = new_id

    def book(self, clinic_id: str, patient_id: str, parts: Sequence[VisitPart]) -> VisitOutcome:
        """Book every part (one patient, one clinic) or none."""
        visit_id = str(self._new_id())
        body = {"visit_id": visit_id, "appointments": [
            {"appointment_id": str(self._new_id()), "clinic_id": clinic_id,
             "patient_id": patient_id, "appointment_type_id": p.appointment_type_id,
             "provider_id": p.provider_id, "room_id": p.room_id,
             "start": p.start.astimezone(UTC).isoformat(),
             "end": p.end.astimezone(UTC).isoformat(), "notes": p.notes,
             **({"slot_template_id": p.slot_template_id} if p.slot_template_id else {})}
            for p in parts]}
        return self._send("POST", f"{API}/visits", body, visit_id)

    def move(self, visit_id: str, earliest_start: datetime) -> VisitOutcome:
        """Move every part still to come by one shift: the earliest to ``earliest_start``."""
        return self._send("POST", f"{API}/visits/{visit_id}/move",
                          {"start": earliest_start.astimezone(UTC).isoformat()}, visit_id)

    def cancel(self, visit_id: str, reason: str, category: str | None = None) -> VisitOutcome:
        """Cancel every part that still occupies time."""
        body: dict[str, Any] = {"reason": reason}
        if category:
            body["category"] = category
        return self._send("POST", f"{API}/visits/{visit_id}/cancel", body, visit_id)

    def clinics_with_room(self, appointment_type_id: str, day: date) -> list[ClinicWithRoom]:
        """The clinics with at least one free slot for the type on local ``day``, earliest
        free slot first (``get_available_clinics``); raises :class:`SyncError` offline."""
        answer = self._call("GET", f"{API}/availability/clinics", params={
            "appointment_type_id": appointment_type_id, "day": day.isoformat()})
        return [ClinicWithRoom(str(c["clinic_id"]), int(c["free_slots"]),
                               alternative_from_json(c["first"]))
                for c in answer["clinics"]]

    def _send(self, method: str, path: str, body: dict[str, Any],
              visit_id: str) -> VisitOutcome:
        try:
            self._call(method, path, json=body)
        except RequestRefused as refused:
            return _refused(refused)
        except SyncError as error:
            if error.transient:
                return VisitOutcome(False, offline=True)
            raise
        return VisitOutcome(True, visit_id)


def _refused(refused: RequestRefused) -> VisitOutcome:
    """A 409 booking refusal as the desk renders refusals; another 4xx in the server's
    words (e.g. a visit that no longer exists)."""
    try:
        code = RefusalCode(refused.code)
    except ValueError:
        return VisitOutcome(False, server_message=refused.server_message or str(refused))
    params = dict(refused.refusal.get("params") or {})
    part = params.get("part")
    return VisitOutcome(False, refusal=RefusalDTO(
        code.value, message_for(code), MappingProxyType(params),
        tuple(alternative_from_json(a) for a in refused.refusal.get("alternatives") or ())),
        part=part if isinstance(part, int) else None)


def alternative_from_json(data: Mapping[str, Any]) -> AlternativeDTO:
    """A free slot as the server writes it (``alternative_json``)."""
    return AlternativeDTO(
        start=datetime.fromisoformat(str(data["start"])).astimezone(UTC),
        end=datetime.fromisoformat(str(data["end"])).astimezone(UTC),
        provider_id=str(data["provider_id"]), room_id=data.get("room_id"),
        equipment_ids=tuple(data.get("equipment_ids") or ()))


def clinic_places(ctx: DeskContext) -> dict[str, tuple[str, str, str]]:
    """Clinic id → (name, time zone, locale) of every clinic this desk mirrors."""
    with ctx.store.session() as session:
        return {row.id: (row.name, row.time_zone, row.locale)
                for row in session.scalars(select(ClinicRow))}


@dataclass(frozen=True, slots=True)
class VisitPosition:
    """Where an appointment stands in its visit: ``number`` of ``total`` (from 1)."""

    visit_id: str
    number: int
    total: int
    earliest_start: datetime
    start: datetime


def visit_position(ctx: DeskContext, appointment_id: str) -> VisitPosition | None:
    """The appointment's place in its visit on this desk's copy (None: not in a visit)."""
    with ctx.store.session() as session:
        visit_id = session.scalar(select(AppointmentRow.visit_id).where(
            AppointmentRow.id == appointment_id))
        if not visit_id:
            return None
        parts = list(session.execute(
            select(AppointmentRow.id, AppointmentRow.start).where(
                AppointmentRow.visit_id == visit_id, AppointmentRow.deleted.is_(False),
                AppointmentRow.status.not_in(_GONE))
            .order_by(AppointmentRow.start, AppointmentRow.id)))
    ids = [row[0] for row in parts]
    if appointment_id not in ids:
        return None
    number = ids.index(appointment_id) + 1
    return VisitPosition(visit_id, number, len(ids), parts[0][1], parts[number - 1][1])


def visit_positions(ctx: DeskContext, appointment_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(number, total) of every appointment among ``appointment_ids`` that is in a visit,
    one query for the lot (the agenda's tooltips)."""
    if not appointment_ids:
        return {}
    with ctx.store.session() as session:
        visits = {row[0] for row in session.execute(
            select(AppointmentRow.visit_id).where(AppointmentRow.id.in_(list(appointment_ids)),
                                                  AppointmentRow.visit_id.is_not(None)))}
        if not visits:
            return {}
        rows = list(session.execute(
            select(AppointmentRow.id, AppointmentRow.visit_id).where(
                AppointmentRow.visit_id.in_(visits), AppointmentRow.deleted.is_(False),
                AppointmentRow.status.not_in(_GONE))
            .order_by(AppointmentRow.start, AppointmentRow.id)))
    grouped: dict[str, list[str]] = {}
    for row_id, visit_id in rows:
        grouped.setdefault(str(visit_id), []).append(row_id)
    return {row_id: (ids.index(row_id) + 1, len(ids)) for ids in grouped.values()
            for row_id in ids}


__all__ = [
    "ClinicWithRoom",
    "VisitOutcome",
    "VisitPart",
    "VisitPosition",
    "VisitsService",
    "alternative_from_json",
    "clinic_places",
    "visit_position",
    "visit_positions",
]
