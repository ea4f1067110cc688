"""The booking dialog's visit box: the appointments booked together with the one in the
form (a scan and an adjustment), each previewed on its own line, all booked or none.

The dialog's form always holds the visit's last part; "Add another appointment to this
visit" moves the form's appointment into this list and the form goes on with the next
one, starting when the previous one ends. A refused part is marked on its line.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services.visits import VisitPart
from desktop.ui.text import _, format_clock, format_when, language_notifier
from desktop.ui.theme import ERROR

#: A part in words: "Check-up with Dr Ruiz, Room 2".
Describe = Callable[[VisitPart], str]


class VisitParts(QGroupBox):
    """Lists the visit's earlier parts. Signal ``changed()`` when one is added or removed."""

    changed = Signal()

    def __init__(self, time_zone: str, locale: str, describe: Describe,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._zone, self._locale, self._describe = time_zone, locale, describe
        self.parts: list[VisitPart] = []
        self._refused: int | None = None
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setMaximumHeight(110)
        self.list.setWordWrap(True)  # a long part wraps; nothing is cut off sideways
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.add_button = QPushButton(self)
        self.remove_button = QPushButton(self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.remove_button.clicked.connect(self._remove_selected)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    @Slot()
    def retranslate(self) -> None:
        self.setTitle(_("Appointments of this visit"))
        self.add_button.setText(_("Add another appointment to this visit"))
        self.remove_button.setText(_("Remove from visit"))
        self._show()

    def add(self, part: VisitPart) -> None:
        self.parts.append(part)
        self._refused = None
        self._show()
        self.changed.emit()

    def replace(self, index: int, part: VisitPart) -> None:
        """Put ``part`` (an alternative's time) in place of the refused one."""
        self.parts[index] = part
        self._refused = None
        self._show()

    def clear(self) -> None:
        self.parts.clear()
        self._refused = None
        self._show()
        self.changed.emit()

    def mark_refused(self, index: int | None) -> None:
        """Show which listed part the server refused (None: none of the listed ones)."""
        self._refused = index
        self._show()

    @Slot()
    def _remove_selected(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.parts):
            del self.parts[row]
            self._refused = None
            self._show()
            self.changed.emit()

    def line(self, number: int, part: VisitPart) -> str:
        return _("{number}. {start} to {end}: {what}").format(
            number=number, start=format_when(part.start, self._zone, self._locale),
            end=format_clock(part.end, self._zone, self._locale), what=self._describe(part))

    def _show(self) -> None:
        self.hint.setText(
            _("Book several appointments together (for example a scan and an adjustment). "
              "The visit is booked all together or not at all.") if not self.parts else
            _("Booked together with the appointment below, all or nothing."))
        self.list.clear()
        for index, part in enumerate(self.parts):
            item = QListWidgetItem(self.line(index + 1, part))
            item.setToolTip(item.text())
            if index == self._refused:
                item.setForeground(QBrush(ERROR))
            self.list.addItem(item)
        self.list.setVisible(bool(self.parts))
        self.remove_button.setVisible(bool(self.parts))
        self.list.setCurrentRow(-1)


__all__ = ["VisitParts"]
