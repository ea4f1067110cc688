"""How the agenda fits the day to the user: zoom, closed weekends left out, and a brief
highlight on what another desk just changed.

* Zoom (Ctrl+= or Ctrl++ larger, Ctrl+- smaller, Ctrl+0 back to normal) scales the hours
  vertically, as Google Calendar's and Open Dental's zoom do; the level is remembered
  by the window for the session.
* A Saturday or Sunday on which nobody works at the clinic and nothing is booked is not
  drawn in the week views: five useful columns get the width of seven.
* When a sync brings a change made elsewhere (another desk, the server, a patient's
  reply) to an appointment on screen, the appointment is outlined for
  :data:`HIGHLIGHT_MS` so the receptionist sees what moved. A desk's own change coming
  back confirmed is not highlighted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta

import shiboken6
from PySide6.QtCore import QObject, QRectF, Qt, QTimer
from PySide6.QtGui import QKeyEvent, QPalette, QPen
from PySide6.QtWidgets import QApplication, QGraphicsRectItem

from desktop.services.agenda_frame import AgendaFrame
from desktop.services.dto import AgendaItem
from desktop.ui.agenda.scene import AppointmentItem
from scheduling.timeutil import local_date

#: The zoom levels, smallest first; 1.0 is the normal size.
ZOOM_LEVELS: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
#: How long a change made elsewhere stays outlined.
HIGHLIGHT_MS = 2500
_WEEKEND = (5, 6)


def zoom_step(current: float, event: QKeyEvent) -> float | None:
    """The zoom level ``event`` asks for from ``current`` (None: not a zoom key)."""
    if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
        return None
    key = event.key()
    if key == Qt.Key.Key_0:
        return 1.0
    index = min(range(len(ZOOM_LEVELS)), key=lambda i: abs(ZOOM_LEVELS[i] - current))
    if key in (Qt.Key.Key_Equal, Qt.Key.Key_Plus):
        return ZOOM_LEVELS[min(index + 1, len(ZOOM_LEVELS) - 1)]
    if key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
        return ZOOM_LEVELS[max(index - 1, 0)]
    return None


def hidden_days(first: date, days: int, frame: AgendaFrame | None,
                items: Iterable[AgendaItem], time_zone: str) -> frozenset[date]:
    """The weekend days of the range the clinic is closed on (nobody works) and that
    hold no appointment. A one-day view hides nothing."""
    if days == 1 or frame is None:
        return frozenset()
    booked = {local_date(item.start, time_zone) for item in items}
    worked = {day for (day, _key), hours in frame.working.items() if hours}
    return frozenset(
        day for day in (first + timedelta(days=n) for n in range(days))
        if day.weekday() in _WEEKEND and day not in worked and day not in booked
    )


def changed_elsewhere(before: AgendaItem | None, after: AgendaItem) -> bool:
    """Whether ``after`` (from a sync) shows a change this desk did not make: a new or
    changed appointment the server has confirmed. Only the confirmation of the desk's own
    pending change (same appointment, no longer pending) is not."""
    if after.pending:
        return False
    if before is None:
        return True
    return replace(before, pending=False) != after


class ChangeHighlight(QObject):
    """Outlines appointment items for :data:`HIGHLIGHT_MS`, then removes the outlines."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._outlines: dict[str, QGraphicsRectItem] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(HIGHLIGHT_MS)
        self._timer.timeout.connect(self.clear)

    def flash(self, items: Iterable[AppointmentItem]) -> None:
        colour = QApplication.palette().color(QPalette.ColorRole.Highlight)
        for item in items:
            self._drop(item.appointment_id)
            outline = QGraphicsRectItem(QRectF(item.rect()).adjusted(-2, -2, 2, 2), item)
            pen = QPen(colour, 3)
            pen.setCosmetic(True)
            outline.setPen(pen)
            outline.setZValue(1)
            self._outlines[item.appointment_id] = outline
        if self._outlines:
            self._timer.start()

    def highlighted(self) -> frozenset[str]:
        """The appointments outlined now (their items still on screen)."""
        return frozenset(i for i, o in self._outlines.items() if shiboken6.isValid(o))

    def clear(self) -> None:
        for appointment_id in list(self._outlines):
            self._drop(appointment_id)

    def _drop(self, appointment_id: str) -> None:
        outline = self._outlines.pop(appointment_id, None)
        if outline is not None and shiboken6.isValid(outline):
            scene = outline.scene()
            if scene is not None:
                scene.removeItem(outline)


__all__ = ["HIGHLIGHT_MS", "ZOOM_LEVELS", "ChangeHighlight", "changed_elsewhere",
           "hidden_days", "zoom_step"]
