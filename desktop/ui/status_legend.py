"""The legend of the agenda's confirmation colours; a click on a swatch changes a colour."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings, Signal, Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QColorDialog, QGridLayout, QLabel, QToolButton, QWidget

from desktop.ui.agenda.status_style import (
    DIMMED,
    LEGEND,
    load_status_colours,
    set_status_colour,
    status_colour,
)
from desktop.ui.text import _, language_notifier


class StatusLegend(QWidget):
    """One row per status: its colour (a button) and its name; ``coloursChanged()``."""

    coloursChanged = Signal()

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        load_status_colours(settings)
        #: Asks for a new colour (None: keep it). Tests replace it.
        self.ask_colour: Callable[[QColor], QColor | None] = self._ask_colour
        layout = QGridLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setVerticalSpacing(2)
        self.swatches: dict[str, QToolButton] = {}
        self.names: dict[str, QLabel] = {}
        for row, (status, _label) in enumerate(LEGEND):
            swatch = QToolButton(self)
            swatch.setFixedSize(18, 14)
            swatch.clicked.connect(lambda _checked=False, s=status: self.choose(s))
            name = QLabel(self)
            layout.addWidget(swatch, row, 0)
            layout.addWidget(name, row, 1)
            self.swatches[status], self.names[status] = swatch, name
        layout.setColumnStretch(1, 1)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    @Slot()
    def retranslate(self) -> None:
        for status, label in LEGEND:
            text = _(label)
            self.names[status].setText(
                _("{status} (faded)").format(status=text) if status in DIMMED else text)
            self.swatches[status].setToolTip(_("Change the colour of “{status}”").format(
                status=text))
        self._paint_swatches()

    def choose(self, status: str) -> None:
        """Ask for a colour for ``status``; the agenda is redrawn with it."""
        current = status_colour(status) or QColor("#888888")
        chosen = self.ask_colour(current)
        if chosen is None or not chosen.isValid():
            return
        set_status_colour(status, chosen, self._settings)
        self._paint_swatches()
        self.coloursChanged.emit()

    def _paint_swatches(self) -> None:
        for status, swatch in self.swatches.items():
            colour = status_colour(status)
            swatch.setStyleSheet("" if colour is None else
                                 f"background: {colour.name()}; border: 1px solid "
                                 f"{self.palette().color(QPalette.ColorRole.Text).name()};")

    def _ask_colour(self, current: QColor) -> QColor | None:
        chosen = QColorDialog.getColor(current, self, _("Status colour"))
        return chosen if chosen.isValid() else None


__all__ = ["StatusLegend"]
