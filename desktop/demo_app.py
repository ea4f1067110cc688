"""The windows of ``clinicdesk demo``: one main window and sync worker per demo desk.

The server child was launched before this module was imported
(:func:`desktop.demo_server.launch`); a splash screen shows at once while the
desks connect, then the main windows replace it.

Each window keeps its layout in a settings file of the demo folder, so two demo
desks do not overwrite each other's (or the user's own) preferences.
"""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import requests
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from desktop import demo
from desktop.assets import app_icon
from desktop.demo_server import ServerLaunch
from desktop.services.followups import FollowUpsService
from desktop.services.notifications import NotificationsService
from desktop.services.outages import OutagesService
from desktop.services.server_call import signed_in_call
from desktop.services.session import ServerIdentity
from desktop.services.telemedicine import TelemedicineService
from desktop.services.video_visits import VideoVisitsService
from desktop.sync.client import SyncClient
from desktop.sync.worker import SyncThread, SyncWorker
from desktop.ui.demo_splash import DemoSplash, demo_hint
from desktop.ui.gc_pump import collect_in_ui_thread
from desktop.ui.main_window import MainWindow

DEMO_CLINICS = [
    ("clinic-riverside", "Riverside Family Clinic", "en_US"),
    ("clinic-retiro", "Clínica Retiro", "es_ES"),
]


def run_window_demo(launched: ServerLaunch, screenshot_dir: Path | None = None) -> int:
    """Show a splash, connect the launched demo's desks, open their windows; cleans up."""
    app = cast(QApplication, QApplication.instance() or QApplication(sys.argv))
    collect_in_ui_thread(app)
    app.setWindowIcon(app_icon())
    splash = DemoSplash(steps=2 + launched.desks,
                        hint=demo_hint(demo.RECEPTIONIST, demo.DEMO_PASSWORD))
    splash.show()
    progress = splash.advance  # repaints while the desks connect
    progress()
    folder = launched.folder
    # SIGTERM (a closed terminal session, a service manager, a benchmark) must not orphan the
    # server child: while connecting it unwinds through the clean-up below, later it quits.
    signal.signal(signal.SIGTERM, _exit_now)
    try:
        environment = demo.connect(launched, progress)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        windows: list[MainWindow] = []
        threads: list[SyncThread] = []
        try:
            for index, desk in enumerate(environment.desks):
                settings = QSettings(str(Path(folder) / desk.name / "window.ini"),
                                     QSettings.Format.IniFormat)
                window = MainWindow(desk.context, DEMO_CLINICS, datetime.now(UTC).date(),
                                    desk.name, settings=settings,
                                    server_check=_server_check(desk))
                worker = SyncWorker(desk.client, listener_factory=desk.client.poke_listener)
                worker.stateChanged.connect(window.on_sync_state)
                worker.changesArrived.connect(window.on_changes,
                                              Qt.ConnectionType.QueuedConnection)
                worker.conflictsArrived.connect(lambda _count, w=window: w.refresh_conflicts())
                worker.stateChanged.connect(window.notifications.on_sync_state)
                window.notifications.set_service(NotificationsService(
                    signed_in_call(desk.client.sibling(), desk.context.sessions)))
                care_call = signed_in_call(desk.client.sibling(), desk.context.sessions)
                window.care.set_service(FollowUpsService(care_call), OutagesService(care_call))
                window.details_panel.telemedicine.set_service(TelemedicineService(
                    signed_in_call(desk.client.sibling(), desk.context.sessions)))
                window.video.set_service(VideoVisitsService(care_call))
                thread = SyncThread(worker)
                window.localChange.connect(thread.request_sync)
                thread.start()
                window.set_sign_in_hint(lambda: demo_hint(demo.RECEPTIONIST, demo.DEMO_PASSWORD))
                window.move(40 + 80 * index, 40 + 60 * index)  # both desks in sight
                window.show()
                windows.append(window)
                threads.append(thread)
            # The moment the agenda is usable (bench/cold_start.py measures up to here).
            print(f"ClinicDesk demo ready: {len(windows)} desk(s) at {environment.server_url}",
                  flush=True)
            if screenshot_dir is not None:
                screenshot_dir.mkdir(parents=True, exist_ok=True)

                def capture() -> None:
                    for index, window in enumerate(windows):
                        window.grab().save(str(screenshot_dir / f"demo-desk-{index + 1}.png"))
                    app.quit()

                QTimer.singleShot(1500, capture)
            splash.close()
            signal.signal(signal.SIGTERM, lambda *_args: app.quit())
            return app.exec()
        finally:
            for thread in threads:
                thread.shutdown()
            environment.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _exit_now(*_args: object) -> None:
    raise SystemExit(143)


def start_with_splash(folder: Path, desks: int,
                      splash: DemoSplash | None = None) -> demo.DemoEnvironment:
    """Start the demo environment with a splash on screen until it is ready."""
    splash = splash or DemoSplash(steps=1 + desks,
                                  hint=demo_hint(demo.RECEPTIONIST, demo.DEMO_PASSWORD))
    splash.show()
    QApplication.processEvents()
    try:
        environment = demo.start(folder, desks, progress=splash.advance)
    finally:
        splash.close()
    return environment


def _server_check(desk: demo.DemoDesk) -> Callable[[str, str, str | None], ServerIdentity | None]:
    """The online password check for signing in again after a lock (its own HTTP session,
    since the sync worker uses the desk's client on another thread)."""
    checker = SyncClient(desk.store, desk.client.config, requests.Session())

    def check(email: str, password: str, totp: str | None) -> ServerIdentity | None:
        return checker.check_credentials("demo", email, password, totp)

    return check
