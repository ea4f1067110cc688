"""The desk's side of virtual check-in: "Arrived · virtual" on the agenda item and in the
details, and the virtual waiting room (View ▸ Virtual waiting room, Ctrl+Shift+V) listing
today's virtual check-ins still waiting, per provider, read again on every sync."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QKeySequence
from pytestqt.qtbot import QtBot

from desktop.services.context import DeskContext
from desktop.services.virtual_waiting import virtual_waiting_room
from desktop.store.models import AppointmentRow
from desktop.ui.main_window import MainWindow
from desktop.ui.text import set_language
from desktop.ui.virtual_waiting_room import SHORTCUT
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CARLA,
    CLINIC,
    DR_LOPEZ,
    MONDAY_8,
    FakeClock,
    edit_checkup,
)
from tests.desktop.ui.agenda.conftest import book

MONDAY = date(2025, 3, 3)
NINE = MONDAY_8 + timedelta(hours=1)  # Monday 09:00 in Madrid
SHOTS = os.environ.get("DESK_SCREENSHOTS")


@pytest.fixture
def window(qtbot: QtBot, ctx: DeskContext, tmp_path: Path) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat)
    made = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], MONDAY, "desk-1", settings=settings)
    qtbot.addWidget(made)
    made.show()
    yield made
    set_language("en")


def telemedicine(ctx: DeskContext) -> None:
    edit_checkup(ctx, telemedicine=True)


def pulled_check_in(ctx: DeskContext, appointment_id: str, at: datetime | None,
                    status: str = "arrived") -> None:
    """The appointment as a pull brings it after the portal's check-in (confirmed data)."""
    with ctx.store.write() as session:
        row = session.get(AppointmentRow, appointment_id)
        assert row is not None
        row.status, row.virtual_checkin_at, row.pending_mutation_id = status, at, None


def waiting_at_09_05(ctx: DeskContext, clock: FakeClock) -> dict[str, str]:
    """Ana (Ruiz, checked in 08:50), Ben (Ruiz, 08:58) and Carla (López, 08:55) checked
    in online; a desk arrival and a patient already in the room do not wait here."""
    telemedicine(ctx)
    ids = {"ana": book(ctx, ANA, NINE), "ben": book(ctx, BEN, NINE + timedelta(minutes=30)),
           "carla": book(ctx, CARLA, NINE, DR_LOPEZ),
           "desk": book(ctx, ANA, NINE + timedelta(hours=2)),
           "in_room": book(ctx, BEN, NINE + timedelta(hours=2), DR_LOPEZ)}
    pulled_check_in(ctx, ids["ana"], NINE - timedelta(minutes=10))
    pulled_check_in(ctx, ids["ben"], NINE - timedelta(minutes=2))
    pulled_check_in(ctx, ids["carla"], NINE - timedelta(minutes=5))
    pulled_check_in(ctx, ids["desk"], None)
    pulled_check_in(ctx, ids["in_room"], NINE - timedelta(minutes=1), "in_progress")
    while clock.now < NINE + timedelta(minutes=5):  # a busy desk: it does not lock
        clock.advance(min(timedelta(minutes=4), NINE + timedelta(minutes=5) - clock.now))
        ctx.sessions.touch()
    return ids


def test_the_waiting_room_lists_virtual_check_ins_per_provider_with_the_wait(
        ctx: DeskContext, clock: FakeClock) -> None:
    ids = waiting_at_09_05(ctx, clock)
    found = virtual_waiting_room(ctx, CLINIC)
    assert [p.appointment_id for p in found] == [ids["carla"], ids["ana"], ids["ben"]]
    assert [p.waited for p in found] == [timedelta(minutes=m) for m in (10, 15, 7)]


def test_the_dock_shows_who_waits_for_whom_and_follows_every_sync(
        qtbot: QtBot, window: MainWindow, ctx: DeskContext, clock: FakeClock) -> None:
    ids = waiting_at_09_05(ctx, clock)
    dock = window.virtual_waiting
    assert dock.action in window.view_menu.actions()
    assert dock.action.shortcut() == QKeySequence(SHORTCUT)
    dock.action.trigger()
    qtbot.waitUntil(dock.dock.isVisible)
    rows = dock.panel.rows()
    assert rows[0] == ("Dr López — waiting: 1",) and rows[2] == ("Dr Ruiz — waiting: 2",)
    assert [r[0] for r in rows if len(r) == 3] == ["Carla Núñez", "Ana García", "Ben Smith"]
    assert rows[3][1:] == ("09:00", "15 mins")

    pulled_check_in(ctx, ids["ana"], NINE - timedelta(minutes=10), "in_progress")
    window.on_changes(None)  # the sync worker's signal after a pull
    assert [r[0] for r in dock.panel.rows() if len(r) == 3] == ["Carla Núñez", "Ben Smith"]

    window.lock_overlay.lock()
    assert dock.panel.rows() == []  # no patient data behind the lock


def test_the_agenda_item_and_the_details_say_arrived_virtual_in_english_and_spanish(
        qtbot: QtBot, window: MainWindow, ctx: DeskContext, clock: FakeClock) -> None:
    ids = waiting_at_09_05(ctx, clock)
    window.refresh()
    item = window.agenda.appointment_item(ids["ana"])
    assert item is not None and "(Arrived · virtual)" in item.toolTip()
    at_desk = window.agenda.appointment_item(ids["desk"])
    assert at_desk is not None and "virtual" not in at_desk.toolTip()
    window.show_appointment(ids["ana"])
    assert "Arrived · virtual" in window.details_panel.values[5].text()

    set_language("es")
    window.refresh()
    item = window.agenda.appointment_item(ids["ana"])
    assert item is not None and "Ha llegado · virtual" in item.toolTip()
    assert "Ha llegado · virtual" in window.details_panel.values[5].text()
    window.virtual_waiting.action.trigger()
    qtbot.waitUntil(window.virtual_waiting.dock.isVisible)
    assert window.virtual_waiting.dock.windowTitle() == "Sala de espera virtual"
    if SHOTS:
        for lang in ("es", "en"):
            set_language(lang)
            for width, height in ((1600, 1000), (1280, 800)):
                window.resize(width, height)
                qtbot.wait(50)  # let the layout settle before the grab (no state waited on)
                window.grab().save(str(Path(SHOTS) / f"virtual-waiting-{lang}-{width}.png"))
