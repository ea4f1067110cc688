"""The "Enrol two-step sign-in" dialog against a real sync server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from desktop.ui.text import set_language
from desktop.ui.two_step_dialog import TwoStepDialog
from tests.desktop.ui.admin_server import LiveAdmin, live_admin
from tests.e2e.server_side import PASSWORD


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveAdmin]:
    with live_admin(tmp_path) as running:
        yield running


def open_dialog(qtbot: QtBot, live: LiveAdmin, pdf: Path) -> TwoStepDialog:
    def pdf_printer(_parent: QWidget) -> QPrinter:
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(pdf))
        return printer

    dialog = TwoStepDialog(live.two_step(), live.clinic.user_email, choose_printer=pdf_printer)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_enrolling_shows_a_qr_code_refuses_a_wrong_code_and_shows_recovery_codes_once(
        qtbot: QtBot, live: LiveAdmin, tmp_path: Path) -> None:
    dialog = open_dialog(qtbot, live, tmp_path / "codes.pdf")
    assert not dialog.scan_box.isVisible() and not dialog.codes_box.isVisible()
    dialog.password.setText(PASSWORD)
    dialog.start_button.click()
    assert dialog.scan_box.isVisible(), dialog.error_label.text()
    assert dialog.qr_label.pixmap().width() >= 100
    secret = dialog.secret_edit.text()

    dialog.code.setText("000000")
    assert dialog.confirm() is None
    assert dialog.error_label.isVisible()
    assert "does not match the new secret" in dialog.error_label.text()
    assert live.sign_in(live.clinic.user_email).status_code == 200  # nothing changed yet

    dialog.code.setText(pyotp.TOTP(secret).now())
    codes = dialog.confirm()
    assert codes is not None and len(codes) == 10
    assert dialog.codes_box.isVisible() and not dialog.scan_box.isVisible()
    assert dialog.codes_view.toPlainText().splitlines() == codes
    assert dialog.password.text() == "" and not dialog.start_button.isEnabled()
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text().splitlines() == codes
    assert dialog.print_codes()
    assert (tmp_path / "codes.pdf").read_bytes().startswith(b"%PDF")

    assert live.sign_in(live.clinic.user_email).json()["error"]["code"] == "totp_required"
    assert live.sign_in(live.clinic.user_email, totp=codes[3]).status_code == 200
    assert live.sign_in(live.clinic.user_email, totp=codes[3]).status_code == 401
    now = pyotp.TOTP(secret).at(datetime.now(UTC))
    assert live.sign_in(live.clinic.user_email, totp=now).status_code == 200


def test_a_wrong_password_is_said_in_the_servers_words(
        qtbot: QtBot, live: LiveAdmin, tmp_path: Path) -> None:
    dialog = open_dialog(qtbot, live, tmp_path / "codes.pdf")
    dialog.password.setText("not the password")
    dialog.start_button.click()
    assert not dialog.scan_box.isVisible()
    assert "e-mail, password or security code is not correct" in dialog.error_label.text()


def test_the_dialog_speaks_spanish(qtbot: QtBot, live: LiveAdmin, tmp_path: Path) -> None:
    dialog = open_dialog(qtbot, live, tmp_path / "codes.pdf")
    set_language("es")
    assert dialog.windowTitle() == "Activar el inicio de sesión en dos pasos"
    assert dialog.start_button.text() == "Empezar"
