"""The exceptions panel and the notifications menu against a real sync server and a real desk."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from desktop.app import desk_clinics
from desktop.services.appointment_details import load_details
from desktop.sync.worker import SyncStatus
from desktop.ui.exceptions_panel import ExceptionsPanel
from desktop.ui.main_window import MainWindow
from desktop.ui.notification_history import NotificationHistoryDialog
from desktop.ui.text import set_language
from sync_server.notifications.links import LinkKey
from sync_server.notifications.service import settings_row
from sync_server.notifications.worker import Worker
from sync_server.outages import notices
from sync_server.outages.models import OutageDecision, OutageIncident
from tests.desktop.ui.notifications_server import (
    PHONE,
    LiveNotifications,
    live_notifications,
    raise_alert,
    resolved_on_server,
)
from tests.desktop.ui.test_texts_fit import clipped
from tests.support.notify_servers import SmtpSink


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNotifications]:
    with live_notifications(tmp_path_factory.mktemp("notifications")) as running:
        yield running


@pytest.fixture
def fresh(live: LiveNotifications) -> Iterator[LiveNotifications]:
    """The administrator signed in and no open alert left by an earlier test."""
    live.sign_in(live.admin_email)
    live.forget_alerts()
    yield live
    live.forget_alerts()


def read(qtbot: QtBot, panel: ExceptionsPanel) -> None:
    with qtbot.waitSignal(panel.loaded, timeout=20_000):
        panel.refresh()


def panel_for(qtbot: QtBot, live: LiveNotifications) -> ExceptionsPanel:
    panel = ExceptionsPanel(live.ctx)
    qtbot.addWidget(panel)
    panel.resize(420, 500)
    panel.show()
    with qtbot.waitSignal(panel.loaded, timeout=20_000):
        panel.set_service(live.service)
    return panel


def window_for(qtbot: QtBot, live: LiveNotifications, tmp_path: Path) -> MainWindow:
    """The desk's main window on the week of the clinic's bookable slots."""
    _org, clinics = desk_clinics(live.store)
    window = MainWindow(live.ctx, clinics, live.clinic.first_day,
                        settings=QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    return window


def texts(panel: ExceptionsPanel) -> list[str]:
    return [panel.list.item(row).text() for row in range(panel.list.count())]


def test_open_alerts_are_sentences_with_the_desks_own_patient_data(
        qtbot: QtBot, fresh: LiveNotifications) -> None:
    with_phone = fresh.book(0, patient=0)
    without = fresh.book(1, patient=1)
    raise_alert(fresh, with_phone, patient=0, reason="invalid_phone")
    raise_alert(fresh, without, patient=1, reason="no_contact", kind="created")
    panel = panel_for(qtbot, fresh)

    shown = texts(panel)
    assert len(shown) == 2 and not panel.offline
    call = "Call " + PHONE.replace(" ", "\u00a0")
    assert shown[0].startswith("Reminder for ")
    assert shown[0].endswith(f" G.\u00a0F. not delivered: no valid phone. {call}.")
    assert shown[1].startswith("Booking confirmation for ")
    assert shown[1].endswith("not delivered: no phone or e-mail on file. Add a phone number "
                             "to the patient's details.")
    assert panel.state_label.text().startswith("Updated at ")


def test_an_outage_incident_reads_as_one_summary_in_english_and_spanish(
        qtbot: QtBot, fresh: LiveNotifications) -> None:
    """The server's summary alert of an outage (as sync_server.outages.notices writes it,
    from the incident's decisions) is one sentence with both figures."""
    start = datetime.now(UTC) + timedelta(days=1)
    booked = [fresh.book(index, patient=index % 2) for index in range(20, 24)]
    with fresh.database() as session:
        incident = OutageIncident(
            id=str(uuid.uuid4()), organization_id=fresh.clinic.org_id,
            outage_id=str(uuid.uuid4()), resource_id=fresh.clinic.provider_ids[0],
            start_at=start, end_at=start + timedelta(hours=8), reason="",
            created_at=datetime.now(UTC))
        session.add(incident)
        session.flush()
        session.add_all(OutageDecision(
            id=str(uuid.uuid4()), organization_id=fresh.clinic.org_id,
            incident_id=incident.id, appointment_id=appointment_id, action=action,
            at=datetime.now(UTC)) for appointment_id, action in zip(
                booked, ("moved", "moved", "moved", "unplaced"), strict=True))
        session.flush()
        notices.tell_staff(session, incident, datetime.now(UTC))
        session.commit()
    panel = panel_for(qtbot, fresh)
    assert len(texts(panel)) == 1
    assert texts(panel)[0].startswith("Outage from ")
    assert texts(panel)[0].endswith(": 3 appointments re-routed, 1 could not be (each listed "
                                    "here).")
    set_language("es")
    assert ": 3 citas reubicadas, 1 no se pudieron reubicar" in texts(panel)[0]

