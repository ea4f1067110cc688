"""The optimistic calendar: a :class:`CalendarState` built from the desk's mirror tables.

Mirror rows hold the confirmed state plus the desk's own pending changes, so
the state built here is what the receptionist sees and what the local rules
judge. Configuration (clinics, resources, types, schedules …) is loaded in
full; appointments only inside a time window, because a clinic accumulates
years of them and one action only needs the days it touches.

The window must be wide enough for everything the rules look at: weekly
quotas (the whole local week) and the alternatives offered for a refusal
(``policy.alternatives_horizon_days`` ahead). :func:`window_for` adds those
margins; a narrower window would offer alternatives that clash with bookings
outside it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from desktop.store import row_mapping
from desktop.store.models import (
    AppointmentRow,
    AppointmentTypeRow,
    BlockoutRow,
    ClinicRow,
    HolidayRow,
    OutageRow,
    PatientRow,
    QuotaRow,
    ResourceRow,
    ScheduleExceptionRow,
    WaitlistEntryRow,
    WeeklyScheduleRow,
)
from scheduling.commands import Policy
from scheduling.state import CalendarState

#: Before the first affected instant: a whole week for weekly quotas, plus a day for zones.
MARGIN_BEFORE = timedelta(days=8)
#: After the last affected instant, on top of the alternatives horizon.
MARGIN_AFTER = timedelta(days=8)
#: The shortest "longest appointment" the bounded range queries assume (see overlapping()).
LONGEST_FLOOR = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Window:
    """Load appointments overlapping ``[start, end)`` (aware UTC instants)."""

    start: datetime
    end: datetime


def window_for(first: datetime, last: datetime, policy: Policy) -> Window:
    """The window an action touching ``first``..``last`` needs (see the module docstring)."""
    horizon = timedelta(days=policy.alternatives_horizon_days)
    return Window(first - MARGIN_BEFORE, last + horizon + MARGIN_AFTER)


def load_state(
    session: Session,
    organization_id: str,
    window: Window | None = None,
    *,
    appointment_ids: Collection[str] = (),
    series_ids: Collection[str] = (),
    patient_ids: Collection[str] | None = None,
) -> CalendarState:
    """Build the optimistic state of ``organization_id``.

    ``window`` None loads every appointment. ``appointment_ids`` and the members of
    ``series_ids`` are loaded wherever they are (the target of a move may be far from
    its new time). ``patient_ids`` None loads every patient; the rules only look at
    the patient of the command, so an action passes just that one.
    """
    appointments = select(AppointmentRow).where(
        AppointmentRow.organization_id == organization_id
    )
    if window is not None:
        also: list[ColumnElement[bool]] = []
        if appointment_ids:
            also.append(AppointmentRow.id.in_(list(appointment_ids)))
        if series_ids:
            also.append(AppointmentRow.series_id.in_(list(series_ids)))
        if window.start < window.end:
            also.insert(0, overlapping(session, window.start, window.end))
        # An empty window (configuration only) reads no appointment at all.
        wanted = appointments.where(or_(*also)) if also else None
    else:
        wanted = appointments
    patients = select(PatientRow).where(PatientRow.organization_id == organization_id)
    if patient_ids is not None:
        patients = patients.where(PatientRow.id.in_(list(patient_ids)))
    clinic_rows = session.scalars(
        select(ClinicRow).where(ClinicRow.organization_id == organization_id)
    ).all()
    clinic_ids = [row.id for row in clinic_rows]
    return CalendarState.build(
        organization_id,
        clinics=map(row_mapping.clinic, clinic_rows),
        resources=map(row_mapping.resource, session.scalars(
            select(ResourceRow).where(ResourceRow.organization_id == organization_id))),
        appointment_types=map(row_mapping.appointment_type, session.scalars(
            select(AppointmentTypeRow).where(
                AppointmentTypeRow.organization_id == organization_id))),
        patients=map(row_mapping.patient, session.scalars(patients)),
        schedules=map(row_mapping.weekly_schedule, session.scalars(
            select(WeeklyScheduleRow).where(WeeklyScheduleRow.clinic_id.in_(clinic_ids)))),
        exceptions=map(row_mapping.schedule_exception, session.scalars(
            select(ScheduleExceptionRow).where(ScheduleExceptionRow.clinic_id.in_(clinic_ids)))),
        holidays=map(row_mapping.holiday, session.scalars(
            select(HolidayRow).where(HolidayRow.clinic_id.in_(clinic_ids)))),
        blockouts=map(row_mapping.blockout, session.scalars(
            select(BlockoutRow).where(BlockoutRow.clinic_id.in_(clinic_ids)))),
        outages=map(row_mapping.outage, session.scalars(select(OutageRow))),
        quotas=map(row_mapping.quota, session.scalars(
            select(QuotaRow).where(QuotaRow.clinic_id.in_(clinic_ids)))),
        waitlist=map(row_mapping.waitlist_entry, session.scalars(
            select(WaitlistEntryRow).where(
                WaitlistEntryRow.organization_id == organization_id,
                WaitlistEntryRow.active.is_(True)))),
        appointments=() if wanted is None else map(
            row_mapping.appointment, session.scalars(wanted)),
    )


def longest_appointment(session: Session) -> timedelta:
    """No appointment is longer than this: the longest any appointment type allows, and
    at least a day (a type shortened later leaves its older, longer appointments)."""
    longest = session.scalar(select(func.max(AppointmentTypeRow.max_duration_seconds)))
    return max(timedelta(seconds=longest or 0), LONGEST_FLOOR)


def overlapping(session: Session, start: datetime, end: datetime) -> ColumnElement[bool]:
    """Appointments overlapping ``[start, end)``, as a condition bounded on both sides.

    ``start < end AND end > start`` alone bounds the indexed ``start`` from above only,
    so an index scan walks every older appointment (years of them); an appointment that
    overlaps the range starts at most :func:`longest_appointment` before it.
    """
    return ((AppointmentRow.start < end) & (AppointmentRow.end > start)
            & (AppointmentRow.start >= start - longest_appointment(session)))
