"""``clinicdesk self-test``: start the real desk unattended and prove it works end to end.

It walks the same screens a receptionist does, in the language asked for:
enrollment on a fresh data folder (or the recovery-passphrase screen when the
key store has no key), sign-in, the main window, one sync with the server and
the agenda of the week showing the clinic's appointments. It prints
``SIGN-IN SHOWN`` when the sign-in screen is up, ``AGENDA READY`` the moment
the agenda is usable, then one JSON report line,
and exits 0 only when every step passed. IT staff run it after installing
(``ClinicDesk self-test --server https://… --code …``); CI runs it against the
built bundle (``tests/packaging/test_bundle_smoke.py``).

``--file-keyring`` keeps the key store in a file of the data folder's parent
instead of the OS key store: for CI machines and servers that have none.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Slot

STEPS_TIMEOUT_SECONDS = 90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help="the sync server's address (first run only)")
    parser.add_argument("--code", help="a one-time enrollment code (first run only)")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password-env", default="CLINICDESK_SELF_TEST_PASSWORD",
                        help="environment variable holding the password (never an argument)")
    parser.add_argument("--passphrase-env", default="CLINICDESK_SELF_TEST_PASSPHRASE",
                        help="environment variable holding the recovery passphrase")
    parser.add_argument("--language", default="en", choices=("en", "es"))
    parser.add_argument("--file-keyring", type=Path, metavar="FILE",
                        help="keep the key store in FILE (machines without an OS key store)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="save the main window as a PNG once the agenda shows")


def run_self_test(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from desktop.app import DeskStart, desk_application, use_system_certificates
    from desktop.config import load_config
    from desktop.demo import DemoKeyring
    from desktop.logs import configure_logging
    from desktop.store.files import DataFolderLock, DeskAlreadyRunning
    from desktop.ui.qt_language import follow_desk_language
    from desktop.ui.text import set_language
    from desktop.version import desk_version

    app = desk_application()
    set_language(args.language)
    follow_desk_language()
    use_system_certificates()
    config = load_config()
    lock = DataFolderLock(config.data_dir)
    try:
        lock.acquire()
    except DeskAlreadyRunning as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    configure_logging(config.data_dir)
    logging.getLogger(__name__).info("ClinicDesk desk %s self-test", desk_version())
    keyring = DemoKeyring(args.file_keyring) if args.file_keyring else None
    flow = DeskStart(config, keyring_backend=keyring)
    driver = _Driver(args, flow, keyring, app.quit)
    try:
        if not flow.start():
            return _finish({"ok": False, "failed": "the desk did not start"})
        driver.begin()
        app.exec()
        return _finish(driver.report)
    finally:
        flow.shutdown()
        lock.release()


def _finish(report: dict[str, object]) -> int:
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0 if report.get("ok") else 1


class _Driver(QObject):
    """Fills in each screen the desk shows, waits for the first sync, checks the agenda.

    A QObject living in the UI thread, so the sync worker's signals reach its slots there.
    """

    def __init__(self, args: argparse.Namespace, flow: object, keyring: object,
                 quit_app: Callable[[], None]) -> None:
        super().__init__()
        self.args, self.flow, self.keyring, self._quit = args, flow, keyring, quit_app
        self.report: dict[str, object] = {"ok": False, "language": args.language,
                                          "unlocked_with": "key store"}
        self.step = "start"

    def begin(self) -> None:
        QTimer.singleShot(STEPS_TIMEOUT_SECONDS * 1000, self._timed_out)
        self.flow.windowOpened.connect(self._window_opened)  # type: ignore[attr-defined]
        QTimer.singleShot(0, self._next_screen)

    def _fail(self, why: str) -> None:
        self.report["failed"] = why
        self._quit()

    @Slot()
    def _timed_out(self) -> None:
        self._fail(f"timed out at step {self.step!r}")

    def _secret(self, variable: str) -> str:
        value = os.environ.get(variable, "")
        if not value:
            self._fail(f"${variable} is empty")
        return value

    @Slot()
    def _next_screen(self) -> None:
        from desktop.ui.enrollment import EnrollmentScreen
        from desktop.ui.recovery import RecoveryScreen
        from desktop.ui.sign_in import SignInScreen

        screen = self.flow.screen  # type: ignore[attr-defined]
        if isinstance(screen, EnrollmentScreen):
            self.step = "enrollment"
            if not (self.args.server and self.args.code):
                self._fail("the desk is not enrolled: give --server and --code")
                return
            screen.url.setText(self.args.server)
            screen.code.setText(self.args.code)
            passphrase = self._secret(self.args.passphrase_env)
            screen.passphrase.setText(passphrase)
            screen.repeat.setText(passphrase)
            screen.enrolled.connect(self._after_screen_change)
            screen.start()
            self._watch_message(screen)
        elif isinstance(screen, RecoveryScreen):
            self.step = "recovery"
            self.report["unlocked_with"] = "recovery passphrase"
            self.report["recovery_problem"] = screen.problem.text()
            screen.passphrase.setText(self._secret(self.args.passphrase_env))
            screen.try_unlock()
            if screen.message.text():
                self._fail(f"recovery: {screen.message.text()}")
                return
            self._after_screen_change()
        elif isinstance(screen, SignInScreen):
            print("SIGN-IN SHOWN", flush=True)  # the first screen a person uses each morning
            self.step = "sign-in"
            self.report["sign_in_title"] = screen.title.text()
            screen.email.setText(self.args.email)
            screen.password.setText(self._secret(self.args.password_env))
            screen.sign_in()
            if self.flow.window is None:  # type: ignore[attr-defined]
                self._fail(f"sign-in: {screen.message.text()}")
        else:
            self._fail(f"unexpected screen {type(screen).__name__}")

    def _watch_message(self, screen: object) -> None:
        def check() -> None:
            if self.step != "enrollment":
                return
            if screen.start_button.isEnabled() and screen.message.styleSheet():  # type: ignore[attr-defined]
                self._fail(f"enrollment: {screen.message.text()}")  # type: ignore[attr-defined]
                return
            QTimer.singleShot(100, check)

        QTimer.singleShot(100, check)

    @Slot()
    def _after_screen_change(self) -> None:
        QTimer.singleShot(0, self._next_screen)

    @Slot(object)
    def _window_opened(self, window: object) -> None:
        self.step = "first sync"
        self.window = window
        worker = self.flow.sync.worker  # type: ignore[attr-defined]
        worker.stateChanged.connect(self._sync_state)
        # The first sync runs in its own thread from before the window showed, and may have
        # reported before this connection; with the event stream up, the fallback poll then
        # stays quiet and no second report comes. So also read the state it has left.
        QTimer.singleShot(0, lambda: self._sync_state(worker.status))

    @Slot(object)
    def _sync_state(self, status: object) -> None:
        if self.step != "first sync":
            return
        if getattr(status, "error", None):
            self._fail(f"sync: {status.error}")  # type: ignore[attr-defined]
            return
        if getattr(status, "last_success", None) is None:
            return
        self.step = "agenda"
        self._check_agenda()

    def _check_agenda(self) -> None:
        from PySide6.QtCore import QCoreApplication

        from desktop.ui.agenda.scene import AppointmentItem

        window = self.window
        today = datetime.now(UTC).date()
        window.set_days(7)  # type: ignore[attr-defined]
        window.go_to(today - timedelta(days=today.weekday()))  # type: ignore[attr-defined]
        shown = [item for item in window.agenda.scene.items()  # type: ignore[attr-defined]
                 if isinstance(item, AppointmentItem)]
        print("AGENDA READY", flush=True)
        if self.args.screenshot is not None:
            window.grab().save(str(self.args.screenshot))  # type: ignore[attr-defined]
        self.report.update(
            appointments_shown=len(shown),
            window_title=window.windowTitle(),  # type: ignore[attr-defined]
            qt_cancel=QCoreApplication.translate("QPlatformTheme", "Cancel"),
            key_store_entries=(len(self.keyring._entries())  # type: ignore[attr-defined]
                               if self.keyring is not None else None),
            ok=bool(shown),
        )
        if not shown:
            self.report["failed"] = "the agenda of this week shows no appointment"
        self._quit()


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(prog="clinicdesk self-test")
    add_arguments(parser)
    code = run_self_test(parser.parse_args(argv))
    print(f"self-test finished in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return code