def test_resolving_asks_for_a_note_and_the_server_keeps_it(
        qtbot: QtBot, fresh: LiveNotifications) -> None:
    alert_id = raise_alert(fresh, fresh.book(2), patient=0)
    panel = panel_for(qtbot, fresh)
    panel.select_alert(alert_id)
    panel.ask_note = lambda _alert: None  # the receptionist cancels
    assert panel.resolve_selected() is None
    assert resolved_on_server(fresh, alert_id) is None and len(panel.alerts) == 1

    panel.ask_note = lambda _alert: "called, confirmed"
    resolved = panel.resolve_selected()
    assert resolved is not None and resolved.resolution_note == "called, confirmed"
    assert resolved_on_server(fresh, alert_id) == "called, confirmed"
    assert panel.alerts == [] and panel.empty_label.isVisible()
    assert panel.last_message == "Resolved."


def test_an_alert_another_desk_resolved_meanwhile_is_said_and_dropped(
        qtbot: QtBot, fresh: LiveNotifications) -> None:
    alert_id = raise_alert(fresh, fresh.book(3), patient=0)
    panel = panel_for(qtbot, fresh)
    fresh.service.resolve(alert_id, None)  # the other desk
    panel.select_alert(alert_id)
    panel.ask_note = lambda _alert: ""
    with qtbot.waitSignal(panel.loaded, timeout=20_000):
        assert panel.resolve_selected() is None
    assert panel.last_message == "Someone has already resolved it."
    assert panel.alerts == []


def test_a_receptionist_without_the_permission_cannot_resolve(
        qtbot: QtBot, fresh: LiveNotifications) -> None:
    raise_alert(fresh, fresh.book(4), patient=0)
    fresh.sign_in(fresh.viewer_email)
    panel = panel_for(qtbot, fresh)
    assert len(panel.alerts) == 1  # reading needs only the calendar
    panel.list.setCurrentRow(0)
    panel.ask_note = lambda _alert: pytest.fail("not asked")  # type: ignore[return-value]
    assert panel.resolve_selected() is None
    assert panel.last_message == "Resolving needs the permission to change appointments."


def test_copy_phone_puts_the_desks_number_on_the_clipboard(
        qtbot: QtBot, fresh: LiveNotifications) -> None:
    raise_alert(fresh, fresh.book(5), patient=0)
    raise_alert(fresh, fresh.book(6), patient=1)
    panel = panel_for(qtbot, fresh)
    panel.list.setCurrentRow(0)
    assert panel.copy_button.isEnabled()
    panel.copy_button.click()
    assert QGuiApplication.clipboard().text() == PHONE
    panel.list.setCurrentRow(1)  # no phone on file
    assert not panel.copy_button.isEnabled()


def test_offline_the_last_list_stays_marked_offline_even_after_a_restart(
        qtbot: QtBot, tmp_path: Path) -> None:
    with live_notifications(tmp_path) as live:
        kept = raise_alert(live, live.book(0), patient=0)
        resolved = raise_alert(live, live.book(1), patient=1)
        panel = panel_for(qtbot, live)
        panel.select_alert(resolved)
        panel.ask_note = lambda _alert: ""
        assert panel.resolve_selected() is not None
        live.server.stop()
        read(qtbot, panel)
        assert panel.offline and [a.id for a in panel.alerts] == [kept]
        assert panel.state_label.text().startswith("Offline: the list as it was at ")
        assert panel.list.isVisible()
        restarted = panel_for(qtbot, live)  # the desk started again, still offline
    assert restarted.offline and [a.id for a in restarted.alerts] == [kept]
    assert restarted.state_label.text() == panel.state_label.text()
    assert texts(restarted) == texts(panel)


