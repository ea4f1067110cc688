"""Issue 18: the confirmation steps Open Dental has (message left, ready) with their
colours in the legend; zoom; closed weekends left out of the week; and a brief outline on
what another desk changed."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.ui.agenda.fit import HIGHLIGHT_MS
from desktop.ui.agenda.status_style import DEFAULT_COLOURS, load_status_colours
from desktop.ui.status_legend import StatusLegend
from desktop.ui.text import set_language
from tests.desktop.services.conftest import BEN, DR_LOPEZ, DR_RUIZ, MONDAY_8, TUESDAY_9
from tests.desktop.ui.agenda.conftest import TUESDAY, OpenAgenda, book
from tests.desktop.ui.agenda.test_agenda_status_and_now import _stripe_pixel
from tests.desktop.ui.agenda.test_sync_updates import pulled

MONDAY = date(2025, 3, 3)
SATURDAY = date(2025, 3, 8)


def menu_statuses(agenda: object, appointment_id: str) -> list[str]:
    item = agenda.appointment_item(appointment_id)  # type: ignore[attr-defined]
    menu = agenda.appointment_actions.context_menu(item.agenda_item)  # type: ignore[attr-defined]
    return [str(a.data()) for a in menu.actions() if a.data()]


def test_message_left_and_ready_are_steps_with_their_own_colours_in_the_legend(
    qtbot: QtBot, ctx: DeskContext, open_agenda: OpenAgenda, tmp_path: Path
) -> None:
    load_status_colours(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    called = book(ctx, start=MONDAY_8 + timedelta(hours=1))  # Monday 09:00, today
    assert "message_left" in menu_statuses(open_agenda(MONDAY), called)
    assert booking.change_status(ctx, called, "message_left").ok
    seated = book(ctx, BEN, MONDAY_8 + timedelta(hours=2), DR_LOPEZ)
    assert booking.change_status(ctx, seated, "arrived").ok
    agenda = open_agenda(MONDAY)
    assert "ready" in menu_statuses(agenda, seated)
    assert booking.change_status(ctx, seated, "ready").ok
    agenda = open_agenda(MONDAY)

    assert _stripe_pixel(agenda, called) == QColor(DEFAULT_COLOURS["message_left"])
    assert _stripe_pixel(agenda, seated) == QColor(DEFAULT_COLOURS["ready"])
    legend = StatusLegend(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(legend)
    assert legend.names["message_left"].text() == "Message left"
    assert legend.names["ready"].text() == "Ready for the provider"
    set_language("es")
    assert legend.names["message_left"].text() == "Mensaje dejado"
    assert legend.names["ready"].text() == "Lista para el profesional"


def test_ready_is_not_offered_before_the_appointments_day(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    tomorrow = book(ctx)  # Tuesday; the clock says Monday
    assert "ready" not in menu_statuses(open_agenda(TUESDAY), tomorrow)
    assert not booking.change_status(ctx, tomorrow, "ready").ok


def test_ctrl_plus_minus_and_zero_zoom_the_hours(
    qtbot: QtBot, ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    ana = book(ctx)
    agenda = open_agenda(TUESDAY)
    item = agenda.appointment_item(ana)
    assert item is not None
    normal = item.rect().height()
    control = Qt.KeyboardModifier.ControlModifier

    qtbot.keyClick(agenda.view, Qt.Key.Key_Equal, control)
    qtbot.keyClick(agenda.view, Qt.Key.Key_Equal, control)
    bigger = agenda.appointment_item(ana)
    assert bigger is not None and bigger.rect().height() == pytest.approx(normal * 1.5)
    assert agenda.zoom == 1.5
    qtbot.keyClick(agenda.view, Qt.Key.Key_Minus, control)
    for _ in range(4):
        qtbot.keyClick(agenda.view, Qt.Key.Key_Minus, control)
    assert agenda.zoom == 0.5  # the smallest level, not below
    smaller = agenda.appointment_item(ana)
    assert smaller is not None and smaller.rect().height() < normal
    qtbot.keyClick(agenda.view, Qt.Key.Key_0, control)
    back = agenda.appointment_item(ana)
    assert agenda.zoom == 1.0 and back is not None
    assert back.rect().height() == pytest.approx(normal)


def test_a_closed_weekend_is_left_out_of_the_week_unless_something_is_booked_on_it(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    agenda = open_agenda(MONDAY, days=7)
    geometry = agenda.geometry_
    assert geometry is not None
    assert sorted(geometry.axes) == [MONDAY + timedelta(days=n) for n in range(5)]
    assert len(geometry.columns) == 5 * 2  # two providers, Monday to Friday

    # An appointment on Saturday (booked with extra hours elsewhere) brings the day back.
    pulled(ctx, TUESDAY_9 + timedelta(days=4), provider=DR_RUIZ)
    agenda = open_agenda(MONDAY, days=7)
    assert agenda.geometry_ is not None and SATURDAY in agenda.geometry_.axes
    assert date(2025, 3, 9) not in agenda.geometry_.axes
    day = open_agenda(date(2025, 3, 9))  # a one-day view always shows its day
    assert day.geometry_ is not None and list(day.geometry_.axes) == [date(2025, 3, 9)]


def test_a_change_from_another_desk_is_outlined_briefly_and_the_desks_own_is_not(
    qtbot: QtBot, ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    agenda = open_agenda(TUESDAY)
    ids, changes = pulled(ctx, TUESDAY_9 + timedelta(hours=2))
    with qtbot.waitSignal(agenda.sceneUpdated, timeout=5000):
        assert agenda.request_refresh(changes)
    assert agenda.highlight.highlighted() == {ids[0]}
    qtbot.waitUntil(lambda: not agenda.highlight.highlighted(), timeout=HIGHLIGHT_MS * 4)

    mine = book(ctx, start=TUESDAY_9 + timedelta(hours=3))  # pending on this desk
    agenda.refresh()
    _, more = pulled(ctx, TUESDAY_9 + timedelta(hours=4))
    with qtbot.waitSignal(agenda.sceneUpdated, timeout=5000):
        agenda.request_refresh(more)
    assert mine not in agenda.highlight.highlighted()
