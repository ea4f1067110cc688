"""Confirmation colours with a legend the user can change, finished appointments faded,
and the "now" line on today's columns."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionGraphicsItem
from pytestqt.qtbot import QtBot

from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.ui.agenda.status_style import (
    DEFAULT_COLOURS,
    DIMMED_OPACITY,
    load_status_colours,
    status_colour,
)
from desktop.ui.status_legend import StatusLegend
from desktop.ui.text import set_language
from tests.desktop.services.conftest import BEN, DR_LOPEZ, MONDAY_8, FakeClock
from tests.desktop.ui.agenda.conftest import TUESDAY, OpenAgenda, book

MONDAY = date(2025, 3, 3)


def _stripe_pixel(agenda: object, appointment_id: str) -> QColor:
    """The colour painted at the item's left edge (its status stripe)."""
    item = agenda.appointment_item(appointment_id)  # type: ignore[attr-defined]
    rect = item.rect()
    image = QImage(int(rect.width()) + 4, int(rect.height()) + 4, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.translate(-rect.left() + 2, -rect.top() + 2)
    item.paint(painter, QStyleOptionGraphicsItem())
    painter.end()
    return image.pixelColor(2 + 3, int(rect.height() / 2))


def test_each_status_has_its_stripe_and_completed_ones_are_faded(
    ctx: DeskContext, open_agenda: OpenAgenda, clock: FakeClock, tmp_path: Path
) -> None:
    load_status_colours(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    early = book(ctx, start=MONDAY_8 + timedelta(hours=1))  # Monday 09:00
    later = book(ctx, BEN, MONDAY_8 + timedelta(hours=2), DR_LOPEZ)
    assert booking.change_status(ctx, early, "arrived").ok
    assert booking.change_status(ctx, early, "completed").ok
    agenda = open_agenda(MONDAY)

    assert agenda.appointment_item(early).opacity() == DIMMED_OPACITY  # type: ignore[union-attr]
    assert agenda.appointment_item(later).opacity() == 1.0  # type: ignore[union-attr]
    assert _stripe_pixel(agenda, later) == QColor(DEFAULT_COLOURS["booked"])


def test_the_legend_changes_a_colour_for_the_agenda_and_remembers_it(
    qtbot: QtBot, ctx: DeskContext, open_agenda: OpenAgenda, tmp_path: Path
) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    legend = StatusLegend(settings)
    qtbot.addWidget(legend)
    assert legend.names["booked"].text() == "Unconfirmed"
    assert legend.names["completed"].text() == "Completed (faded)"
    ana = book(ctx)
    agenda = open_agenda()
    legend.coloursChanged.connect(agenda.retranslate)
    legend.ask_colour = lambda _current: QColor("#00bcd4")

    with qtbot.waitSignal(legend.coloursChanged):
        legend.choose("booked")

    assert _stripe_pixel(agenda, ana) == QColor("#00bcd4")
    load_status_colours(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert status_colour("booked") == QColor("#00bcd4")
    set_language("es")
    assert legend.names["booked"].text() == "Sin confirmar"
    load_status_colours(QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat))


def test_the_now_line_crosses_todays_columns_at_the_current_time(
    ctx: DeskContext, open_agenda: OpenAgenda, clock: FakeClock
) -> None:
    agenda = open_agenda(MONDAY)  # today: Monday 08:00 in Madrid
    line = agenda.now_line.item
    assert line is not None
    geometry = agenda.geometry_
    assert geometry is not None
    assert line.line().y1() == geometry.y_of(MONDAY, clock.now)
    clock.advance(timedelta(minutes=3))
    ctx.sessions.touch()
    assert agenda.place_now_line()
    assert agenda.now_line.item is not None
    assert agenda.now_line.item.line().y1() == geometry.y_of(MONDAY, clock.now)

    other_day = open_agenda(TUESDAY)
    assert other_day.now_line.item is None


def test_the_drag_ghost_shows_the_target_time_and_the_bottom_edge_shows_a_resize_cursor(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    from PySide6.QtCore import QEvent, QPoint, Qt

    from tests.desktop.services.conftest import DR_RUIZ, TUESDAY_9
    from tests.desktop.ui.agenda.conftest import mouse, point_at

    ana = book(ctx)
    agenda = open_agenda()
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=10))
    target = point_at(agenda, TUESDAY, DR_LOPEZ, TUESDAY_9 + timedelta(hours=2, minutes=10))
    mouse(agenda, QEvent.Type.MouseButtonPress, grab)
    mouse(agenda, QEvent.Type.MouseMove, grab + QPoint(0, 12))
    mouse(agenda, QEvent.Type.MouseMove, target)

    assert agenda.view.ghost_label() == "11:00 – 11:30"  # Madrid time, Dr López's column
    mouse(agenda, QEvent.Type.MouseButtonRelease, target, Qt.MouseButton.NoButton)
    item = agenda.appointment_item(ana)
    assert item is not None
    bottom = agenda.view.mapFromScene(item.rect().center().x(), item.rect().bottom() - 2)
    mouse(agenda, QEvent.Type.MouseMove, bottom, Qt.MouseButton.NoButton)
    assert agenda.view.viewport().cursor().shape() == Qt.CursorShape.SizeVerCursor
    middle = agenda.view.mapFromScene(item.rect().center())
    mouse(agenda, QEvent.Type.MouseMove, middle, Qt.MouseButton.NoButton)
    assert agenda.view.viewport().cursor().shape() == Qt.CursorShape.ArrowCursor
