"""The session log of telemedicine appointments: who joined and left the video visit and
when, and the problems the patient reported (docs/telemedicine.md, "Session log").

The patient's events come from the portal's join page, the provider's from the desk
(``/api/v1/appointments/{id}/telemedicine/…``). Both go through :func:`record`, which
checks that the appointment is a telemedicine visit that still takes place and that the
moment lies in its window: from :data:`OPENS_BEFORE` before the start to
:data:`CLOSES_AFTER` after the end. A second "join" while already joined (a double
click, the page opened twice) records nothing new. A provider who joins closes an open
no-join offer (:mod:`sync_server.telemedicine.no_join`).

:func:`statistics` answers the no-join rates — visits the provider, or the patient,
never joined — per provider and overall.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.model import AppointmentStatus
from sync_server.db import models as db
from sync_server.telemedicine import no_join
from sync_server.telemedicine.session_tables import PROBLEM_TEXT, PROBLEMS, SessionEvent

S = AppointmentStatus
#: The join page opens this long before the start …
OPENS_BEFORE = timedelta(minutes=15)
#: … and closes this long after the end.
CLOSES_AFTER = timedelta(minutes=30)
#: Statuses of a visit that is not taking place.
NOT_TAKING_PLACE = (S.CANCELLED.value, S.ENTERED_IN_ERROR.value, S.NO_SHOW.value)


class SessionError(Exception):
    """Why an event was not recorded: a stable code and an English message (the portal
    shows its own translated text per code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class Visit:
    appointment: db.Appointment
    opens_at: datetime
    closes_at: datetime


def visit_of(session: Session, organization_id: str, appointment_id: str) -> Visit:
    """The organization's telemedicine appointment; :class:`SessionError` when it is not
    one (``unknown_appointment`` for another organization's id, as for no id at all)."""
    row = db.get_in_org(session, db.Appointment, organization_id, appointment_id[:64])
    if row is None or row.deleted:
        raise SessionError("unknown_appointment", "There is no such appointment.")
    kind = session.get(db.AppointmentType, row.appointment_type_id)
    if kind is None or not kind.telemedicine:
        raise SessionError("not_telemedicine", "This appointment is not a video visit.")
    return Visit(row, row.start_at - OPENS_BEFORE, row.end_at + CLOSES_AFTER)


def check_open(visit: Visit, now: datetime) -> None:
    """:class:`SessionError` when the visit does not take place or ``now`` is outside its
    window."""
    if visit.appointment.status in NOT_TAKING_PLACE:
        raise SessionError("not_taking_place", "This visit is cancelled or was missed.")
    if now < visit.opens_at:
        raise SessionError("too_early", "The video visit is not open yet.")
    if now > visit.closes_at:
        raise SessionError("too_late", "The video visit is over.")


def joined(session: Session, appointment_id: str, role: str) -> bool:
    """Whether ``role`` is in the visit now (their last join or leave was a join)."""
    last = session.scalar(select(SessionEvent.action).where(
        SessionEvent.appointment_id == appointment_id, SessionEvent.role == role,
        SessionEvent.action.in_(("join", "leave"))).order_by(
        SessionEvent.at.desc(), SessionEvent.id.desc()).limit(1))
    return last == "join"


def record(session: Session, visit: Visit, role: str, action: str, now: datetime, *,
           user_id: str | None = None, problem: str | None = None,
           problem_text: str = "") -> SessionEvent | None:
    """Record a join, leave or problem (the caller commits); ``None`` when it changes
    nothing (joined twice). :class:`SessionError` for one that cannot be."""
    check_open(visit, now)
    row = visit.appointment
    if action in ("join", "leave"):
        inside = joined(session, row.id, role)
        if action == "join" and inside:
            return None
        if action == "leave" and not inside:
            raise SessionError("not_joined", "You have not joined this video visit.")
    if action == "problem":
        if problem not in PROBLEMS:
            raise SessionError("unknown_problem", "Please choose what went wrong.")
        problem_text = " ".join(problem_text.replace("\x00", "").split())
        if len(problem_text) > PROBLEM_TEXT:
            raise SessionError("problem_too_long",
                               f"Please describe it in at most {PROBLEM_TEXT} characters.")
    event = SessionEvent(
        id=str(uuid.uuid4()), organization_id=row.organization_id, appointment_id=row.id,
        role=role, action=action, provider_id=row.provider_id, user_id=user_id,
        problem=problem if action == "problem" else None,
        problem_text=(problem_text or None) if action == "problem" else None, at=now)
    session.add(event)
    if role == "provider" and action == "join":
        no_join.provider_joined(session, row.organization_id, row.id, now)
    return event


def events(session: Session, org: str, appointment_id: str) -> list[dict[str, Any]]:
    """The visit's log, oldest first (what the desk's "Session log" lists)."""
    return [{"role": e.role, "action": e.action, "at": instant(e.at), "problem": e.problem,
             "problem_text": e.problem_text, "user_id": e.user_id}
            for e in session.scalars(select(SessionEvent).where(
                SessionEvent.appointment_id == appointment_id,
                SessionEvent.organization_id == org).order_by(
                SessionEvent.at, SessionEvent.id))]


def instant(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# --------------------------------------------------------------------------- statistics


def statistics(session: Session, organization_id: str, since: datetime, until: datetime,
               now: datetime) -> dict[str, Any]:
    """No-join rates of the telemedicine visits that started in [since, until) and before
    ``now`` and took place (not cancelled, entered in error or deleted): per provider (the
    visit's provider at its start) and overall. A visit counts as "provider did not join"
    when no provider ever joined it; likewise for the patient."""
    visits = list(session.execute(select(db.Appointment.id, db.Appointment.provider_id).join(
        db.AppointmentType, db.AppointmentType.id == db.Appointment.appointment_type_id).where(
        db.Appointment.organization_id == organization_id, db.Appointment.deleted.is_(False),
        db.AppointmentType.telemedicine.is_(True),
        db.Appointment.status.not_in((S.CANCELLED.value, S.ENTERED_IN_ERROR.value)),
        db.Appointment.start_at >= since, db.Appointment.start_at < min(until, now))))
    ids = [appointment_id for appointment_id, _provider in visits]
    came: set[tuple[str, str]] = set()
    for first in range(0, len(ids), 500):
        came.update((appointment_id, role) for appointment_id, role in session.execute(
            select(SessionEvent.appointment_id, SessionEvent.role).distinct().where(
                SessionEvent.appointment_id.in_(ids[first:first + 500]),
                SessionEvent.action == "join")))
    providers: dict[str, dict[str, int]] = {}
    for appointment_id, provider_id in visits:
        counts = providers.setdefault(provider_id, {"visits": 0, "provider_no_join": 0,
                                                    "patient_no_join": 0})
        counts["visits"] += 1
        counts["provider_no_join"] += (appointment_id, "provider") not in came
        counts["patient_no_join"] += (appointment_id, "patient") not in came
    total = {"visits": 0, "provider_no_join": 0, "patient_no_join": 0}
    for counts in providers.values():
        for key in total:
            total[key] += counts[key]
    return {"since": instant(since), "until": instant(until), "overall": _rates(total),
            "providers": [{"provider_id": provider_id, **_rates(counts)}
                          for provider_id, counts in sorted(providers.items())]}


def _rates(counts: dict[str, int]) -> dict[str, Any]:
    visits = counts["visits"]
    return {**counts,
            "provider_no_join_rate": round(counts["provider_no_join"] / visits, 4)
            if visits else None,
            "patient_no_join_rate": round(counts["patient_no_join"] / visits, 4)
            if visits else None}