def test_the_window_has_a_menu_a_shortcut_a_badge_and_opens_the_appointment(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    appointment_id = fresh.book(7)
    raise_alert(fresh, appointment_id, patient=0)
    raise_alert(fresh, fresh.book(8), patient=1, reason="all_channels_failed")
    window = window_for(qtbot, fresh, tmp_path)
    window.show()
    notifications = window.notifications
    with qtbot.waitSignal(notifications.panel.loaded, timeout=20_000):
        notifications.set_service(fresh.service)
    assert notifications.menu.title() == "&Notifications"
    assert notifications.badge.text() == "Undelivered: 2" and notifications.badge.isVisible()
    assert notifications.dock.windowTitle() == "Undelivered messages (2)"

    notifications.dock.hide()
    qtbot.keyClick(window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert notifications.dock.isVisible()
    notifications.panel.select_alert(notifications.panel.alerts[0].id)
    notifications.panel.open_button.click()
    assert window.agenda.selected_appointment() == appointment_id
    assert window.details_panel.details is not None
    assert window.details_panel.details.appointment_id == appointment_id
    window.details_panel.notifications_button.click()  # "Notifications…" of the details
    history = notifications.dialog
    assert isinstance(history, NotificationHistoryDialog)
    assert history.details.appointment_id == appointment_id

    window.lock_overlay.lock()  # no patient initials or phones behind the lock
    assert notifications.panel.list.count() == 0
    qtbot.waitUntil(lambda: notifications.dialog is None)  # closed and deleted
    set_language("es")
    assert notifications.menu.title() == "&Notificaciones"
    window.close()


def test_the_panel_speaks_spanish(qtbot: QtBot, fresh: LiveNotifications) -> None:
    raise_alert(fresh, fresh.book(9), patient=0, reason="gateway_failed")
    panel = panel_for(qtbot, fresh)
    set_language("es")
    assert panel.resolve_button.text() == "Resolver…"
    assert " no entregado: el servicio de SMS falló. Llame al " in texts(panel)[0]


def test_each_sync_reads_the_panel_again_and_nothing_is_cut_off_in_spanish(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    window = window_for(qtbot, fresh, tmp_path)
    window.resize(1280, 800)
    window.show()
    notifications = window.notifications
    with qtbot.waitSignal(notifications.panel.loaded, timeout=20_000):
        notifications.set_service(fresh.service)
    assert notifications.panel.alerts == [] and not notifications.badge.isVisible()

    raise_alert(fresh, fresh.book(10), patient=0, reason="smtp_refused", kind="cancelled")
    with qtbot.waitSignal(notifications.panel.loaded, timeout=20_000):  # a poke's pull
        notifications.on_sync_state(SyncStatus(True, 0, datetime.now(UTC), None))
    assert len(notifications.panel.alerts) == 1 and notifications.badge.isVisible()

    set_language("es")
    notifications.panel.list.setCurrentRow(0)
    assert notifications.dock.windowTitle() == "Mensajes sin entregar (1)"
    assert clipped(notifications.panel) == []
    settings = notifications.open_settings()
    assert settings is not None
    assert clipped(settings) == []
    window.close()


def test_a_booking_whose_notice_reaches_no_one_shows_up_on_the_desk(
        qtbot: QtBot, tmp_path: Path) -> None:
    """End to end: the desk books for a patient without an e-mail address, the server's
    handler queues the notice, its worker finds no address and alerts the staff; the
    panel and the appointment's history say so."""
    smtp = SmtpSink().start()
    try:
        with live_notifications(tmp_path) as live:
            now = datetime.now(UTC)
            with live.database() as session:
                row = settings_row(session, live.clinic.org_id, now)
                row.email_enabled, row.smtp_host, row.smtp_port = True, "127.0.0.1", smtp.port
                row.smtp_starttls, row.email_sender = False, "clinic@clinic.example"
                session.commit()
            appointment_id = live.book(11, patient=1)  # Given1 Family1: no e-mail, no phone
            worker = Worker(live.database, LinkKey(b"a-test-key-of-enough-length-0123"),
                            clock=lambda: now + timedelta(minutes=5),
                            organization_id=live.clinic.org_id)
            try:
                assert worker.run_once() >= 1
            finally:
                worker.close()
            panel = panel_for(qtbot, live)
            assert [a.appointment_id for a in panel.alerts] == [appointment_id]
            assert texts(panel)[0].startswith("Booking confirmation for ")
            assert "not delivered: no phone or e-mail on file." in texts(panel)[0]
            assert smtp.received == []
            details = load_details(live.ctx, appointment_id)
            assert details is not None
            history = NotificationHistoryDialog(live.service, details)
            qtbot.addWidget(history)
            kinds = [row[0] for row in history.rows()]
            assert "Booking confirmation" in kinds and "Staff alert" in kinds
    finally:
        smtp.stop()


def test_the_settings_are_offered_to_administrators_only(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    window = window_for(qtbot, fresh, tmp_path)
    notifications = window.notifications
    with qtbot.waitSignal(notifications.panel.loaded, timeout=20_000):
        notifications.set_service(fresh.service)
    notifications.menu.aboutToShow.emit()
    assert notifications.settings_action.isVisible()
    assert notifications.templates_action.isVisible()

    fresh.sign_in(fresh.clinic.user_email)  # the receptionist
    notifications.menu.aboutToShow.emit()
    assert not notifications.settings_action.isVisible()
    assert not notifications.templates_action.isVisible()
    assert notifications.history_action.isEnabled()
    assert notifications.open_settings() is None
    assert notifications.last_message.startswith("Notification settings need a connection")


def test_the_history_of_an_appointment_offline_says_why_it_is_empty(
        qtbot: QtBot, tmp_path: Path) -> None:
    with live_notifications(tmp_path) as live:
        appointment_id = live.book(0)
        live.server.stop()
        details = load_details(live.ctx, appointment_id)
        assert details is not None
        dialog = NotificationHistoryDialog(live.service, details)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.rows() == [] and not dialog.empty.isVisible()
    assert dialog.problem.text().startswith("The server cannot be reached, so the history")

