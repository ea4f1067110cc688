"""Waitlist offers: a freed slot is offered to the best-ranked waitlist entries with an
expiring hold; the first patient to accept books it through the booking service.

* **Freed** (:func:`note_freed_slot`, an ``AppointmentChanged`` handler, in the change's
  transaction): a cancellation, a move away or a no-show of a future booking writes a
  ``freed_slots`` row; a booking or move *into* a freed slot (a desk re-booking it first)
  marks the slot ``taken`` and withdraws its open offers (their patients are told it is
  gone).
* **Offered** (:func:`run_offers`, a step of the notification worker): each due slot,
  under its row lock (PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``), has its
  run-out holds expired, and is offered to the next entries in
  :func:`scheduling.waitlist.matching_entries` order (type, provider, preferred days and
  times, priority, then age) whose booking the rules accept right now, up to the
  organization's ``offers_at_once``; a ``waitlist-offer`` message with an accept link goes
  through the outbox. Patients at the no-show limit are not offered slots automatically.
* **Accepted** (:func:`accept`): under the slot's row lock, the offer ``open → accepted``
  and the slot ``offering → taken`` are compare-and-set updates, then the booking goes
  through :func:`sync_server.services.booking.waitlist_book` (locks, rules, audit,
  events). Two patients accepting at the same instant: the second waits for the first's
  commit, then its slot update matches no row, so exactly one books; the other is told
  the slot is gone. Every writer takes a slot's row before its offers' rows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from scheduling.commands import Accepted, Actor, BookAppointment, Permission
from scheduling.intents import WaitlistBook
from scheduling.model import CONTACT_PREFERENCES, AppointmentSource, AppointmentStatus
from scheduling.no_shows import NoShowPolicy
from scheduling.rules import check
from scheduling.waitlist import FreedSlot as Slot
from scheduling.waitlist import matching_entries
from sync_server.db import models as db
from sync_server.notifications.models import Notification
from sync_server.notifications.policy import kept_policy
from sync_server.services import audit, booking
from sync_server.services.calendar import Scope, load_state, waitlist_record
from sync_server.services.events import (
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentMoved,
    ChangeAccepted,
    Placement,
)
from sync_server.services.unit_of_work import UnitOfWork
from sync_server.waitlist.models import CareSettings, FreedSlot, PatientNoShow, WaitlistOffer

#: Who books an accepted offer (the audit log and the appointment say so).
OFFER_ACTOR_ID = "patient:waitlist-offer"
_OFFER_ACTOR = Actor(OFFER_ACTOR_ID, None, frozenset({Permission.CREATE.value}))
#: Slots the offer step takes per call.
BATCH = 20
#: Outbox kinds about an offer (their ``appointment_id`` is the offer's id).
OFFER_KINDS = ("waitlist-offer", "offer-gone")


def care_settings(session: Session, organization_id: str) -> CareSettings:
    """The organization's settings (the defaults when it has no row; not added)."""
    row = session.get(CareSettings, organization_id)
    return row if row is not None else CareSettings(
        organization_id=organization_id, offer_hold_minutes=30, offers_at_once=2,
        offers_enabled=True, no_show_limit=3, no_show_months=12, no_show_message=True)


def no_show_policy(settings: CareSettings) -> NoShowPolicy:
    return NoShowPolicy(settings.no_show_limit, settings.no_show_months)


# --------------------------------------------------------------------------- freed


def note_freed_slot(uow: UnitOfWork, change: AppointmentChanged) -> None:
    """The handler (see the module doc)."""
    session, now = uow.session, change_time(uow)
    after = change.after
    watched = _open_slots(uow, change.organization_id)
    if _occupies(after) and (watched is None or _overlaps(watched, after)):
        _take_overlapping(session, change.organization_id, after, change.appointment_id, now)
        if watched is not None:  # those overlapping are taken now
            watched[after.provider_id] = [
                (start, end) for start, end in watched[after.provider_id]
                if not (start < after.end and end > after.start)]
    before = change.before
    if before is None or not _occupies(before):
        return
    reason = None
    start = before.start
    if isinstance(change, AppointmentCancelled) or after.deleted:
        reason = "cancelled"
    elif isinstance(change, AppointmentMoved) and (before.start, before.end, before.provider_id) \
            != (after.start, after.end, after.provider_id):
        reason = "moved"
    elif after.status is AppointmentStatus.NO_SHOW:
        reason, start = "no_show", max(start, _next_five_minutes(now))
    if reason is None or start >= before.end or before.end <= now:
        return
    if watched is not None:
        watched.setdefault(before.provider_id, []).append((max(start, now), before.end))
    session.add(FreedSlot(
        id=str(uuid.uuid4()), organization_id=change.organization_id,
        clinic_id=before.clinic_id, provider_id=before.provider_id, room_id=before.room_id,
        start_at=max(start, now), end_at=before.end,
        source_appointment_id=change.appointment_id, reason=reason, state="pending",
        next_check_at=now, created_at=now, updated_at=now))


