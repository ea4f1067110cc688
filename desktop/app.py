"""``clinicdesk`` (or ``clinicdesk run``): the desk as a receptionist starts it every morning.

First run: the enrollment screen (server address, one-time code, recovery
passphrase) creates the encrypted store, redeems the code and downloads the
clinic's data with progress. Every run after that opens the store with the OS
key store. Then the sign-in screen (online, or offline against the verifier
cached at the last online sign-in), then the main window with its sync worker.
When the key store cannot give the key (cleared, refused, another computer),
the recovery screen asks for the administrator's passphrase instead. One desk
process per data folder (a lock), a rotating log file in the data folder, and
the operating system's certificate store for HTTPS (``truststore``).
Nothing here stores patient data outside the encrypted store.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import requests
from keyring.backend import KeyringBackend
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from desktop.assets import app_icon
from desktop.config import DeskConfig, DeskConfigError, load_config
from desktop.logs import configure_logging
from desktop.services.admin import AdminService, TwoStepService
from desktop.services.context import DeskContext
from desktop.services.feeds import FeedsService
from desktop.services.financials import FinancialsService
from desktop.services.followups import FollowUpsService
from desktop.services.notifications import NotificationsService
from desktop.services.offers import OffersService
from desktop.services.outages import OutagesService
from desktop.services.server_call import ServerCall, signed_in_call
from desktop.services.session import (
    ServerCheck,
    ServerIdentity,
    SessionSettings,
    SignedInUser,
    SignInService,
)
from desktop.services.telemedicine import TelemedicineService
from desktop.services.video_visits import VideoVisitsService
from desktop.services.visits import VisitsService
from desktop.store.engine import Store
from desktop.store.errors import (
    CorruptStoreError,
    MigrationFailed,
    StoreEnvironmentError,
    StoreError,
)
from desktop.store.files import DataFolderLock, DeskAlreadyRunning
from desktop.store.keys import create_store, open_store
from desktop.store.models import ClinicRow
from desktop.sync.client import SyncClient
from desktop.sync.worker import SyncThread, SyncWorker
from desktop.ui.enrollment import EnrollmentScreen
from desktop.ui.gc_pump import collect_in_ui_thread
from desktop.ui.main_window import MainWindow
from desktop.ui.recovery import KEY_STORE_PROBLEMS, RecoveryScreen, key_store_problem
from desktop.ui.server_read import courier
from desktop.ui.sign_in import SignInScreen
from desktop.ui.text import _
from desktop.ui.two_step_dialog import TwoStepDialog
from desktop.version import desk_version

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def desk_clinics(store: Store) -> tuple[str, list[tuple[str, str, str]]]:
    """The organization id and the (id, name, locale) of every clinic the desk mirrors."""
    with store.session() as session:
        rows = session.scalars(select(ClinicRow).order_by(ClinicRow.name)).all()
        return (rows[0].organization_id if rows else "",
                [(row.id, row.name, row.locale) for row in rows])


def opening_problem(error: StoreError) -> str:
    """Why the store did not open, for a message box (the recovery screen handles key stores)."""
    if isinstance(error, MigrationFailed):
        return _("This version of ClinicDesk could not update the desk's data, so it left the "
                 "data exactly as it was before the update. Start the previous version, or "
                 "contact support and send the log file from the desk's data folder.")
    reason = error.localized(_) if isinstance(error, StoreEnvironmentError) else str(error)
    return _("The desk's data cannot be opened: {reason}").format(reason=reason)


class DeskStart(QObject):
    """Walks through enrollment (first run), unlock if needed, sign-in and the main window.

    Signal ``windowOpened(MainWindow)`` once the main window shows (the self-test waits on it).
    """

    windowOpened = Signal(object)
    _damage = Signal(str)  # the background integrity check found damage (any thread)

    def __init__(self, config: DeskConfig, clock: Clock = lambda: datetime.now(UTC), *,
                 keyring_backend: KeyringBackend | None = None) -> None:
        super().__init__()
        self.config = config
        self._clock = clock
        self._keyring = keyring_backend
        self.store: Store | None = None
        self.screen: QWidget | None = None
        self.window: MainWindow | None = None
        self.sync: SyncThread | None = None
        self._sessions: SignInService | None = None
        self._server_check: ServerCheck | None = None
        self._damage.connect(self._say_damaged, Qt.ConnectionType.QueuedConnection)

    def start(self) -> bool:
        """Show the first screen; False when the desk cannot start (already explained)."""
        if not self.config.is_enrolled or not self.config.database_path.exists():
            screen = EnrollmentScreen(self._enroll)
            screen.enrolled.connect(self._show_sign_in)
            self._show_screen(screen, _("Connect this desk"))
            return True
        try:
            self.store = open_store(self.config.database_path, keyring_backend=self._keyring)
        except KEY_STORE_PROBLEMS as error:
            log.warning("the key store did not give the desk key: %s", type(error).__name__)
            problem = key_store_problem(error) or ""
            recovery = RecoveryScreen(problem, self._unlock_with_passphrase)
            recovery.unlocked.connect(self._show_sign_in)
            self._show_screen(recovery, _("Unlock this desk's data"))
            return True
        except StoreError as error:
            log.error("the desk store did not open: %s", type(error).__name__)
            QMessageBox.critical(None, _("ClinicDesk"), opening_problem(error))
            return False
        self._show_sign_in()
        self._check_in_background(self.store)
        return True

    def _check_in_background(self, store: Store) -> None:
        """Verify every page of the store off the UI thread (opening only did after a
        crash); damage found is said at once, with what to do."""
        found, carrier = self._damage, courier()

        def check() -> None:
            try:
                store.check_integrity()
            except CorruptStoreError as error:
                carrier.deliver(found, str(error))  # said on the UI thread
            except (StoreError, SQLAlchemyError):
                pass  # closed meanwhile (the desk quit): nothing to say

        threading.Thread(target=check, name="clinicdesk-integrity", daemon=True).start()

    @Slot(str)
    def _say_damaged(self, reason: str) -> None:
        QMessageBox.critical(self.window or self.screen, _("ClinicDesk"), _(
            "The desk's data is damaged: {reason}").format(reason=reason))

    def _unlock_with_passphrase(self, passphrase: str) -> None:
        """The recovery screen's unlock: opens the store and writes the key store entry again."""
        self.store = open_store(self.config.database_path, recovery_passphrase=passphrase,
                                keyring_backend=self._keyring)
        log.info("the desk store was unlocked with the recovery passphrase")

    def _enroll(self, url: str, code: str, passphrase: str,
                progress: Callable[[int, int], None]) -> None:
        """Runs on the enrollment worker thread: create or reopen the store, enroll, download."""
        path = self.config.database_path
        if self.store is None:
            self.store = (open_store(path, recovery_passphrase=passphrase,
                                     keyring_backend=self._keyring) if path.exists()
                          else create_store(path, passphrase, keyring_backend=self._keyring))
        client = SyncClient(self.store, self.config, requests.Session(),
                            keyring_backend=self._keyring)
        client.enroll(url, code, progress, name=socket.gethostname())
        self.config = client.config

    def _client(self) -> SyncClient:
        assert self.store is not None
        return SyncClient(self.store, self.config, requests.Session(),
                          keyring_backend=self._keyring)

    @Slot()
    def _show_sign_in(self) -> None:
        assert self.store is not None
        if not self._client().is_enrolled():
            # The key store lost the desk's server credential too (a reset profile): connect
            # again with a new code; the data and the unsent changes stay.
            log.warning("the desk's server credential is missing: enrollment again")
            enrol = EnrollmentScreen(self._enroll)
            enrol.url.setText(self.config.server_url or "")
            enrol.enrolled.connect(self._show_sign_in)
            self._show_screen(enrol, _("Connect this desk"))
            return
        organization, _clinics = desk_clinics(self.store)
        checker = self._client()  # its own HTTP session: the sync worker has another

        def server_check(email: str, password: str, totp: str | None) -> ServerIdentity | None:
            return checker.check_credentials(organization, email, password, totp)

        self._server_check = server_check
        self._sessions = SignInService(self.store, self._clock,
                                       SessionSettings.from_config(self.config))
        screen = SignInScreen(self._sessions, server_check)
        enrolment = TwoStepService(checker.call, organization)
        screen.set_enrol(lambda: TwoStepDialog(enrolment, screen.email.text().strip(),
                                               screen).exec())
        screen.signedIn.connect(self._open_window)
        self._show_screen(screen, _("Sign in to ClinicDesk"))

    @Slot(object)
    def _open_window(self, user: SignedInUser) -> None:
        assert self.store is not None and self._sessions is not None
        organization, clinics = desk_clinics(self.store)
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
        worker.changesArrived.connect(window.on_changes, Qt.ConnectionType.QueuedConnection)
        worker.conflictsArrived.connect(lambda _count: window.refresh_conflicts())
        worker.stateChanged.connect(window.notifications.on_sync_state)
        self.sync = SyncThread(worker)
        self.sync.start()
        window.localChange.connect(self.sync.request_sync)
        call = self._server_call()
        window.calendar_menu.set_feeds(FeedsService(call))
        window.notifications.set_service(NotificationsService(call))
        window.care.set_service(FollowUpsService(call), OutagesService(call))
        window.waitlist_panel.set_service(OffersService(call))
        window.video.set_service(VideoVisitsService(call))
        window.admin_menu.set_server(AdminService(call), TwoStepService(call, organization))
        window.patient_panel.set_financials(FinancialsService(call))
        window.set_visits(VisitsService(call, context.new_id))
        window.details_panel.telemedicine.set_service(TelemedicineService(call))
        if self.screen is not None:
            self.screen.close()
            self.screen = None
        self.window = window
        window.show()
        self.windowOpened.emit(window)

    def _server_call(self) -> ServerCall:
        """The feeds' and notifications' server calls (an HTTP session of their own, not
        the sync worker's)."""
        assert self._sessions is not None
        return signed_in_call(self._client(), self._sessions)

    def _show_screen(self, screen: QWidget, title: str) -> None:
        if self.screen is not None:
            self.screen.close()
        screen.setWindowTitle(title)
        screen.setWindowIcon(app_icon())
        screen.resize(520, 420)
        self.screen = screen
        screen.show()

    def shutdown(self) -> None:
        if self.sync is not None:
            self.sync.shutdown()
        if self.store is not None:
            self.store.close()


