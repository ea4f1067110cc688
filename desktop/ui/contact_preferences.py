"""How a patient wants to hear from the clinic: the channels of notices and reminders.

Opened with "Messages…" in the patient panel. The preference (e-mail, SMS, e-mail
then SMS, SMS then e-mail, none) says which channels the server tries and in what
order; "No reminders" stops reminders while booking notices still follow the
preference. Saved like every patient change: on this desk at once, sent with the
next sync (a field another desk changed meanwhile becomes a conflict in the
inbox, with both values).
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from desktop.services import patients
from desktop.services.context import DeskContext
from desktop.services.dto import PatientDTO
from desktop.services.session import SessionLocked
from desktop.ui.text import N_, _, render_message
from scheduling.model import CONTACT_PREFERENCES

PREFERENCE_NAMES = {
    "email_then_sms": N_("E-mail, then SMS if it fails"),
    "sms_then_email": N_("SMS, then e-mail if it fails"),
    "email": N_("E-mail only"),
    "sms": N_("SMS only"),
    "none": N_("No messages"),
}


def preference_text(patient: PatientDTO) -> str:
    """The patient's preference in words, e.g. "SMS only · no reminders"."""
    name = PREFERENCE_NAMES.get(patient.contact_preference)
    text = _(name) if name else patient.contact_preference
    if patient.reminders_opt_out and patient.contact_preference != "none":
        text = _("{preference} · no reminders").format(preference=text)
    return text


class ContactPreferencesDialog(QDialog):
    """Signal ``saved(patient_id)`` after the change is stored on the desk."""

    saved = Signal(str)

    def __init__(self, ctx: DeskContext, patient: PatientDTO,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self.patient = ctx, patient
        self.setWindowTitle(_("Messages to {patient}").format(patient=patient.display_name))
        self.preference_combo = QComboBox(self)
        for key in CONTACT_PREFERENCES:
            self.preference_combo.addItem(_(PREFERENCE_NAMES.get(key, key)), key)
        self.preference_combo.setCurrentIndex(max(0, self.preference_combo.findData(
            patient.contact_preference)))
        self.opt_out = QCheckBox(_("No reminders (booking notices are still sent)"), self)
        self.opt_out.setChecked(patient.reminders_opt_out)
        self.note = QLabel(_("Phone: {phone} · E-mail: {email}").format(
            phone=patient.phone or "—", email=patient.email or "—"), self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #5f6368;")
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b3261e;")
        self.problem.hide()
        form = QFormLayout()
        label = QLabel(_("&Send messages by"), self)
        label.setBuddy(self.preference_combo)
        form.addRow(label, self.preference_combo)
        form.addRow("", self.opt_out)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.preference_combo.currentIndexChanged.connect(lambda _i: self._preference_changed())
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self._preference_changed()

    @Slot()
    def _preference_changed(self) -> None:
        self.opt_out.setEnabled(self.preference_combo.currentData() != "none")

    @Slot()
    def save(self) -> bool:
        try:
            result = patients.update(self._ctx, self.patient.id,
                                     contact_preference=str(self.preference_combo.currentData()),
                                     reminders_opt_out=self.opt_out.isChecked())
        except SessionLocked:
            self.reject()
            return False
        if not result.ok:
            refusal = result.refusal
            self.problem.setText("" if refusal is None else render_message(
                refusal.message_id, refusal.params, tz="UTC", clinic_locale="en_US"))
            self.problem.show()
            return False
        self.saved.emit(self.patient.id)
        self.accept()
        return True


__all__ = ["PREFERENCE_NAMES", "ContactPreferencesDialog", "preference_text"]
