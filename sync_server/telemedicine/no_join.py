"""When the provider does not join a video visit (docs/telemedicine.md, "When the provider
does not join").

* **Detected** (:func:`run_checks`, a step of the notification worker): a telemedicine
  visit that takes place, whose patient has joined and whose provider has not, once the
  organization's minutes after the start have passed (default 5). Exactly once: the
  candidate's appointment row is taken ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite
  serializes writers with ``BEGIN IMMEDIATE``) and a case row is inserted under a unique
  appointment id, with a lease; the offer is then prepared outside that transaction and
  written by a compare-and-set on the lease. A worker that died in between leaves a
  ``claimed`` case whose lease runs out; the next worker takes it over.
* **Offered**: a backup provider of the same type who is free now — the first provider
  for whom a dry run of the normal move path (now, rolled back) is accepted, as the
  outage re-routing plans — and the next free times of the type. The patient hears of it
  on their channel (a ``nojoin-offer`` message with a signed link to the portal) and on
  the portal's join page; the staff get a ``provider-nojoin`` alert in the desk's
  exceptions panel.
* **Chosen** (:func:`choose`): under the case's row lock the appointment is moved through
  :func:`sync_server.services.booking.change` (locks, rules, events, notices, audit as any
  move). When the rules refuse it now (the backup provider was booked meanwhile), nothing
  is changed and the offer is planned again: the patient sees the new alternatives.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from scheduling.commands import Actor, MoveAppointment, Permission
from scheduling.model import AppointmentStatus
from scheduling.status import MOVABLE
from sync_server.db import models as db
from sync_server.notifications.models import Notification, NotificationException
from sync_server.outages.service import dry_move, other_providers
from sync_server.services import agenda, audit, booking
from sync_server.services.booking import Caller
from sync_server.telemedicine.session_tables import (
    DEFAULT_NO_JOIN_MINUTES,
    NoJoinCase,
    NoJoinSettings,
    SessionEvent,
)
from sync_server.waitlist.offers import queue_message

log = logging.getLogger("sync_server.telemedicine")

#: The outbox kind of the patient's message and the staff alert's kind.
NOJOIN_OFFER, ALERT_KIND = "nojoin-offer", "provider-nojoin"
#: The alert's reasons: what happened so far (the exceptions panel says each).
OFFERED, MOVED, REBOOKED, PROVIDER_JOINED = (
    "provider_not_joined", "patient_took_backup", "patient_rebooked", "provider_joined_late")
#: How many new times the offer lists, and how many days ahead it looks for them.
NEXT_SLOTS, SEARCH_DAYS = 3, 14
#: How long the message's link stays valid.
LINK_HOURS = 24
LEASE = timedelta(minutes=2)
BATCH = 20
#: Who moves the appointment when the patient chooses (audit log and appointment say so).
ACTOR_ID = "patient:video-no-join"
_ACTOR = Actor(ACTOR_ID, None, frozenset({Permission.MODIFY.value}))
CALLER_AUDIT = audit.Actor(ACTOR_ID, None)
#: Visits in these statuses are watched (checked in virtually is ``arrived``).
WATCHED = (AppointmentStatus.BOOKED.value, AppointmentStatus.CONFIRMED.value,
           AppointmentStatus.ARRIVED.value, AppointmentStatus.PENDING.value)


def caller(organization_id: str) -> Caller:
    return Caller(organization_id, _ACTOR, CALLER_AUDIT)


def no_join_minutes(session: Session, organization_id: str) -> int:
    row = session.get(NoJoinSettings, organization_id)
    return row.no_join_minutes if row is not None else DEFAULT_NO_JOIN_MINUTES


# --------------------------------------------------------------------------- detected


def run_checks(sessions: sessionmaker[Session], now: datetime, owner: str,
               organization_id: str | None = None) -> int:
    """Claim the visits whose provider has not joined and make their offers; how many."""
    claimed = claim(sessions, now, owner, organization_id)
    for case_id in claimed:
        with sessions() as session:
            offer(session, case_id, owner, now)
    return len(claimed)


def claim(sessions: sessionmaker[Session], now: datetime, owner: str,
          organization_id: str | None) -> list[str]:
    """The due visits as new ``claimed`` cases under ``owner``'s lease, and the claimed
    cases whose lease ran out taken over; their ids (committed)."""
    with sessions() as session:
        joined = select(SessionEvent.id).where(
            SessionEvent.appointment_id == db.Appointment.id,
            SessionEvent.organization_id == db.Appointment.organization_id,
            SessionEvent.action == "join")
        query = select(db.Appointment).join(
            db.AppointmentType, db.AppointmentType.id == db.Appointment.appointment_type_id
        ).where(
            db.AppointmentType.telemedicine.is_(True), db.Appointment.deleted.is_(False),
            db.Appointment.status.in_(WATCHED), db.Appointment.start_at < now,
            db.Appointment.end_at > now,
            exists(joined.where(SessionEvent.role == "patient")),
            ~exists(joined.where(SessionEvent.role == "provider")),
            ~exists(select(NoJoinCase.id).where(
                NoJoinCase.appointment_id == db.Appointment.id,
                NoJoinCase.organization_id == db.Appointment.organization_id)),
        ).order_by(db.Appointment.start_at).limit(BATCH)
        if organization_id is not None:
            query = query.where(db.Appointment.organization_id == organization_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=db.Appointment)
        minutes: dict[str, int] = {}
        claimed: list[str] = []
        for row in session.scalars(query):
            org = row.organization_id
            wait = minutes.setdefault(org, no_join_minutes(session, org))
            if row.start_at + timedelta(minutes=wait) > now:
                continue
            case = NoJoinCase(
                id=str(uuid.uuid4()), organization_id=org, appointment_id=row.id,
                provider_id=row.provider_id, start_at=row.start_at, state="claimed",
                lease_owner=owner, lease_until=now + LEASE, detected_at=now, slots=[])
            session.add(case)
            claimed.append(case.id)
        stale = select(NoJoinCase.id).where(NoJoinCase.state == "claimed",
                                            NoJoinCase.lease_until < now).limit(BATCH)
        if organization_id is not None:
            stale = stale.where(NoJoinCase.organization_id == organization_id)
        if session.get_bind().dialect.name == "postgresql":
            stale = stale.with_for_update(skip_locked=True)
        with session.no_autoflush:  # the new cases are written by the commit below, where
            taken_over = list(session.scalars(stale))  # a unique-key clash is caught
        if taken_over:  # a worker died after claiming: its lease ran out
            claimed += list(session.scalars(
                update(NoJoinCase).where(NoJoinCase.id.in_(taken_over),
                                         NoJoinCase.state == "claimed",
                                         NoJoinCase.lease_until < now)
                .values(lease_owner=owner, lease_until=now + LEASE)
                .returning(NoJoinCase.id).execution_options(synchronize_session=False)))
        try:
            session.commit()
        except IntegrityError:  # another worker claimed one of them first (unique key)
            session.rollback()
            return []
    return claimed


@dataclass(frozen=True, slots=True)
class Offer:
    backup_provider_id: str | None
    slots: list[dict[str, Any]]


def checked_in(row: db.Appointment) -> bool:
    """Whether the visit is arrived through the patient's own check-in in the portal."""
    return (row.status == AppointmentStatus.ARRIVED.value
            and row.virtual_checkin_at is not None)