#: Open freed slots (start, end) by provider.
OpenSlots = dict[str, list[tuple[datetime, datetime]]]


def _open_slots(uow: UnitOfWork, org: str) -> OpenSlots | None:
    """In a sync push run: the open freed slots of each provider, read once per run and
    kept current by this handler (a booking overlapping none takes none, so needs no
    query; the run's locks keep other writers off its providers' slots); otherwise
    ``None``."""
    if not uow.batch:
        return None
    key = ("open_freed_slots", org)
    found: OpenSlots | None = uow.known.get(key)
    if found is None:
        found = uow.known[key] = {}
        for provider_id, start, end in uow.session.execute(
                select(FreedSlot.provider_id, FreedSlot.start_at, FreedSlot.end_at).where(
                    FreedSlot.organization_id == org,
                    FreedSlot.state.in_(("pending", "offering")))):
            found.setdefault(provider_id, []).append((start, end))
    return found


def _overlaps(slots: OpenSlots, placement: Placement) -> bool:
    return any(start < placement.end and end > placement.start
               for start, end in slots.get(placement.provider_id, ()))


def _occupies(placement: Placement) -> bool:
    return not placement.deleted and placement.status.occupies_time


def _next_five_minutes(moment: datetime) -> datetime:
    base = moment.replace(second=0, microsecond=0)
    return base + timedelta(minutes=(5 - base.minute % 5) % 5 or (5 if base < moment else 0))


#: Built once (every booking and move runs it): the open freed slots a placement overlaps.
# On the table, not the mapped class: nearly every booking finds no open slot, and a
# Core select of ids skips the ORM's loading machinery (half of this handler's time).
_SLOTS = cast(Table, FreedSlot.__table__)
_OVERLAPPING_SLOTS = select(_SLOTS.c.id).where(
    _SLOTS.c.organization_id == bindparam("org"), _SLOTS.c.provider_id == bindparam("provider"),
    _SLOTS.c.state.in_(("pending", "offering")), _SLOTS.c.start_at < bindparam("end"),
    _SLOTS.c.end_at > bindparam("start"))


def _take_overlapping(session: Session, org: str, after: Placement, appointment_id: str,
                      now: datetime) -> None:
    """Slots this booking now occupies are taken: their open offers are withdrawn."""
    ids = list(session.scalars(_OVERLAPPING_SLOTS, {
        "org": org, "provider": after.provider_id, "start": after.start, "end": after.end}))
    if not ids:
        return
    for slot in session.scalars(select(FreedSlot).where(FreedSlot.id.in_(ids))):
        slot.state, slot.booked_appointment_id, slot.updated_at = "taken", appointment_id, now
        close_open_offers(session, slot, "withdrawn", now)


def close_open_offers(session: Session, slot: FreedSlot, state: str, now: datetime) -> None:
    """Every open offer of ``slot`` becomes ``state``; its patient hears the slot is gone."""
    for offer in session.scalars(select(WaitlistOffer).where(
            WaitlistOffer.slot_id == slot.id, WaitlistOffer.state == "open")):
        offer.state, offer.answered_at = state, now
        queue_message(session, slot, offer.id, offer.patient_id, "offer-gone", now)


def change_time(uow: UnitOfWork) -> datetime:
    """The time of the change being handled (its ``ChangeAccepted`` came first)."""
    for event in reversed(uow.events):
        if isinstance(event, ChangeAccepted):
            return event.at
    return datetime.now(UTC)


# --------------------------------------------------------------------------- messages


