"""The waitlist on the desk: add, remove, list, match a freed slot, and book from it.

Booking from the waitlist is an ordinary booking (judged by the rules) whose
transaction also closes the entry; one ``waitlist.book`` intent carries both
so the server does the same atomically.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.services.agenda import earliest_free
from desktop.services.booking import run_booking
from desktop.services.calendar import load_state, window_for
from desktop.services.context import DeskContext, add_event, not_permitted, refusal, require
from desktop.services.dto import ActionResult, AlternativeDTO, RefusalDTO, WaitlistEntryDTO
from desktop.store import outbox, row_mapping
from desktop.store.models import AppointmentTypeRow, ClinicRow, PatientRow, WaitlistEntryRow
from scheduling import intents
from scheduling.commands import BookAppointment, Permission
from scheduling.model import AppointmentSource, WaitlistEntry
from scheduling.refusals import RefusalCode
from scheduling.waitlist import FreedSlot, matching_entries, rank, wishes_allow


def add(
    ctx: DeskContext,
    *,
    clinic_id: str,
    patient_id: str,
    appointment_type_id: str,
    priority: int = 0,
    preferred_provider_ids: Iterable[str] = (),
    preferred_weekdays: Iterable[int] = (),
    preferred_times: Iterable[tuple[time, time]] = (),
    note: str = "",
) -> ActionResult:
    """Put a patient on the waitlist; ``record_id`` of the result is the entry's id."""
    user = ctx.user()
    now = ctx.now()
    entry = WaitlistEntry(
        ctx.new_id(), user.organization_id, clinic_id, patient_id, appointment_type_id, now,
        priority, frozenset(preferred_provider_ids), frozenset(preferred_weekdays),
        tuple(preferred_times), True, note,
    )
    if Permission.CREATE.value not in user.permissions:
        return _refused(ctx, intents.WAITLIST_ADD, entry.id, not_permitted("add to the waitlist"))
    with ctx.store.write() as session:
        if session.get(PatientRow, patient_id) is None:
            kind = "patient"
        elif session.get(AppointmentTypeRow, appointment_type_id) is None:
            kind = "appointment type"
        else:
            kind = ""
        if kind:
            add_event(session, now, user.user_id, intents.WAITLIST_ADD, entry.id, "refused",
                      RefusalCode.UNKNOWN_RECORD.value)
            return ActionResult(False, refusal=refusal(RefusalCode.UNKNOWN_RECORD, kind=kind))
        mutation_id = outbox.append(session, intents.WAITLIST_ADD, intents.waitlist_add(entry),
                                    now=now, user_id=user.user_id)
        session.add(WaitlistEntryRow(
            id=entry.id, organization_id=entry.organization_id, clinic_id=clinic_id,
            patient_id=patient_id, appointment_type_id=appointment_type_id, created_at=now,
            priority=priority, preferred_provider_ids=sorted(entry.preferred_provider_ids),
            preferred_weekdays=sorted(entry.preferred_weekdays),
            preferred_times=[[a.isoformat(), b.isoformat()] for a, b in entry.preferred_times],
            active=True, note=note, pending_mutation_id=mutation_id,
        ))
        add_event(session, now, user.user_id, intents.WAITLIST_ADD, entry.id, "accepted")
    return ActionResult(True, mutation_id=mutation_id, record_id=entry.id)


def remove(ctx: DeskContext, entry_id: str) -> ActionResult:
    """Take an entry off the waitlist (it stays, inactive, until the server confirms)."""
    user = ctx.user()
    if Permission.MODIFY.value not in user.permissions:
        return _refused(ctx, intents.WAITLIST_REMOVE, entry_id,
                        not_permitted("change the waitlist"))
    now = ctx.now()
    with ctx.store.write() as session:
        row = session.get(WaitlistEntryRow, entry_id)
        if row is None or not row.active:
            add_event(session, now, user.user_id, intents.WAITLIST_REMOVE, entry_id, "refused",
                      RefusalCode.UNKNOWN_RECORD.value)
            return ActionResult(False, refusal=refusal(RefusalCode.UNKNOWN_RECORD,
                                                       kind="waitlist entry"))
        mutation_id = outbox.append(session, intents.WAITLIST_REMOVE,
                                    intents.waitlist_remove(entry_id), now=now,
                                    user_id=user.user_id)
        _close(session, entry_id, mutation_id)
        add_event(session, now, user.user_id, intents.WAITLIST_REMOVE, entry_id, "accepted")
    return ActionResult(True, mutation_id=mutation_id, record_id=entry_id)


def book_from(
    ctx: DeskContext,
    entry_id: str,
    *,
    provider_id: str,
    start: datetime,
    end: datetime | None = None,
    room_id: str | None = None,
    notes: str = "",
) -> ActionResult:
    """Book the entry's patient and type at ``start``; the entry closes in the same
    transaction. Refused like any booking (with alternatives) when the slot does not fit."""
    ctx.user()
    with ctx.store.session() as session:
        row = session.get(WaitlistEntryRow, entry_id)
        entry = None if row is None or not row.active else row_mapping.waitlist_entry(row)
    if entry is None:
        return _refused(ctx, intents.WAITLIST_BOOK, entry_id,
                        refusal(RefusalCode.UNKNOWN_RECORD, kind="waitlist entry"))
    command = BookAppointment(
        ctx.actor(), ctx.new_id(), entry.clinic_id, entry.patient_id, entry.appointment_type_id,
        provider_id, start, end, room_id, source=AppointmentSource.WAITLIST,
        notes=notes or entry.note,
    )
    result = run_booking(
        ctx, command, intent=intents.WAITLIST_BOOK,
        args=lambda _state: intents.waitlist_book(entry_id, command),
        also=lambda session, mutation_id: _close(session, entry_id, mutation_id),
    )
    return ActionResult(result.ok, result.appointments, result.refusal, result.mutation_id,
                        record_id=entry_id)


