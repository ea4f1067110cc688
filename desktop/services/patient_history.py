"""A patient's record as the front desk needs it on the phone: contact details, the next
appointments, the past ones, how often they did not come and how often they cancelled
late (inside the type's cancellation period, see :mod:`scheduling.cancellation`).

Read-only, one session, small frozen values out (never ORM rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from desktop.services import departments, patients
from desktop.services.context import DeskContext, require
from desktop.services.display_language import type_name
from desktop.services.dto import PatientDTO
from desktop.store import row_mapping
from desktop.store.models import AppointmentRow, AppointmentTypeRow, ClinicRow, ResourceRow
from scheduling.cancellation import was_cancelled_late
from scheduling.commands import Permission

#: How many past appointments the panel lists.
PAST_SHOWN = 5


@dataclass(frozen=True, slots=True)
class VisitLine:
    """One appointment of the patient, as the panel lists it."""

    appointment_id: str
    start: datetime
    time_zone: str
    clinic_locale: str
    type_name: str
    provider_name: str
    status: str


@dataclass(frozen=True, slots=True)
class PatientHistory:
    patient: PatientDTO
    upcoming: tuple[VisitLine, ...]  # soonest first; active bookings only
    past: tuple[VisitLine, ...]  # most recent first, at most PAST_SHOWN
    no_shows: int
    late_cancellations: int = 0


_FREEING = frozenset({"cancelled", "no_show", "entered_in_error"})


def patient_history(ctx: DeskContext, patient_id: str) -> PatientHistory | None:
    """The patient's panel at ``ctx.now()``; None when the patient is unknown."""
    user = require(ctx, Permission.VIEW_CALENDAR.value, "see the calendar")
    patient = patients.get(ctx, patient_id)
    if patient is None:
        return None
    now = ctx.now()
    with ctx.store.session() as session:
        rows = session.scalars(select(AppointmentRow).where(
            AppointmentRow.patient_id == patient_id, AppointmentRow.deleted.is_(False))
            .order_by(AppointmentRow.start)).all()
        clinics = {c.id: c for c in session.scalars(select(ClinicRow))}
        kinds = {t.id: row_mapping.appointment_type(t)
                 for t in session.scalars(select(AppointmentTypeRow))}
        types = {k: type_name(t.name, t.names) for k, t in kinds.items()}
        people = {r.id: r.name for r in session.scalars(select(ResourceRow))}
        hidden = departments.hidden_resources(session, user)
        lines, late = [], 0
        for row in rows:
            if departments.uses_hidden(hidden, row.provider_id, row.room_id, row.equipment_ids):
                continue  # with another department: not this user's to see
            if row.status == "cancelled" and was_cancelled_late(
                    row_mapping.appointment(row), kinds.get(row.appointment_type_id)):
                late += 1
            clinic = clinics.get(row.clinic_id)
            lines.append(VisitLine(
                row.id, _utc(row.start), clinic.time_zone if clinic else "UTC",
                clinic.locale if clinic else "en_US", types.get(row.appointment_type_id, ""),
                people.get(row.provider_id, ""), row.status))
    upcoming = tuple(v for v in lines if v.start >= now and v.status not in _FREEING)
    past = tuple(reversed([v for v in lines if v.start < now]))[:PAST_SHOWN]
    no_shows = sum(1 for v in lines if v.status == "no_show")
    return PatientHistory(patient, upcoming, past, no_shows, late)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


__all__ = ["PAST_SHOWN", "PatientHistory", "VisitLine", "patient_history"]