def queue_message(session: Session, slot: FreedSlot | db.Appointment, reference_id: str,
                  patient_id: str, kind: str, now: datetime) -> None:
    """A ``waitlist-offer``, ``offer-gone``, ``no-show`` (or telemedicine's
    ``nojoin-offer``) message for the worker, on the patient's first preferred channel
    the organization sends on (none when they want none or nothing is enabled), once.
    ``reference_id`` is the offer's id (offers) or the appointment's (no-show, no-join):
    the outbox row's ``appointment_id``."""
    patient = db.get_in_org(session, db.Patient, slot.organization_id, patient_id)
    policy = kept_policy(session, slot.organization_id)
    preferred = CONTACT_PREFERENCES.get(patient.contact_preference, ("email", "sms")) \
        if patient else ()
    channels = [c for c in preferred if policy.enabled(c)]
    if not channels:
        return
    start = slot.start_at
    exists = session.scalar(select(Notification.id).where(
        Notification.appointment_id == reference_id, Notification.kind == kind))
    if exists is not None:
        return
    session.add(Notification(
        id=str(uuid.uuid4()), organization_id=slot.organization_id, clinic_id=slot.clinic_id,
        appointment_id=reference_id, patient_id=patient_id, occurrence_start=start,
        kind=kind, offset_minutes=0, recipient=patient_id, channel=channels[0],
        state="pending", due_at=now, next_attempt_at=now, attempts=0, created_at=now,
        updated_at=now))


def offered_place(session: Session, row: Notification, now: datetime) -> db.Appointment | None:
    """The place an offer message speaks of, as an appointment the worker's message
    facts read (not added to the session), or ``None`` when a ``waitlist-offer`` is no
    longer open."""
    offer = session.get(WaitlistOffer, row.appointment_id)
    slot = session.get(FreedSlot, offer.slot_id) if offer else None
    entry = db.get_in_org(session, db.WaitlistEntry, offer.organization_id,
                          offer.entry_id) if offer else None
    if offer is None or slot is None or entry is None or (
            row.kind == "waitlist-offer" and (offer.state != "open" or offer.expires_at <= now)):
        return None
    return db.Appointment(
        id=offer.id, organization_id=offer.organization_id, clinic_id=slot.clinic_id,
        patient_id=offer.patient_id, appointment_type_id=entry.appointment_type_id,
        provider_id=slot.provider_id, start_at=slot.start_at, end_at=slot.end_at,
        status=AppointmentStatus.BOOKED.value, deleted=False, version=1)


# --------------------------------------------------------------------------- offered


def run_offers(sessions: sessionmaker[Session], now: datetime,
               organization_id: str | None = None) -> int:
    """Work through the due freed slots (one transaction each); how many were due."""
    with sessions() as session:
        query = select(FreedSlot.id).where(FreedSlot.state.in_(("pending", "offering")),
                                           FreedSlot.next_check_at <= now)
        if organization_id is not None:
            query = query.where(FreedSlot.organization_id == organization_id)
        due = list(session.scalars(query.order_by(FreedSlot.next_check_at).limit(BATCH)))
        session.rollback()
    for slot_id in due:
        with sessions() as session:
            offer_slot(session, slot_id, now)
            session.commit()
    return len(due)


def offer_slot(session: Session, slot_id: str, now: datetime,
               entry_id: str | None = None, offered_by: str = "auto") -> list[WaitlistOffer]:
    """Expire run-out holds and make the slot's next offers (or only to ``entry_id``:
    staff offering by hand); the offers made. The caller commits."""
    slot = _locked_slot(session, slot_id)
    if slot is None or slot.state not in ("pending", "offering"):
        return []
    for offer in session.scalars(select(WaitlistOffer).where(
            WaitlistOffer.slot_id == slot.id, WaitlistOffer.state == "open",
            WaitlistOffer.expires_at <= now)):
        offer.state, offer.answered_at = "expired", now
    open_offers = list(session.scalars(select(WaitlistOffer).where(
        WaitlistOffer.slot_id == slot.id, WaitlistOffer.state == "open")))
    settings = care_settings(session, slot.organization_id)
    made: list[WaitlistOffer] = []
    if slot.start_at <= now:
        slot.state = "exhausted"
        close_open_offers(session, slot, "expired", now)
    else:
        wanted = 1 if entry_id else settings.offers_at_once - len(open_offers)
        if wanted > 0 and (settings.offers_enabled or entry_id):
            made = _make_offers(session, slot, settings, now, wanted, entry_id, offered_by,
                                rank=len(list(session.scalars(select(WaitlistOffer.id).where(
                                    WaitlistOffer.slot_id == slot.id)))))
        open_offers += made
        if open_offers:
            slot.state = "offering"
            slot.next_check_at = min(offer.expires_at for offer in open_offers)
        else:
            slot.state = "exhausted"
    slot.updated_at = now
    return made


