"""Texts are not cut off: the details panel in Spanish, the lock screen's message,
the signed-in line without the e-mail twice; a late cancellation is flagged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.ui.main_window import MainWindow
from desktop.ui.text import set_language
from scheduling.commands import Policy
from tests.desktop.services.conftest import (
    ANA,
    CHECKUP,
    CLINIC,
    DR_RUIZ,
    EMAIL,
    MONDAY_8,
    edit_checkup,
)

MONDAY = date(2025, 3, 3)


def clipped(root: QWidget) -> list[str]:
    """The visible labels of ``root`` whose text does not fit their size."""
    cut = []
    for label in root.findChildren(QLabel):
        if not label.isVisible() or not label.text():
            continue
        if label.wordWrap():
            if label.heightForWidth(label.width()) > label.height() + 1:
                cut.append(label.text())
        elif label.sizeHint().width() > label.width() + 1:
            cut.append(label.text())
    return cut


@pytest.fixture
def window(qtbot: QtBot, ctx: DeskContext, tmp_path: Path) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat)
    made = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], MONDAY, "desk-1", settings=settings)
    qtbot.addWidget(made)
    made.resize(1280, 800)
    made.show()
    yield made


def test_the_details_panel_in_spanish_shows_every_text_whole(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    made = booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                        provider_id=DR_RUIZ, start=MONDAY_8 + timedelta(hours=3),
                        notes="Trae las radiografías de la última revisión")
    assert made.appointment is not None
    set_language("es")
    window.open_appointment(made.appointment.id)
    QApplication.processEvents()
    panel = window.details_panel
    assert any("Sincronización" in t.text() for t in panel.titles)
    qtbot.waitUntil(lambda: not clipped(panel), timeout=2000)


def test_the_lock_screen_message_is_whole_and_the_email_said_once(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    window.lock_overlay.lock()
    overlay = window.lock_overlay
    assert overlay.who.text().count(EMAIL) == 1
    overlay.password.setText("wrong")
    overlay.unlock()
    set_language("es")
    overlay.password.setText("wrong again")
    overlay.unlock()
    QApplication.processEvents()
    assert overlay.message.text()
    qtbot.waitUntil(lambda: not clipped(overlay), timeout=2000)


def test_a_late_cancellation_is_flagged_in_the_details(
    qtbot: QtBot, ctx: DeskContext, tmp_path: Path
) -> None:
    edit_checkup(ctx, cancellation_period_seconds=24 * 3600)
    ctx = replace(ctx, policy=Policy(late_cancellation_fee=Decimal(25)))
    made = booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                        provider_id=DR_RUIZ, start=MONDAY_8 + timedelta(hours=6))
    assert made.appointment is not None
    result = booking.cancel(ctx, made.appointment.id, "ill")
    assert result.ok and result.notices == ("LATE_CANCELLATION",)
    settings = QSettings(str(tmp_path / "d.ini"), QSettings.Format.IniFormat)
    window = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], MONDAY, "desk-1", settings=settings)
    qtbot.addWidget(window)

    window.open_appointment(made.appointment.id)

    assert window.details_panel.values[5].text() == "cancelled — late cancellation, fee 25"


def test_a_user_named_by_their_email_is_named_once_on_the_lock_screen(
    qtbot: QtBot, ctx: DeskContext, tmp_path: Path
) -> None:
    from desktop.services.session import ServerIdentity
    from tests.desktop.services.conftest import ALL_PERMISSIONS, ORG, PASSWORD, USER_ID

    def named_by_email(email: str, password: str, totp: str | None) -> ServerIdentity:
        return ServerIdentity(USER_ID, ORG, EMAIL, ("receptionist",), ALL_PERMISSIONS)

    assert ctx.sessions.sign_in_online(EMAIL, PASSWORD, None, named_by_email).ok
    settings = QSettings(str(tmp_path / "d.ini"), QSettings.Format.IniFormat)
    window = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], MONDAY, "desk-1", settings=settings)
    qtbot.addWidget(window)
    window.lock_overlay.lock()
    assert window.lock_overlay.who.text() == f"Signed in: {EMAIL}"
