"""Sign-in (online, offline fallback), the lock overlay and the enrollment screen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractListModel,
    QModelIndex,
    Qt,
    QThreadPool,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.services.session import ServerIdentity, SignInService
from desktop.sync.errors import EnrollmentRefused, ServerUnreachable
from desktop.ui.enrollment import EnrollmentScreen
from desktop.ui.lock_overlay import LockOverlay
from desktop.ui.sign_in import SignInScreen
from desktop.ui.today_board import TodayBoard
from tests.desktop.services.conftest import (
    ANA,
    CHECKUP,
    CLINIC,
    DR_RUIZ,
    EMAIL,
    PASSWORD,
    TUESDAY_9,
    FakeClock,
    server_accepting,
)


def unreachable(email: str, password: str, totp: str | None) -> ServerIdentity | None:
    raise ServerUnreachable("no route to host")


def _screen(qtbot: QtBot, sessions: SignInService,
            check: Callable[[str, str, str | None], ServerIdentity | None]) -> SignInScreen:
    screen = SignInScreen(sessions, check)
    qtbot.addWidget(screen)
    return screen


def _type(screen: SignInScreen, password: str) -> None:
    screen.email.setText(EMAIL)
    screen.password.setText(password)


def test_signing_in_online_emits_the_user(qtbot: QtBot, sessions: SignInService) -> None:
    screen = _screen(qtbot, sessions, server_accepting())
    _type(screen, PASSWORD)

    with qtbot.waitSignal(screen.signedIn) as signal:
        screen.sign_in_button.click()

    assert signal.args[0].online and signal.args[0].display_name == "Front Desk"
    assert screen.password.text() == ""


def test_without_the_server_a_cached_user_signs_in_offline(
    qtbot: QtBot, sessions: SignInService
) -> None:
    assert sessions.sign_in_online(EMAIL, PASSWORD, None, server_accepting()).ok
    sessions.sign_out()
    screen = _screen(qtbot, sessions, unreachable)
    _type(screen, PASSWORD)

    with qtbot.waitSignal(screen.signedIn) as signal:
        screen.sign_in_button.click()

    assert not signal.args[0].online
    assert "without the server" in screen.message.text()


def test_a_user_never_seen_on_this_desk_is_told_why_offline_sign_in_fails(
    qtbot: QtBot, sessions: SignInService
) -> None:
    screen = _screen(qtbot, sessions, unreachable)
    _type(screen, PASSWORD)

    screen.sign_in_button.click()

    assert "not signed in on this desk before" in screen.message.text()
    assert sessions.user is None


def test_a_wrong_password_is_said_plainly(qtbot: QtBot, sessions: SignInService) -> None:
    screen = _screen(qtbot, sessions, server_accepting())
    _type(screen, "wrong")

    screen.sign_in_button.click()

    assert screen.message.text() == "That e-mail and password do not match. Please try again."


# --------------------------------------------------------------------------- lock overlay


def _columns(model: QAbstractItemModel, parent: QModelIndex) -> int:
    """A model's columns under ``parent``: a list model has one (PySide6 makes its
    ``columnCount`` private), other models say."""
    if isinstance(model, QAbstractListModel):
        return 0 if parent.isValid() else 1
    return model.columnCount(parent)


def _visible_texts() -> list[str]:
    """Every text a user could read on screen: visible labels and visible view cells."""
    texts = []
    for widget in QApplication.allWidgets():
        if not widget.isVisible():
            continue
        if isinstance(widget, QLabel):
            texts.append(widget.text())
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            root = QModelIndex()
            pending = [model.index(r, c) for r in range(model.rowCount(root))
                       for c in range(_columns(model, root))]
            while pending:
                index = pending.pop()
                texts.append(str(index.data() or ""))
                pending += [model.index(r, c, index) for r in range(model.rowCount(index))
                            for c in range(_columns(model, index))]
    return texts


@pytest.fixture
def window_with_patients(qtbot: QtBot, ctx: DeskContext) -> QMainWindow:
    assert booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                        provider_id=DR_RUIZ, start=TUESDAY_9).ok
    window = QMainWindow()
    qtbot.addWidget(window)
    window.setCentralWidget(TodayBoard(ctx, CLINIC, day=TUESDAY_9.date()))
    dock = QDockWidget("Details", window)
    dock.setWidget(QLabel("Ana García, Check-up", dock))
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.show()
    assert any("Ana García" in t for t in _visible_texts())
    return window


def test_the_lock_overlay_hides_every_patient_name_and_unlocks_with_the_password(
    qtbot: QtBot, ctx: DeskContext, window_with_patients: QMainWindow
) -> None:
    window = window_with_patients
    content = window.centralWidget()
    overlay = LockOverlay(window, ctx.sessions)
    other = QWidget()  # another desk window (a dialog) with a patient on it
    qtbot.addWidget(other)
    QLabel("Ana García", other)
    other.show()

    overlay.lock()

    assert ctx.sessions.is_locked()
    assert window.centralWidget() is overlay and not content.isVisible()
    assert not any("Ana García" in t for t in _visible_texts())
    assert "Front Desk" in overlay.who.text()

    overlay.password.setText("wrong")
    overlay.unlock_button.click()
    assert overlay.is_locked() and "not right" in overlay.message.text()

    overlay.password.setText(PASSWORD)
    with qtbot.waitSignal(overlay.unlocked):
        overlay.unlock_button.click()
    assert window.centralWidget() is content and content.isVisible() and other.isVisible()
    assert any("Ana García" in t for t in _visible_texts())


def test_the_overlay_locks_when_the_session_went_idle(
    qtbot: QtBot, ctx: DeskContext, clock: FakeClock, window_with_patients: QMainWindow
) -> None:
    overlay = LockOverlay(window_with_patients, ctx.sessions)
    clock.advance(timedelta(hours=1))

    with qtbot.waitSignal(overlay.locked):
        overlay.check_idle()

    assert not any("Ana García" in t for t in _visible_texts())


# --------------------------------------------------------------------------- enrollment


def _enrollment(qtbot: QtBot, enroll: Callable[..., None]) -> EnrollmentScreen:
    screen = EnrollmentScreen(enroll, pool=QThreadPool())
    qtbot.addWidget(screen)
    screen.url.setText("https://clinic.example.org")
    screen.code.setText("ABCD-1234")
    screen.passphrase.setText("a long recovery phrase")
    screen.repeat.setText("a long recovery phrase")
    return screen


def test_enrollment_runs_off_the_ui_thread_and_shows_progress(qtbot: QtBot) -> None:
    calls: list[tuple[str, str, str]] = []

    def enroll(url: str, code: str, passphrase: str, progress: Callable[[int, int], None]) -> None:
        calls.append((url, code, passphrase))
        for done in range(0, 101, 25):
            progress(done, 100)

    screen = _enrollment(qtbot, enroll)
    with qtbot.waitSignal(screen.enrolled, timeout=5000):
        screen.start_button.click()

    assert calls == [("https://clinic.example.org", "ABCD-1234", "a long recovery phrase")]
    assert screen.progress_bar.value() == 100
    assert screen.message.text() == "This desk is connected."


def test_enrollment_errors_are_said_in_plain_words(qtbot: QtBot) -> None:
    def enroll(*_args: object) -> None:
        raise EnrollmentRefused("410")

    screen = _enrollment(qtbot, enroll)
    screen.start_button.click()
    qtbot.waitUntil(screen.start_button.isEnabled)

    assert screen.message.text().startswith("The enrollment code was not accepted")


def test_mismatched_passphrases_are_caught_before_anything_is_sent(qtbot: QtBot) -> None:
    screen = _enrollment(qtbot, lambda *_a: pytest.fail("must not be called"))
    screen.repeat.setText("something else entirely")

    screen.start_button.click()

    assert screen.message.text() == "The two passphrases are not the same."
