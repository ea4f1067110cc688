"""The "now" line: a red line across today's columns at the current time, moved every
minute (as Google Calendar and Open Dental draw it)."""

from __future__ import annotations

from datetime import datetime

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsLineItem, QGraphicsScene

from desktop.ui.agenda.scene import AgendaGeometry

#: How often the line moves.
NOW_LINE_MS = 60_000
_RED = QColor("#d93025")  # readable on light and dark bases alike


class NowLine:
    """Owns the line item of a scene; :meth:`place` puts it at ``now`` (or removes it
    when today is not shown)."""

    def __init__(self) -> None:
        self.item: QGraphicsLineItem | None = None

    def place(self, scene: QGraphicsScene, geometry: AgendaGeometry | None,
              now: datetime) -> bool:
        """Draw the line at ``now``; False when today is not in ``geometry``."""
        if self.item is not None and shiboken6.isValid(self.item) and \
                self.item.scene() is scene:
            scene.removeItem(self.item)
        self.item = None
        if geometry is None:
            return False
        today = next((day for day, axis in geometry.axes.items() if axis.contains(now)), None)
        columns = [c for c in geometry.columns if c.day == today]
        if today is None or not columns:
            return False
        y = geometry.y_of(today, now)
        left = geometry.column_x(columns[0])
        right = geometry.column_x(columns[-1]) + geometry.column_width
        self.item = QGraphicsLineItem(left, y, right, y)
        self.item.setPen(QPen(_RED, 2.0, Qt.PenStyle.SolidLine))
        self.item.setZValue(40)  # above the appointments, below a drag's ghost
        scene.addItem(self.item)
        return True


__all__ = ["NOW_LINE_MS", "NowLine"]
