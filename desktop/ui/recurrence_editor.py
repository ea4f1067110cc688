"""The recurrence editor: "repeat on Mon and Wed, for 6 weeks" or "… until 30 April".

Weekday check boxes and either a number of weeks or a last date, turned into
an RRULE by :mod:`scheduling.recurrence` (the same rules the server expands).
"""

from __future__ import annotations

from datetime import date
from typing import cast

from babel.dates import get_day_names
from PySide6.QtCore import QDate, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDateEdit,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from desktop.ui.text import _, date_edit_format, display_locale, language_notifier
from scheduling.errors import RecurrenceError
from scheduling.recurrence import build_rrule, weekly_for_weeks

MAX_WEEKS = 52
#: "Until" starts this many days after the first appointment.
DEFAULT_SPAN_DAYS = 42


class RecurrenceEditor(QGroupBox):
    """A checkable group: unchecked means a single appointment (:meth:`rrule` is None)."""

    changed = Signal()

    def __init__(self, clinic_locale: str = "en_US", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._locale = clinic_locale
        self.setCheckable(True)
        self.setChecked(False)
        layout = QGridLayout(self)
        days = QHBoxLayout()
        self.weekday_boxes = [QCheckBox(self) for _day in range(7)]
        for box in self.weekday_boxes:
            box.toggled.connect(self.changed)
            days.addWidget(box)
        days.addStretch(1)
        layout.addLayout(days, 0, 0, 1, 3)
        self.for_weeks = QRadioButton(self)
        self.for_weeks.setChecked(True)
        self.weeks = QSpinBox(self)
        self.weeks.setRange(1, MAX_WEEKS)
        self.weeks.setValue(6)
        self.weeks_label = QLabel(self)
        self.until = QRadioButton(self)
        self.until_date = QDateEdit(self)
        self.until_date.setCalendarPopup(True)
        self.until_date.setDisplayFormat(date_edit_format(clinic_locale))
        self.until_date.setDate(QDate.currentDate().addDays(DEFAULT_SPAN_DAYS))
        self._until_chosen = False  # the user picked an "Until" date: keep it
        self.until_date.editingFinished.connect(self._remember_until)
        group = QButtonGroup(self)
        group.addButton(self.for_weeks)
        group.addButton(self.until)
        layout.addWidget(self.for_weeks, 1, 0)
        layout.addWidget(self.weeks, 1, 1)
        layout.addWidget(self.weeks_label, 1, 2)
        layout.addWidget(self.until, 2, 0)
        layout.addWidget(self.until_date, 2, 1)
        layout.setColumnStretch(2, 1)
        for signal in (self.weeks.valueChanged, self.until_date.dateChanged,
                       self.for_weeks.toggled, self.toggled):
            signal.connect(self.changed)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    @Slot()
    def retranslate(self) -> None:
        self.setTitle(_("Repeat"))
        names = get_day_names("abbreviated", locale=display_locale(self._locale))
        for weekday, box in enumerate(self.weekday_boxes):
            box.setText(str(names[weekday]))
        self.for_weeks.setText(_("For"))
        self.weeks_label.setText(_("weeks"))
        self.until.setText(_("Until"))
        self.until_date.setDisplayFormat(date_edit_format(self._locale))

    def set_first_day(self, day: date) -> None:
        """The series starts on ``day``: "Until" cannot be earlier, and unless the user
        chose it, it follows the start (six weeks on), not today."""
        first = QDate(day.year, day.month, day.day)
        self.until_date.setMinimumDate(first)
        if not self._until_chosen:
            self.until_date.setDate(first.addDays(DEFAULT_SPAN_DAYS))

    @Slot()
    def _remember_until(self) -> None:
        self._until_chosen = True

    def set_weekdays(self, weekdays: set[int]) -> None:
        for weekday, box in enumerate(self.weekday_boxes):
            box.setChecked(weekday in weekdays)

    def weekdays(self) -> list[int]:
        return [d for d, box in enumerate(self.weekday_boxes) if box.isChecked()]

    def set_until(self, day: date) -> None:
        self._until_chosen = True
        self.until.setChecked(True)
        self.until_date.setDate(QDate(day.year, day.month, day.day))

    def rrule(self) -> str | None:
        """The RRULE text, None when not repeating; raises ``RecurrenceError`` with a
        translated message when the choice is incomplete."""
        if not self.isChecked():
            return None
        days = self.weekdays()
        if not days:
            raise RecurrenceError(_("Choose at least one weekday to repeat on."))
        if self.for_weeks.isChecked():
            return weekly_for_weeks(days, self.weeks.value())
        until = cast(date, self.until_date.date().toPython())
        return build_rrule("WEEKLY", weekdays=days, until=until)
