"""Follow-ups and recalls on the server: the event handler that opens and satisfies them
inside the booking's transaction, the desk's list, the outreach actions and the counts.

The handler (:func:`track_follow_ups`, registered for every appointment change in
:data:`sync_server.services.handlers.HANDLERS`):

* a visit becomes **completed** and its type asks for a follow-up and/or a recall:
  one row per kind with its window of local days (:func:`scheduling.followups.windows_after`);
  an appointment already booked inside the window satisfies it at once;
* a completed visit is undone or entered in error: its open rows become ``void``;
* an appointment is **booked or moved** (and active): the patient's open rows of its
  type whose window covers its local day are satisfied by it;
* the satisfying appointment is **cancelled**, marked no-show or moved out of the
  window: the row is open again (and another booking in the window may satisfy it).

Whether a row is due or overdue is not stored: it follows from the window and the
clinic's local day at the time of asking (:meth:`scheduling.followups.Window.standing`).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from scheduling.followups import Window, local_today, windows_after
from scheduling.model import CONTACT_PREFERENCES, AppointmentStatus
from scheduling.timeutil import day_bounds, local_date
from sync_server.db import models as db
from sync_server.followups.models import FollowUp, FollowUpContact
from sync_server.notifications.models import Notification
from sync_server.notifications.outbox import _change_time as change_time
from sync_server.notifications.policy import policy_of
from sync_server.services.events import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentMoved,
    StatusChanged,
)
from sync_server.services.unit_of_work import UnitOfWork

S = AppointmentStatus
#: An appointment in one of these statuses cannot satisfy a follow-up.
NOT_SATISFYING = frozenset({S.CANCELLED, S.NO_SHOW, S.ENTERED_IN_ERROR})


class FollowUpError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


# --------------------------------------------------------------------------- the handler


def track_follow_ups(uow: UnitOfWork, change: AppointmentChanged) -> None:
    """The handler: open, void, satisfy and re-open follow-ups (see the module doc)."""
    session, after, before = uow.session, change.after, change.before
    type_id = change.appointment_type_id
    if type_id is None:
        return
    now = change_time(uow)
    was_completed = before is not None and before.status is S.COMPLETED
    if isinstance(change, StatusChanged) and after.status is S.COMPLETED and not was_completed:
        _open_after_visit(uow, change, type_id, now)
        return
    if isinstance(change, StatusChanged) and was_completed and after.status is not S.COMPLETED:
        for row in session.scalars(select(FollowUp).where(
                FollowUp.source_appointment_id == change.appointment_id,
                FollowUp.state == "open")):
            row.state, row.updated_at = "void", now
    if not _patient_has_follow_ups(uow, change.organization_id, change.patient_id):
        return
    usable = not after.deleted and after.status not in NOT_SATISFYING
    day = local_date(after.start, _zone(session, after.clinic_id))
    if isinstance(change, AppointmentCancelled | AppointmentMoved | StatusChanged):
        for row in session.scalars(select(FollowUp).where(
                FollowUp.satisfied_by == change.appointment_id,
                FollowUp.state == "satisfied")):
            if not usable or not _window(row).covers(day):
                row.state, row.satisfied_by, row.updated_at = "open", None, now
    if usable and isinstance(change, AppointmentBooked | AppointmentMoved):
        for row in session.scalars(select(FollowUp).where(
                FollowUp.patient_id == change.patient_id,
                FollowUp.appointment_type_id == type_id, FollowUp.state == "open",
                FollowUp.due_from <= day, FollowUp.due_until >= day)):
            row.state, row.satisfied_by, row.updated_at = "satisfied", change.appointment_id, now


def _open_after_visit(uow: UnitOfWork, change: AppointmentChanged, type_id: str,
                      now: datetime) -> None:
    session = uow.session
    kind = session.get(db.AppointmentType, type_id)
    if kind is None or not (kind.follow_up_days or kind.recall_months):
        return
    zone = _zone(session, change.after.clinic_id)
    windows = windows_after(local_date(change.after.start, zone), kind.follow_up_days,
                            kind.recall_months)
    existing = {row.kind: row for row in session.scalars(select(FollowUp).where(
        FollowUp.source_appointment_id == change.appointment_id))}
    for window in windows:
        row = existing.get(window.kind)
        if row is None:
            row = FollowUp(id=str(uuid.uuid4()), organization_id=change.organization_id,
                           clinic_id=change.after.clinic_id, patient_id=change.patient_id,
                           appointment_type_id=type_id,
                           source_appointment_id=change.appointment_id, kind=window.kind,
                           created_at=now)
            session.add(row)
        elif row.state != "void":
            continue
        row.due_from, row.due_until, row.updated_at = window.due_from, window.due_until, now
        row.state, row.satisfied_by = "open", _booked_inside(session, change, type_id,
                                                              window, zone)
        if row.satisfied_by is not None:
            row.state = "satisfied"
    _note_patient(uow, change.organization_id, change.patient_id)


def _booked_inside(session: Session, change: AppointmentChanged, type_id: str,
                   window: Window, zone: str) -> str | None:
    """An appointment of the patient already booked in ``window`` (booked before the visit
    was completed), or None."""
    start, _ = day_bounds(window.due_from, zone)
    _, end = day_bounds(window.due_until, zone)
    return session.scalar(select(db.Appointment.id).where(
        db.Appointment.patient_id == change.patient_id,
        db.Appointment.appointment_type_id == type_id,
        db.Appointment.id != change.appointment_id, db.Appointment.deleted.is_(False),
        db.Appointment.status.not_in([s.value for s in NOT_SATISFYING]),
        db.Appointment.start_at >= start, db.Appointment.start_at < end,
    ).order_by(db.Appointment.start_at).limit(1))


#: Built once (every appointment change runs it).
_ANY_FOLLOW_UP = select(FollowUp.id).where(FollowUp.patient_id == bindparam("patient")).limit(1)


def _patient_has_follow_ups(uow: UnitOfWork, org: str, patient_id: str) -> bool:
    """Whether the patient has any follow-up row (a sync push run reads the organization's
    patients once, not once per booking)."""
    if not uow.batch:
        return uow.session.scalar(_ANY_FOLLOW_UP, {"patient": patient_id}) is not None
    key = ("follow_up_patients", org)
    patients: set[str] | None = uow.known.get(key)
    if patients is None:
        patients = uow.known[key] = set(uow.session.scalars(
            select(FollowUp.patient_id).where(FollowUp.organization_id == org).distinct()))
    return patient_id in patients


def _note_patient(uow: UnitOfWork, org: str, patient_id: str) -> None:
    patients: set[str] | None = uow.known.get(("follow_up_patients", org))
    if patients is not None:
        patients.add(patient_id)


def _zone(session: Session, clinic_id: str) -> str:
    clinic = session.get(db.Clinic, clinic_id)
    return clinic.time_zone if clinic else "UTC"


def _window(row: FollowUp) -> Window:
    return Window(row.kind, row.due_from, row.due_until)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the desk's list


@dataclass(frozen=True, slots=True)
class Listed:
    row: FollowUp
    standing: str
    contacts: list[FollowUpContact]


def instant(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def follow_up_json(item: Listed) -> dict[str, Any]:
    row = item.row
    return {"id": row.id, "clinic_id": row.clinic_id, "patient_id": row.patient_id,
            "appointment_type_id": row.appointment_type_id,
            "source_appointment_id": row.source_appointment_id, "kind": row.kind,
            "due_from": row.due_from.isoformat(), "due_until": row.due_until.isoformat(),
            "state": row.state, "standing": item.standing, "satisfied_by": row.satisfied_by,
            "contacts": [{"id": c.id, "kind": c.kind, "note": c.note, "by_user_id": c.by_user_id,
                          "at": instant(c.at)} for c in item.contacts]}


def due_list(session: Session, org: str, clinic_id: str, now: datetime) -> list[Listed]:
    """The clinic's open follow-ups that are due or overdue on its local day, the most
    overdue first, with their outreach log."""
    today = local_today(now, _zone(session, clinic_id))
    rows = list(session.scalars(select(FollowUp).where(
        FollowUp.organization_id == org, FollowUp.clinic_id == clinic_id,
        FollowUp.state == "open", FollowUp.due_from <= today,
    ).order_by(FollowUp.due_until, FollowUp.due_from, FollowUp.id).limit(1000)))
    contacts: dict[str, list[FollowUpContact]] = {row.id: [] for row in rows}
    if rows:
        for contact in session.scalars(select(FollowUpContact).where(
                FollowUpContact.follow_up_id.in_(list(contacts))).order_by(FollowUpContact.at)):
            contacts[contact.follow_up_id].append(contact)
    return [Listed(row, _window(row).standing(today), contacts[row.id]) for row in rows]


def _open_row(session: Session, org: str, follow_up_id: str) -> FollowUp:
    row = session.get(FollowUp, follow_up_id)
    if row is None or row.organization_id != org:
        raise FollowUpError("unknown_follow_up", "There is no such follow-up.")
    if row.state != "open":
        raise FollowUpError("follow_up_closed", "This follow-up is booked or closed already.")
    return row


def log_call(session: Session, org: str, follow_up_id: str, user_id: str, note: str,
             now: datetime) -> FollowUpContact:
    row = _open_row(session, org, follow_up_id)
    contact = FollowUpContact(id=str(uuid.uuid4()), organization_id=org, follow_up_id=row.id,
                              kind="call", note=note, by_user_id=user_id, at=now)
    session.add(contact)
    session.flush()
    return contact


def invite(session: Session, org: str, follow_up_id: str, user_id: str,
           now: datetime) -> FollowUpContact:
    """Queue a booking invitation in the notifications outbox (the worker sends it on the
    patient's first preferred channel and falls back like any notice)."""
    row = _open_row(session, org, follow_up_id)
    patient = db.get_in_org(session, db.Patient, org, row.patient_id)
    preferred = CONTACT_PREFERENCES.get(patient.contact_preference if patient else "none", ())
    if not preferred:
        raise FollowUpError("no_messages", "The patient does not want messages: call instead.")
    policy = policy_of(session, org)
    if not (policy.email_enabled or policy.sms_enabled):
        raise FollowUpError("notifications_off",
                            "No message channel is switched on for this organization.")
    channel = next((c for c in preferred if policy.enabled(c)), preferred[0])
    notification = Notification(
        id=str(uuid.uuid4()), organization_id=org, clinic_id=row.clinic_id,
        appointment_id=row.source_appointment_id, patient_id=row.patient_id,
        occurrence_start=now, kind="invitation", offset_minutes=0, recipient=row.patient_id,
        channel=channel, state="pending", due_at=now, next_attempt_at=now, attempts=0,
        created_at=now, updated_at=now)
    session.add(notification)
    contact = FollowUpContact(id=str(uuid.uuid4()), organization_id=org, follow_up_id=row.id,
                              kind="invitation", note="", by_user_id=user_id,
                              notification_id=notification.id, at=now)
    session.add(contact)
    session.flush()
    return contact


# --------------------------------------------------------------------------- statistics


def summary(session: Session, org: str, clinic_id: str, first: date, last: date,
            now: datetime) -> dict[str, int]:
    """Follow-ups whose window ended in local days ``first``..``last``: booked in time
    (``satisfied``), ``missed`` (ended before today without a booking) and ``still_due``
    (ends today or later); plus every follow-up ``overdue`` today."""
    today = local_today(now, _zone(session, clinic_id))
    ended = (FollowUp.organization_id == org, FollowUp.clinic_id == clinic_id,
             FollowUp.due_until >= first, FollowUp.due_until <= last)
    counts: Counter[tuple[str, bool]] = Counter()
    for state, until, count in session.execute(
            select(FollowUp.state, FollowUp.due_until, func.count())
            .where(*ended).group_by(FollowUp.state, FollowUp.due_until)):
        counts[(state, until < today)] += int(count)
    overdue_now = int(session.scalar(select(func.count()).select_from(FollowUp).where(
        FollowUp.organization_id == org, FollowUp.clinic_id == clinic_id,
        FollowUp.state == "open", FollowUp.due_until < today)) or 0)
    return {"satisfied": counts.get(("satisfied", True), 0) + counts.get(("satisfied", False), 0),
            "missed": counts.get(("open", True), 0),
            "still_due": counts.get(("open", False), 0),
            "overdue": overdue_now}


def listed_json(items: Iterable[Listed]) -> list[dict[str, Any]]:
    return [follow_up_json(item) for item in items]