def plan(session: Session, org: str, appointment_id: str, now: datetime) -> Offer:
    """What the rules accept now: a backup provider from the next minute (dry runs of the
    move path, rolled back) and the next free times of the type."""
    session.rollback()
    row = db.get_in_org(session, db.Appointment, org, appointment_id)
    if row is None:
        return Offer(None, [])
    start = next_minute(now)
    backup = None
    if row.end_at > now:
        for provider in other_providers(session, row):
            if dry_move(session, caller(org), appointment_id, start, provider, now,
                        waiting_room=checked_in(row)).refused is None:
                backup = provider
                break
            row = db.get_in_org(session, db.Appointment, org, appointment_id) or row
    if checked_in(row):  # a new time for a checked-in visit is the front desk's call
        session.rollback()
        return Offer(backup, [])
    clinic = session.get(db.Clinic, row.clinic_id)
    day = now.astimezone(ZoneInfo(clinic.time_zone if clinic else "UTC")).date()
    found = agenda.free_slots_between(session, org, row.clinic_id, row.appointment_type_id,
                                      day, day + timedelta(days=SEARCH_DAYS - 1), None, now)
    seen: set[tuple[datetime, str]] = set()
    slots: list[dict[str, Any]] = []
    for alt in found or []:
        if alt.start > start and (alt.start, alt.provider_id) not in seen \
                and len(slots) < NEXT_SLOTS:
            seen.add((alt.start, alt.provider_id))
            slots.append({"start": _iso(alt.start), "end": _iso(alt.end),
                          "provider_id": alt.provider_id})
    session.rollback()
    return Offer(backup, slots)


