"""The main window while a sync brings changes: the agenda redraws once, in place, kept scrolled."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop.services.context import DeskContext
from desktop.ui.main_window import MainWindow
from tests.desktop.services.conftest import CLINIC, MONDAY_8
from tests.desktop.ui.agenda.test_sync_updates import pulled

MONDAY = date(2025, 3, 3)


def test_sync_passes_redraw_the_shown_week_once_and_keep_it_scrolled(
    qtbot: QtBot, ctx: DeskContext, tmp_path: Path
) -> None:
    settings = QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat)
    window = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], MONDAY, "desk-1",
                        settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.set_days(7)
    agenda = window.agenda
    bar = agenda.view.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    scrolled = bar.value()

    far, elsewhere = pulled(ctx, MONDAY_8 + timedelta(days=14))  # another week
    window.on_changes(elsewhere)
    assert not agenda.refresh_pending
    first, changes = pulled(ctx, MONDAY_8 + timedelta(hours=3))
    window.on_changes(changes)
    second, more = pulled(ctx, MONDAY_8 + timedelta(days=2, hours=3))
    window.on_changes(more)
    qtbot.waitUntil(lambda: not agenda.refresh_pending, timeout=5000)

    assert agenda.sync_redraws == 1
    assert agenda.appointment_item(first[0]) is not None
    assert agenda.appointment_item(second[0]) is not None
    assert agenda.appointment_item(far[0]) is None
    assert bar.value() == scrolled
