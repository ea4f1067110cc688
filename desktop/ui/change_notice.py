"""The notice after a change: "Booked Ana García, Tue 4 Mar, 10:00 · View · Undo".

Shown in the status bar for a few seconds after a booking or an edit, as Google
Calendar does: *View* goes to the appointment, *Undo* takes the change back
through the window's undo history.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from desktop.ui.text import _, language_notifier, one_full_stop
from desktop.ui.theme import LINK, text_style

#: How long the notice stays.
SHOWN_MS = 12_000


class ChangeNotice(QWidget):
    """Signals ``viewRequested(appointment_id)`` and ``undoRequested()``."""

    viewRequested = Signal(str)
    undoRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.appointment_id: str | None = None
        self.text = QLabel(self)
        self.view_button, self.undo_button = QToolButton(self), QToolButton(self)
        for button in (self.view_button, self.undo_button):
            button.setAutoRaise(True)
            button.setStyleSheet(text_style(LINK, bold=True))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.view_button)
        layout.addWidget(self.undo_button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SHOWN_MS)
        self._timer.timeout.connect(self.dismiss)
        self.view_button.clicked.connect(self._view)
        self.undo_button.clicked.connect(self._undo)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()
        self.hide()

    @Slot()
    def retranslate(self) -> None:
        self.view_button.setText(_("View"))
        self.undo_button.setText(_("Undo"))

    def show_change(self, text: str, appointment_id: str | None, *, undoable: bool = True) -> None:
        """Say ``text`` with View (when there is an appointment) and Undo buttons."""
        self.appointment_id = appointment_id
        self.text.setText(one_full_stop(text))
        self.view_button.setVisible(appointment_id is not None)
        self.undo_button.setVisible(undoable)
        self.show()
        self._timer.start()

    @Slot()
    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()

    def _view(self) -> None:
        if self.appointment_id is not None:
            self.viewRequested.emit(self.appointment_id)

    def _undo(self) -> None:
        self.dismiss()
        self.undoRequested.emit()


__all__ = ["SHOWN_MS", "ChangeNotice"]
