"""Queries behind the agenda: days and weeks of a clinic, free slots, the conflict inbox.

Read-only, one read session per call, DTOs out. Each needs an unlocked session
(:class:`SessionLocked`) and ``booking:view_calendar`` (:class:`NotPermitted`). A
department-scoped user sees only their departments' (and shared) providers, rooms and
equipment, and the appointments and free slots with them
(:mod:`desktop.services.departments`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from desktop.services import departments, mapping
from desktop.services.calendar import MARGIN_BEFORE, Window, load_state, overlapping, window_for
from desktop.services.context import DeskContext, NotPermitted, require
from desktop.services.display_language import type_name
from desktop.services.dto import AgendaItem, AgendaView, AlternativeDTO, ConflictDTO
from desktop.services.visits import alternative_from_json, visit_positions
from desktop.store import outbox
from desktop.store.models import (
    AppointmentRow,
    AppointmentTypeRow,
    ClinicRow,
    ConflictRow,
    PatientRow,
    QuotaRow,
    ResourceRow,
)
from scheduling import availability, intents
from scheduling.commands import Alternative, Permission
from scheduling.errors import SchedulingInputError, UnknownIdError
from scheduling.model import AppointmentStatus, ResourceKind
from scheduling.state import CalendarState
from scheduling.timeutil import day_bounds

_VIEW = Permission.VIEW_CALENDAR.value
_HIDDEN = (AppointmentStatus.CANCELLED.value, AppointmentStatus.ENTERED_IN_ERROR.value)
#: Around a free-slot search without quotas: covers any booking's buffers (the bounded
#: window query already reaches back for appointments that started earlier).
BUFFER_MARGIN = timedelta(hours=12)


def day_view(
    ctx: DeskContext, clinic_id: str, day: date, *, include_cancelled: bool = False
) -> AgendaView:
    """The appointments of ``clinic_id`` on local ``day``, confirmed and pending."""
    return _view(ctx, clinic_id, day, day, include_cancelled)


def week_view(
    ctx: DeskContext, clinic_id: str, any_day: date, *, include_cancelled: bool = False
) -> AgendaView:
    """Monday to Sunday of the week holding ``any_day``."""
    monday = any_day - timedelta(days=any_day.weekday())
    return _view(ctx, clinic_id, monday, monday + timedelta(days=6), include_cancelled)


def range_view(
    ctx: DeskContext, clinic_id: str, first: date, last: date, *,
    include_cancelled: bool = False,
) -> AgendaView:
    """Local days ``first``..``last`` (inclusive) of ``clinic_id``."""
    return _view(ctx, clinic_id, first, last, include_cancelled)


def free_slots(
    ctx: DeskContext,
    clinic_id: str,
    appointment_type_id: str,
    first_day: date,
    last_day: date,
    *,
    provider_ids: tuple[str, ...] | None = None,
    patient_id: str | None = None,
    limit: int | None = None,
) -> tuple[AlternativeDTO, ...]:
    """Every bookable slot on local days ``first_day``..``last_day``, by start."""
    user = require(ctx, _VIEW, "see the calendar")
    now = ctx.now()
    with ctx.store.session() as session:
        tz = _time_zone(session, clinic_id)
        start, _ = day_bounds(first_day, tz)
        _, end = day_bounds(last_day, tz)
        state = load_state(session, user.organization_id, window_for(start, end, ctx.policy),
                           patient_ids=() if patient_id is None else (patient_id,))
        hidden = departments.hidden_resources(session, user)
    providers = _visible_providers(state, hidden, provider_ids)
    if providers == ():
        return ()
    query = availability.SlotQuery(clinic_id, appointment_type_id, first_day, last_day,
                                   providers, patient_id=patient_id)
    slots = availability.free_slots(state, query, now=now, policy=ctx.policy, limit=limit)
    return _visible_slots(slots, hidden)


def next_available(
    ctx: DeskContext,
    clinic_id: str,
    appointment_type_id: str,
    *,
    after: datetime | None = None,
    provider_ids: tuple[str, ...] | None = None,
    horizon_days: int = 60,
) -> AlternativeDTO | None:
    """The earliest free slot at or after ``after`` (default: now), or None."""
    user = require(ctx, _VIEW, "see the calendar")
    now = ctx.now()
    start = after or now
    with ctx.store.session() as session:
        window = window_for(start, start + timedelta(days=horizon_days + 1), ctx.policy)
        state = load_state(session, user.organization_id, window, patient_ids=())
        hidden = departments.hidden_resources(session, user)
    providers = _visible_providers(state, hidden, provider_ids)
    if providers == ():
        return None
    slot = availability.next_available(
        state, clinic_id, appointment_type_id, now=now, after=after, provider_ids=providers,
        horizon_days=horizon_days, policy=ctx.policy,
    )
    return None if slot is None else next(iter(_visible_slots((slot,), hidden)), None)


def earliest_free(
    ctx: DeskContext,
    clinic_id: str,
    appointment_type_id: str,
    *,
    limit: int,
    after: datetime | None = None,
    provider_ids: tuple[str, ...] | None = None,
    patient_id: str | None = None,
    horizon_days: int = 14,
) -> tuple[AlternativeDTO, ...]:
    """The ``limit`` earliest free slots from ``after`` on, earliest first.

    A time in the past searches from now (a receptionist looking at last week still
    wants the next free times); the days searched are ``horizon_days`` from there.
    """
    user = require(ctx, _VIEW, "see the calendar")
    now = ctx.now()
    start = now if after is None or after < now else after
    slots: list[Alternative] = []
    with ctx.store.session() as session:
        hidden = departments.hidden_resources(session, user)
        # Weekly quotas count the whole local week around each day searched.
        quotas = session.scalar(select(func.count(QuotaRow.id)).where(
            QuotaRow.clinic_id == clinic_id))
        margin = MARGIN_BEFORE if quotas else BUFFER_MARGIN
        # Most searches end on the first day: read a day's appointments, then a week's,
        # then the whole horizon's — not weeks of a busy clinic for eight answers.
        for days in sorted({min(d, horizon_days) for d in (1, 7, horizon_days)}):
            window = Window(start - margin, start + timedelta(days=days + 1) + margin)
            state = load_state(session, user.organization_id, window,
                               patient_ids=() if patient_id is None else (patient_id,))
            providers = _visible_providers(state, hidden, provider_ids)
            if providers == ():
                return ()
            slots = [s for s in availability.earliest_slots(
                state, clinic_id, appointment_type_id, now=now, limit=limit, after=start,
                provider_ids=providers, horizon_days=days, policy=ctx.policy,
                patient_id=patient_id,
            ) if not departments.uses_hidden(hidden, s.room_id, s.equipment_ids)]
            if len(slots) >= limit:
                break
    return tuple(mapping.alternative_dto(s) for s in slots)


def conflict_inbox(ctx: DeskContext) -> tuple[ConflictDTO, ...]:
    """Intents the server refused that nobody has dismissed yet, oldest first."""
    require(ctx, _VIEW, "see the calendar")
    with ctx.store.session() as session:
        rows = session.scalars(select(ConflictRow).where(ConflictRow.dismissed_at.is_(None))
                               .order_by(ConflictRow.id)).all()
        return tuple(
            ConflictDTO(
                id=row.id, mutation_id=row.mutation_id,
                intent=str(row.attempted.get("name", "")), code=row.code,
                message_id=row.message_id, params=mapping.frozen(row.params),
                alternatives=tuple(alternative_from_json(a) for a in row.alternatives),
                received_at=row.received_at,
            )
            for row in rows
        )


def dismiss_conflict(ctx: DeskContext, conflict_id: int) -> None:
    """Mark an inbox entry as seen by the signed-in user (desk-only, nothing is queued)."""
    user = require(ctx, _VIEW, "see the calendar")
    with ctx.store.write() as session:
        row = session.get(ConflictRow, conflict_id)
        if row is not None and row.dismissed_at is None:
            row.dismissed_at = ctx.now()
            row.dismissed_by = user.user_id


def retry_conflict(ctx: DeskContext, conflict_id: int, args: Mapping[str, Any]) -> str | None:
    """Send an intent the server could not read (an ``INVALID_MUTATION`` conflict) again
    with ``args`` corrected by staff, and dismiss its inbox entry. ``None`` when queued;
    otherwise why the corrected intent still cannot be read (nothing is queued)."""
    user = require(ctx, Permission.MODIFY.value, "change appointments")
    with ctx.store.write() as session:
        row = session.get(ConflictRow, conflict_id)
        if row is None or row.dismissed_at is not None:
            return None
        name = str(row.attempted.get("name", ""))
        try:
            intents.decode(name, args, ctx.actor())
        except SchedulingInputError as error:
            return str(error)
        outbox.append(session, name, dict(args), now=ctx.now(), user_id=user.user_id)
        row.dismissed_at = ctx.now()
        row.dismissed_by = user.user_id
    return None


def pending_count(ctx: DeskContext) -> int:
    """How many intents wait for the server."""
    ctx.user()
    with ctx.store.session() as session:
        return outbox.pending_count(session)


# --------------------------------------------------------------------------- internals


def _view(
    ctx: DeskContext, clinic_id: str, first: date, last: date, include_cancelled: bool
) -> AgendaView:
    user = require(ctx, _VIEW, "see the calendar")
    patient, kind = aliased(PatientRow), aliased(AppointmentTypeRow)
    provider, room = aliased(ResourceRow), aliased(ResourceRow)
    a = AppointmentRow
    with ctx.store.session() as session:
        tz = _time_zone(session, clinic_id)
        start, _ = day_bounds(first, tz)
        _, end = day_bounds(last, tz)
        hidden = departments.hidden_resources(session, user)
        # Plain columns, names joined in: a busy week is thousands of rows, and building
        # ORM objects for them (and their patients) cost more than the query itself.
        query = (
            select(a.id, a.patient_id, patient.given_name, patient.family_name,
                   a.appointment_type_id, kind.name, kind.color, a.provider_id,
                   provider.name, a.room_id, room.name, a.start, a.end, a.status,
                   a.pending_mutation_id, kind.names, a.virtual_checkin_at, a.visit_id,
                   a.equipment_ids)
            .outerjoin(patient, patient.id == a.patient_id)
            .outerjoin(kind, kind.id == a.appointment_type_id)
            .outerjoin(provider, provider.id == a.provider_id)
            .outerjoin(room, room.id == a.room_id)
            .where(a.clinic_id == clinic_id, a.deleted.is_(False),
                   overlapping(session, start, end))
            .order_by(a.start, a.provider_id)
        )
        if not include_cancelled:
            query = query.where(a.status.not_in(_HIDDEN))
        rows = [row for row in session.execute(query)
                if not departments.uses_hidden(hidden, row[7], row[9], row[18])]
    in_visits = [row[0] for row in rows if row[17] is not None]
    parts = visit_positions(ctx, in_visits) if in_visits else {}
    items = tuple(
        AgendaItem(
            appointment_id=row[0], patient_id=row[1],
            patient_name=f"{row[2]} {row[3]}".strip() if row[3] is not None else "",
            appointment_type_id=row[4], type_name=type_name(row[5] or "", row[15]),
            color=row[6] or "#888888", provider_id=row[7], provider_name=row[8] or "",
            room_id=row[9], room_name=row[10] if row[9] else None,
            start=row[11], end=row[12], status=row[13], pending=row[14] is not None,
            virtual=row[16] is not None, visit_part=parts.get(row[0]),
        )
        for row in rows
    )
    return AgendaView(clinic_id, tz, first, last, items)


def _visible_providers(state: CalendarState, hidden: frozenset[str],
                       requested: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The providers a search may use: ``requested`` (None: any) less another
    department's; an empty tuple when none is left."""
    if not hidden:
        return requested
    wanted = requested if requested is not None else tuple(
        r.id for r in state.resources.values() if r.kind is ResourceKind.PROVIDER)
    return tuple(p for p in wanted if p not in hidden)


def _visible_slots(slots: Iterable[Alternative],
                   hidden: frozenset[str]) -> tuple[AlternativeDTO, ...]:
    """``slots`` without those needing another department's room or equipment."""
    return tuple(mapping.alternative_dto(s) for s in slots
                 if not departments.uses_hidden(hidden, s.provider_id, s.room_id,
                                                s.equipment_ids))


def _time_zone(session: Session, clinic_id: str) -> str:
    clinic = session.get(ClinicRow, clinic_id)
    if clinic is None:
        raise UnknownIdError(f"unknown clinic: {clinic_id}")
    return clinic.time_zone


__all__ = ["NotPermitted", "conflict_inbox", "day_view", "dismiss_conflict", "earliest_free",
           "free_slots",
           "next_available", "pending_count", "range_view", "week_view"]
