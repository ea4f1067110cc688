"""Queries behind the agenda: days and weeks of a clinic, free slots, the conflict inbox.

Read-only, one read session per call, DTOs out. Each needs an unlocked session
(:class:`SessionLocked`) and ``booking:view_calendar`` (:class:`NotPermitted`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.services import mapping
from desktop.services.calendar import load_state, overlapping, window_for
from desktop.services.context import DeskContext, NotPermitted, require
from desktop.services.dto import AgendaItem, AgendaView, AlternativeDTO, ConflictDTO
from desktop.store import outbox
from desktop.store.models import (
    AppointmentRow,
    AppointmentTypeRow,
    ClinicRow,
    ConflictRow,
    PatientRow,
    ResourceRow,
)
from scheduling import availability
from scheduling.commands import Permission
from scheduling.errors import UnknownIdError
from scheduling.model import AppointmentStatus
from scheduling.timeutil import day_bounds

_VIEW = Permission.VIEW_CALENDAR.value
_HIDDEN = (AppointmentStatus.CANCELLED.value, AppointmentStatus.ENTERED_IN_ERROR.value)


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
    query = availability.SlotQuery(clinic_id, appointment_type_id, first_day, last_day,
                                   provider_ids, patient_id=patient_id)
    slots = availability.free_slots(state, query, now=now, policy=ctx.policy, limit=limit)
    return tuple(mapping.alternative_dto(s) for s in slots)


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
    slot = availability.next_available(
        state, clinic_id, appointment_type_id, now=now, after=after, provider_ids=provider_ids,
        horizon_days=horizon_days, policy=ctx.policy,
    )
    return None if slot is None else mapping.alternative_dto(slot)


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
    with ctx.store.session() as session:
        window = window_for(start, start + timedelta(days=horizon_days + 1), ctx.policy)
        state = load_state(session, user.organization_id, window,
                           patient_ids=() if patient_id is None else (patient_id,))
    slots = availability.earliest_slots(
        state, clinic_id, appointment_type_id, now=now, limit=limit, after=start,
        provider_ids=provider_ids, horizon_days=horizon_days, policy=ctx.policy,
        patient_id=patient_id,
    )
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
                alternatives=tuple(_alternative(a) for a in row.alternatives),
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


def pending_count(ctx: DeskContext) -> int:
    """How many intents wait for the server."""
    ctx.user()
    with ctx.store.session() as session:
        return outbox.pending_count(session)


# --------------------------------------------------------------------------- internals


def _view(
    ctx: DeskContext, clinic_id: str, first: date, last: date, include_cancelled: bool
) -> AgendaView:
    require(ctx, _VIEW, "see the calendar")
    with ctx.store.session() as session:
        tz = _time_zone(session, clinic_id)
        start, _ = day_bounds(first, tz)
        _, end = day_bounds(last, tz)
        query = select(AppointmentRow).where(
            AppointmentRow.clinic_id == clinic_id, AppointmentRow.deleted.is_(False),
            overlapping(session, start, end),
        ).order_by(AppointmentRow.start, AppointmentRow.provider_id)
        if not include_cancelled:
            query = query.where(AppointmentRow.status.not_in(_HIDDEN))
        rows = session.scalars(query).all()
        patients = _by_id(session, PatientRow, {r.patient_id for r in rows})
        kinds = _by_id(session, AppointmentTypeRow, {r.appointment_type_id for r in rows})
        resources = _by_id(session, ResourceRow,
                           {r.provider_id for r in rows} | {r.room_id for r in rows if r.room_id})
        items = []
        for row in rows:
            patient = patients.get(row.patient_id)
            kind = kinds.get(row.appointment_type_id)
            provider = resources.get(row.provider_id)
            room = resources.get(row.room_id) if row.room_id else None
            items.append(AgendaItem(
                appointment_id=row.id, patient_id=row.patient_id,
                patient_name=(f"{patient.given_name} {patient.family_name}".strip()
                              if patient else ""),
                appointment_type_id=row.appointment_type_id,
                type_name=kind.name if kind else "", color=kind.color if kind else "#888888",
                provider_id=row.provider_id, provider_name=provider.name if provider else "",
                room_id=row.room_id, room_name=room.name if room else None,
                start=row.start, end=row.end, status=row.status,
                pending=row.pending_mutation_id is not None,
            ))
    return AgendaView(clinic_id, tz, first, last, tuple(items))


def _time_zone(session: Session, clinic_id: str) -> str:
    clinic = session.get(ClinicRow, clinic_id)
    if clinic is None:
        raise UnknownIdError(f"unknown clinic: {clinic_id}")
    return clinic.time_zone


def _by_id(session: Session, model: Any, ids: Iterable[str]) -> dict[str, Any]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(wanted)))}


def _alternative(data: dict[str, Any]) -> AlternativeDTO:
    return AlternativeDTO(
        start=datetime.fromisoformat(data["start"]).astimezone(UTC),
        end=datetime.fromisoformat(data["end"]).astimezone(UTC),
        provider_id=str(data["provider_id"]),
        room_id=data.get("room_id"),
        equipment_ids=tuple(data.get("equipment_ids") or ()),
    )


__all__ = ["NotPermitted", "conflict_inbox", "day_view", "dismiss_conflict", "earliest_free",
           "free_slots",
           "next_available", "pending_count", "range_view", "week_view"]
