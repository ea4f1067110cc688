"""The agenda's picture: columns of a day or week, the hour grid, and appointment items.

:class:`AgendaGeometry` knows where things are (column x, time y, snapping);
:func:`build_scene` fills a scene from plain values (agenda items, the frame of
working hours, the clinic reference) and draws nothing interactive itself.
Painting is done by a few custom items so that a week of 40 columns with
thousands of appointments stays cheap to build and to paint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from babel.dates import format_skeleton
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from desktop.services.agenda_frame import AgendaFrame
from desktop.services.dto import AgendaItem
from desktop.ui.agenda.layout import DayAxis, Lane, Scale, Span, day_axis, lay_out
from desktop.ui.agenda.status_style import STRIPE_WIDTH, opacity_of, status_colour
from desktop.ui.agenda.template_slots import TemplateSlotItem
from desktop.ui.text import _, display_locale, format_clock
from desktop.ui.theme import AgendaColours, scaled_font, text_on
from scheduling.i18n import TERMS
from scheduling.timeutil import zone

GUTTER = 66.0
HEADER = 40.0
#: Narrowest columns before the agenda scrolls sideways instead of squeezing them.
MIN_DAY_COLUMN = 120.0
MIN_WEEK_COLUMN = 64.0
#: Below this width items show a compact text (time, then patient) without the marker.
COMPACT_COLUMN = 100.0
PIXELS_PER_MINUTE = 1.2
RESIZE_HANDLE = 6.0
NO_ROOM = ""
WHOLE = Lane(0, 1)

#: The agenda's text, relative to the application font (it follows the system's size).
FONT_SCALE = 0.9
COMPACT_FONT_SCALE = 0.85
_TOP_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
_CENTER = Qt.AlignmentFlag.AlignCenter
_SELECTABLE = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable

#: A small marker per status, drawn in the item's top-right corner.
STATUS_MARKS = {
    "pending": "?", "booked": "○", "message_left": "✉", "confirmed": "✓", "arrived": "➜",
    "ready": "●", "in_progress": "▶",
    "completed": "✔", "no_show": "✗", "cancelled": "⊘", "entered_in_error": "⊘",
}


@dataclass(frozen=True, slots=True)
class Column:
    """One column: a local day and a provider or room (``key``)."""

    index: int
    day: date
    key: str
    name: str


@dataclass(slots=True)
class AgendaGeometry:
    """Where the columns and the hours of the shown range are, in scene coordinates."""

    tz: str
    columns: list[Column]
    axes: dict[date, DayAxis]
    column_width: float
    scale: Scale = field(default_factory=lambda: Scale(HEADER, PIXELS_PER_MINUTE))

    @classmethod
    def for_range(cls, tz: str, first: date, days: int,
                  keys: Sequence[tuple[str, str]],
                  available: float | None = None, *, hidden: frozenset[date] = frozenset(),
                  zoom: float = 1.0) -> AgendaGeometry:
        """The columns of ``days`` days from ``first`` but the ``hidden`` ones; with
        ``available`` (the width of the grid area in pixels) they share it, down to a
        minimum column width. ``zoom`` scales the hours."""
        shown = [first + timedelta(days=d) for d in range(days)
                 if first + timedelta(days=d) not in hidden] or [first]
        width = column_width_for(len(shown), len(keys), available)
        columns = [Column(d * len(keys) + i, day, key, name)
                   for d, day in enumerate(shown) for i, (key, name) in enumerate(keys)]
        axes = {day: day_axis(day, tz) for day in shown}
        return cls(tz, columns, axes, width, Scale(HEADER, PIXELS_PER_MINUTE * zoom))

    @property
    def width(self) -> float:
        return GUTTER + len(self.columns) * self.column_width

    @property
    def compact(self) -> bool:
        return self.column_width < COMPACT_COLUMN

    @property
    def height(self) -> float:
        longest = max((a.minutes for a in self.axes.values()), default=24 * 60)
        return HEADER + longest * self.scale.pixels_per_minute

    def column_x(self, column: Column) -> float:
        return GUTTER + column.index * self.column_width

    def column_at(self, x: float) -> Column | None:
        if x < GUTTER:
            return None
        index = int((x - GUTTER) // self.column_width)
        return self.columns[index] if 0 <= index < len(self.columns) else None

    def column_for(self, day: date, key: str) -> Column | None:
        return next((c for c in self.columns if c.day == day and c.key == key), None)

    def y_of(self, day: date, instant: datetime) -> float:
        return self.scale.y_of(self.axes[day], instant)

    def minute_at(self, y: float) -> float:
        return self.scale.minute_at(y)

    def rect_of(self, column: Column, start: datetime, end: datetime,
                lane: Lane = WHOLE) -> QRectF:
        """The item rectangle of ``[start, end)`` in ``column`` (clipped to its day)."""
        axis = self.axes[column.day]
        top = self.scale.y_of(axis, max(start, axis.start))
        bottom = self.scale.y_of(axis, min(end, axis.end))
        x = self.column_x(column) + 2 + lane.x * (self.column_width - 4)
        return QRectF(x, top, lane.width * (self.column_width - 4), max(bottom - top, 4.0))


def column_width_for(days: int, keys: int, available: float | None) -> float:
    """The width of one column: the grid's ``available`` width shared by ``days * keys``
    columns, but not narrower than the day's or the week's minimum."""
    if available is None or keys == 0:
        return 160.0 if days == 1 else 110.0
    minimum = MIN_DAY_COLUMN if days == 1 else MIN_WEEK_COLUMN
    return max(minimum, math.floor(available / (days * keys)))


class HeaderLabel(QGraphicsSimpleTextItem):
    """A header text cut to ``width`` pixels with an ellipsis (the full text as tooltip).

    A name that does not fit shows its last word instead (``Dr Aisha Okafor`` →
    ``Okafor``): in a narrow week column the surname tells the columns apart, where
    ``Dr Aisha…`` over every column would not."""

    def __init__(self, text: str, font: QFont, width: float, shorten: bool = False,
                 colour: QColor | None = None) -> None:
        super().__init__(text)
        self.setFont(font)
        self._colour = colour or AgendaColours.of().text
        self._width = max(width, 8.0)
        metrics = QFontMetricsF(font)
        shown = text
        if shorten and metrics.horizontalAdvance(text) > self._width and " " in text.strip():
            shown = text.rsplit(maxsplit=1)[-1]
        self._shown = metrics.elidedText(shown, Qt.TextElideMode.ElideRight, self._width)
        self._bounds: QRectF | None = None  # the text and font are set once
        self.setToolTip(text)

    def shown_text(self) -> str:
        """What the header actually shows (``text()`` is the full name)."""
        return self._shown

    def boundingRect(self) -> QRectF:
        if self._bounds is None:
            rect = super().boundingRect()
            rect.setWidth(min(rect.width(), self._width))
            self._bounds = rect
        return self._bounds

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem,
              _widget: QWidget | None = None) -> None:
        painter.setFont(self.font())
        painter.setPen(self._colour)
        painter.drawText(self.boundingRect(), Qt.AlignmentFlag.AlignLeft
                         | Qt.AlignmentFlag.AlignVCenter, self._shown)


@dataclass(frozen=True, slots=True)
class ItemStyle:
    """How an appointment of one colour and confirmation state is painted (shared by
    every such item of a build)."""

    fill: QColor
    pen: QPen
    hatch: QBrush | None
    #: Black or white, whichever contrasts more with ``fill``.
    text: QColor
    selected: QColor

    @classmethod
    def of(cls, color_name: str, pending: bool,
           colours: AgendaColours | None = None) -> ItemStyle:
        colours = colours or AgendaColours.of()
        color = QColor(color_name)
        if not color.isValid():
            color = QColor("#888888")
        fill = colours.block_fill(color, pending)
        border = color.darker(150) if not colours.dark else color.lighter(130)
        pen = QPen(border, 1.0)
        hatch = None
        if pending:
            # Not yet confirmed by the server: dashed border and a light hatching.
            pen.setStyle(Qt.PenStyle.DashLine)
            shade = border.lighter(160) if not colours.dark else border.darker(160)
            hatch = QBrush(shade, Qt.BrushStyle.BDiagPattern)
        return cls(fill, pen, hatch, text_on(fill), colours.selected)


class AppointmentItem(QGraphicsItem):
    """One appointment: type colour, patient, type, status marker; pending ones hatched."""

    def __init__(self, item: AgendaItem, rect: QRectF, text: tuple[str, str], tooltip: str,
                 font: QFont, marker: bool = True, style: ItemStyle | None = None) -> None:
        super().__init__()
        self.agenda_item = item
        self._rect = rect
        self._text = text
        self._font = font
        self._marker = marker
        self._style = style or ItemStyle.of(item.color, item.pending)
        self._bounds = rect.adjusted(-1, -1, 1, 1)
        self.setFlag(_SELECTABLE, True)
        self.setToolTip(tooltip)
        self.setZValue(10)
        opacity = opacity_of(item.status)
        if opacity != 1.0:
            self.setOpacity(opacity)  # completed and no-show: faded

    @property
    def appointment_id(self) -> str:
        return self.agenda_item.appointment_id

    def show_as(self, item: AgendaItem, rect: QRectF, text: tuple[str, str], tooltip: str,
                *, marker: bool, style: ItemStyle) -> None:
        """Show another state of the same appointment (a sync moved or changed it)."""
        self.prepareGeometryChange()
        self.agenda_item = item
        self._rect = QRectF(rect)
        self._bounds = rect.adjusted(-1, -1, 1, 1)
        self._text = text
        self._marker = marker
        self._style = style
        self.setToolTip(tooltip)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def rect(self) -> QRectF:
        return QRectF(self._rect)

    @property
    def style(self) -> ItemStyle:
        return self._style

    def on_resize_handle(self, point: QPointF) -> bool:
        """Whether a scene point grabs the bottom edge (resize) rather than the body (move)."""
        return self._rect.contains(point) and point.y() >= self._rect.bottom() - RESIZE_HANDLE

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              _widget: QWidget | None = None) -> None:
        rect = self._rect
        style = self._style
        painter.fillRect(rect, style.fill)
        if style.hatch is not None:
            painter.fillRect(rect, style.hatch)
        if self.isSelected():
            pen = QPen(style.pen)
            pen.setWidthF(2.5)
            pen.setColor(style.selected)
            painter.setPen(pen)
        else:
            painter.setPen(style.pen)
        painter.drawRect(rect.adjusted(0.5, 0.5, -0.5, -0.5))
        stripe = status_colour(self.agenda_item.status)
        if stripe is not None:  # the confirmation state, down the left edge
            painter.fillRect(QRectF(rect.left() + 1, rect.top() + 1, STRIPE_WIDTH,
                                    rect.height() - 2), stripe)
        if option.levelOfDetailFromTransform(painter.worldTransform()) < 0.4:
            return  # zoomed far out (an overview, a thumbnail): text would be unreadable
        painter.setFont(self._font)
        painter.setPen(style.text)
        inner = rect.adjusted(3 + STRIPE_WIDTH, 1, -14 if self._marker else -2, -1)
        first, second = self._text
        painter.drawText(inner, _TOP_LEFT, first + ("\n" + second if rect.height() > 26 else ""))
        if not self._marker:
            return
        mark = STATUS_MARKS.get(self.agenda_item.status, "")
        painter.drawText(QRectF(rect.right() - 14, rect.top() + 1, 13, 14), _CENTER, mark)


class ColumnBackdrop(QGraphicsItem):
    """A column's background: closed time grey, working hours white, hour lines, and
    blockouts, outages or the holiday drawn with their reason."""

    def __init__(self, rect: QRectF, working: list[tuple[float, float]],
                 closed: list[tuple[float, float, str, bool]], hour_lines: list[float],
                 holiday: str | None, day_end: bool = False,
                 colours: AgendaColours | None = None) -> None:
        super().__init__()
        self._rect = rect
        self._day_end = day_end
        self._working = working
        self._closed = closed  # (top, bottom, reason, is_outage)
        self._hour_lines = hour_lines  # shared by the day's columns; lines made when painted
        self._holiday = holiday
        self._colours = colours or AgendaColours.of()
        self.setZValue(0)

    @property
    def colours(self) -> AgendaColours:
        return self._colours

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem,
              _widget: QWidget | None = None) -> None:
        rect, colours = self._rect, self._colours
        painter.fillRect(rect, colours.closed)
        left, width = rect.left(), rect.width()
        for top, bottom in self._working:
            painter.fillRect(QRectF(left, top, width, bottom - top), colours.working)
        for top, bottom, reason, outage in self._closed:
            band = QRectF(left, top, width, bottom - top)
            painter.fillRect(band, colours.outage if outage else colours.blocked)
            painter.fillRect(band, QBrush(colours.hatch, Qt.BrushStyle.FDiagPattern))
            painter.setPen(colours.reason)
            painter.drawText(band.adjusted(3, 2, -3, -2), Qt.AlignmentFlag.AlignLeft, reason)
        painter.setPen(QPen(colours.hour_line, 0))
        right = rect.right()
        painter.drawLines([QLineF(left, y, right, y) for y in self._hour_lines])
        # The last column of a day in the week: a firmer line.
        painter.setPen(QPen(colours.day_end, 2) if self._day_end
                       else QPen(colours.column_edge, 0))
        painter.drawLine(rect.topRight(), rect.bottomRight())
        if self._holiday is not None:
            holiday = QColor(colours.holiday)
            holiday.setAlpha(140)
            painter.fillRect(rect, holiday)
            painter.setPen(colours.holiday_text)
            painter.drawText(rect.adjusted(4, 8, -4, 0),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                             | Qt.TextFlag.TextWordWrap, self._holiday)


@dataclass(frozen=True, slots=True)
class SceneContent:
    """What one build of the scene shows."""

    geometry: AgendaGeometry
    items: Sequence[AgendaItem]
    frame: AgendaFrame | None
    locale: str
    columns: str  # "provider" or "room"
    hide_patients: bool = False
    #: From the application palette when the content is made (light or dark mode).
    colours: AgendaColours = field(default_factory=AgendaColours.of)


def column_key(item: AgendaItem, columns: str) -> str:
    if columns == "room":
        return item.room_id or NO_ROOM
    return item.provider_id


def build_scene(scene: QGraphicsScene, content: SceneContent) -> dict[str, AppointmentItem]:
    """Clear ``scene`` and draw all of ``content``; returns the appointment items by id."""
    drawing = SceneDrawing(scene, content)
    drawing.finish()
    return drawing.items


class SceneDrawing:
    """One build of the scene, column by column.

    The day headers are drawn at once; a column (its name, backdrop and appointments)
    when :meth:`draw_between` covers it, or by :meth:`draw_more` / :meth:`finish`. A
    week of 50 providers is 350 columns of which ~25 fit on screen: the widget draws
    those first, paints, and fills in the rest in short slices afterwards.
    """

    def __init__(self, scene: QGraphicsScene, content: SceneContent) -> None:
        scene.clear()
        # Items never move once built (a drag moves a ghost, a change rebuilds the scene):
        # without a BSP index, building and painting a busy week is cheaper, and finding
        # the items under the pointer among a few thousand stays instant.
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        geo = content.geometry
        scene.setSceneRect(QRectF(0, 0, geo.width, geo.height))
        self.scene, self.content = scene, content
        self.font = scaled_font(FONT_SCALE)
        header_font = QFont(self.font)
        header_font.setBold(True)
        _draw_day_headers(scene, content, header_font, self.font)
        self._lines = {day: [HEADER + minute * geo.scale.pixels_per_minute
                             for minute, _instant in axis.hour_marks()]
                       for day, axis in geo.axes.items()}
        self._keys = len({c.key for c in geo.columns}) or 1
        placed = place_items(geo, content.items, content.columns)
        # Overlap lanes are worked out per column as it is drawn (a column's own items).
        self._by_column: dict[int, list[AgendaItem]] = {}
        self._column_of: dict[str, int] = {}
        for column, item in placed.values():
            self._by_column.setdefault(column.index, []).append(item)
            self._column_of[item.appointment_id] = column.index
        self._painter = ItemPainter(
            content, scaled_font(COMPACT_FONT_SCALE) if geo.compact else QFont(self.font))
        self._edge = QPen(content.colours.column_edge, 0)
        #: Columns not drawn yet, by index (left to right).
        self._pending: dict[int, Column] = {c.index: c for c in geo.columns}
        self.items: dict[str, AppointmentItem] = {}

    @property
    def done(self) -> bool:
        return not self._pending

    @property
    def pending_columns(self) -> int:
        return len(self._pending)

    def item(self, appointment_id: str) -> AppointmentItem | None:
        """The item of ``appointment_id`` (its column drawn now if it was not yet)."""
        column = self._pending.get(self._column_of.get(appointment_id, -1))
        if column is not None:
            self._draw(column)
        return self.items.get(appointment_id)

    def draw_between(self, left: float, right: float) -> None:
        """Draw the columns that reach into scene x ``left``..``right``."""
        geo = self.content.geometry
        first = max(0, int((left - GUTTER) // geo.column_width))
        last = int((right - GUTTER) // geo.column_width)
        for index in range(first, last + 1):
            column = self._pending.get(index)
            if column is not None:
                self._draw(column)

    def draw_more(self, seconds: float) -> bool:
        """Draw columns for about ``seconds``; True when every column is drawn."""
        until = time.perf_counter() + seconds
        while self._pending and time.perf_counter() < until:
            self._draw(next(iter(self._pending.values())))
        return self.done

    def finish(self) -> None:
        for column in list(self._pending.values()):
            self._draw(column)

    def _draw(self, column: Column) -> None:
        del self._pending[column.index]
        content, scene = self.content, self.scene
        geo = content.geometry
        x = geo.column_x(column)
        scene.addLine(x, 19, x, HEADER, self._edge)
        name = HeaderLabel(column.name, self.font, geo.column_width - 6, shorten=True,
                           colour=content.colours.text)
        name.setPos(x + 4, 21)
        scene.addItem(name)
        colour = content.frame.colours.get(column.key) if content.frame is not None else None
        if colour:  # the provider's own colour, as a band under their name
            scene.addRect(QRectF(x + 1, HEADER - 4, geo.column_width - 2, 4),
                          QPen(Qt.PenStyle.NoPen), QBrush(QColor(colour)))
        day_end = len(geo.axes) > 1 and column.index % self._keys == self._keys - 1
        scene.addItem(_backdrop(content, column, self._lines[column.day], day_end))
        if content.frame is not None and content.columns == "provider":
            axis = geo.axes[column.day]
            for slot in content.frame.templates.get((column.day, column.key), ()):
                top = geo.y_of(column.day, max(slot.start, axis.start))
                bottom = geo.y_of(column.day, min(slot.end, axis.end))
                if bottom > top:
                    scene.addItem(TemplateSlotItem(
                        slot, QRectF(x, top, geo.column_width, bottom - top),
                        self._painter.font, content.colours))
        items = self._by_column.get(column.index, ())
        lanes = lay_out(Span(i.appointment_id, column.index, i.start, i.end) for i in items)
        for item in items:
            graphic = self._painter.make(item, column, lanes[item.appointment_id])
            scene.addItem(graphic)
            self.items[item.appointment_id] = graphic


def _draw_day_headers(scene: QGraphicsScene, content: SceneContent, header_font: QFont,
                      font: QFont) -> None:
    """Each day over its group of columns, and the hours down the gutter."""
    geo = content.geometry
    locale = display_locale(content.locale)
    keys = len({c.key for c in geo.columns})
    group = keys * geo.column_width
    colours = content.colours
    shade = QBrush(colours.header)
    for column in geo.columns[::keys or 1]:
        x = geo.column_x(column)
        scene.addRect(QRectF(x, 0, group, HEADER), QPen(colours.header_edge, 0), shade)
        day = str(format_skeleton("MMMEd", column.day, locale=locale))
        label = HeaderLabel(day, header_font, group - 8, colour=colours.text)
        label.setPos(x + 4, 2)
        scene.addItem(label)
    first_axis = geo.axes[geo.columns[0].day] if geo.columns else None
    if first_axis is None:
        return
    for minute, instant in first_axis.hour_marks():
        text = scene.addSimpleText(format_clock(instant, geo.tz, content.locale), font)
        text.setBrush(colours.text)
        text.setPos(4, HEADER + minute * geo.scale.pixels_per_minute + 1)


def _backdrop(content: SceneContent, column: Column, lines: list[float],
              day_end: bool = False) -> ColumnBackdrop:
    geo = content.geometry
    axis = geo.axes[column.day]
    x = geo.column_x(column)
    rect = QRectF(x, HEADER, geo.column_width, axis.minutes * geo.scale.pixels_per_minute)
    frame = content.frame
    working: list[tuple[float, float]] = []
    closed: list[tuple[float, float, str, bool]] = []
    holiday = None
    if frame is not None:
        holiday = frame.holidays.get(column.day)
        if holiday is not None:
            holiday = holiday or _("Holiday")
        for start, end in frame.working.get((column.day, column.key), ()):
            working.append((geo.y_of(column.day, max(start, axis.start)),
                            geo.y_of(column.day, min(end, axis.end))))
        for period in frame.closed:
            if period.resource_id not in (None, column.key):
                continue
            if period.end <= axis.start or period.start >= axis.end:
                continue
            reason = period.reason or (_("Out of service") if period.kind == "outage"
                                       else _("Blocked"))
            closed.append((geo.y_of(column.day, max(period.start, axis.start)),
                           geo.y_of(column.day, min(period.end, axis.end)),
                           reason, period.kind == "outage"))
    return ColumnBackdrop(rect, working, closed, lines, holiday, day_end, content.colours)


def place_items(geo: AgendaGeometry, items: Sequence[AgendaItem],
                columns: str) -> dict[str, tuple[Column, AgendaItem]]:
    """The column of every item that falls in ``geo``'s range, by appointment id."""
    by_place = {(c.day, c.key): c for c in geo.columns}
    placed: dict[str, tuple[Column, AgendaItem]] = {}
    tz = zone(geo.tz)
    for item in items:
        day = _local_day(geo, item.start, tz)
        column = None if day is None else by_place.get((day, column_key(item, columns)))
        if column is not None:
            placed[item.appointment_id] = (column, item)
    return placed


