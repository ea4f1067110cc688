"""The details panel: everything about the selected appointment, read-only.

Patient, type, provider, room, the time in the clinic's zone and locale, the
status, the staff and patient notes, and whether the server has confirmed it.
The panel shows what :func:`desktop.services.appointment_details.load_details`
returns, a small frozen value, so it holds no session and no ORM row.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.services.appointment_details import AppointmentDetails, load_details
from desktop.services.context import DeskContext
from desktop.services.telemedicine import is_video_visit
from desktop.ui.telemedicine_section import TelemedicineSection
from desktop.ui.text import N_, _, format_clock, format_when, language_notifier
from desktop.ui.theme import hint_style, set_heading
from scheduling.i18n import TERMS

#: How a patient answered a reminder themselves (the status line says so).
PATIENT_CHANNELS = {"email-link": N_("e-mail link"), "sms-reply": N_("SMS reply"),
                    "portal": N_("patient portal")}
#: Where a booking came from (``scheduling.model.AppointmentSource``).
SOURCES = {"staff": N_("Front desk"), "online": N_("Online (patient portal)"),
           "phone": N_("Phone"), "recall": N_("Recall"), "treatment_plan": N_("Treatment plan"),
           "waitlist": N_("Waiting list")}

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
        self.titles = [QLabel(self) for _i in range(10)]
        self.values = [QLabel(self) for _i in range(10)]
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
        #: "Part of a visit (2 of 3)" and "Template slot: New patient", when they apply.
        self.grouping = QLabel(self.form_box)
        self.grouping.setWordWrap(True)
        form.addWidget(self.grouping)
        self.notifications_button = QPushButton(self.form_box)
        form.addSpacing(6)
        form.addWidget(self.notifications_button)
        self.notifications_button.clicked.connect(self._notifications)
        self.telemedicine = TelemedicineSection(self.form_box)  # only for video visits
        form.addWidget(self.telemedicine)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.form_box)
        layout.addStretch(1)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def show_appointment(self, appointment_id: str | None) -> None:
        self.details = None if appointment_id is None else load_details(self._ctx, appointment_id)
        self._show()
        details = self.details
        self.telemedicine.show_details(details, details is not None and is_video_visit(
            self._ctx, details.appointment_type_id))

    @Slot()
    def refresh(self) -> None:
        """Read the shown appointment again (after a move, a status change, a sync)."""
        self.show_appointment(None if self.details is None else self.details.appointment_id)

    def clear(self) -> None:
        """Forget the shown appointment (the desk locked: no patient data may stay)."""
        self.details = None
        self._show()
        self.telemedicine.show_details(None, False)

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
                _("Booked via"), _("Staff notes"), _("Patient notes"), _("Sync")), strict=True):
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
        if details.status == "arrived" and details.virtual_checkin_at is not None:
            shown_status = _("Arrived · virtual")
        if details.late_cancellation:
            fee = details.late_cancellation_fee
            shown_status = (_("{status} — late cancellation").format(status=shown_status)
                            if fee is None else
                            _("{status} — late cancellation, fee {fee}").format(
                                status=shown_status, fee=fee))
        by_patient = PATIENT_CHANNELS.get(details.status_by_patient)
        if by_patient is not None:
            shown_status = _("{status} — by the patient ({channel})").format(
                status=shown_status, channel=_(by_patient))
        texts = (details.patient_name, details.type_name, details.provider_name,
                 details.room_name or _("No room"), when,
                 shown_status, _(SOURCES[details.source]) if details.source in SOURCES
                 else details.source,
                 details.notes or "—", details.patient_notes or "—", sync)
        for value, text in zip(self.values, texts, strict=True):
            value.setText(text)
        self.grouping.setText(grouping_text(details))
        self.grouping.setVisible(bool(self.grouping.text()))


def grouping_text(details: AppointmentDetails) -> str:
    """The visit it belongs to and the template slot it was booked into, one per line."""
    lines = []
    if details.visit_part is not None:
        lines.append(_("Part of a visit ({number} of {total})").format(
            number=details.visit_part[0], total=details.visit_part[1]))
    if details.slot_template_name is not None:
        lines.append(_("Template slot: {name}").format(name=details.slot_template_name))
    return "\n".join(lines)
