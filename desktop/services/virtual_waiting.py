"""Who is waiting for a video visit: the virtual waiting room's one read.

Today's telemedicine appointments (in the clinic's zone) whose patient checked in from
the portal and who are not yet in the room: arrived or ready, with how long they have
waited, grouped by provider. Read from the desk's store, so it follows every sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import aliased

from desktop.services.context import DeskContext, require
from desktop.services.display_language import type_name
from desktop.store.models import (
    AppointmentRow,
    AppointmentTypeRow,
    ClinicRow,
    PatientRow,
    ResourceRow,
)
from scheduling.commands import Permission
from scheduling.model import AppointmentStatus
from scheduling.timeutil import day_bounds, local_date

#: Checked in but not yet seen: the provider has someone waiting.
WAITING = (AppointmentStatus.ARRIVED.value, AppointmentStatus.READY.value)


@dataclass(frozen=True, slots=True)
class WaitingPatient:
    appointment_id: str
    provider_id: str
    provider_name: str
    patient_name: str
    type_name: str
    start: datetime
    checked_in_at: datetime
    waited: timedelta


def virtual_waiting_room(ctx: DeskContext, clinic_id: str) -> tuple[WaitingPatient, ...]:
    """Today's virtual check-ins at ``clinic_id`` still waiting, by provider name and then
    by who checked in first."""
    require(ctx, Permission.VIEW_CALENDAR.value, "see the calendar")
    now = ctx.now()
    a, kind, patient, provider = (AppointmentRow, aliased(AppointmentTypeRow),
                                  aliased(PatientRow), aliased(ResourceRow))
    with ctx.store.session() as session:
        clinic = session.get(ClinicRow, clinic_id)
        if clinic is None:
            return ()
        first, last = day_bounds(local_date(now, clinic.time_zone), clinic.time_zone)
        rows = session.execute(
            select(a.id, a.provider_id, provider.name, patient.given_name, patient.family_name,
                   kind.name, kind.names, a.start, a.virtual_checkin_at)
            .join(kind, kind.id == a.appointment_type_id)
            .outerjoin(patient, patient.id == a.patient_id)
            .outerjoin(provider, provider.id == a.provider_id)
            .where(a.clinic_id == clinic_id, a.deleted.is_(False), a.status.in_(WAITING),
                   a.virtual_checkin_at.is_not(None), kind.telemedicine.is_(True),
                   a.start >= first, a.start < last)
            .order_by(provider.name, a.provider_id, a.virtual_checkin_at)).all()
    return tuple(
        WaitingPatient(
            appointment_id=row[0], provider_id=row[1], provider_name=row[2] or "",
            patient_name=f"{row[3] or ''} {row[4] or ''}".strip(),
            type_name=type_name(row[5], row[6]), start=row[7], checked_in_at=row[8],
            waited=max(timedelta(0), now - row[8]))
        for row in rows)