class ItemPainter:
    """Makes and updates appointment items for one scene content.

    Texts are translated once per painter, and clock labels formatted once per
    wall-clock minute: formatting thousands of times through gettext and Babel would
    dominate a busy week's build.
    """

    def __init__(self, content: SceneContent, font: QFont | None = None) -> None:
        self.content = content
        if font is None:
            font = scaled_font(COMPACT_FONT_SCALE if content.geometry.compact else FONT_SCALE)
        self.font = font
        self._tooltip = _("{time} {patient} — {type} ({status})")
        self._not_confirmed = _("{status}, not yet confirmed")
        self._hidden = _("Patient hidden")
        self._statuses: dict[tuple[str, bool, bool], str] = {}
        self._virtual = _("{type} · {status}")
        self._visit_part = _("Part of a visit ({number} of {total})")
        self._styles: dict[tuple[str, bool], ItemStyle] = {}
        self._clocks: dict[tuple[int, int], str] = {}
        self._zone = zone(content.geometry.tz)

    def make(self, item: AgendaItem, column: Column, lane: Lane) -> AppointmentItem:
        rect = self.content.geometry.rect_of(column, item.start, item.end, lane)
        text, tooltip, style = self._looks(item)
        return AppointmentItem(item, rect, text, tooltip, self.font,
                               marker=rect.width() >= 80, style=style)

    def update(self, graphic: AppointmentItem, item: AgendaItem, column: Column,
               lane: Lane) -> bool:
        """Bring ``graphic`` to ``item`` in ``column``/``lane``; False if nothing changed."""
        rect = self.content.geometry.rect_of(column, item.start, item.end, lane)
        if item == graphic.agenda_item and rect == graphic.rect():
            return False
        text, tooltip, style = self._looks(item)
        graphic.show_as(item, rect, text, tooltip, marker=rect.width() >= 80, style=style)
        return True

    def _looks(self, item: AgendaItem) -> tuple[tuple[str, str], str, ItemStyle]:
        content, geo = self.content, self.content.geometry
        local = item.start.astimezone(self._zone)
        clock = self._clocks.get((local.hour, local.minute))
        if clock is None:
            clock = self._clocks[(local.hour, local.minute)] = format_clock(
                item.start, geo.tz, content.locale)
        patient = self._hidden if content.hide_patients else item.patient_name
        virtual = item.virtual and item.status == "arrived"
        status = self._statuses.get((item.status, item.pending, virtual))
        if status is None:
            status = _("Arrived · virtual") if virtual else _(TERMS.get(item.status, item.status))
            if item.pending:
                status = self._not_confirmed.format(status=status)
            self._statuses[(item.status, item.pending, virtual)] = status
        text = (clock, patient) if geo.compact else (
            f"{clock} {patient}", self._virtual.format(type=item.type_name, status=status)
            if virtual else item.type_name)
        style = self._styles.get((item.color, item.pending))
        if style is None:
            style = self._styles[(item.color, item.pending)] = ItemStyle.of(
                item.color, item.pending, content.colours)
        tooltip = self._tooltip.format(time=clock, patient=patient, type=item.type_name,
                                       status=status)
        if item.visit_part is not None:
            tooltip += "\n" + self._visit_part.format(number=item.visit_part[0],
                                                      total=item.visit_part[1])
        return text, tooltip, style


def _local_day(geo: AgendaGeometry, instant: datetime,
               tz: tzinfo | None = None) -> date | None:
    day = instant.astimezone(tz or zone(geo.tz)).date()  # its local day holds it (DayAxis)
    axis = geo.axes.get(day)
    if axis is not None and axis.contains(instant):
        return day
    return next((day for day, axis in geo.axes.items() if axis.contains(instant)), None)


__all__ = ["AgendaGeometry", "AppointmentItem", "Column", "HeaderLabel", "ItemPainter",
           "SceneContent", "SceneDrawing", "build_scene", "column_width_for", "place_items"]
