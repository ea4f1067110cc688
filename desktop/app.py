"""``clinicdesk`` (or ``clinicdesk run``): the desk as a receptionist starts it every morning.

First run: the enrollment screen (server address, one-time code, recovery
passphrase) creates the encrypted store, redeems the code and downloads the
clinic's data with progress. Every run after that opens the store with the OS
key store. Then the sign-in screen (online, or offline against the verifier
cached at the last online sign-in), then the main window with its sync worker.
Nothing here stores patient data outside the encrypted store.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import requests
from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from sqlalchemy import select

from desktop.config import DeskConfig, DeskConfigError, load_config
from desktop.services.context import DeskContext
from desktop.services.session import (
    ServerCheck,
    ServerIdentity,
    SessionSettings,
    SignedInUser,
    SignInService,
)
from desktop.store.engine import Store
from desktop.store.errors import StoreEnvironmentError, StoreError
from desktop.store.keys import create_store, open_store
from desktop.store.models import ClinicRow
from desktop.sync.client import SyncClient
from desktop.sync.worker import SyncThread, SyncWorker
from desktop.ui.enrollment import EnrollmentScreen
from desktop.ui.gc_pump import collect_in_ui_thread
from desktop.ui.main_window import MainWindow
from desktop.ui.sign_in import SignInScreen
from desktop.ui.text import _

Clock = Callable[[], datetime]


def desk_clinics(store: Store) -> tuple[str, list[tuple[str, str, str]]]:
    """The organization id and the (id, name, locale) of every clinic the desk mirrors."""
    with store.session() as session:
        rows = session.scalars(select(ClinicRow).order_by(ClinicRow.name)).all()
        return (rows[0].organization_id if rows else "",
                [(row.id, row.name, row.locale) for row in rows])


class DeskStart(QObject):
    """Walks through enrollment (first run), sign-in and the main window."""

    def __init__(self, config: DeskConfig, clock: Clock = lambda: datetime.now(UTC)) -> None:
        super().__init__()
        self.config = config
        self._clock = clock
        self.store: Store | None = None
        self.screen: QWidget | None = None
        self.window: MainWindow | None = None
        self.sync: SyncThread | None = None
        self._sessions: SignInService | None = None
        self._server_check: ServerCheck | None = None

    def start(self) -> bool:
        """Show the first screen; False when the desk cannot start (already explained)."""
        if not self.config.is_enrolled or not self.config.database_path.exists():
            screen = EnrollmentScreen(self._enroll)
            screen.enrolled.connect(self._show_sign_in)
            self._show_screen(screen, _("Connect this desk"))
            return True
        try:
            self.store = open_store(self.config.database_path)
        except StoreError as error:
            reason = (error.localized(_) if isinstance(error, StoreEnvironmentError)
                      else str(error))
            QMessageBox.critical(None, _("ClinicDesk"), _(
                "The desk's data cannot be opened: {reason}").format(reason=reason))
            return False
        self._show_sign_in()
        return True

    def _enroll(self, url: str, code: str, passphrase: str,
                progress: Callable[[int, int], None]) -> None:
        """Runs on the enrollment worker thread: create or reopen the store, enroll, download."""
        path = self.config.database_path
        if self.store is None:
            self.store = (open_store(path, recovery_passphrase=passphrase) if path.exists()
                          else create_store(path, passphrase))
        client = SyncClient(self.store, self.config, requests.Session())
        client.enroll(url, code, progress, name=socket.gethostname())
        self.config = client.config

    def _client(self) -> SyncClient:
        assert self.store is not None
        return SyncClient(self.store, self.config, requests.Session())

    @Slot()
    def _show_sign_in(self) -> None:
        assert self.store is not None
        organization, _clinics = desk_clinics(self.store)
        checker = self._client()  # its own HTTP session: the sync worker has another

        def server_check(email: str, password: str, totp: str | None) -> ServerIdentity | None:
            return checker.check_credentials(organization, email, password, totp)

        self._server_check = server_check
        self._sessions = SignInService(self.store, self._clock,
                                       SessionSettings.from_config(self.config))
        screen = SignInScreen(self._sessions, server_check)
        screen.signedIn.connect(self._open_window)
        self._show_screen(screen, _("Sign in to ClinicDesk"))

    @Slot(object)
    def _open_window(self, user: SignedInUser) -> None:
        assert self.store is not None and self._sessions is not None
        _organization, clinics = desk_clinics(self.store)
        if not clinics:
            QMessageBox.warning(None, _("ClinicDesk"), _(
                "This desk has no clinic yet. Ask your administrator to set one up."))
            return
        context = DeskContext(self.store, self._sessions, self._clock)
        window = MainWindow(context, clinics, self._clock().date(), socket.gethostname(),
                            server_check=self._server_check)
        client = self._client()
        worker = SyncWorker(client, listener_factory=client.poke_listener)
        worker.stateChanged.connect(window.on_sync_state)
        worker.dataChanged.connect(window.on_data_changed)
        worker.conflictsArrived.connect(lambda _count: window.refresh_conflicts())
        self.sync = SyncThread(worker)
        self.sync.start()
        window.localChange.connect(self.sync.request_sync)
        if self.screen is not None:
            self.screen.close()
            self.screen = None
        self.window = window
        window.show()

    def _show_screen(self, screen: QWidget, title: str) -> None:
        if self.screen is not None:
            self.screen.close()
        screen.setWindowTitle(title)
        screen.resize(520, 420)
        self.screen = screen
        screen.show()

    def shutdown(self) -> None:
        if self.sync is not None:
            self.sync.shutdown()
        if self.store is not None:
            self.store.close()


def run_desk() -> int:
    """Start the desk application; returns the process exit code."""
    app = QApplication.instance() or QApplication(sys.argv)
    collect_in_ui_thread(app)
    try:
        config = load_config()
    except DeskConfigError as error:
        QMessageBox.critical(None, "ClinicDesk", str(error))
        return 1
    flow = DeskStart(config)
    if not flow.start():
        return 1
    try:
        return app.exec()
    finally:
        flow.shutdown()