def use_system_certificates() -> None:
    """HTTPS checks the operating system's trusted certificates (a clinic's own
    certificate authority included) instead of the copy bundled with ``requests``."""
    import truststore

    truststore.inject_into_ssl()


def desk_application() -> QApplication:
    """The one QApplication, with the desk's name and icon."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setApplicationName("ClinicDesk")
    app.setApplicationVersion(desk_version())
    app.setWindowIcon(app_icon())
    collect_in_ui_thread(app)
    return app


def run_desk() -> int:
    """Start the desk application; returns the process exit code."""
    app = desk_application()
    try:
        config = load_config()
    except DeskConfigError as error:
        QMessageBox.critical(None, "ClinicDesk", str(error))
        return 1
    lock = DataFolderLock(config.data_dir)
    try:
        lock.acquire()
    except DeskAlreadyRunning:
        QMessageBox.critical(None, _("ClinicDesk"), _(
            "ClinicDesk is already running with this desk's data folder ({folder}). Switch "
            "to the open window, or close it before starting the desk again."
        ).format(folder=str(config.data_dir)))
        return 1
    try:
        log_file = configure_logging(config.data_dir)
        log.info("ClinicDesk desk %s starting (log %s)", desk_version(), log_file.name)
        use_system_certificates()
        flow = DeskStart(config)
        if not flow.start():
            return 1
        try:
            return app.exec()
        finally:
            flow.shutdown()
    finally:
        lock.release()
