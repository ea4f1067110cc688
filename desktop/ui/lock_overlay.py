"""The lock screen: while the desk is locked, no patient data is on screen at all.

Locking takes the main window's central widget out (so nothing beneath can be
painted, not even through a translucent overlay), hides the docks, tool bars and
status bar, and every other window of the desk (an open booking dialog), and
shows who is signed in with a password field. Unlocking puts everything back.

The overlay also watches the session: when the services' idle timer has locked it
(:meth:`SignInService.is_locked`), the screen locks too.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QStatusBar,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop.services.session import SignInService
from desktop.ui.text import _, language_notifier
from desktop.ui.theme import ERROR, hint_style, set_heading, text_style

#: How often the overlay asks whether the session has gone idle.
IDLE_CHECK_MS = 5_000


class LockOverlay(QWidget):
    """Locks ``window``. Signals: ``locked()``, ``unlocked()``, ``signedOut()`` (too many
    wrong passwords end the session: the content stays hidden; the main window signs
    someone in and then calls :meth:`reveal`)."""

    locked = Signal()
    unlocked = Signal()
    signedOut = Signal()

    def __init__(self, window: QMainWindow, sessions: SignInService) -> None:
        super().__init__(None)
        self._window = window
        self._sessions = sessions
        self._hidden_content: QWidget | None = None
        self._hidden_others: list[QWidget] = []
        self.setObjectName("lockOverlay")
        self.title = QLabel(self)
        set_heading(self.title, 1.75)
        self.who = QLabel(self)
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setMaximumWidth(320)
        self.unlock_button = QPushButton(self)
        #: A line under the password field (the demo says its password there).
        self.hint = QLabel(self)
        self.hint.setStyleSheet(hint_style())
        self.hint.setVisible(False)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet(text_style(ERROR))
        # The message spans the overlay's width (centred text): a wrapped label squeezed
        # to its empty size hint would cut the sentence off.
        self.message.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (self.title, self.who, self.password, self.unlock_button, self.hint):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.message)
        layout.addStretch(2)
        self.unlock_button.clicked.connect(self.unlock)
        self.password.returnPressed.connect(self.unlock)
        self._idle_timer = QTimer(self)
        self._idle_timer.setInterval(IDLE_CHECK_MS)
        self._idle_timer.timeout.connect(self.check_idle)
        self._idle_timer.start()
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def set_hint(self, text: str) -> None:
        """Show ``text`` under the password field (empty: nothing)."""
        self.hint.setText(text)
        self.hint.setVisible(bool(text))

    def is_locked(self) -> bool:
        return self._hidden_content is not None

    @Slot()
    def retranslate(self) -> None:
        self.title.setText(_("This desk is locked"))
        user = self._sessions.user
        if user is None:
            self.who.setText("")
        elif user.display_name.strip() and user.display_name.strip() != user.email:
            self.who.setText(_("Signed in: {name} ({email})").format(
                name=user.display_name, email=user.email))
        else:  # no name, or the e-mail as the name: say it once
            self.who.setText(_("Signed in: {email}").format(email=user.email))
        self.password.setPlaceholderText(_("Password"))
        self.unlock_button.setText(_("Unlock"))

    @Slot()
    def check_idle(self) -> None:
        if not self.is_locked() and self._sessions.user is not None and \
                self._sessions.is_locked():
            self.lock()

    @Slot()
    def lock(self) -> None:
        """Lock the session and hide every patient detail of the desk's windows."""
        if self.is_locked():
            return
        self._sessions.lock()
        window = self._window
        self._hidden_content = window.takeCentralWidget()
        if self._hidden_content is not None:
            self._hidden_content.hide()
        window.setCentralWidget(self)
        bars = [*window.findChildren(QDockWidget), *window.findChildren(QToolBar),
                *window.findChildren(QStatusBar)]
        others = [w for w in QApplication.topLevelWidgets()
                  if w is not window and w.isVisible() and not w.isAncestorOf(window)]
        self._hidden_others = [w for w in [*bars, *others] if w.isVisible()]
        for widget in self._hidden_others:
            widget.hide()
        self.message.clear()
        self.password.clear()
        self.retranslate()
        self.show()
        self.password.setFocus()
        self.locked.emit()

    @Slot()
    def unlock(self) -> None:
        if not self._sessions.unlock(self.password.text()):
            self.password.clear()
            if self._sessions.user is None:  # too many tries: the session has ended
                self.message.setText(_("Too many wrong passwords: you have been signed out. "
                                       "Please sign in again."))
                self.signedOut.emit()
                return
            self.message.setText(_("That password is not right. Please try again."))
            return
        self.reveal()
        self.unlocked.emit()

    def reveal(self) -> None:
        """Put the window's content back (after an unlock, or a new sign-in once the
        session ended at the lock screen)."""
        window = self._window
        self.password.clear()
        self.message.clear()
        window.takeCentralWidget()  # this overlay: kept for the next lock, not deleted
        self.setParent(None)
        if self._hidden_content is not None:
            window.setCentralWidget(self._hidden_content)
            self._hidden_content.show()
        self._hidden_content = None
        for widget in self._hidden_others:
            widget.show()
        self._hidden_others = []
