"""The today board groups the day's appointments by where the patient is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.services import agenda, booking
from desktop.services.context import DeskContext
from desktop.services.today import BoardItem
from desktop.ui.text import set_language
from desktop.ui.today_board import TodayBoard
from desktop.ui.today_model import wait_time
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CARLA,
    CHECKUP,
    CLINIC,
    DR_LOPEZ,
    DR_RUIZ,
    MONDAY_8,
    FakeClock,
    edit_checkup,
)

ModelTester = Callable[[QAbstractItemModel], None]
MONDAY = date(2025, 3, 3)


def _walk(ctx: DeskContext, clock: FakeClock, delta: timedelta) -> None:
    """Let time pass at a busy desk (activity every few minutes, so it does not lock)."""
    end = clock.now + delta
    while clock.now < end:
        clock.advance(min(timedelta(minutes=4), end - clock.now))
        ctx.sessions.touch()


def _book(ctx: DeskContext, patient: str, hour: float, provider: str = DR_RUIZ) -> str:
    result = booking.book(ctx, clinic_id=CLINIC, patient_id=patient, appointment_type_id=CHECKUP,
                          provider_id=provider, start=MONDAY_8 + timedelta(hours=hour - 8))
    assert result.appointment is not None, result.refusal
    return result.appointment.id


def test_the_board_groups_todays_appointments_by_state_and_shows_the_wait(
    qtbot: QtBot, ctx: DeskContext, clock: FakeClock, model_tester: ModelTester
) -> None:
    expected = _book(ctx, ANA, 12)
    waiting = _book(ctx, BEN, 9)
    in_room = _book(ctx, CARLA, 9, DR_LOPEZ)
    missed = _book(ctx, ANA, 10, DR_LOPEZ)
    _walk(ctx, clock, timedelta(hours=2, minutes=30))  # 10:30
    assert booking.change_status(ctx, waiting, "arrived").ok
    assert booking.change_status(ctx, in_room, "arrived").ok
    assert booking.change_status(ctx, in_room, "in_progress").ok
    assert booking.change_status(ctx, missed, "no_show").ok
    _walk(ctx, clock, timedelta(minutes=12))

    board = TodayBoard(ctx, CLINIC)
    qtbot.addWidget(board)
    model_tester(board.model)
    model_tester(board.utilization_model)

    assert board.day == MONDAY
    assert board.model.names_in("expected") == ["Ana García"]
    assert board.model.names_in("waiting") == ["Ben Smith"]
    assert board.model.names_in("in_room") == ["Carla Núñez"]
    assert board.model.names_in("completed") == []
    assert board.model.names_in("no_show") == ["Ana García"]
    assert expected  # booked ahead, still expected
    waiting_group = board.model.index(board.model.group_keys().index("waiting"), 0)
    assert waiting_group.data() == "Arrived, waiting (1)"
    assert board.model.index(0, 4, waiting_group).data().startswith("12 min")
    assert board.model.rowCount(
        board.model.index(board.model.group_keys().index("completed"), 0)) == 0
    assert [board.utilization_model.index(r, 0).data()
            for r in range(board.utilization_model.rowCount())] == ["Dr López", "Dr Ruiz"]
    per_provider = [[board.utilization_model.index(r, c).data() for c in range(5)]
                    for r in range(board.utilization_model.rowCount())]
    # provider, appointments, seen (arrived / in progress / completed), no-shows, cancelled
    assert per_provider == [["Dr López", "2", "1", "1", "0"], ["Dr Ruiz", "2", "1", "0", "0"]]
    assert board.exception_labels[0].text() == "0 conflicts to look at"
    assert board.exception_labels[3].text() == "8 changes not yet sent to the server"
    assert board.stat_values[0].text() == "4"
    assert board.stat_values[2].text().replace("\xa0", " ") in ("33%", "33 %")  # 1 of 3 known
    assert board.stat_values[3].text() == "booked: 1, arrived: 1, in progress: 1, no-show: 1"


def test_the_wait_counts_from_the_start_when_the_arrival_time_is_unknown(
    ctx: DeskContext,
) -> None:
    _book(ctx, ANA, 9)
    [item] = agenda.day_view(ctx, CLINIC, MONDAY).items
    assert wait_time(BoardItem(item, None), item.start + timedelta(minutes=7)) == timedelta(
        minutes=7)


def test_patients_not_checked_in_after_their_start_are_listed_late_in_red(
    qtbot: QtBot, ctx: DeskContext, clock: FakeClock
) -> None:
    _book(ctx, ANA, 9)
    _book(ctx, BEN, 9, DR_LOPEZ)
    _book(ctx, CARLA, 16)
    _walk(ctx, clock, timedelta(hours=1, minutes=25))  # 09:25
    ben_arrived = [r for r in agenda.range_view(ctx, CLINIC, MONDAY, MONDAY).items
                   if r.patient_id == BEN]
    assert booking.change_status(ctx, ben_arrived[0].appointment_id, "arrived").ok

    board = TodayBoard(ctx, CLINIC)
    qtbot.addWidget(board)

    assert board.model.names_in("late") == ["Ana García"]
    assert board.model.names_in("expected") == ["Carla Núñez"]
    late = board.model.index(0, 0)
    assert late.data() == "Late, not arrived yet (1)"
    assert board.model.index(0, 4, late).data() == "late by 25 mins"
    assert board.model.index(0, 1, late).data(Qt.ItemDataRole.ForegroundRole) is not None


def test_the_board_refreshes_by_itself(
    qtbot: QtBot, ctx: DeskContext, clock: FakeClock
) -> None:
    board = TodayBoard(ctx, CLINIC)
    qtbot.addWidget(board)
    assert board.auto_refresh.isActive() and board.auto_refresh.interval() <= 60_000
    assert board.model.names_in("expected") == []
    _book(ctx, ANA, 12)  # e.g. another desk's booking arrived by sync

    board.auto_refresh.timeout.emit()

    assert board.model.names_in("expected") == ["Ana García"]


def test_a_narrow_board_in_spanish_cuts_no_patient_name_and_names_types_in_spanish(
    qtbot: QtBot, ctx: DeskContext, clock: FakeClock
) -> None:
    edit_checkup(ctx, names=[["es", "Revisión general"]])
    for hour, patient in ((10, ANA), (11, BEN), (15, CARLA)):
        _book(ctx, patient, hour)
    set_language("es")
    board = TodayBoard(ctx, CLINIC)
    qtbot.addWidget(board)
    board.resize(480, 500)  # far narrower than the columns. words
    board.show()
    qtbot.waitExposed(board)
    QApplication.processEvents()

    header, metrics = board.tree.header(), board.tree.fontMetrics()
    for name in ("Ana García", "Carla Núñez"):  # the patient column holds every name whole
        assert header.sectionSize(1) > metrics.horizontalAdvance(name), name
    for column in range(board.model.columnCount()):
        assert header.sectionSize(column) >= header.sectionSizeHint(column), column
    assert "Revisión general: 3" in board.stat_values[4].text()