def offer(session: Session, case_id: str, owner: str, now: datetime) -> bool:
    """Prepare and write a claimed case's offer, its message and its staff alert; whether
    this worker still held the case."""
    case = session.get(NoJoinCase, case_id)
    if case is None:
        return False
    appointment_id, org = case.appointment_id, case.organization_id
    planned = plan(session, org, appointment_id, now)
    done = session.execute(
        update(NoJoinCase).where(NoJoinCase.id == case_id, NoJoinCase.state == "claimed",
                                 NoJoinCase.lease_owner == owner)
        .values(state="offered", lease_owner=None, lease_until=None,
                backup_provider_id=planned.backup_provider_id, slots=planned.slots)
        .execution_options(synchronize_session=False))
    if not getattr(done, "rowcount", 0):
        session.rollback()
        return False
    row = db.get_in_org(session, db.Appointment, org, appointment_id)
    assert row is not None
    queue_message(session, row, row.id, row.patient_id, NOJOIN_OFFER, now)
    session.add(NotificationException(
        id=str(uuid.uuid4()), organization_id=row.organization_id, notification_id=case_id,
        appointment_id=row.id, patient_id=row.patient_id, appointment_start=row.start_at,
        kind=ALERT_KIND, reason=OFFERED, channels_tried=[], created_at=now))
    session.commit()
    log.info("video visit %s: provider did not join; offer %s made", appointment_id, case_id)
    return True


def offered_visit(session: Session, row: Notification) -> db.Appointment | None:
    """The appointment a ``nojoin-offer`` message speaks of while its offer is open (the
    worker's re-check), else ``None``."""
    case = case_of(session, row.appointment_id, row.organization_id)
    if case is None or case.state != "offered":
        return None
    return db.get_in_org(session, db.Appointment, row.organization_id, row.appointment_id)


def link_path(organization_ref: str) -> str:
    """Where a ``nojoin-offer``'s signed link points (the token follows)."""
    return f"/portal/{organization_ref}/video/"


def link_expiry(row: Notification) -> datetime:
    return row.created_at + timedelta(hours=LINK_HOURS)


def case_of(session: Session, appointment_id: str,
            organization_id: str | None = None) -> NoJoinCase | None:
    """The appointment's case (of ``organization_id``; any organization's: tests)."""
    query = select(NoJoinCase).where(NoJoinCase.appointment_id == appointment_id)
    if organization_id is not None:
        query = query.where(NoJoinCase.organization_id == organization_id)
    return session.scalar(query)


# --------------------------------------------------------------------------- chosen


@dataclass(frozen=True, slots=True)
class Choice:
    """What became of the patient's choice: ``moved`` (to the backup provider now),
    ``rebooked`` (to the chosen time), ``busy`` (the rules refused it now: ``offer`` is
    the new one), ``used`` (chosen before), ``closed`` (the offer no longer stands) or
    ``invalid`` (no such offer or time)."""

    outcome: str
    offer: Offer | None = None


