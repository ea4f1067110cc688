"""Start-up unlock with the recovery passphrase, when the computer's key store cannot help.

Shown instead of the sign-in screen when the OS key store has no key for this
desk (cleared, a new Windows profile, a macOS Keychain that refuses an updated
app), cannot be read, or holds a key that does not fit. The administrator types
the recovery passphrase set at enrollment; on success the key store entry is
written again, so the next start needs no passphrase.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from desktop.services.store_opening import (
    KeyStoreEntryMissing,
    NoKeyStoreError,
    StoreError,
    WrongKeyError,
    WrongPassphraseError,
)
from desktop.ui.text import _, language_notifier
from desktop.ui.theme import ERROR, set_heading, text_style

#: Errors of ``open_store`` that the recovery passphrase can get past.
KEY_STORE_PROBLEMS = (KeyStoreEntryMissing, NoKeyStoreError, WrongKeyError)


def key_store_problem(error: BaseException) -> str | None:
    """What is wrong with the computer's key store, in the current language (None: not that)."""
    if isinstance(error, NoKeyStoreError):
        return _("This computer has no usable secure key store (such as Windows Credential "
                 "Manager or the macOS Keychain), so ClinicDesk cannot keep the key of the "
                 "desk's data safely. Set one up or sign in to the computer with your own "
                 "account, or have an administrator use the recovery passphrase.")
    if isinstance(error, KeyStoreEntryMissing | WrongKeyError):
        return _("This computer's key store did not give ClinicDesk the key of the desk's data "
                 "(it was cleared, access was refused, or the desk moved to another computer). "
                 "The data is safe: an administrator can unlock it with the recovery "
                 "passphrase set when the desk was connected.")
    return None


class RecoveryScreen(QWidget):
    """Signals ``unlocked()`` once ``unlock(passphrase)`` opened the store."""

    unlocked = Signal()

    def __init__(self, problem: str, unlock: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._unlock = unlock
        self.title, self.problem, self.message = QLabel(self), QLabel(problem, self), QLabel(self)
        set_heading(self.title, 1.6)
        for label in (self.problem, self.message):
            label.setWordWrap(True)
        self.passphrase = QLineEdit(self)
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.unlock_button = QPushButton(self)
        self.unlock_button.setDefault(True)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (self.title, self.problem, self.passphrase, self.unlock_button,
                       self.message):
            layout.addWidget(widget)
        layout.addStretch(2)
        self.unlock_button.clicked.connect(self.try_unlock)
        self.passphrase.returnPressed.connect(self.try_unlock)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    @Slot()
    def retranslate(self) -> None:
        self.title.setText(_("Unlock this desk's data"))
        self.passphrase.setPlaceholderText(_("Recovery passphrase"))
        self.unlock_button.setText(_("Unlock"))

    @Slot()
    def try_unlock(self) -> None:
        passphrase = self.passphrase.text()
        if not passphrase:
            self._say(_("Please type the recovery passphrase."))
            return
        try:
            self._unlock(passphrase)
        except WrongPassphraseError:
            self._say(_("That recovery passphrase is not correct for this desk. Nothing was "
                        "changed; check it with the administrator who set it."))
            return
        except StoreError as error:
            self._say(_("The desk's data cannot be opened: {reason}").format(reason=str(error)))
            return
        finally:
            self.passphrase.clear()
        self._say("")
        self.unlocked.emit()

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(text_style(ERROR) if text else "")
