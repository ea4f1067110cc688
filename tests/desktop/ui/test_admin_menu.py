"""The main window's Administration menu: screens open with the server and the permission
they need, and the two-step enrolment is offered to every signed-in user."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop.services.context import DeskContext
from desktop.ui.admin import kinds
from desktop.ui.admin.record_editor import RecordEditorDialog
from desktop.ui.main_window import MainWindow
from desktop.ui.two_step_dialog import TwoStepDialog
from tests.desktop.services.conftest import CLINIC
from tests.desktop.ui.admin_server import LiveAdmin, live_admin


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveAdmin]:
    with live_admin(tmp_path) as running:
        yield running


@pytest.fixture
def window(qtbot: QtBot, ctx: DeskContext, tmp_path: Path) -> MainWindow:
    settings = QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat)
    made = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], date(2025, 3, 3), "desk-1",
                      settings=settings)
    qtbot.addWidget(made)
    made.show()
    return made


def enabled(window: MainWindow) -> dict[str, bool]:
    window.admin_menu.menu.aboutToShow.emit()
    return {key: action.isEnabled() for key, action in window.admin_menu.actions.items()}


def test_without_the_server_every_screen_is_greyed_out(window: MainWindow) -> None:
    assert window.admin_menu.menu.title() == "&Administration"
    assert not any(enabled(window).values())
    assert window.admin_menu.open_kind(kinds.CLINICS) is None


def test_a_configuration_administrator_opens_the_screens_of_their_permission(
        window: MainWindow, live: LiveAdmin) -> None:
    window.admin_menu.set_server(live.service, live.two_step())
    shown = enabled(window)
    # The desk's test user holds admin:config but not admin:users.
    assert shown["clinics"] and shown["weekly_schedules"] and shown["holidays"]
    assert not shown["users"] and not shown["roles"]
    assert window.admin_menu.two_step_action.isEnabled()
    dialog = window.admin_menu.open_kind(kinds.HOLIDAYS)
    assert isinstance(dialog, RecordEditorDialog) and dialog.isVisible()
    clinic_box = dialog.editors[0].widget
    assert clinic_box.findText("Retiro") >= 0  # type: ignore[attr-defined]
    two_step = window.admin_menu.open_two_step()
    assert isinstance(two_step, TwoStepDialog) and two_step.email.text()
