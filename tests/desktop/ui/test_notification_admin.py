"""An appointment's notification history and the administrator's notification screens,
against a real sync server (and a real SMTP server on loopback for the test message)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.services.appointment_details import load_details
from desktop.services.notifications import NotificationsRefused, appointment_types
from desktop.ui.notification_history import NotificationHistoryDialog
from desktop.ui.notification_settings import NotificationSettingsDialog
from desktop.ui.template_editor import TemplatesDialog
from desktop.ui.text import set_language
from sync_server.notifications.models import NotificationSettings
from tests.desktop.ui.notifications_server import (
    LiveNotifications,
    add_history,
    live_notifications,
)
from tests.e2e.server_side import free_port


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNotifications]:
    with live_notifications(tmp_path_factory.mktemp("notify-admin")) as running:
        yield running


@pytest.fixture
def admin(live: LiveNotifications) -> LiveNotifications:
    live.sign_in(live.admin_email)
    return live


def stored_settings(live: LiveNotifications) -> NotificationSettings:
    with live.database() as session:
        row = session.scalars(select(NotificationSettings).where(
            NotificationSettings.organization_id == live.clinic.org_id)).one()
        session.expunge(row)
        return row


# --------------------------------------------------------------------------- history


def test_the_history_says_what_was_sent_when_how_and_to_whom_masked(
        qtbot: QtBot, admin: LiveNotifications) -> None:
    appointment_id = admin.book(0)
    booked = datetime.now(UTC).replace(microsecond=0)
    add_history(admin, appointment_id, [
        {"kind": "created", "channel": "email", "state": "sent", "attempts": 1,
         "due_at": booked, "sent_at": booked + timedelta(seconds=20),
         "recipient_hint": "g…@example.org"},
        {"kind": "reminder", "channel": "sms", "state": "failed", "attempts": 3,
         "due_at": booked + timedelta(hours=1), "error_code": "invalid_phone",
         "recipient_hint": "+34 …22", "offset_minutes": 1440},
        {"kind": "reminder", "channel": "email", "state": "pending", "attempts": 0,
         "due_at": booked + timedelta(hours=2), "offset_minutes": 120},
    ])
    details = load_details(admin.ctx, appointment_id)
    assert details is not None
    dialog = NotificationHistoryDialog(admin.service, details)
    qtbot.addWidget(dialog)
    rows = dialog.rows()
    assert [r[:2] for r in rows] == [["Booking confirmation", "E-mail"], ["Reminder", "SMS"],
                                     ["Reminder", "E-mail"]]
    assert rows[0][4:] == ["g…@example.org", "sent"] and rows[0][3] != "—"
    assert rows[1][3:] == ["—", "+34 …22", "failed (invalid_phone), 3 attempts"]
    assert rows[2][3:] == ["—", "—", "waiting"]
    assert not dialog.problem.isVisible()
    set_language("es")
    assert dialog.rows()[1][:2] == ["Recordatorio", "SMS"]
    assert dialog.rows()[0][5] == "enviado"


def test_an_appointment_without_messages_says_so(qtbot: QtBot, admin: LiveNotifications) -> None:
    details = load_details(admin.ctx, admin.book(1))
    assert details is not None
    dialog = shown(qtbot, NotificationHistoryDialog(admin.service, details))
    assert dialog.rows() == [] and dialog.empty.isVisible()


# --------------------------------------------------------------------------- settings


W = TypeVar("W", bound=QWidget)


def shown(qtbot: QtBot, widget: W) -> W:
    qtbot.addWidget(widget)
    widget.show()
    return widget


def settings_dialog(qtbot: QtBot, live: LiveNotifications) -> NotificationSettingsDialog:
    return shown(qtbot, NotificationSettingsDialog(live.service, appointment_types(live.ctx)))


def test_settings_are_saved_and_the_password_is_write_only(
        qtbot: QtBot, admin: LiveNotifications) -> None:
    dialog = settings_dialog(qtbot, admin)
    assert dialog.offsets_edit.text() == "1 d, 2 h"
    assert dialog.smtp_password.placeholderText() == "Not set"
    dialog.offsets_edit.setText("2 d, 3 h")
    dialog.type_table.item(0, 1).setText("1 h")  # type: ignore[union-attr]
    dialog.quiet_check.setChecked(True)
    dialog.smtp_host.setText("smtp.clinic.example")
    dialog.smtp_password.setText("s3cret-smtp")
    dialog.clinic_phone.setText("+34 910 000 000")
    assert dialog.save(), dialog.problem.text()

    row = stored_settings(admin)
    assert sorted(row.reminder_offsets) == [180, 2880]
    assert row.type_offsets == {admin.clinic.type_id: [60]}
    assert (row.quiet_start, row.quiet_end) == ("21:00", "08:00")
    assert row.smtp_host == "smtp.clinic.example" and row.smtp_password == "s3cret-smtp"
    assert row.clinic_phone == "+34 910 000 000"  # a server field beyond the contract
    assert "s3cret-smtp" not in str(admin.service.settings())
    # Opened again: the password is only "set"; saving without typing keeps it.
    again = settings_dialog(qtbot, admin)
    assert again.smtp_password.text() == ""
    assert again.smtp_password.placeholderText() == "Set — type a new one to replace it"
    assert again.type_table.item(0, 1).text() == "1 h"  # type: ignore[union-attr]
    again.fallback_spin.setValue(30)
    assert again.save()
    assert stored_settings(admin).smtp_password == "s3cret-smtp"
    assert stored_settings(admin).fallback_delay_minutes == 30


def test_a_reminder_time_that_cannot_be_read_is_refused_in_words(
        qtbot: QtBot, admin: LiveNotifications) -> None:
    dialog = settings_dialog(qtbot, admin)
    before = admin.service.settings()
    dialog.offsets_edit.setText("1 d, tomorrow")
    assert not dialog.save()
    assert dialog.problem.text() == ("\"tomorrow\" is not a time before the appointment: "
                                     "write e.g. 1 d, 2 h or 30 min.")
    assert admin.service.settings() == before


def test_a_test_e_mail_goes_through_a_real_smtp_server(
        qtbot: QtBot, admin: LiveNotifications) -> None:
    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        dialog = settings_dialog(qtbot, admin)
        dialog.email_enabled.setChecked(True)
        dialog.smtp_host.setText("127.0.0.1")
        dialog.smtp_port.setValue(controller.port)
        dialog.starttls.setChecked(False)
        dialog.smtp_user.clear()
        dialog.email_sender.setText("desk@clinic.example")
        assert dialog.save(), dialog.problem.text()
        dialog.test_to.setText("frontdesk@clinic.example")
        assert dialog.send_test(), dialog.test_result.text()
        assert dialog.test_result.text().startswith("Sent: ")
    finally:
        controller.stop()
    dialog.test_channel.setCurrentIndex(dialog.test_channel.findData("sms"))
    assert not dialog.send_test()  # no gateway configured
    assert dialog.test_result.text().startswith(("Not sent: ", "The server did not accept"))


def test_a_user_without_admin_config_gets_no_settings(
        qtbot: QtBot, live: LiveNotifications) -> None:
    live.sign_in(live.clinic.user_email)  # the receptionist
    with pytest.raises(NotificationsRefused) as refused:
        live.service.settings()
    assert refused.value.status == 403


# --------------------------------------------------------------------------- templates


def templates_dialog(qtbot: QtBot, live: LiveNotifications) -> TemplatesDialog:
    return shown(qtbot, TemplatesDialog(live.service))


def test_the_preview_is_rendered_by_the_server_and_a_bad_variable_is_named(
        qtbot: QtBot, admin: LiveNotifications) -> None:
    dialog = templates_dialog(qtbot, admin)
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("reminder"))
    dialog.language_combo.setCurrentIndex(dialog.language_combo.findData("en"))
    assert "{{ date }}" in dialog.subject_edit.text()
    assert dialog.preview_subject.text().startswith("Reminder: your appointment on ")
    assert "{{" not in dialog.preview.toPlainText()
    assert dialog.customized_label.text() == "Built-in text"

    dialog.text_edit.setPlainText("Hello {{ patient_nam }}")
    dialog.update_preview()
    assert dialog.preview_problem.isVisible()
    assert "patient_nam" in dialog.preview_problem.text()
    assert dialog.preview_problem.text().startswith("This template cannot be sent: ")
    assert dialog.save() is None
    assert "patient_nam" in dialog.problem.text()

    dialog.text_edit.setPlainText("See you {{ patient_name }} at {{ time }}.")
    dialog.update_preview()
    assert not dialog.preview_problem.isVisible()
    saved = dialog.save()
    assert saved is not None and saved.customized
    assert dialog.customized_label.text() == "Changed for this clinic"
    dialog.reset()
    assert dialog.customized_label.text() == "Built-in text"
    assert dialog.text_edit.toPlainText().startswith("Hello {{ patient_name }}")


def test_the_spanish_template_is_shown_in_spanish(qtbot: QtBot, admin: LiveNotifications
                                                  ) -> None:
    dialog = templates_dialog(qtbot, admin)
    dialog.channel_combo.setCurrentIndex(dialog.channel_combo.findData("sms"))
    dialog.language_combo.setCurrentIndex(dialog.language_combo.findData("es"))
    assert not dialog.subject_edit.isVisible()
    assert "{{ clinic_name }}" in dialog.text_edit.toPlainText()
    assert "10 de marzo de 2026" in dialog.preview.toPlainText()  # the patient's language
    set_language("es")
    assert dialog.windowTitle() == "Plantillas de mensajes"
