"""The column header and the hours stay in sight; the columns fill the agenda's width."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QPoint
from PySide6.QtGui import QFont
from pytestqt.qtbot import QtBot

from desktop.ui.agenda import AgendaWidget
from desktop.ui.agenda.scene import (
    GUTTER,
    HEADER,
    MIN_DAY_COLUMN,
    MIN_WEEK_COLUMN,
    HeaderLabel,
    column_width_for,
)
from tests.desktop.ui.agenda.conftest import OpenAgenda

MONDAY = date(2025, 3, 3)


def _column_names(agenda: AgendaWidget) -> list[str]:
    """The names in the header's column row, left to right."""
    labels = [i for i in agenda.scene.items()
              if isinstance(i, HeaderLabel) and 18 < i.pos().y() < HEADER]
    return [i.text() for i in sorted(labels, key=lambda i: i.pos().x())]


def _fills(agenda: AgendaWidget) -> bool:
    geometry = agenda.geometry_
    assert geometry is not None
    grid = agenda.view.grid_width()
    return grid - len(geometry.columns) <= geometry.width - GUTTER <= grid


def test_the_header_names_the_columns_in_order(open_agenda: OpenAgenda) -> None:
    for days in (1, 7):
        agenda = open_agenda(MONDAY, days)
        geometry = agenda.geometry_
        assert geometry is not None
        assert _column_names(agenda) == [c.name for c in geometry.columns]
        assert {"Dr Ruiz", "Dr López"} <= set(_column_names(agenda))
        assert agenda.view.header.isVisible() and agenda.view.ruler.isVisible()


def test_the_week_header_has_one_day_label_per_day(open_agenda: OpenAgenda) -> None:
    agenda = open_agenda(MONDAY, 7)
    days = [i for i in agenda.scene.items() if isinstance(i, HeaderLabel) and i.pos().y() < 18]
    assert len(days) == 5  # the clinic is closed on the weekend: those days are left out


def test_the_header_stays_on_top_and_the_hours_scroll_with_the_grid(
    open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    agenda = open_agenda(MONDAY, 7)
    view = agenda.view
    view.verticalScrollBar().setValue(view.verticalScrollBar().maximum())
    view.horizontalScrollBar().setValue(view.horizontalScrollBar().maximum())
    top_left = view.mapToScene(QPoint(0, 0))
    assert top_left.y() > HEADER + 600  # scrolled well down the day
    assert view.header.mapToScene(QPoint(0, 0)).y() == 0  # the header did not move
    assert view.header.mapToScene(QPoint(0, 0)).x() == top_left.x()  # but follows sideways
    assert view.ruler.mapToScene(QPoint(0, 0)).y() == top_left.y()
    assert view.ruler.mapToScene(QPoint(0, 0)).x() == 0


def test_day_columns_fill_the_width_and_follow_a_resize(
    open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    agenda = open_agenda(MONDAY, 1)
    assert _fills(agenda)
    narrow = agenda.geometry_.column_width  # type: ignore[union-attr]
    agenda.resize(1300, 700)
    qtbot.waitUntil(lambda: agenda.geometry_.column_width > narrow)  # type: ignore[union-attr]
    assert _fills(agenda)
    assert agenda.view.horizontalScrollBar().maximum() == agenda.view.horizontalScrollBar(
        ).minimum()


def test_the_week_fits_when_it_can_and_scrolls_sideways_when_it_cannot(
    open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    agenda = open_agenda(MONDAY, 7)
    geometry = agenda.geometry_
    assert geometry is not None
    columns = len(geometry.columns)
    agenda.resize(int(columns * (MIN_WEEK_COLUMN + 20) + 120), 700)
    qtbot.waitUntil(lambda: _fills(agenda)
                    and agenda.geometry_.column_width >= MIN_WEEK_COLUMN + 10)  # type: ignore[union-attr]
    bar = agenda.view.horizontalScrollBar()
    assert bar.maximum() == bar.minimum()
    assert agenda.geometry_.compact  # type: ignore[union-attr]

    agenda.resize(400, 700)
    qtbot.waitUntil(lambda: agenda.geometry_.column_width == MIN_WEEK_COLUMN)  # type: ignore[union-attr]
    assert bar.maximum() > bar.minimum()


def test_column_width_shares_the_space_down_to_a_minimum() -> None:
    assert column_width_for(1, 4, 800) == 200
    assert column_width_for(1, 4, 300) == MIN_DAY_COLUMN
    assert column_width_for(7, 2, 7 * 2 * 70) == 70
    assert column_width_for(7, 4, 790) == MIN_WEEK_COLUMN
    assert column_width_for(7, 0, 790) > 0


def test_a_name_too_long_for_its_column_shows_its_last_word() -> None:
    label = HeaderLabel("Dr Aisha Okafor-Lindqvist", QFont(), 90, shorten=True)
    assert label.text() == "Dr Aisha Okafor-Lindqvist"
    assert label.shown_text().startswith("Okafor")
    assert HeaderLabel("Dr Webb", QFont(), 200, shorten=True).shown_text() == "Dr Webb"
