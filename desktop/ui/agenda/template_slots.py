"""The providers' named slot templates on the agenda: a subtle dashed outline with the
slot's name ("New patient"), under the appointments. Clicking inside one books into it
(the agenda's click on an empty slot carries the template: :meth:`AgendaFrame.template_at`).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from desktop.services.agenda_frame import TemplateSlot
from desktop.ui.text import _
from desktop.ui.theme import AgendaColours

#: Above the column's backdrop, below every appointment.
TEMPLATE_Z = 0.5
_INSET = 2.0


class TemplateSlotItem(QGraphicsItem):
    """One template slot of a column, drawn as a dashed outline and its name."""

    def __init__(self, slot: TemplateSlot, rect: QRectF, font: QFont,
                 colours: AgendaColours) -> None:
        super().__init__()
        self.slot = slot
        self._rect = rect.adjusted(_INSET, 1, -_INSET, -1)
        self._font = font
        colour = QColor(colours.selected)
        colour.setAlpha(170)
        self._pen = QPen(colour, 1.2, Qt.PenStyle.DashLine)
        self._fill = QColor(colours.selected)
        self._fill.setAlpha(18)
        self._text = QColor(colours.text)
        self._text.setAlpha(150)
        self.setZValue(TEMPLATE_Z)
        self.setToolTip(_("Template slot: {name}. Click to book into it.").format(
            name=slot.name))
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # clicks reach the agenda

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem,
              _widget: QWidget | None = None) -> None:
        painter.fillRect(self._rect, self._fill)
        painter.setPen(self._pen)
        painter.drawRoundedRect(self._rect, 3, 3)
        painter.setFont(self._font)
        painter.setPen(self._text)
        painter.drawText(self._rect.adjusted(4, 1, -4, -1),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, self.slot.name)


__all__ = ["TEMPLATE_Z", "TemplateSlotItem"]
