"""The booking dialog's "Other clinics with room on <date>": when the chosen clinic has no
free time that day, the clinics the server says have room (``get_available_clinics``),
one button each; a click asks the window to book at that clinic instead.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.services.visits import ClinicWithRoom
from desktop.ui.text import _, format_clock, format_day, language_notifier, ngettext


class OtherClinics(QWidget):
    """Signal ``chosen(ClinicWithRoom)`` when one clinic's button is clicked."""

    chosen = Signal(object)

    def __init__(self, names: dict[str, tuple[str, str, str]], parent: QWidget | None = None
                 ) -> None:
        """``names``: clinic id → (name, time zone, locale) of this desk's clinics."""
        super().__init__(parent)
        self._names = names
        self._day: date | None = None
        self._found: list[ClinicWithRoom] = []
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.buttons: list[QPushButton] = []
        self._row = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(self._row)
        self.setVisible(False)
        language_notifier().languageChanged.connect(self.retranslate)

    def show_clinics(self, day: date, found: list[ClinicWithRoom]) -> None:
        """Offer ``found`` (the current clinic already left out); none: hide the row."""
        self._day, self._found = day, [c for c in found if c.clinic_id in self._names]
        self.retranslate()

    def hide_clinics(self) -> None:
        self._found = []
        self.retranslate()

    @Slot()
    def retranslate(self) -> None:
        for button in self.buttons:
            button.deleteLater()
        self.buttons = []
        self.setVisible(bool(self._found) and self._day is not None)
        if not self._found or self._day is None:
            return
        first_locale = self._names[self._found[0].clinic_id][2]
        self.title.setText(_("Other clinics with room on {date}:").format(
            date=format_day(self._day, first_locale)))
        for clinic in self._found:
            name, zone, locale = self._names[clinic.clinic_id]
            button = QPushButton(ngettext(
                "{clinic}: {count} free time, from {time}",
                "{clinic}: {count} free times, from {time}", clinic.free_slots).format(
                clinic=name, count=clinic.free_slots,
                time=format_clock(clinic.first.start, zone, locale)), self)
            button.clicked.connect(lambda _checked=False, c=clinic: self.chosen.emit(c))
            self._row.addWidget(button)
            self.buttons.append(button)


__all__ = ["OtherClinics"]