def choose(session: Session, organization_id: str, appointment_id: str, choice: str,
           now: datetime, start: datetime | None = None,
           provider_id: str | None = None) -> Choice:
    """Apply the patient's choice — ``backup``, or ``slot`` with the ``start`` and
    ``provider_id`` of one of the offered times — through the move path. Commits."""
    session.rollback()
    case = _locked_case(session, organization_id, appointment_id)
    if case is None:
        session.rollback()
        return Choice("invalid")
    if case.state in ("moved", "rebooked"):
        session.rollback()
        return Choice("used")
    row = db.get_in_org(session, db.Appointment, organization_id, appointment_id)
    if case.state != "offered" or row is None or row.deleted:
        session.rollback()
        return Choice("closed")
    # Checked in from the portal: the backup provider takes the waiting patient (the visit
    # moves and stays arrived); a new time for a checked-in visit is the front desk's call.
    waiting = checked_in(row) and choice == "backup"
    if AppointmentStatus(row.status) not in MOVABLE and not waiting:
        session.rollback()
        return Choice("invalid")
    if choice == "backup":
        if case.backup_provider_id is None or row.end_at <= now:
            session.rollback()
            return Choice("invalid")
        start, provider_id = next_minute(now), case.backup_provider_id
    elif choice != "slot" or start is None or start <= now or not any(
            slot["start"] == _iso(start) and slot["provider_id"] == provider_id
            for slot in case.slots):
        session.rollback()
        return Choice("invalid")
    assert start is not None and provider_id is not None
    result = booking.change(session, caller(organization_id), MoveAppointment(
        _ACTOR, appointment_id, start, provider_id, None, waiting_room=waiting), now)
    if result.refused is not None:
        session.rollback()  # nothing half-done: the offer stands, planned again
        fresh = plan(session, organization_id, appointment_id, now)
        session.execute(update(NoJoinCase).where(
            and_(NoJoinCase.appointment_id == appointment_id, NoJoinCase.state == "offered",
                 NoJoinCase.organization_id == organization_id))
            .values(backup_provider_id=fresh.backup_provider_id, slots=fresh.slots)
            .execution_options(synchronize_session=False))
        session.commit()
        return Choice("busy", fresh)
    state = "moved" if choice == "backup" else "rebooked"
    session.execute(update(NoJoinCase).where(NoJoinCase.id == case.id)
                    .values(state=state, answered_at=now)
                    .execution_options(synchronize_session=False))
    session.execute(update(NotificationException).where(
        NotificationException.appointment_id == appointment_id,
        NotificationException.organization_id == organization_id,
        NotificationException.kind == ALERT_KIND)
        .values(reason=MOVED if choice == "backup" else REBOOKED)
        .execution_options(synchronize_session=False))
    session.commit()
    log.info("video visit %s: the patient chose %s", appointment_id, choice)
    return Choice(state)


def _locked_case(session: Session, org: str, appointment_id: str) -> NoJoinCase | None:
    """The case's row, locked until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite
    serializes writers with ``BEGIN IMMEDIATE``)."""
    query = select(NoJoinCase).where(NoJoinCase.appointment_id == appointment_id[:64],
                                     NoJoinCase.organization_id == org)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def provider_joined(session: Session, org: str, appointment_id: str, now: datetime) -> None:
    """The provider joined after all: the open offer is withdrawn and the alert says so
    (the caller commits)."""
    for case in session.scalars(select(NoJoinCase).where(
            NoJoinCase.appointment_id == appointment_id, NoJoinCase.organization_id == org,
            NoJoinCase.state == "offered")):
        case.state, case.answered_at = "closed", now
        for alert in session.scalars(select(NotificationException).where(
                NotificationException.notification_id == case.id)):
            alert.reason = PROVIDER_JOINED


def next_minute(now: datetime) -> datetime:
    base = now.replace(second=0, microsecond=0)
    return base if base == now else base + timedelta(minutes=1)


def _iso(value: datetime) -> str:
    return value.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")
