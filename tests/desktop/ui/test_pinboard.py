"""Issue 18: a pinboard that holds the appointment itself (Open Dental): "Move to
pinboard" puts the appointment there, a drag onto the agenda moves that same
appointment (judged like any move), and it leaves the pinboard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.ui.agenda import WAITLIST_MIME
from desktop.ui.main_window import MainWindow
from tests.desktop.services.conftest import ANA, BEN, CHECKUP, CLINIC, DR_LOPEZ, DR_RUIZ, TUESDAY_9
from tests.desktop.ui.agenda.conftest import TUESDAY, point_at, row, snapshot

MONDAY = date(2025, 3, 3)


@pytest.fixture
def window(qtbot: QtBot, ctx: DeskContext, tmp_path: Path) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat)
    made = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], MONDAY, "desk-1", settings=settings)
    qtbot.addWidget(made)
    made.show()
    made.go_to(TUESDAY)
    yield made


def _book(ctx: DeskContext, patient: str = ANA, start=TUESDAY_9, provider: str = DR_RUIZ) -> str:  # type: ignore[no-untyped-def]
    result = booking.book(ctx, clinic_id=CLINIC, patient_id=patient,
                          appointment_type_id=CHECKUP, provider_id=provider, start=start)
    assert result.ok and result.appointment is not None
    return result.appointment.id


def _drop(window: MainWindow, payload: bytes, at_provider: str, when) -> bool:  # type: ignore[no-untyped-def]
    """Drag ``payload`` (the pinboard's own mime data) onto the agenda and drop it."""
    agenda = window.agenda
    at = point_at(agenda, TUESDAY, at_provider, when)
    data = window.pinboard.model.mimeData([window.pinboard.model.index(0)])
    assert bytes(data.data(WAITLIST_MIME).data()) == payload
    viewport = agenda.view.viewport()
    copy = Qt.DropAction.CopyAction
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(at, copy, data, left, none)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(viewport, QDragMoveEvent(at, copy, data, left, none))
    verdict = agenda.view.last_judgement
    QApplication.sendEvent(viewport, QDropEvent(QPointF(at), copy, data, left, none))
    return verdict is not None and verdict.ok


def test_move_to_pinboard_holds_the_appointment_and_a_drop_moves_that_same_appointment(
    window: MainWindow, ctx: DeskContext
) -> None:
    ana = _book(ctx)
    window.agenda.refresh()
    menu = window.agenda.context_menu(ana)
    assert menu is not None
    next(a for a in menu.actions() if a.data() == "pinboard").trigger()

    panel = window.pinboard
    assert panel.dock is not None and panel.dock.isVisible()
    assert [d.appointment_id for d in panel.model.pinned] == [ana]
    shown = panel.model.data(panel.model.index(0))
    assert isinstance(shown, str) and shown.startswith("Ana García · Check-up · 30 min")
    assert row(ctx, ana).start.replace(tzinfo=UTC) == TUESDAY_9  # still booked meanwhile
    rows_before, pending_before = snapshot(ctx)

    eleven = TUESDAY_9 + timedelta(hours=2)
    assert _drop(window, f"pin:30:{ana}".encode(), DR_LOPEZ, eleven)

    moved = row(ctx, ana)
    assert (moved.start.replace(tzinfo=UTC), moved.provider_id) == (eleven, DR_LOPEZ)
    rows_after, pending_after = snapshot(ctx)
    assert len(rows_after) == len(rows_before)  # the same appointment, no new one
    assert pending_after == pending_before + 1  # one move queued for the server
    assert panel.model.pinned == []


def test_a_drop_the_rules_refuse_keeps_it_on_the_pinboard_and_in_its_old_place(
    window: MainWindow, ctx: DeskContext
) -> None:
    ana = _book(ctx)
    _book(ctx, BEN, TUESDAY_9 + timedelta(hours=2), DR_LOPEZ)
    window.agenda.refresh()
    window.agenda.pinboardRequested.emit(ana)

    assert not _drop(window, f"pin:30:{ana}".encode(), DR_LOPEZ,
                     TUESDAY_9 + timedelta(hours=2))

    assert row(ctx, ana).start.replace(tzinfo=UTC) == TUESDAY_9
    assert [d.appointment_id for d in window.pinboard.model.pinned] == [ana]
    window.pinboard.view.setCurrentIndex(window.pinboard.model.index(0))
    window.pinboard.remove_button.click()
    assert window.pinboard.model.pinned == []
    assert row(ctx, ana).start.replace(tzinfo=UTC) == TUESDAY_9  # Remove keeps its time


def test_the_pinboard_hides_the_patients_while_the_desk_is_locked(
    window: MainWindow, ctx: DeskContext
) -> None:
    ana = _book(ctx)
    window.agenda.pinboardRequested.emit(ana)
    window.lock_overlay.lock()
    shown = window.pinboard.model.data(window.pinboard.model.index(0))
    assert isinstance(shown, str) and "Ana" not in shown
    assert not window.pinboard.model.mimeData([window.pinboard.model.index(0)]).hasFormat(
        WAITLIST_MIME)
