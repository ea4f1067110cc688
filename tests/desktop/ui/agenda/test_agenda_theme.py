"""The agenda takes its colours and fonts from the platform: a dark palette gives a dark
agenda whose appointment text stays readable, and a larger application font larger text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QApplication, QGraphicsSimpleTextItem

from desktop.services.context import DeskContext
from desktop.ui.agenda import AgendaWidget
from desktop.ui.agenda.scene import AppointmentItem, ColumnBackdrop, HeaderLabel, ItemStyle
from desktop.ui.agenda.status_style import DEFAULT_COLOURS
from desktop.ui.theme import AgendaColours, contrast, dark_palette, luminance
from tests.desktop.services.conftest import BEN, TUESDAY_9
from tests.desktop.ui.agenda.conftest import TUESDAY, OpenAgenda, book

ROLE = QPalette.ColorRole
TUESDAY_10 = TUESDAY_9 + timedelta(hours=1)
#: Type colours a clinic might pick: pale, saturated, dark, and every status colour.
TYPE_COLOURS = ("#ffeb3b", "#fff9c4", "#00bcd4", "#4caf50", "#1a237e", "#000000",
                "#ffffff", "#e91e63", "#795548", *DEFAULT_COLOURS.values())


@pytest.fixture
def dark(qapp: QApplication) -> Iterator[QPalette]:
    saved = QApplication.palette()
    QApplication.setPalette(dark_palette())
    try:
        yield QApplication.palette()
    finally:
        QApplication.setPalette(saved)


def backdrops(agenda: AgendaWidget) -> list[ColumnBackdrop]:
    return [i for i in agenda.scene.items() if isinstance(i, ColumnBackdrop)]


def blocks(agenda: AgendaWidget) -> list[AppointmentItem]:
    return [i for i in agenda.scene.items() if isinstance(i, AppointmentItem)]


def test_a_dark_palette_gives_the_agenda_its_background_grid_and_text(
    dark: QPalette, ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    book(ctx)
    agenda = open_agenda(TUESDAY, 1)
    base, text = dark.color(ROLE.Base), dark.color(ROLE.Text)
    for backdrop in backdrops(agenda):
        colours = backdrop.colours
        assert colours.working == base and colours.text == text and colours.dark
        # Grid lines and closed hours sit between the base and the text.
        for shade in (colours.hour_line, colours.closed, colours.column_edge):
            assert luminance(base) < luminance(shade) < luminance(text)
    labels = [i for i in agenda.scene.items() if isinstance(i, HeaderLabel)]
    assert labels and all(label._colour == text for label in labels)
    hours = [i for i in agenda.scene.items() if type(i) is QGraphicsSimpleTextItem]
    assert hours and all(i.brush().color() == text for i in hours)
    assert agenda.view.header.backgroundBrush().color() == dark.color(ROLE.Window)


def test_appointment_text_keeps_a_contrast_of_4_5_on_a_dark_base(
    dark: QPalette, ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    book(ctx)
    book(ctx, patient=BEN, start=TUESDAY_10)
    agenda = open_agenda(TUESDAY, 1)
    drawn = blocks(agenda)
    assert len(drawn) == 2
    for block in drawn:
        assert contrast(block.style.text, block.style.fill) >= 4.5
        assert block.style.fill.lightness() < 160  # deeper than the light mode's pastel
    colours = AgendaColours.of(dark)
    for colour in TYPE_COLOURS:
        for pending in (False, True):
            style = ItemStyle.of(colour, pending, colours)
            assert contrast(style.text, style.fill) >= 4.5, (colour, pending)


def test_the_light_palette_keeps_light_blocks_with_readable_text(qapp: QApplication) -> None:
    colours = AgendaColours.of(QApplication.palette())
    assert not colours.dark
    for colour in TYPE_COLOURS:
        style = ItemStyle.of(colour, False, colours)
        assert contrast(style.text, style.fill) >= 4.5, colour


def test_the_agenda_text_scales_with_the_application_font(
    qapp: QApplication, ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    book(ctx)
    saved = QApplication.font()
    sizes = []
    try:
        for points in (9.0, 18.0):
            font = QFont(saved)
            font.setPointSizeF(points)
            QApplication.setFont(font)
            agenda = open_agenda(TUESDAY, 1)
            sizes.append(blocks(agenda)[0]._font.pointSizeF())
    finally:
        QApplication.setFont(saved)
    assert sizes[1] == pytest.approx(2 * sizes[0])
    assert sizes[0] == pytest.approx(9.0 * 0.9)

