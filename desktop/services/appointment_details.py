"""The selected appointment as the details panel and the edit dialog show it.

:func:`load_details` is a read-only query returning a small frozen value, so no
screen holds a session or an ORM row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from desktop.services.calendar import Window, load_state
from desktop.services.context import DeskContext, require
from desktop.services.display_language import display_language
from desktop.services.visits import visit_position
from desktop.store.models import AppointmentRow, SlotTemplateRow
from scheduling.cancellation import was_cancelled_late
from scheduling.commands import Permission
from scheduling.financials import from_cents
from scheduling.model import AppointmentType, StatusChange


@dataclass(frozen=True, slots=True)
class AppointmentDetails:
    appointment_id: str
    clinic_id: str
    patient_id: str
    appointment_type_id: str
    patient_name: str
    type_name: str
    provider_name: str
    room_name: str | None
    start: datetime
    end: datetime
    time_zone: str
    clinic_locale: str
    status: str
    notes: str
    patient_notes: str
    pending: bool
    late_cancellation: bool = False  # cancelled inside the type's cancellation period
    provider_id: str = ""
    room_id: str | None = None
    #: How the patient set the current status themselves ("email-link" or "sms-reply", from
    #: a reminder's reply), or "" when staff did.
    status_by_patient: str = ""
    #: A late cancellation's fee per the type's booking policy (None: no fee).
    late_cancellation_fee: Decimal | None = None
    #: Where the booking came from (``scheduling.model.AppointmentSource``: "online" for
    #: the patient portal).
    source: str = "staff"
    #: When the patient checked in from the portal (a telemedicine visit), else None.
    virtual_checkin_at: datetime | None = None
    #: Its place in its visit, (number, total), or None when it is booked alone.
    visit_part: tuple[int, int] | None = None
    #: The name of the slot template it was booked into, or None.
    slot_template_name: str | None = None
    #: How long ahead the type asks to be told of a cancellation (0: no period).
    cancellation_period: timedelta = timedelta(0)


def load_details(ctx: DeskContext, appointment_id: str) -> AppointmentDetails | None:
    """The appointment as the panel shows it, or None when it is gone (e.g. after a sync)."""
    user = require(ctx, Permission.VIEW_CALENDAR.value, "see the calendar")
    now = ctx.now()
    with ctx.store.session() as session:
        row = session.get(AppointmentRow, appointment_id)
        if row is None or row.deleted:
            return None
        pending = row.pending_mutation_id is not None
        template = (session.get(SlotTemplateRow, row.slot_template_id)
                    if row.slot_template_id else None)
        template_name = None if template is None else template.name
        state = load_state(session, user.organization_id, Window(now, now),
                           appointment_ids=(appointment_id,), patient_ids=(row.patient_id,))
    appointment = state.appointments.get(appointment_id)
    if appointment is None:
        return None
    position = visit_position(ctx, appointment_id) if appointment.visit_id else None
    clinic = state.clinics[appointment.clinic_id]
    patient = state.patients.get(appointment.patient_id)
    kind = state.appointment_types.get(appointment.appointment_type_id)
    provider = state.resources.get(appointment.provider_id)
    room = state.resources.get(appointment.room_id) if appointment.room_id else None
    return AppointmentDetails(
        appointment_id=appointment.id, clinic_id=appointment.clinic_id,
        patient_id=appointment.patient_id, appointment_type_id=appointment.appointment_type_id,
        patient_name=(f"{patient.given_name} {patient.family_name}".strip() if patient else ""),
        type_name=kind.name_in(display_language()) if kind else "",
        provider_name=provider.name if provider else "",
        room_name=room.name if room else None,
        start=appointment.start, end=appointment.end, time_zone=clinic.time_zone,
        clinic_locale=clinic.locale, status=appointment.status.value,
        notes=appointment.notes, patient_notes=appointment.patient_notes, pending=pending,
        late_cancellation=was_cancelled_late(appointment, kind),
        provider_id=appointment.provider_id, room_id=appointment.room_id,
        status_by_patient=_patient_channel(appointment.last_status_change),
        late_cancellation_fee=_fee(kind, ctx.policy.late_cancellation_fee),
        source=appointment.source.value, virtual_checkin_at=appointment.virtual_checkin_at,
        visit_part=None if position is None else (position.number, position.total),
        slot_template_name=template_name,
        cancellation_period=kind.cancellation_period if kind else timedelta(0),
    )


def _fee(kind: AppointmentType | None, fallback: Decimal | None) -> Decimal | None:
    """The type's late-cancellation fee, else the desk policy's."""
    if kind is None or kind.late_cancellation_fee_cents is None:
        return fallback
    return from_cents(kind.late_cancellation_fee_cents)


#: The actor id a patient's reply to a reminder is recorded under (the server's
#: ``sync_server/notifications/replies.py``), by channel.
PATIENT_ACTOR_PREFIX = "patient:"


def _patient_channel(change: StatusChange | None) -> str:
    if change is None or not change.actor_id.startswith(PATIENT_ACTOR_PREFIX):
        return ""
    return change.actor_id.removeprefix(PATIENT_ACTOR_PREFIX)