def entries(ctx: DeskContext, clinic_id: str) -> tuple[WaitlistEntryDTO, ...]:
    """The clinic's active entries in serving order (priority, then the oldest)."""
    require(ctx, Permission.VIEW_CALENDAR.value, "see the waitlist")
    with ctx.store.session() as session:
        rows = session.scalars(select(WaitlistEntryRow).where(
            WaitlistEntryRow.clinic_id == clinic_id, WaitlistEntryRow.active.is_(True))).all()
        return _dtos(session, rows, [e.id for e in rank(map(row_mapping.waitlist_entry, rows))])


def matches_for_slot(
    ctx: DeskContext, clinic_id: str, provider_id: str, start: datetime, end: datetime,
    *, limit: int | None = 10,
) -> tuple[WaitlistEntryDTO, ...]:
    """Entries whose wishes a freed slot meets, best first (a pre-filter; booking judges)."""
    user = require(ctx, Permission.VIEW_CALENDAR.value, "see the waitlist")
    now = ctx.now()
    with ctx.store.session() as session:
        state = load_state(session, user.organization_id, window_for(start, end, ctx.policy))
        found = matching_entries(state, FreedSlot(clinic_id, provider_id, start, end),
                                 now=now, limit=limit)
        rows = session.scalars(select(WaitlistEntryRow).where(
            WaitlistEntryRow.id.in_([e.id for e in found]))).all()
        return _dtos(session, rows, [e.id for e in found])


def next_fits(ctx: DeskContext, entry_id: str, *, limit: int = 5,
              horizon_days: int = 28) -> tuple[AlternativeDTO, ...]:
    """"Find a slot for this patient": the earliest free slots for the entry's type (with
    its preferred providers) that its preferred days and times allow, earliest first."""
    with ctx.store.session() as session:
        row = session.get(WaitlistEntryRow, entry_id)
        entry = None if row is None else row_mapping.waitlist_entry(row)
        kind = session.get(AppointmentTypeRow, entry.appointment_type_id) if entry else None
        clinic = session.get(ClinicRow, entry.clinic_id) if entry else None
        duration = timedelta(seconds=kind.default_duration_seconds) if kind else None
        tz = clinic.time_zone if clinic else "UTC"
    if entry is None or duration is None:
        return ()
    providers = tuple(sorted(entry.preferred_provider_ids)) or None
    until = ctx.now() + timedelta(days=horizon_days)
    fits: list[AlternativeDTO] = []
    after: datetime | None = None
    while len(fits) < limit:  # the free slots in batches, kept when the wishes allow them
        found = earliest_free(ctx, entry.clinic_id, entry.appointment_type_id, limit=40,
                              after=after, provider_ids=providers, patient_id=entry.patient_id,
                              horizon_days=horizon_days)
        found = tuple(slot for slot in found if slot.start < until
                      and (after is None or slot.start >= after))
        if not found:
            break
        fits += [slot for slot in found
                 if wishes_allow(entry, slot.provider_id, slot.start, duration, tz)]
        after = found[-1].start + timedelta(minutes=1)
    return tuple(fits[:limit])


# --------------------------------------------------------------------------- internals


def _close(session: Session, entry_id: str, mutation_id: int) -> None:
    row = session.get(WaitlistEntryRow, entry_id)
    if row is not None:
        row.active = False
        row.pending_mutation_id = mutation_id


def _refused(ctx: DeskContext, intent: str, target: str, why: RefusalDTO) -> ActionResult:
    with ctx.store.write() as session:
        add_event(session, ctx.now(), ctx.user().user_id, intent, target, "refused", why.code)
    return ActionResult(False, refusal=why)


def _dtos(
    session: Session, rows: Iterable[WaitlistEntryRow], order: list[str]
) -> tuple[WaitlistEntryDTO, ...]:
    by_id = {row.id: row for row in rows}
    patients = {p.id: p for p in session.scalars(select(PatientRow).where(
        PatientRow.id.in_([r.patient_id for r in by_id.values()])))}
    items = []
    for entry_id in order:
        row = by_id[entry_id]
        patient = patients.get(row.patient_id)
        items.append(WaitlistEntryDTO(
            id=row.id, clinic_id=row.clinic_id, patient_id=row.patient_id,
            patient_name=f"{patient.given_name} {patient.family_name}".strip() if patient else "",
            appointment_type_id=row.appointment_type_id, priority=row.priority,
            created_at=row.created_at,
            preferred_provider_ids=tuple(str(p) for p in row.preferred_provider_ids),
            preferred_weekdays=tuple(int(d) for d in row.preferred_weekdays),
            note=row.note, active=row.active, pending=row.pending_mutation_id is not None,
            preferred_times=tuple((time.fromisoformat(a), time.fromisoformat(b))
                                  for a, b in row.preferred_times),
        ))
    return tuple(items)
