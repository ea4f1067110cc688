"""A one-line label that gives way first when its bar is short of room.

The status bar holds the notice of the last change ("Booked Barbara Smith with
Dr Aisha Okafor, Fri 4 Dec, 10:00 · View · Undo") on the left and the sync state on
the right. At 1280 pixels in Spanish both did not fit, and Qt cut the end of the
notice, which is the booking's date. The sync state now shortens instead: it shows
the start of its text and "…", and the whole text as its tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

#: The narrowest the label becomes, in widths of "…": enough for "Online" or "Sin conexión".
_NARROWEST = 10


class ElidingLabel(QLabel):
    """A plain-text, one-line ``QLabel`` whose text is elided at the right when it is
    narrower than its text; :meth:`text` is always the whole text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._whole = ""
        self.setTextFormat(Qt.TextFormat.PlainText)

    def setText(self, text: str) -> None:
        self._whole = text
        self._fit()
        self.updateGeometry()

    def text(self) -> str:
        return self._whole

    def sizeHint(self) -> QSize:
        """As wide as the whole text (the layout gives it that when there is room)."""
        frame = self.contentsMargins()
        width = (self.fontMetrics().horizontalAdvance(self._whole) + frame.left()
                 + frame.right() + 2 * self.margin() + 2)
        return QSize(width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        narrowest = self.fontMetrics().horizontalAdvance("…") * _NARROWEST
        return QSize(min(narrowest, self.sizeHint().width()), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def is_elided(self) -> bool:
        return QLabel.text(self) != self._whole

    def _fit(self) -> None:
        room = self.contentsRect().width() - 2 * self.margin()
        shown = self.fontMetrics().elidedText(self._whole, Qt.TextElideMode.ElideRight, room)
        QLabel.setText(self, shown)
        self.setToolTip(self._whole if shown != self._whole else "")


__all__ = ["ElidingLabel"]
