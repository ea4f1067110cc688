"""The patient panel: phone, date of birth, e-mail, language, messages, alerts, next and past
appointments, no-shows.

Answers "when is my next appointment?" on the phone: open the patient (from the
agenda's menu or the finder) and the next one is on top. *Messages…* sets how
notices and reminders reach them; *Alerts* says, in red, what the desk should know
before booking (late cancellations, reminders turned off, no way to reach the patient;
no-shows have their own line). *Record…* opens the whole record (address, insurance)
and the appointments' payments. *Book* opens the booking dialog for them; a click on a
listed appointment shows it in the agenda.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services.context import DeskContext
from desktop.services.financials import FinancialsService
from desktop.services.patient_history import PatientHistory, VisitLine, patient_history
from desktop.services.session import SessionLocked
from desktop.ui.contact_preferences import ContactPreferencesDialog, preference_text
from desktop.ui.patient_record import PatientRecordDialog
from desktop.ui.text import _, format_date, format_when, language_notifier, ngettext
from desktop.ui.theme import ERROR, hint_style, set_heading, text_style
from scheduling.i18n import TERMS


def patient_alerts(history: PatientHistory) -> list[str]:
    """What the desk should know before booking the patient, one line each (translated)."""
    patient, alerts = history.patient, []
    if history.late_cancellations:
        alerts.append(ngettext("Cancelled late {count} time", "Cancelled late {count} times",
                               history.late_cancellations)
                      .format(count=history.late_cancellations))
    if patient.reminders_opt_out:
        alerts.append(_("Reminders turned off"))
    if not patient.phone and not patient.email:
        alerts.append(_("No phone or e-mail"))
    return alerts


def _birth_date(iso: str, clinic_locale: str) -> str:
    """The ISO date of birth as the desk writes dates ("—" when unknown)."""
    try:
        return format_date(date.fromisoformat(iso), clinic_locale)
    except ValueError:
        return "—"


class PatientPanel(QWidget):
    """Signals ``bookRequested(patient_id)``, ``appointmentChosen(appointment_id)`` and
    ``changed()`` (the patient's messages preference was saved on the desk)."""

    bookRequested = Signal(str)
    appointmentChosen = Signal(str)
    changed = Signal()

    def __init__(self, ctx: DeskContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._money: FinancialsService | None = None
        self.history: PatientHistory | None = None
        self.empty = QLabel(self)
        self.empty.setWordWrap(True)
        self.name = QLabel(self)
        set_heading(self.name, 1.3)
        self.name.setWordWrap(True)
        self.titles = [QLabel(self) for _i in range(6)]
        self.values = [QLabel(self) for _i in range(6)]
        self.details = QWidget(self)
        form = QFormLayout(self.details)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for title, value in zip(self.titles, self.values, strict=True):
            title.setStyleSheet(hint_style())
            value.setWordWrap(True)
            form.addRow(title, value)
        self.next_title, self.past_title = QLabel(self), QLabel(self)
        for title in (self.next_title, self.past_title):
            title.setStyleSheet("font-weight: bold; margin-top: 6px;")
        self.upcoming, self.past = QListWidget(self), QListWidget(self)
        self.no_shows = QLabel(self)
        self.book_button = QPushButton(self)
        self.messages_button = QPushButton(self.details)
        self.record_button = QPushButton(self.details)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.messages_button)
        buttons.addWidget(self.record_button)
        buttons.addStretch(1)
        form.addRow("", buttons)
        self.messages_button.clicked.connect(lambda _checked=False: self.edit_messages())
        self.record_button.clicked.connect(lambda _checked=False: self.open_record())
        layout = QVBoxLayout(self)
        for widget in (self.empty, self.name, self.details, self.next_title, self.upcoming,
                       self.past_title, self.past, self.no_shows, self.book_button):
            layout.addWidget(widget)
        for view in (self.upcoming, self.past):
            view.setWordWrap(True)  # a whole line per appointment, never cut at the edge
            view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            view.setTextElideMode(Qt.TextElideMode.ElideNone)
            view.itemActivated.connect(self._chosen)
            view.itemClicked.connect(self._chosen)
        self.book_button.clicked.connect(self._book)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def show_patient(self, patient_id: str | None) -> None:
        try:
            self.history = None if patient_id is None else patient_history(self._ctx, patient_id)
        except SessionLocked:
            self.history = None
        self._show()

    @Slot()
    def _saved(self, _patient_id: str) -> None:
        """A dialog saved the patient: read them again and tell the window."""
        self.refresh()
        self.changed.emit()

    def refresh(self) -> None:
        self.show_patient(None if self.history is None else self.history.patient.id)

    def clear(self) -> None:
        """Forget the patient (the desk locked)."""
        self.history = None
        self._show()

    @Slot()
    def retranslate(self) -> None:
        self.empty.setText(_("Open a patient from the agenda (right-click ▸ Open patient) or "
                             "the patient finder."))
        for title, text in zip(self.titles, (_("Phone"), _("Date of birth"), _("E-mail"),
                                             _("Language"), _("Messages"), _("Alerts")),
                               strict=True):
            title.setText(text)
        self.next_title.setText(_("Next appointments"))
        self.past_title.setText(_("Past appointments"))
        self.book_button.setText(_("Book an appointment…"))
        self.messages_button.setText(_("Messages…"))
        self.record_button.setText(_("Record…"))
        self._show()

    def _show(self) -> None:
        history = self.history
        for widget in (self.name, self.details, self.next_title, self.upcoming,
                       self.past_title, self.past, self.no_shows, self.book_button):
            widget.setVisible(history is not None)
        self.empty.setVisible(history is None)
        self.upcoming.clear()
        self.past.clear()
        if history is None:
            self.name.clear()
            return
        patient = history.patient
        self.name.setText(patient.display_name)
        languages = {"en": "English", "es": "Español"}
        alerts = patient_alerts(history)
        born = _birth_date(patient.date_of_birth, self._place()[1])
        for value, text in zip(self.values, (
                patient.phone or "—", born, patient.email or "—",
                languages.get(patient.preferred_language, patient.preferred_language),
                preference_text(patient), "\n".join(alerts) or _("None")), strict=True):
            value.setText(text)
        self.values[5].setStyleSheet(text_style(ERROR) if alerts else "")
        for view, lines, none in ((self.upcoming, history.upcoming, _("None booked.")),
                                  (self.past, history.past, _("None yet."))):
            for line in lines:
                item = QListWidgetItem(self._describe(line), view)
                item.setData(256, line.appointment_id)
            if not lines:
                QListWidgetItem(none, view)
        self.no_shows.setText(ngettext("{count} no-show", "{count} no-shows", history.no_shows)
                              .format(count=history.no_shows))
        self.no_shows.setStyleSheet(text_style(ERROR) if history.no_shows else "")

    @staticmethod
    def _describe(line: VisitLine) -> str:
        status = TERMS.get(line.status)
        return _("{when} · {type} with {provider} ({status})").format(
            when=format_when(line.start, line.time_zone, line.clinic_locale),
            type=line.type_name, provider=line.provider_name,
            status=_(status) if status else line.status)

    def _chosen(self, item: QListWidgetItem) -> None:
        appointment_id = item.data(256)
        if appointment_id:
            self.appointmentChosen.emit(str(appointment_id))

    def edit_messages(self) -> ContactPreferencesDialog | None:
        """How notices and reminders reach the shown patient (saved on the desk, synced)."""
        if self.history is None:
            return None
        dialog = ContactPreferencesDialog(self._ctx, self.history.patient, self)
        dialog.saved.connect(self._saved)
        dialog.open()
        return dialog

    def set_financials(self, service: FinancialsService | None) -> None:
        """The server's financials API (None: offline desk; the record says so)."""
        self._money = service

    def open_record(self) -> PatientRecordDialog | None:
        """The shown patient's whole record and the payments of their appointments."""
        if self.history is None:
            return None
        tz, clinic_locale = self._place()
        dialog = PatientRecordDialog(self._ctx, self.history.patient, self._money, tz,
                                     clinic_locale, self)
        dialog.saved.connect(self._saved)
        dialog.open()
        return dialog

    def _place(self) -> tuple[str, str]:
        """The time zone and locale of the patient's clinic (of their appointments)."""
        lines = () if self.history is None else (*self.history.upcoming, *self.history.past)
        return (lines[0].time_zone, lines[0].clinic_locale) if lines else ("UTC", "en_US")

    def _book(self) -> None:
        if self.history is not None:
            self.bookRequested.emit(self.history.patient.id)


__all__ = ["PatientPanel"]
