"""What the booking API reads: the appointments of a period, one appointment, free
slots, and the ownership checks before a change (another organization's id is answered as unknown,
with an ``access_denied`` audit entry)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import model
from scheduling.commands import Alternative
from sync_server.db import models as db
from sync_server.services import access, departments
from sync_server.services.accounts import Principal
from sync_server.services.calendar import appointment_record, free_view

#: At most this many appointments in one listing.
MAX_LISTED = 5000


def appointments_between(
    session: Session, organization_id: str, start: datetime, end: datetime, *,
    provider_id: str | None = None, clinic_id: str | None = None,
    hidden: Collection[str] = (),
) -> list[model.Appointment]:
    """Appointments overlapping ``[start, end)`` (cancelled ones included), by start;
    none with a provider, room or equipment in ``hidden`` (another department's)."""
    table = db.Appointment
    query = select(table).where(table.organization_id == organization_id,
                                table.deleted.is_(False), table.start_at < end,
                                table.end_at > start).order_by(table.start_at, table.id)
    if provider_id is not None:
        query = query.where(table.provider_id == provider_id)
    if clinic_id is not None:
        query = query.where(table.clinic_id == clinic_id)
    found = [appointment_record(r) for r in session.scalars(query.limit(MAX_LISTED))]
    if hidden:
        found = [a for a in found
                 if not {a.provider_id, a.room_id, *a.equipment_ids} & set(hidden)]
    return found


def own_appointment(
    session: Session, user: Principal, appointment_id: str, now: datetime
) -> model.Appointment:
    """The user's organization's appointment (``NotFound`` otherwise)."""
    row = access.get_in_organization(session, db.Appointment, appointment_id,
                                     user.organization_id, user.actor, now,
                                     target_type="appointment")
    departments.check_appointment(session, user, departments.VIEW, row, now)
    return appointment_record(row)


def check_own_series(session: Session, user: Principal, series_id: str, now: datetime) -> None:
    """``NotFound`` unless the series belongs to the user's organization."""
    access.get_in_organization(session, db.Series, series_id, user.organization_id,
                               user.actor, now, target_type="series")


def free_slots_between(
    session: Session, organization_id: str, clinic_id: str, appointment_type_id: str,
    first_day: date, last_day: date, provider_ids: tuple[str, ...] | None, now: datetime,
    limit: int = MAX_LISTED,
) -> list[Alternative] | None:
    """Every free slot of the type at the clinic over local days ``first_day`` ..
    ``last_day`` (the same predicate the rules use); ``None``: no such clinic."""
    return free_view.free_slots_between(session, organization_id, clinic_id,
                                        appointment_type_id, first_day, last_day,
                                        provider_ids, now, limit)
