"""No-shows: recorded on the patient when an appointment is marked no-show (a
``StatusChanged`` handler, in the change's transaction), a "we missed you" message per the
organization's settings, and the patients at the no-show limit fed to the rules
(:mod:`scheduling.no_shows`)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from scheduling.commands import Policy
from scheduling.model import AppointmentStatus
from scheduling.no_shows import NoShowPolicy
from sync_server.db import models as db
from sync_server.notifications.models import Notification
from sync_server.services.events import StatusChanged
from sync_server.services.unit_of_work import UnitOfWork, unit_of
from sync_server.waitlist.models import CareSettings, PatientNoShow


def record_no_show(uow: UnitOfWork, change: StatusChanged) -> None:
    """Marked no-show: one ``patient_no_shows`` row and the message; undone: both go."""
    from sync_server.waitlist.offers import care_settings, change_time, queue_message

    session, org = uow.session, change.organization_id
    was = change.before is not None and change.before.status is AppointmentStatus.NO_SHOW
    now_missed = change.after.status is AppointmentStatus.NO_SHOW
    if now_missed and not was:
        now = change_time(uow)
        if session.scalar(select(PatientNoShow.id).where(
                PatientNoShow.appointment_id == change.appointment_id)) is None:
            session.add(PatientNoShow(
                id=str(uuid.uuid4()), organization_id=org, patient_id=change.patient_id,
                appointment_id=change.appointment_id, missed_at=change.after.start,
                recorded_at=now))
        appointment = db.get_in_org(session, db.Appointment, org, change.appointment_id)
        if care_settings(session, org).no_show_message and appointment is not None:
            queue_message(session, appointment, change.appointment_id, change.patient_id,
                          "no-show", now)
    elif was and not now_missed:
        session.execute(delete(PatientNoShow).where(
            PatientNoShow.appointment_id == change.appointment_id))
        session.execute(update(Notification).where(
            Notification.appointment_id == change.appointment_id,
            Notification.kind == "no-show", Notification.state == "pending")
            .values(state="void").execution_options(synchronize_session=False))


def no_show_dates(session: Session, organization_id: str, patient_id: str) -> list[datetime]:
    """When the patient missed appointments, newest first."""
    return list(session.scalars(select(PatientNoShow.missed_at).where(
        PatientNoShow.organization_id == organization_id,
        PatientNoShow.patient_id == patient_id).order_by(PatientNoShow.missed_at.desc())))


#: The organization's no-show rule (NULLs without care settings) and, when it limits
#: (by default it does), the patient's no-shows: one round trip for a booking.
_RULE_AND_MISSED = text("""
SELECT care_settings.no_show_limit, care_settings.no_show_months,
       patient_no_shows.missed_at
  FROM (SELECT 1 AS one) AS always
  LEFT JOIN care_settings ON care_settings.organization_id = :org
  LEFT JOIN patient_no_shows ON patient_no_shows.organization_id = :org
   AND patient_no_shows.patient_id = :patient
   AND COALESCE(care_settings.no_show_limit, :default_limit) > 0
 ORDER BY patient_no_shows.missed_at DESC""").columns(
    CareSettings.no_show_limit, CareSettings.no_show_months, PatientNoShow.missed_at)


def _rule_and_missed(session: Session, organization_id: str, patient_id: str
                     ) -> tuple[NoShowPolicy, list[datetime]]:
    """The organization's no-show rule and the patient's no-shows (newest first; none
    read when the rule is off)."""
    default = NoShowPolicy()
    rows = session.execute(_RULE_AND_MISSED, {"org": organization_id, "patient": patient_id,
                                              "default_limit": default.limit}).all()
    first = rows[0]
    rule = default if first.no_show_limit is None \
        else NoShowPolicy(first.no_show_limit, first.no_show_months)
    return rule, [row.missed_at for row in rows if row.missed_at is not None]


def fed_policy(session: Session, organization_id: str, patient_id: str, now: datetime,
               policy: Policy) -> Policy:
    """``policy`` with the patient marked when they are at the organization's limit (a
    sync push run reads the organization's no-shows once, not once per booking)."""
    uow = unit_of(session)
    rule: NoShowPolicy | None = uow.known.get(("no_show_policy", organization_id)) \
        if uow.batch else None
    no_shows: list[datetime] | None = None
    if rule is None and not uow.batch:  # the rule and the patient's no-shows, at once
        rule, no_shows = _rule_and_missed(session, organization_id, patient_id)
    if rule is None:
        row = session.get(CareSettings, organization_id)
        rule = NoShowPolicy(row.no_show_limit, row.no_show_months) if row else NoShowPolicy()
        if uow.batch:
            uow.known[("no_show_policy", organization_id)] = rule
    if rule.limit <= 0:
        return policy
    if uow.batch:
        key = ("no_show_limited", organization_id)
        limited: dict[str, int] | None = uow.known.get(key)
        if limited is None:
            dates: dict[str, list[datetime]] = {}
            for patient, missed in session.execute(select(
                    PatientNoShow.patient_id, PatientNoShow.missed_at).where(
                    PatientNoShow.organization_id == organization_id)):
                dates.setdefault(patient, []).append(missed)
            limited = uow.known[key] = {
                patient: count for patient, found in dates.items()
                if (count := rule.reached(found, now)) is not None}
        count = limited.get(patient_id)
    else:
        if no_shows is None:
            no_shows = no_show_dates(session, organization_id, patient_id)
        count = rule.reached(no_shows, now)
    if count is None:
        return policy
    return replace(policy, no_show_limited={patient_id: count}, no_show_months=rule.months)
