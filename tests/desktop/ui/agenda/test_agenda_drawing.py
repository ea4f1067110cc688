"""A wide range (a week of many providers) draws the columns on screen first and the rest
after a paint; anything asked for before then is drawn on the spot."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pytestqt.qtbot import QtBot

from desktop.services.context import DeskContext
from desktop.ui.agenda import widget as agenda_widget
from desktop.ui.agenda.scene import ColumnBackdrop
from tests.desktop.services.conftest import DR_LOPEZ, TUESDAY_9
from tests.desktop.ui.agenda.conftest import OpenAgenda, book

MONDAY = date(2025, 3, 3)
FRIDAY_9 = TUESDAY_9 + timedelta(days=3)


@pytest.fixture
def draw_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every range counts as wide (the test clinic has two providers, not fifty)."""
    monkeypatch.setattr(agenda_widget, "DRAW_AT_ONCE", 0)


def backdrops(agenda: agenda_widget.AgendaWidget) -> int:
    return sum(isinstance(i, ColumnBackdrop) for i in agenda.scene.items())


def test_a_wide_week_shows_the_columns_on_screen_first_and_the_rest_soon_after(
    draw_lazily: None, ctx: DeskContext, open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    agenda = open_agenda(MONDAY, 7)
    agenda.resize(320, 700)
    agenda.show_range(agenda._clinic_id or "", MONDAY, 7)  # type: ignore[arg-type]
    drawing = agenda._drawing
    assert drawing is not None and not drawing.done
    assert 0 < backdrops(agenda) < 10
    qtbot.waitUntil(lambda: drawing.done, timeout=5000)
    assert backdrops(agenda) == 10  # Monday to Friday: the closed weekend is left out


def test_an_appointment_off_screen_is_drawn_when_asked_for(
    draw_lazily: None, ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    friday = book(ctx, start=FRIDAY_9, provider=DR_LOPEZ)
    agenda = open_agenda(MONDAY, 7)
    agenda.resize(320, 700)
    agenda.show_range(agenda._clinic_id or "", MONDAY, 7)  # type: ignore[arg-type]
    assert agenda._drawing is not None and not agenda._drawing.done
    item = agenda.appointment_item(friday)
    assert item is not None and item.appointment_id == friday
    agenda.select(friday)
    assert agenda.selected_appointment() == friday and item.isSelected()
    assert friday in agenda._items and agenda._drawing.done  # all items: all drawn
