"""The agenda's graphics view: mouse and drop handling as a small state machine.

idle → pressed (on an appointment) → moving | resizing (after the drag distance)
→ idle on release; idle → selecting (pressed on an empty slot) → idle on release,
which asks for a new appointment there (a click: that time; a drag: that span).
Every mouse move while moving or resizing computes a snapped :class:`Target` and
asks the :class:`DropJudge` (the agenda widget) for a verdict, which the ghost
outline shows in green or red; the view itself never writes data. Drops from
the waitlist (:data:`WAITLIST_MIME`) follow the same path.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPalette,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from desktop.ui.agenda.scene import GUTTER, HEADER, AgendaGeometry, AppointmentItem, Column
from desktop.ui.theme import LINK, accent

WAITLIST_MIME = "application/x-clinicdesk-waitlist-entry"
SNAP_MINUTES = 5
STRIP_SLACK = 200.0

#: The drag ghost: the target fits, or the rules refuse it (adapted to the palette).
_FITS, _CLASHES = QColor("#2e7d32"), QColor("#c62828")


class Mode(enum.Enum):
    IDLE = "idle"
    PRESSED = "pressed"
    MOVING = "moving"
    RESIZING = "resizing"
    SELECTING = "selecting"  # a press on an empty slot: quick create


#: Quick create snaps to this grid.
SLOT_MINUTES = 15


@dataclass(frozen=True, slots=True)
class EmptySlot:
    """An empty slot the user clicked or dragged over: its column, start and, for a drag,
    its end (None: the type's default length)."""

    column: Column
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Target:
    """Where a drag would land: a column and a snapped ``[start, end)``; ``column`` None
    (or ``inside`` False) means outside the grid or past the end of the day."""

    column: Column | None
    start: datetime | None
    end: datetime | None
    inside: bool


@dataclass(frozen=True, slots=True)
class Judgement:
    ok: bool
    reason: str = ""
    label: str = ""  # the target's time ("10:30 – 11:00"), shown on the ghost


class DropJudge(Protocol):
    def begin_drag(self, appointment_id: str | None, entry_id: str | None) -> bool: ...
    def judge(self, source: str, target: Target) -> Judgement: ...
    def commit(self, source: str, target: Target) -> None: ...
    def end_drag(self) -> None: ...
    def entry_duration(self, entry_id: str) -> timedelta | None: ...


class PinnedStrip(QGraphicsView):
    """A strip of the same scene pinned beside the grid: the column header (scrolls
    sideways with the grid) or the hour ruler (scrolls up and down with it)."""

    def __init__(self, scene: QGraphicsScene, grid: AgendaView) -> None:
        super().__init__(scene, grid)
        self._grid = grid
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setInteractive(False)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAcceptDrops(False)
        self.setBackgroundBrush(self.palette().color(QPalette.ColorRole.Window))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:  # the platform switched dark / light
            self.setBackgroundBrush(self.palette().color(QPalette.ColorRole.Window))
        super().changeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        self._grid.wheelEvent(event)


class AgendaView(QGraphicsView):
    """Shows the agenda scene; turns mouse drags and drops into judged targets.

    The scene holds the column header (above ``HEADER``) and the hour labels (left of
    ``GUTTER``) too, but the grid shows only the columns: two :class:`PinnedStrip` views
    of the same scene sit in the view's margins and follow its scrolling, so the names
    of the columns and the hours stay in sight."""

    clicked = Signal(object)  # appointment id or None
    doubleClicked = Signal(str)
    keyPressed = Signal(QKeyEvent)
    resized = Signal()
    slotChosen = Signal(object)  # EmptySlot: a click or a drag on an empty slot

    def __init__(self, scene: QGraphicsScene, judge: DropJudge) -> None:
        super().__init__(scene)
        self._judge = judge
        self.geometry_: AgendaGeometry | None = None
        self.snap_minutes = SNAP_MINUTES
        self.mode = Mode.IDLE
        self._item: AppointmentItem | None = None
        self._press: QPointF = QPointF()
        self._grab_minutes = 0.0  # where inside the item it was grabbed
        self._resize_grab = False
        self._ghost: QGraphicsRectItem | None = None
        self._entry: str | None = None
        self.last_target: Target | None = None
        self.last_judgement: Judgement | None = None
        self.setAcceptDrops(True)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(True)  # hover: the resize cursor on a bottom edge
        # Always there, so the grid's width does not change with the day's height.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setViewportMargins(int(GUTTER), int(HEADER), 0, 0)
        self.header = PinnedStrip(scene, self)
        self.ruler = PinnedStrip(scene, self)
        self.corner = QWidget(self)
        self.corner.setAutoFillBackground(True)
        self.apply_geometry(None)

    # ------------------------------------------------------------------ pinned header and hours

    def grid_width(self) -> int:
        """The width the columns have to fill (the viewport, right of the hour ruler)."""
        return self.viewport().width()

    def apply_geometry(self, geometry: AgendaGeometry | None) -> None:
        """Show ``geometry``'s columns in the grid, their header and the hours pinned."""
        self.geometry_ = geometry
        for strip in (self.header, self.ruler):
            strip.setVisible(geometry is not None)
        if geometry is None:
            self.setSceneRect(QRectF())  # whatever the scene holds (the locked notice)
            return
        self.setSceneRect(QRectF(GUTTER, HEADER, geometry.width - GUTTER,
                                 geometry.height - HEADER))
        # A little more than the grid, so a strip can always scroll as far as the grid.
        self.header.setSceneRect(QRectF(GUTTER, 0, geometry.width - GUTTER + STRIP_SLACK,
                                        HEADER))
        self.ruler.setSceneRect(QRectF(0, HEADER, GUTTER,
                                       geometry.height - HEADER + STRIP_SLACK))
        self._place_strips()

    def _place_strips(self) -> None:
        grid = self.viewport().geometry()
        gutter, header = int(GUTTER), int(HEADER)
        self.header.setGeometry(QRect(grid.left(), grid.top() - header, grid.width(), header))
        self.ruler.setGeometry(QRect(grid.left() - gutter, grid.top(), gutter, grid.height()))
        self.corner.setGeometry(QRect(grid.left() - gutter, grid.top() - header, gutter, header))
        self._sync_strips()

    def _sync_strips(self) -> None:
        self.header.horizontalScrollBar().setValue(self.horizontalScrollBar().value())
        self.ruler.verticalScrollBar().setValue(self.verticalScrollBar().value())

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self._sync_strips()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_strips()
        self.resized.emit()

    def viewportEvent(self, event: QEvent) -> bool:
        handled = super().viewportEvent(event)
        if event.type() == QEvent.Type.Resize:  # e.g. the horizontal scroll bar came or went
            self._place_strips()
        return handled

    # ------------------------------------------------------------------ mouse

    def mousePressEvent(self, event: QMouseEvent) -> None:
        point = self.mapToScene(event.position().toPoint())
        item = self._appointment_at(point)
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        self.setFocus()
        self._item = item
        self._press = point
        self.clicked.emit(None if item is None else item.appointment_id)
        if item is None and self.empty_slot_at(point) is not None:
            self.mode = Mode.SELECTING
            self._show_selection(point)
            event.accept()
            return
        if item is None or self.geometry_ is None:
            self.mode = Mode.IDLE
            return
        self.mode = Mode.PRESSED
        self._resize_grab = item.on_resize_handle(point)
        self._grab_minutes = self.geometry_.minute_at(point.y()) - self.geometry_.minute_at(
            item.rect().top())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        point = self.mapToScene(event.position().toPoint())
        if self.mode is Mode.PRESSED and self._item is not None:
            moved = (point - self._press).manhattanLength()
            if moved < QApplication.startDragDistance():
                return
            if not self._judge.begin_drag(self._item.appointment_id, None):
                self.mode = Mode.IDLE
                return
            self.mode = Mode.RESIZING if self._resize_grab else Mode.MOVING
        if self.mode in (Mode.MOVING, Mode.RESIZING):
            self._follow(self._source(), self._target_at(point))
            event.accept()
            return
        if self.mode is Mode.SELECTING:
            self._show_selection(point)
            event.accept()
            return
        super().mouseMoveEvent(event)
        if self.mode is Mode.IDLE:
            # The bottom edge resizes: say so with the cursor before the press (after the
            # base class, which resets the viewport's cursor on every move).
            item = self._appointment_at(point)
            edge = item is not None and item.on_resize_handle(point)
            self.viewport().setCursor(Qt.CursorShape.SizeVerCursor if edge
                                      else Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.mode in (Mode.MOVING, Mode.RESIZING):
            point = self.mapToScene(event.position().toPoint())
            source = self._source()
            target = self._target_at(point)
            self._clear_ghost()
            self.mode = Mode.IDLE
            try:
                self._judge.commit(source, target)
            finally:
                self._judge.end_drag()
            event.accept()
            return
        if self.mode is Mode.SELECTING:
            self.mode = Mode.IDLE
            slot = self._selection(self.mapToScene(event.position().toPoint()))
            self._clear_ghost()
            if slot is not None:
                self.slotChosen.emit(slot)
            event.accept()
            return
        self.mode = Mode.IDLE
        super().mouseReleaseEvent(event)

    # ------------------------------------------------------------------ quick create

    def empty_slot_at(self, point: QPointF) -> EmptySlot | None:
        """The empty 15-minute slot under ``point`` (None on an appointment or outside)."""
        geo = self.geometry_
        if geo is None or self._appointment_at(point) is not None:
            return None
        column = geo.column_at(point.x())
        if column is None or point.y() < geo.scale.top:
            return None
        axis = geo.axes[column.day]
        minute = int(geo.minute_at(point.y()) // SLOT_MINUTES) * SLOT_MINUTES
        start = axis.instant_at(minute)
        if minute < 0 or start >= axis.end:
            return None
        return EmptySlot(column, start, None)

    def _selection(self, point: QPointF) -> EmptySlot | None:
        """From the press to ``point``: a click is the slot pressed; a drag its span."""
        first = self.empty_slot_at(self._press)
        if first is None or self.geometry_ is None:
            return None
        if (point - self._press).manhattanLength() < QApplication.startDragDistance():
            return first
        axis = self.geometry_.axes[first.column.day]
        minute = self.geometry_.minute_at(max(point.y(), self._press.y()))
        end = axis.instant_at(-(-minute // SLOT_MINUTES) * SLOT_MINUTES)
        low = min(point.y(), self._press.y())
        top = self.empty_slot_at(QPointF(self._press.x(), low)) or first
        end = min(max(end, top.start + timedelta(minutes=SLOT_MINUTES)), axis.end)
        return EmptySlot(first.column, top.start, end)

    def _show_selection(self, point: QPointF) -> None:
        slot = self._selection(point)
        geo = self.geometry_
        if slot is None or geo is None:
            return
        end = slot.end or slot.start + timedelta(minutes=SLOT_MINUTES)
        if self._ghost is None:
            self._ghost = QGraphicsRectItem()
            self._ghost.setZValue(50)
            self.scene().addItem(self._ghost)
        color = accent(LINK, self.palette(), minimum=3.0)
        self._ghost.setPen(QPen(color, 2.0, Qt.PenStyle.DashLine))
        fill = QColor(color)
        fill.setAlpha(40)
        self._ghost.setBrush(fill)
        self._ghost.setRect(geo.rect_of(slot.column, slot.start, end))

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        item = self._appointment_at(self.mapToScene(event.position().toPoint()))
        if item is not None:
            self.doubleClicked.emit(item.appointment_id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self.keyPressed.emit(event)
        if not event.isAccepted():
            super().keyPressEvent(event)

    # ------------------------------------------------------------------ drops from the waitlist

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if not event.mimeData().hasFormat(WAITLIST_MIME):
            event.ignore()
            return
        self._entry = bytes(event.mimeData().data(WAITLIST_MIME).data()).decode("utf-8")
        if not self._judge.begin_drag(None, self._entry):
            self._entry = None
            event.ignore()
            return
        event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._entry is None:
            event.ignore()
            return
        point = self.mapToScene(event.position().toPoint())
        self._follow(self._source(), self._target_at(point))
        # Accepted even when refused, so the drop arrives and can explain itself.
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._clear_ghost()
        if self._entry is not None:
            self._entry = None
            self._judge.end_drag()
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        if self._entry is None:
            event.ignore()
            return
        target = self._target_at(self.mapToScene(event.position().toPoint()))
        source = self._source()
        self._clear_ghost()
        self._entry = None
        try:
            self._judge.commit(source, target)
        finally:
            self._judge.end_drag()
        event.acceptProposedAction()

    # ------------------------------------------------------------------ targets

    def _source(self) -> str:
        """``move:<id>``, ``resize:<id>`` or ``waitlist:<entry id>``."""
        if self._entry is not None:
            return f"waitlist:{self._entry}"
        assert self._item is not None
        kind = "resize" if self.mode is Mode.RESIZING else "move"
        return f"{kind}:{self._item.appointment_id}"

    def _target_at(self, point: QPointF) -> Target:
        geo = self.geometry_
        if geo is None:
            return Target(None, None, None, False)
        if self.mode is Mode.RESIZING and self._item is not None:
            item = self._item.agenda_item
            column = geo.column_at(self._item.rect().center().x())
            assert column is not None
            axis = geo.axes[column.day]
            minute = axis.snap(geo.minute_at(point.y()), self.snap_minutes)
            end = axis.instant_at(minute)
            return Target(column, item.start, end, end > item.start)
        column = geo.column_at(point.x())
        if column is None or point.y() < geo.scale.top:
            return Target(None, None, None, False)
        axis = geo.axes[column.day]
        if self._item is not None and self._entry is None:
            length = self._item.agenda_item.end - self._item.agenda_item.start
        else:
            length = self._judge.entry_duration(self._entry or "") or timedelta(minutes=30)
        raw = geo.minute_at(point.y()) - (self._grab_minutes if self._entry is None else 0.0)
        minute = round(raw / self.snap_minutes) * self.snap_minutes
        start = axis.instant_at(minute)
        end = start + length
        inside = minute >= 0 and end <= axis.end
        return Target(column, start, end, inside)

    def _follow(self, source: str, target: Target) -> None:
        judgement = self._judge.judge(source, target)
        self.last_target, self.last_judgement = target, judgement
        geo = self.geometry_
        if geo is None or target.column is None or target.start is None or target.end is None:
            self._clear_ghost()
            return
        rect: QRectF = geo.rect_of(target.column, target.start, target.end)
        if self._ghost is None:
            self._ghost = QGraphicsRectItem()
            self._ghost.setZValue(50)
            self.scene().addItem(self._ghost)
        color = accent(_FITS if judgement.ok else _CLASHES, self.palette(), minimum=3.0)
        self._ghost.setPen(QPen(color, 2.5, Qt.PenStyle.SolidLine))
        fill = QColor(color)
        fill.setAlpha(40)
        self._ghost.setBrush(fill)
        self._ghost.setRect(rect)
        self._label_ghost(rect, judgement.label, color)
        self._ghost.setToolTip(judgement.reason)
        self.viewport().setToolTip(judgement.reason)

    def _label_ghost(self, rect: QRectF, text: str, color: QColor) -> None:
        """The target's time on the ghost, just above it (inside at the top of the day)."""
        assert self._ghost is not None
        labels = [c for c in self._ghost.childItems() if isinstance(c, QGraphicsSimpleTextItem)]
        label = labels[0] if labels else QGraphicsSimpleTextItem(self._ghost)
        label.setText(text)
        label.setBrush(color)
        height = label.boundingRect().height()
        top = rect.top() - height - 1
        label.setPos(rect.left() + 2, top if top > HEADER else rect.top() + 1)

    def ghost_label(self) -> str:
        """The time shown on the drag's ghost ("" without a drag)."""
        if self._ghost is None:
            return ""
        labels = [c for c in self._ghost.childItems() if isinstance(c, QGraphicsSimpleTextItem)]
        return labels[0].text() if labels else ""

    def _clear_ghost(self) -> None:
        if self._ghost is not None:
            if self._ghost.scene() is not None:
                self.scene().removeItem(self._ghost)
            self._ghost = None
        self.viewport().setToolTip("")

    def ghost(self) -> QGraphicsRectItem | None:
        return self._ghost

    def forget_items(self) -> None:
        """The scene is about to be rebuilt: drop references to its items."""
        self._ghost = None
        self._item = None
        self.mode = Mode.IDLE

    def _appointment_at(self, point: QPointF) -> AppointmentItem | None:
        for item in self.scene().items(point):
            if isinstance(item, AppointmentItem):
                return item
        return None


__all__ = ["SLOT_MINUTES", "WAITLIST_MIME", "AgendaView", "DropJudge", "EmptySlot",
           "Judgement", "Mode", "PinnedStrip", "Target"]
