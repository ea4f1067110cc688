"""Export appointments from the desk's store as an iCalendar (.ics) file.

The same VEVENTs as the server's calendar feeds (:mod:`scheduling.ical`): UID
from the appointment id, times in the clinic's zone with a VTIMEZONE, STATUS
(cancelled visits stay, marked cancelled). What is said about the patient
follows the chosen privacy level; the default shows type and initials only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from desktop.services.context import DeskContext, require
from desktop.store.models import (
    AppointmentRow,
    AppointmentTypeRow,
    ClinicRow,
    PatientRow,
    ResourceRow,
)
from desktop.translations import translations
from scheduling.commands import Permission
from scheduling.ical import (
    ICAL_STATUS,
    FeedAppointment,
    Privacy,
    appointment_event,
    calendar_head,
    window_years,
)
from scheduling.refusals import N_
from scheduling.timeutil import day_bounds

_VIEW = Permission.VIEW_CALENDAR.value
REFRESH = timedelta(minutes=15)


def export_appointments(ctx: DeskContext, appointment_ids: Iterable[str], *,
                        privacy: str = Privacy.INITIALS.value, language: str = "en") -> bytes:
    """The chosen appointments (e.g. the agenda's selection) as an .ics file."""
    require(ctx, _VIEW, "see the calendar")
    wanted = list(appointment_ids)
    with ctx.store.session() as session:
        rows = list(session.scalars(select(AppointmentRow).where(AppointmentRow.id.in_(wanted))))
        return _calendar(ctx, session, rows, Privacy(privacy), language,
                         N_("ClinicDesk appointments"), {})


def export_days(ctx: DeskContext, clinic_id: str, first: date, last: date, *,
                resource_id: str | None = None, privacy: str = Privacy.INITIALS.value,
                language: str = "en") -> bytes:
    """A clinic's local days ``first``..``last`` as an .ics file, optionally only one
    provider's or room's appointments."""
    require(ctx, _VIEW, "see the calendar")
    with ctx.store.session() as session:
        clinic = session.get(ClinicRow, clinic_id)
        zone = clinic.time_zone if clinic is not None else "UTC"
        start, _ = day_bounds(first, zone)
        _, end = day_bounds(last, zone)
        query = select(AppointmentRow).where(
            AppointmentRow.clinic_id == clinic_id, AppointmentRow.start < end,
            AppointmentRow.end > start)
        title = N_("{clinic} appointments")
        names = {"clinic": clinic.name if clinic is not None else ""}
        if resource_id is not None:
            query = query.where(or_(AppointmentRow.provider_id == resource_id,
                                    AppointmentRow.room_id == resource_id))
            resource = session.get(ResourceRow, resource_id)
            title = N_("{resource} — appointments")
            names = {"resource": resource.name if resource is not None else ""}
        rows = list(session.scalars(query.order_by(AppointmentRow.start)))
        return _calendar(ctx, session, rows, Privacy(privacy), language, title, names)


def _calendar(ctx: DeskContext, session: Session, rows: list[AppointmentRow], privacy: Privacy,
              language: str, title: str, names: dict[str, str]) -> bytes:
    translate = translations(language).gettext
    now = ctx.now()
    clinics = {c.id: c for c in session.scalars(select(ClinicRow))}
    rooms = _by_id(session, ResourceRow, {r.room_id for r in rows if r.room_id})
    kinds = _by_id(session, AppointmentTypeRow, {r.appointment_type_id for r in rows})
    patients = (_by_id(session, PatientRow, {r.patient_id for r in rows})
                if privacy is not Privacy.BUSY else {})
    visible = [r for r in rows if not r.deleted and ICAL_STATUS.get(r.status, "") is not None]
    zones = sorted({clinics[r.clinic_id].time_zone for r in visible if r.clinic_id in clinics})
    first = min((r.start.date() for r in visible), default=now.date())
    last = max((r.end.date() for r in visible), default=now.date())
    calendar = calendar_head(translate(title).format(**names), REFRESH, zones or ["UTC"],
                             window_years(first, last))
    for row in sorted(visible, key=lambda r: (r.start, r.id)):
        clinic = clinics.get(row.clinic_id)
        patient = patients.get(row.patient_id)
        room = rooms.get(row.room_id or "")
        kind = kinds.get(row.appointment_type_id)
        calendar.add_component(appointment_event(FeedAppointment(
            id=row.id, start=row.start, end=row.end, status=row.status, version=row.version,
            updated_at=now, time_zone=clinic.time_zone if clinic else "UTC",
            clinic_name=clinic.name if clinic else "", room_name=room.name if room else "",
            type_name=kind.name if kind else "",
            given_name=patient.given_name if patient else "",
            family_name=patient.family_name if patient else "", notes=row.notes or "",
            patient_notes=row.patient_notes or "", cancel_reason=row.cancel_reason or "",
            series_id=row.series_id, original_start=row.original_start, room_id=row.room_id),
            privacy, translate))
    body: bytes = calendar.to_ical()
    return body


def _by_id(session: Session, model: Any, ids: Iterable[str]) -> dict[str, Any]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(wanted)))}