def _locked_slot(session: Session, slot_id: str) -> FreedSlot | None:
    """The slot's row, locked until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite
    serializes writers with ``BEGIN IMMEDIATE``)."""
    query = select(FreedSlot).where(FreedSlot.id == slot_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def _make_offers(session: Session, slot: FreedSlot, settings: CareSettings, now: datetime,
                 wanted: int, entry_id: str | None, offered_by: str,
                 rank: int) -> list[WaitlistOffer]:
    org = slot.organization_id
    offered = set(session.scalars(select(WaitlistOffer.entry_id).where(
        WaitlistOffer.slot_id == slot.id)))
    query = select(db.WaitlistEntry).where(
        db.WaitlistEntry.organization_id == org, db.WaitlistEntry.clinic_id == slot.clinic_id,
        db.WaitlistEntry.active.is_(True))
    if entry_id is not None:
        query = query.where(db.WaitlistEntry.id == entry_id)
    rows = {row.id: row for row in session.scalars(query) if row.id not in offered}
    if not rows:
        return []
    limited = set() if entry_id else _at_no_show_limit(
        session, org, {row.patient_id for row in rows.values()}, settings, now)
    day = slot.start_at.date()
    state = load_state(session, org, Scope(
        slot.clinic_id, day - timedelta(days=1), slot.end_at.date() + timedelta(days=1),
        patient_ids=frozenset(row.patient_id for row in rows.values()),
        resource_ids=frozenset({slot.provider_id})))
    state.waitlist = {row.id: waitlist_record(row) for row in rows.values()}
    freed = Slot(slot.clinic_id, slot.provider_id, slot.start_at, slot.end_at, slot.room_id)
    if entry_id is not None:  # by hand: the staff chose the entry, the rules still judge
        ranked = [state.waitlist[entry_id]] if entry_id in state.waitlist else []
    else:
        ranked = matching_entries(state, freed, now=now)
    hold = timedelta(minutes=settings.offer_hold_minutes)
    made: list[WaitlistOffer] = []
    for entry in ranked:
        if len(made) >= wanted:
            break
        if entry.patient_id in limited:
            continue
        command = BookAppointment(_OFFER_ACTOR, str(uuid.uuid4()), slot.clinic_id,
                                  entry.patient_id, entry.appointment_type_id, slot.provider_id,
                                  slot.start_at, source=AppointmentSource.WAITLIST)
        if not isinstance(check(command, state, now), Accepted):
            continue  # the rules would refuse it now (busy, outside hours, double booked …)
        rank += 1
        offer = WaitlistOffer(
            id=str(uuid.uuid4()), organization_id=org, slot_id=slot.id, entry_id=entry.id,
            patient_id=entry.patient_id, rank=rank, state="open", offered_by=offered_by,
            offered_at=now, expires_at=min(now + hold, slot.start_at))
        session.add(offer)
        queue_message(session, slot, offer.id, entry.patient_id, "waitlist-offer", now)
        made.append(offer)
    return made


def _at_no_show_limit(session: Session, org: str, patient_ids: set[str],
                      settings: CareSettings, now: datetime) -> dict[str, int]:
    """The patients among ``patient_ids`` at the organization's no-show limit, with their
    recent count."""
    policy = no_show_policy(settings)
    if policy.limit <= 0 or not patient_ids:
        return {}
    dates: dict[str, list[datetime]] = {}
    for patient_id, missed in session.execute(select(
            PatientNoShow.patient_id, PatientNoShow.missed_at).where(
            PatientNoShow.organization_id == org, PatientNoShow.patient_id.in_(patient_ids))):
        dates.setdefault(patient_id, []).append(missed)
    return {patient: count for patient, found in dates.items()
            if (count := policy.reached(found, now)) is not None}


# --------------------------------------------------------------------------- by hand


def offer_by_hand(session: Session, organization_id: str, entry_id: str, provider_id: str,
                  start: datetime, end: datetime, staff_user_id: str,
                  now: datetime) -> WaitlistOffer | None:
    """Staff offer a slot to one waitlist entry (the rules must accept the booking now);
    ``None`` when they would not. The caller commits."""
    entry = db.get_in_org(session, db.WaitlistEntry, organization_id, entry_id)
    if entry is None or not entry.active:
        return None
    slot = FreedSlot(
        id=str(uuid.uuid4()), organization_id=organization_id, clinic_id=entry.clinic_id,
        provider_id=provider_id, room_id=None, start_at=start, end_at=end,
        source_appointment_id=None, reason="manual", state="pending", next_check_at=now,
        created_at=now, updated_at=now)
    session.add(slot)
    session.flush()
    made = offer_slot(session, slot.id, now, entry_id=entry_id, offered_by=staff_user_id)
    return made[0] if made else None


def withdraw(session: Session, organization_id: str, offer_id: str, now: datetime) -> bool:
    """Staff withdraw an open offer (its patient is told the slot is gone)."""
    offer = session.get(WaitlistOffer, offer_id)
    if offer is None or offer.organization_id != organization_id or offer.state != "open":
        return False
    offer.state, offer.answered_at = "withdrawn", now
    slot = session.get(FreedSlot, offer.slot_id)
    assert slot is not None
    queue_message(session, slot, offer.id, offer.patient_id, "offer-gone", now)
    return True


# --------------------------------------------------------------------------- accepted


def accept(session: Session, offer_id: str, now: datetime) -> str:
    """The patient accepts: ``booked``, or why not (``gone``, ``expired``, ``used``,
    ``invalid``). Commits."""
    offer = session.get(WaitlistOffer, offer_id)
    if offer is None:
        session.rollback()
        return "invalid"
    # The slot's row first, as every writer of a slot and its offers takes them: the
    # winner's booking closes the other offers while the others wait here.
    _locked_slot(session, offer.slot_id)
    won = session.execute(
        update(WaitlistOffer).where(WaitlistOffer.id == offer_id,
                                    WaitlistOffer.state == "open",
                                    WaitlistOffer.expires_at > now)
        .values(state="accepted", answered_at=now).returning(WaitlistOffer.id)
        .execution_options(synchronize_session=False)).first() is not None
    if not won:
        session.rollback()
        return _why_not(session, offer_id, now)
    appointment_id = str(uuid.uuid4())
    took = session.execute(
        update(FreedSlot).where(FreedSlot.id == offer.slot_id, FreedSlot.state == "offering")
        .values(state="taken", booked_appointment_id=appointment_id, updated_at=now)
        .returning(FreedSlot.id)
        .execution_options(synchronize_session=False)).first() is not None
    entry = db.get_in_org(session, db.WaitlistEntry, offer.organization_id, offer.entry_id)
    slot = session.get(FreedSlot, offer.slot_id)
    if not took or entry is None or slot is None:
        return _gone(session, offer_id, now)
    caller = booking.Caller(offer.organization_id, _OFFER_ACTOR,
                            audit.Actor(OFFER_ACTOR_ID, None))
    result = booking.waitlist_book(session, caller, WaitlistBook(entry.id, BookAppointment(
        _OFFER_ACTOR, appointment_id, slot.clinic_id, entry.patient_id,
        entry.appointment_type_id, slot.provider_id, slot.start_at,
        source=AppointmentSource.WAITLIST)), now)
    if result.refused is not None:
        return _gone(session, offer_id, now)
    session.expire_all()
    row = session.get(WaitlistOffer, offer_id)
    slot = session.get(FreedSlot, offer.slot_id)
    assert row is not None and slot is not None
    row.appointment_id = appointment_id
    close_open_offers(session, slot, "gone", now)
    session.commit()
    return "booked"


def _gone(session: Session, offer_id: str, now: datetime) -> str:
    """The slot went to someone else: this offer is ``gone`` (in a transaction of its own)."""
    session.rollback()
    session.execute(update(WaitlistOffer).where(WaitlistOffer.id == offer_id,
                                                WaitlistOffer.state == "open")
                    .values(state="gone", answered_at=now))
    session.commit()
    return "gone"


def _why_not(session: Session, offer_id: str, now: datetime) -> str:
    offer = session.get(WaitlistOffer, offer_id)
    assert offer is not None
    state, expires_at = offer.state, offer.expires_at
    session.rollback()
    if state == "accepted":
        return "used"
    if state == "expired" or (state == "open" and expires_at <= now):
        return "expired"
    return "gone"
