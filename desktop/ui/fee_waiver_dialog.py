"""The "Waive fee" dialog of the patient record: how much of a posted late-cancellation
fee to waive (all of it unless a smaller amount is typed) and why (required; kept on
the server with the waiver)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.ui.text import _

#: The longest reason the server keeps.
REASON_LIMIT = 500


@dataclass(frozen=True, slots=True)
class WaiverChoice:
    """What the user typed: the amount (text, as typed) and the reason."""

    amount: str
    reason: str


class FeeWaiverDialog(QDialog):
    """Ask how much of the fee ``fee_text`` (shown as the clinic writes amounts) to waive."""

    def __init__(self, fee_text: str, fee_value: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fee_waiver_dialog")
        self.setWindowTitle(_("Waive late-cancellation fee"))
        self.intro = QLabel(_("The posted fee is {fee}. Waive all of it, or type a smaller "
                              "amount to reduce it.").format(fee=fee_text), self)
        self.intro.setWordWrap(True)
        self.amount = QLineEdit(fee_value, self)
        self.amount.setObjectName("waiver_amount")
        self.amount.setMaximumWidth(160)
        self.reason = QLineEdit(self)
        self.reason.setObjectName("waiver_reason")
        self.reason.setPlaceholderText(_("Why is the fee waived? (required)"))
        self.reason.setMaxLength(REASON_LIMIT)
        form = QFormLayout()
        form.addRow(_("Amount to waive"), self.amount)
        form.addRow(_("Reason"), self.reason)
        self.buttons = QDialogButtonBox(self)
        self.confirm = self.buttons.addButton(_("Waive fee"),
                                              QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def choice(self) -> WaiverChoice:
        return WaiverChoice(self.amount.text().strip(), self.reason.text().strip())


__all__ = ["FeeWaiverDialog", "WaiverChoice"]
