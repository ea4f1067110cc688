"""The "Cancel appointment" dialog: why, as one of the categories front desks use
(:data:`scheduling.cancellation.CANCEL_CATEGORIES`), plus free text.

The rules need a reason: when the free text is left empty the category's label (in
the desk's language) is the reason. Inside the type's cancellation period the dialog
says first that the cancellation will be recorded as late, with the fee (seed 003:
recorded, not refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.services.appointment_details import AppointmentDetails
from desktop.ui.text import _, format_duration
from desktop.ui.theme import WARNING, text_style
from scheduling.cancellation import CANCEL_CATEGORIES, CANCEL_CATEGORY_LABELS


@dataclass(frozen=True, slots=True)
class CancelChoice:
    """What the user chose: a category and the free-text reason."""

    category: str
    reason: str


class CancelDialog(QDialog):
    """Ask why an appointment is cancelled."""

    def __init__(self, parent: QWidget | None = None, note: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("cancel_dialog")
        self.setWindowTitle(_("Cancel appointment"))
        self.note = QLabel(note, self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet(text_style(WARNING, bold=True))
        self.note.setVisible(bool(note))
        self.intro = QLabel(_("Why is it cancelled?"), self)
        self.category = QComboBox(self)
        self.category.setObjectName("cancel_category")
        for code in CANCEL_CATEGORIES:
            self.category.addItem(_(CANCEL_CATEGORY_LABELS[code]), code)
        self.reason = QLineEdit(self)
        self.reason.setObjectName("cancel_reason")
        self.reason.setPlaceholderText(_("Details (optional)"))
        self.reason.setMaxLength(500)
        form = QFormLayout()
        form.addRow(_("Reason"), self.category)
        form.addRow(_("Details"), self.reason)
        self.buttons = QDialogButtonBox(self)
        self.confirm = self.buttons.addButton(_("Cancel appointment"),
                                              QDialogButtonBox.ButtonRole.AcceptRole)
        self.keep = self.buttons.addButton(_("Keep it"), QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)

    def choice(self) -> CancelChoice:
        code = str(self.category.currentData())
        text = self.reason.text().strip()
        return CancelChoice(code, text or _(CANCEL_CATEGORY_LABELS[code]))

    @Slot()
    def choose(self, category: str, reason: str = "") -> None:
        """Pick ``category`` and type ``reason`` (for tests and scripts)."""
        self.category.setCurrentIndex(self.category.findData(category))
        self.reason.setText(reason)


def late_note(details: AppointmentDetails | None, now: datetime) -> str:
    """What the dialog says first when cancelling now is late ("" when it is not)."""
    if details is None or details.status == "cancelled":
        return ""
    period = details.cancellation_period
    if not now < details.start < now + period:
        return ""
    ahead = format_duration(period, details.clinic_locale)
    if details.late_cancellation_fee is None:
        return _("Less than {period} ahead: this will be recorded as a late "
                 "cancellation.").format(period=ahead)
    return _("Less than {period} ahead: this will be recorded as a late cancellation, "
             "with a fee of {fee}.").format(period=ahead, fee=details.late_cancellation_fee)


def ask_cancellation(parent: QWidget | None, note: str = "") -> CancelChoice | None:
    """Show the dialog (with ``note`` first, if any); None when the user keeps the
    appointment."""
    dialog = CancelDialog(parent, note)
    return dialog.choice() if dialog.exec() == QDialog.DialogCode.Accepted else None


__all__ = ["CancelChoice", "CancelDialog", "ask_cancellation", "late_note"]
