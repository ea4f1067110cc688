"""The details panel: everything about the selected appointment, read-only.

Patient, type, provider, room, the time in the clinic's zone and locale, the
status, the staff and patient notes, and whether the server has confirmed it.
A read-only query (:func:`load_details`) returns a small frozen value, so the
panel holds no session and no ORM row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.services.calendar import Window, load_state
from desktop.services.context import DeskContext, require
from desktop.store.models import AppointmentRow
from desktop.ui.text import _, format_clock, format_when, language_notifier
from desktop.ui.theme import hint_style, set_heading
from scheduling.cancellation import was_cancelled_late
from scheduling.commands import Permission
from scheduling.i18n import TERMS


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


def load_details(ctx: DeskContext, appointment_id: str) -> AppointmentDetails | None:
    """The appointment as the panel shows it, or None when it is gone (e.g. after a sync)."""
    user = require(ctx, Permission.VIEW_CALENDAR.value, "see the calendar")
    now = ctx.now()
    with ctx.store.session() as session:
        row = session.get(AppointmentRow, appointment_id)
        if row is None or row.deleted:
            return None
        pending = row.pending_mutation_id is not None
        state = load_state(session, user.organization_id, Window(now, now),
                           appointment_ids=(appointment_id,), patient_ids=(row.patient_id,))
    appointment = state.appointments.get(appointment_id)
    if appointment is None:
        return None
    clinic = state.clinics[appointment.clinic_id]
    patient = state.patients.get(appointment.patient_id)
    kind = state.appointment_types.get(appointment.appointment_type_id)
    provider = state.resources.get(appointment.provider_id)
    room = state.resources.get(appointment.room_id) if appointment.room_id else None
    return AppointmentDetails(
        appointment_id=appointment.id, clinic_id=appointment.clinic_id,
        patient_id=appointment.patient_id, appointment_type_id=appointment.appointment_type_id,
        patient_name=(f"{patient.given_name} {patient.family_name}".strip() if patient else ""),
        type_name=kind.name if kind else "",
        provider_name=provider.name if provider else "",
        room_name=room.name if room else None,
        start=appointment.start, end=appointment.end, time_zone=clinic.time_zone,
        clinic_locale=clinic.locale, status=appointment.status.value,
        notes=appointment.notes, patient_notes=appointment.patient_notes, pending=pending,
        late_cancellation=was_cancelled_late(appointment, kind),
        provider_id=appointment.provider_id, room_id=appointment.room_id,
    )


class DetailsPanel(QWidget):
    """Shows one appointment; :meth:`show_appointment` with None empties it.

    Signal ``notificationsRequested(appointment_id)``: its "Notifications…" button."""

    notificationsRequested = Signal(str)

    def __init__(self, ctx: DeskContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.details: AppointmentDetails | None = None
        self.empty = QLabel(self)
        self.empty.setWordWrap(True)
        self.titles = [QLabel(self) for _i in range(9)]
        self.values = [QLabel(self) for _i in range(9)]
        self.form_box = QWidget(self)
        # Each title above its value (a form's two columns cut long Spanish values off in
        # a narrow dock; a column of labels wraps every text to the dock's width).
        form = QVBoxLayout(self.form_box)
        form.setContentsMargins(0, 0, 0, 0)
        form.setSpacing(2)
        for title, value in zip(self.titles, self.values, strict=True):
            title.setStyleSheet(hint_style() + " margin-top: 4px;")
            title.setWordWrap(True)
            value.setWordWrap(True)
            form.addWidget(title)
            form.addWidget(value)
        set_heading(self.values[0], 1.3)
        self.notifications_button = QPushButton(self.form_box)
        form.addSpacing(6)
        form.addWidget(self.notifications_button)
        self.notifications_button.clicked.connect(self._notifications)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.form_box)
        layout.addStretch(1)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def show_appointment(self, appointment_id: str | None) -> None:
        self.details = None if appointment_id is None else load_details(self._ctx, appointment_id)
        self._show()

    @Slot()
    def refresh(self) -> None:
        """Read the shown appointment again (after a move, a status change, a sync)."""
        self.show_appointment(None if self.details is None else self.details.appointment_id)

    def clear(self) -> None:
        """Forget the shown appointment (the desk locked: no patient data may stay)."""
        self.details = None
        self._show()

    @Slot()
    def _notifications(self) -> None:
        if self.details is not None:
            self.notificationsRequested.emit(self.details.appointment_id)

    @Slot()
    def retranslate(self) -> None:
        self.notifications_button.setText(_("Notifications…"))
        self.empty.setText(_("Select an appointment in the agenda to see its details."))
        for title, text in zip(self.titles, (
                _("Patient"), _("Type"), _("Provider"), _("Room"), _("When"), _("Status"),
                _("Staff notes"), _("Patient notes"), _("Sync")), strict=True):
            title.setText(text)
        self._show()

    def _show(self) -> None:
        details = self.details
        self.empty.setVisible(details is None)
        self.form_box.setVisible(details is not None)
        if details is None:
            for value in self.values:
                value.clear()
            return
        zone, locale = details.time_zone, details.clinic_locale
        when = _("{start} to {end}").format(
            start=format_when(details.start, zone, locale),
            end=format_clock(details.end, zone, locale))
        sync = (_("Waiting to be confirmed by the server") if details.pending
                else _("Confirmed by the server"))
        status = TERMS.get(details.status)
        shown_status = _(status) if status else details.status
        if details.late_cancellation:
            fee = self._ctx.policy.late_cancellation_fee
            shown_status = (_("{status} — late cancellation").format(status=shown_status)
                            if fee is None else
                            _("{status} — late cancellation, fee {fee}").format(
                                status=shown_status, fee=fee))
        texts = (details.patient_name, details.type_name, details.provider_name,
                 details.room_name or _("No room"), when,
                 shown_status,
                 details.notes or "—", details.patient_notes or "—", sync)
        for value, text in zip(self.values, texts, strict=True):
            value.setText(text)
