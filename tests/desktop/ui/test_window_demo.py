"""The demo says its password where it is needed, does not lock after 5 idle minutes,
and shows progress while its real server prepares."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop import demo
from desktop.demo_app import DEMO_CLINICS, start_with_splash
from desktop.ui.demo_splash import DemoSplash, demo_hint
from desktop.ui.main_window import MainWindow
from desktop.ui.text import set_language


def test_the_demo_shows_progress_while_the_server_prepares_and_does_not_lock_soon(
    qtbot: QtBot, tmp_path: Path
) -> None:
    splash = DemoSplash(steps=2, hint=demo_hint(demo.RECEPTIONIST, demo.DEMO_PASSWORD))
    qtbot.addWidget(splash)

    environment = start_with_splash(tmp_path, 1, splash)
    try:
        assert splash.seen_at_steps and all(splash.seen_at_steps)  # always on screen
        assert not splash.isVisible()  # and gone once the desks are ready
        assert demo.DEMO_PASSWORD in splash.hint.text()
        desk = environment.desks[0]
        clock_now = desk.context.now()
        sessions = desk.context.sessions
        assert not sessions.is_locked()
        # Thirty idle minutes later a demo desk is still open (a real desk locks at 5).
        assert not sessions.is_locked(clock_now + timedelta(minutes=30))

        settings = QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat)
        window = MainWindow(desk.context, DEMO_CLINICS, clock_now.date(), desk.name,
                            settings=settings)
        qtbot.addWidget(window)
        window.set_sign_in_hint(lambda: demo_hint(demo.RECEPTIONIST, demo.DEMO_PASSWORD))
        window.show()
        window.lock_overlay.lock()
        assert window.lock_overlay.hint.isVisible()
        assert demo.DEMO_PASSWORD in window.lock_overlay.hint.text()
        set_language("es")
        assert window.lock_overlay.hint.text().startswith("Demo: inicie sesión")
        window.sign_out()
        screen = window.centralWidget()
        assert demo.DEMO_PASSWORD in screen.hint.text()  # type: ignore[attr-defined]
    finally:
        environment.close()
