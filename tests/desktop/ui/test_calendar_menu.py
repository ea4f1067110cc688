"""The main window's Calendar menu: .ics exports of the selection and the shown days, and
the feeds dialog (which needs the server and ``admin:config``, or ``schedule:own`` for
the user's own calendar)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import icalendar
import pytest
import requests
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.services.session import SignInService
from desktop.ui.main_window import MainWindow
from desktop.ui.text import set_language
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CHECKUP,
    CLINIC,
    DR_RUIZ,
    EMAIL,
    PASSWORD,
    TUESDAY_9,
    server_accepting,
)
from tests.desktop.ui.feeds_server import live_feeds

CLINICS = [(CLINIC, "Madrid", "es_ES")]


@pytest.fixture
def window(qtbot: QtBot, ctx: DeskContext, tmp_path: Path) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat)
    made = MainWindow(ctx, CLINICS, TUESDAY_9.date(), "desk-1", settings=settings)
    qtbot.addWidget(made)
    made.show()
    yield made


def _book(ctx: DeskContext, patient: str, hours: int) -> str:
    result = booking.book(ctx, clinic_id=CLINIC, patient_id=patient, appointment_type_id=CHECKUP,
                          provider_id=DR_RUIZ, start=TUESDAY_9 + timedelta(hours=hours))
    assert result.appointment is not None
    return result.appointment.id


def test_the_menu_exports_the_shown_day_and_the_selection(
        window: MainWindow, ctx: DeskContext, tmp_path: Path) -> None:
    first, second = _book(ctx, ANA, 0), _book(ctx, BEN, 2)
    window.refresh()
    menu = window.calendar_menu
    asked: list[str] = []
    menu.choose_path = lambda suggested: (asked.append(suggested)
                                          or str(tmp_path / suggested.replace(".ics", "")))
    assert menu.menu.title() == "&Calendar"

    day = menu.export_days()
    assert day is not None and day.suffix == ".ics" and asked == ["clinicdesk-2025-03-04.ics"]
    uids = [str(e["UID"]) for e in icalendar.Calendar.from_ical(day.read_bytes()).walk("VEVENT")]
    assert uids == [f"{first}@clinicdesk", f"{second}@clinicdesk"]

    assert menu.export_selection() is None  # nothing selected: the user is told, no file
    assert menu.last_message == "Select an appointment in the agenda first."
    window.agenda.select(second)
    chosen = menu.export_selection()
    assert chosen is not None
    (event,) = icalendar.Calendar.from_ical(chosen.read_bytes()).walk("VEVENT")
    assert event["DTSTART"].dt.astimezone(UTC) == TUESDAY_9 + timedelta(hours=2)
    provider = menu.export_provider(DR_RUIZ)
    assert provider is not None and len(icalendar.Calendar.from_ical(
        provider.read_bytes()).walk("VEVENT")) == 2


def test_the_feeds_dialog_opens_with_the_server_and_in_spanish(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    menu = window.calendar_menu
    assert menu.open_feeds() is None  # no server connection yet: explained, not opened
    assert "connection to the server" in window.statusBar().currentMessage()
    with live_feeds(tmp_path) as live:
        menu.set_feeds(live.service)
        dialog = menu.open_feeds()
        assert dialog is not None and dialog.isVisible()
        qtbot.addWidget(dialog)
        assert [dialog.resource_combo.itemText(i) for i in range(dialog.resource_combo.count())] \
            == ["Dr López", "Dr Ruiz", "Room 1", "Room 2"]
        set_language("es")
        assert menu.menu.title() == "&Calendario"
        assert menu.feeds_action.text() == "Enlaces de calendario…"
        dialog.close()


def test_a_provider_opens_the_feeds_dialog_for_their_own_calendar_only(
        qtbot: QtBot, window: MainWindow, sessions: SignInService, tmp_path: Path) -> None:
    """A user with ``schedule:own`` and no ``admin:config``: the dialog offers only the
    provider linked to their account (as the server lists it), and creating works."""
    signed = sessions.sign_in_online(EMAIL, PASSWORD, None, server_accepting(
        frozenset({"booking:view_calendar", "schedule:own"}), user_id="user-doctor"))
    assert signed.ok
    menu = window.calendar_menu
    with live_feeds(tmp_path) as live:
        menu.set_feeds(live.provider_service())
        menu.menu.aboutToShow.emit()
        assert menu.feeds_action.isEnabled()
        dialog = menu.open_feeds()
        assert dialog is not None
        qtbot.addWidget(dialog)
        names = [dialog.resource_combo.itemText(i) for i in range(dialog.resource_combo.count())]
        own = live.clinic.provider_ids[0]
        assert [dialog.resource_combo.itemData(i) for i in range(len(names))] == [own]
        dialog.label_edit.setText("Phone")
        dialog.create_button.click()
        assert dialog.link_edit.text().startswith(live.url + "/feeds/")
        assert requests.get(dialog.link_edit.text(), timeout=10).status_code == 200
        assert [f.resource_id for f in live.service.feeds()] == [own]
        dialog.close()
    sessions.sign_in_online(EMAIL, PASSWORD, None, server_accepting(frozenset()))
    menu.menu.aboutToShow.emit()
    assert not menu.feeds_action.isEnabled()  # neither permission
