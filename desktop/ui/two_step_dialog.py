"""The "Enrol two-step sign-in" dialog: the password again, a QR code for the
authenticator app, a code to confirm it, and the recovery codes shown once.

The server keeps the new secret pending until a code from it is confirmed, so a
wrong code (said in plain words) changes nothing; the recovery codes are in the
confirming answer only — the dialog offers to copy and print them, and says that
they will not be shown again.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import Slot
from PySide6.QtGui import QGuiApplication, QTextDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services.admin import Enrolment, TwoStepService, refusal_text
from desktop.ui.feeds_dialog import qr_pixmap
from desktop.ui.text import _, language_notifier

#: Asks for a printer (None: the user cancelled). Tests give a PDF printer.
ChoosePrinter = Callable[[QWidget], QPrinter | None]


def _ask_printer(parent: QWidget) -> QPrinter | None:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    dialog = QPrintDialog(printer, parent)
    return printer if dialog.exec() == QDialog.DialogCode.Accepted else None


class TwoStepDialog(QDialog):
    """Enrol (or replace) the signed-in user's authenticator app."""

    def __init__(self, service: TwoStepService, email: str = "",
                 parent: QWidget | None = None,
                 choose_printer: ChoosePrinter = _ask_printer) -> None:
        super().__init__(parent)
        self._service, self._choose_printer = service, choose_printer
        self._enrolment: Enrolment | None = None
        self.setObjectName("two_step_dialog")
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.email = QLineEdit(email, self)
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.current_code = QLineEdit(self)
        self.current_code.setMaxLength(16)
        self.email_label, self.password_label, self.current_label = (QLabel(self)
                                                                     for _i in range(3))
        self.start_button = QPushButton(self)
        credentials = QFormLayout()
        credentials.addRow(self.email_label, self.email)
        credentials.addRow(self.password_label, self.password)
        credentials.addRow(self.current_label, self.current_code)

        self.scan_box = QGroupBox(self)
        self.qr_label = QLabel(self.scan_box)
        self.scan_text = QLabel(self.scan_box)
        self.scan_text.setWordWrap(True)
        self.secret_edit = QLineEdit(self.scan_box)
        self.secret_edit.setReadOnly(True)
        self.code = QLineEdit(self.scan_box)
        self.code.setMaxLength(8)
        self.code_label = QLabel(self.scan_box)
        self.confirm_button = QPushButton(self.scan_box)
        scan_right = QFormLayout()
        scan_right.addRow(self.scan_text)
        scan_right.addRow(self.secret_edit)
        scan_right.addRow(self.code_label, self.code)
        scan_right.addRow(self.confirm_button)
        scan = QHBoxLayout(self.scan_box)
        scan.addWidget(self.qr_label)
        scan.addLayout(scan_right, 1)
        self.scan_box.hide()

        self.codes_box = QGroupBox(self)
        self.codes_text = QLabel(self.codes_box)
        self.codes_text.setWordWrap(True)
        self.codes_view = QPlainTextEdit(self.codes_box)
        self.codes_view.setReadOnly(True)
        self.codes_view.setFixedHeight(120)
        self.copy_button = QPushButton(self.codes_box)
        self.print_button = QPushButton(self.codes_box)
        codes_buttons = QHBoxLayout()
        codes_buttons.addStretch(1)
        codes_buttons.addWidget(self.copy_button)
        codes_buttons.addWidget(self.print_button)
        codes = QVBoxLayout(self.codes_box)
        codes.addWidget(self.codes_text)
        codes.addWidget(self.codes_view)
        codes.addLayout(codes_buttons)
        self.codes_box.hide()

        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b00020")
        self.error_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(credentials)
        layout.addWidget(self.start_button)
        layout.addWidget(self.scan_box)
        layout.addWidget(self.codes_box)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self.start_button.clicked.connect(self.start)
        self.confirm_button.clicked.connect(self.confirm)
        self.code.returnPressed.connect(self.confirm)
        self.copy_button.clicked.connect(self.copy_codes)
        self.print_button.clicked.connect(self.print_codes)
        self.buttons.rejected.connect(self.reject)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()
        self.resize(640, 560)

    @Slot()
    def start(self) -> None:
        try:
            self._enrolment = self._service.start(self.email.text().strip(),
                                                  self.password.text(),
                                                  self.current_code.text())
        except Exception as error:  # noqa: BLE001 - the server's refusal is shown
            self._show_error(error)
            return
        self._show_error(None)
        self.qr_label.setPixmap(qr_pixmap(self._enrolment.otpauth_uri))
        self.secret_edit.setText(self._enrolment.secret)
        self.scan_box.show()
        self.code.setFocus()

    @Slot()
    def confirm(self) -> list[str] | None:
        if self._enrolment is None:
            return None
        try:
            codes = self._service.confirm(self.email.text().strip(), self.password.text(),
                                          self.code.text(), self.current_code.text())
        except Exception as error:  # noqa: BLE001 - the server's refusal is shown
            self._show_error(error)
            self.code.selectAll()
            return None
        self._show_error(None)
        self.password.clear()
        self.current_code.clear()
        self.scan_box.hide()
        for field in (self.email, self.password, self.current_code, self.start_button):
            field.setEnabled(False)
        self.codes_view.setPlainText("\n".join(codes))
        self.codes_box.show()
        return codes

    @Slot()
    def copy_codes(self) -> None:
        QGuiApplication.clipboard().setText(self.codes_view.toPlainText())
        self.copy_button.setText(_("Copied"))

    @Slot()
    def print_codes(self) -> bool:
        printer = self._choose_printer(self)
        if printer is None:
            return False
        document = QTextDocument()
        lines = "".join(f"<li><tt>{html.escape(c)}</tt></li>"
                        for c in self.codes_view.toPlainText().splitlines())
        document.setHtml(f"<h2>{html.escape(_('ClinicDesk recovery codes'))}</h2>"
                         f"<p>{html.escape(self.email.text())}</p><ol>{lines}</ol>"
                         f"<p>{html.escape(_('Each code works once.'))}</p>")
        document.print_(printer)
        return True

    def _show_error(self, error: Exception | None) -> None:
        if error is None:
            self.error_label.hide()
            return
        self.error_label.setText(refusal_text(error))
        self.error_label.show()

    @Slot()
    def retranslate(self) -> None:
        self.setWindowTitle(_("Enrol two-step sign-in"))
        self.intro.setText(_(
            "Two-step sign-in asks for a code from an authenticator app on your phone "
            "(such as Google Authenticator or Microsoft Authenticator) after your password. "
            "Enter your password to start."))
        self.email_label.setText(_("E-mail"))
        self.password_label.setText(_("Password"))
        self.current_label.setText(_("Current code"))
        self.current_code.setPlaceholderText(_("Only when replacing an app already set up"))
        self.start_button.setText(_("Start"))
        self.scan_box.setTitle(_("Scan with the app"))
        self.scan_text.setText(_(
            "Scan this code with the authenticator app, or type the key below into it. "
            "Then type the 6-digit code the app shows."))
        self.code_label.setText(_("Code from the app"))
        self.confirm_button.setText(_("Confirm"))
        self.codes_box.setTitle(_("Recovery codes"))
        self.codes_text.setText(_(
            "Two-step sign-in is on. Keep these recovery codes somewhere safe: each one "
            "signs you in once if the phone is lost. They are shown only now."))
        self.copy_button.setText(_("Copy"))
        self.print_button.setText(_("Print…"))
