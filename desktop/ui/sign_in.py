"""The sign-in screen: e-mail, password, an optional one-time code, "Sign in".

Online first, through the injected ``server_check`` (the sync client's password
check); when the server cannot be reached the desk signs the user in offline
against the verifier cached at their last online sign-in. Every failure is said
in plain words; nothing typed is ever logged.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services.session import ServerCheck, SignInFailure, SignInResult, SignInService
from desktop.sync.errors import SyncError
from desktop.ui.text import _, language_notifier
from desktop.ui.theme import ERROR, WARNING, hint_style, set_heading, text_style


def failure_text(failure: str | None) -> str:
    """The plain-words reason of a refused sign-in, in the current language."""
    if failure == SignInFailure.BAD_CREDENTIALS:
        return _("That e-mail and password do not match. Please try again.")
    if failure == SignInFailure.NOT_CACHED:
        return _("The server cannot be reached, and you have not signed in on this desk "
                 "before, so you cannot sign in offline yet.")
    if failure == SignInFailure.EXPIRED:
        return _("The server cannot be reached, and your last online sign-in on this desk is "
                 "too long ago to sign in offline. Connect to the internet and try again.")
    return _("Signing in did not work. Please try again.")


class SignInScreen(QWidget):
    """Emits ``signedIn(SignedInUser)``; ``offline`` on the user says how it went."""

    signedIn = Signal(object)

    def __init__(self, sessions: SignInService, server_check: ServerCheck,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sessions = sessions
        self._server_check = server_check
        self.title = QLabel(self)
        set_heading(self.title, 1.6)
        self.email = QLineEdit(self)
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.totp = QLineEdit(self)
        self.totp.setMaxLength(16)  # a recovery code is 11 characters
        self.email_label, self.password_label, self.totp_label = (QLabel(self)
                                                                  for _i in range(3))
        self.sign_in_button = QPushButton(self)
        self.sign_in_button.setDefault(True)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        #: A line under the form (the demo says its e-mail and password there).
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(hint_style())
        self.hint.setVisible(False)
        form = QFormLayout()
        form.addRow(self.email_label, self.email)
        form.addRow(self.password_label, self.password)
        form.addRow(self.totp_label, self.totp)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addWidget(self.sign_in_button)
        self.enrol_button = QPushButton(self)
        self.enrol_button.setFlat(True)
        self.enrol_button.hide()
        layout.addWidget(self.enrol_button)
        layout.addWidget(self.message)
        layout.addWidget(self.hint)
        layout.addStretch(2)
        self.sign_in_button.clicked.connect(self.sign_in)
        self.password.returnPressed.connect(self.sign_in)
        self.totp.returnPressed.connect(self.sign_in)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def set_enrol(self, enrol: Callable[[], object]) -> None:
        """Offer "Enrol two-step sign-in" (needs the server) with ``enrol`` behind it."""
        self.enrol_button.clicked.connect(enrol)
        self.enrol_button.show()

    def set_hint(self, text: str) -> None:
        """Show ``text`` under the form (empty: nothing)."""
        self.hint.setText(text)
        self.hint.setVisible(bool(text))

    @Slot()
    def retranslate(self) -> None:
        self.title.setText(_("Sign in to ClinicDesk"))
        self.email_label.setText(_("E-mail"))
        self.password_label.setText(_("Password"))
        self.totp_label.setText(_("One-time code"))
        self.totp.setPlaceholderText(_("Only if your account uses one (or a recovery code)"))
        self.sign_in_button.setText(_("Sign in"))
        self.enrol_button.setText(_("Enrol two-step sign-in…"))

    @Slot()
    def sign_in(self) -> None:
        email, password = self.email.text().strip(), self.password.text()
        if not email or not password:
            self._say(_("Please enter your e-mail and password."), error=True)
            return
        totp = self.totp.text().strip() or None
        offline = False
        try:
            result: SignInResult = self._sessions.sign_in_online(email, password, totp,
                                                                 self._server_check)
        except SyncError as error:
            if not error.transient:  # e.g. this desk was revoked: offline would hide it
                self._say(_(error.message_id).format_map(dict(error.params)), error=True)
                return
            offline = True
            result = self._sessions.sign_in_offline(email, password)
        except OSError:  # no network at all
            offline = True
            result = self._sessions.sign_in_offline(email, password)
        self.password.clear()
        self.totp.clear()
        if not result.ok or result.user is None:
            self._say(failure_text(result.failure), error=True)
            return
        self._say(_("Signed in without the server: changes will be sent when it is back.")
                  if offline else "", error=False)
        self.signedIn.emit(result.user)

    def _say(self, text: str, *, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(text_style(ERROR) if error else text_style(WARNING))
