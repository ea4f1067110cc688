"""The patient panel answers "when is my next appointment?": contact, next and past
appointments, no-show count; it opens from the agenda and the finder, books, and is
emptied when the desk locks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop.services import booking, patients
from desktop.services.context import DeskContext
from desktop.store.models import AppointmentTypeRow, PatientRow
from desktop.ui.booking_dialog import BookingDialog
from desktop.ui.main_window import MainWindow
from desktop.ui.patient_picker import PatientPicker
from desktop.ui.text import set_language
from tests.desktop.services.conftest import (
    ANA,
    CHECKUP,
    CLINIC,
    DR_LOPEZ,
    DR_RUIZ,
    MONDAY_8,
    TUESDAY_9,
    FakeClock,
)

MONDAY = date(2025, 3, 3)


@pytest.fixture
def window(qtbot: QtBot, ctx: DeskContext, tmp_path: Path) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat)
    made = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], MONDAY, "desk-1", settings=settings)
    qtbot.addWidget(made)
    made.show()
    yield made


def _book(ctx: DeskContext, start: object, provider: str = DR_RUIZ) -> str:
    result = booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                          provider_id=provider, start=start)  # type: ignore[arg-type]
    assert result.ok and result.appointment is not None, result.refusal
    return result.appointment.id


def test_the_panel_shows_the_next_and_past_appointments_and_no_shows(
    window: MainWindow, ctx: DeskContext, clock: FakeClock
) -> None:
    early = _book(ctx, MONDAY_8 + timedelta(hours=1))  # Monday 09:00
    _book(ctx, TUESDAY_9 + timedelta(days=1), DR_LOPEZ)  # Wednesday 09:00
    _book(ctx, TUESDAY_9)  # Tuesday 09:00: the next one
    while clock.now < MONDAY_8 + timedelta(hours=1, minutes=20):
        clock.advance(timedelta(minutes=4))
        ctx.sessions.touch()
    assert booking.change_status(ctx, early, "no_show").ok

    window.open_patient(ANA)

    panel = window.patient_panel
    assert window.patient_dock.isVisible()
    assert panel.name.text() == "Ana García"
    assert panel.values[0].text() == "+34 600 111 222"
    upcoming = [panel.upcoming.item(r).text() for r in range(panel.upcoming.count())]
    assert len(upcoming) == 2
    assert upcoming[0].startswith("Tue, 4 Mar 2025, 09:00")
    assert "Dr López" in upcoming[1]
    assert panel.past.count() == 1 and "no-show" in panel.past.item(0).text()
    assert panel.no_shows.text() == "1 no-show"


def test_the_finder_opens_the_panel_and_the_panel_books_for_the_patient(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    dialog = window.find_patient()
    picker = dialog.findChild(PatientPicker)
    assert picker is not None
    picker.choose(patients.get(ctx, ANA))  # type: ignore[arg-type]
    assert window.patient_panel.name.text() == "Ana García"

    window.patient_panel.book_button.click()

    booking_dialogs = [d for d in window.findChildren(BookingDialog) if d.isVisible()]
    assert booking_dialogs and all(
        d.patients.patient is not None and d.patients.patient.id == ANA for d in booking_dialogs)


def test_locking_the_desk_empties_the_patient_panel(window: MainWindow) -> None:
    window.open_patient(ANA)
    window.lock_overlay.lock()
    assert window.patient_panel.history is None
    assert window.patient_panel.name.text() == ""


def test_the_panel_shows_the_date_of_birth_and_alerts_in_red(
    window: MainWindow, ctx: DeskContext
) -> None:
    with ctx.store.write() as session:
        kind = session.get(AppointmentTypeRow, CHECKUP)
        row = session.get(PatientRow, ANA)
        assert kind is not None and row is not None
        kind.cancellation_period_seconds = 24 * 3600
        row.date_of_birth, row.reminders_opt_out = "1985-06-14", True
    late = _book(ctx, MONDAY_8 + timedelta(hours=6))  # today 14:00
    assert booking.cancel(ctx, late, "ill").notices == ("LATE_CANCELLATION",)
    _book(ctx, TUESDAY_9)  # cancelled a week ahead: not late
    early = _book(ctx, TUESDAY_9 + timedelta(days=7))
    assert booking.cancel(ctx, early, "moved away").ok

    window.open_patient(ANA)

    panel = window.patient_panel
    titles = [t.text() for t in panel.titles]
    shown = dict(zip(titles, (v.text() for v in panel.values), strict=True))
    assert shown["Date of birth"] == "14 Jun 1985"
    assert shown["Alerts"].splitlines() == ["Cancelled late 1 time", "Reminders turned off"]
    assert panel.values[titles.index("Alerts")].styleSheet()  # said in red
    set_language("es")
    assert "Fecha de nacimiento" in [t.text() for t in panel.titles]


def test_a_patient_without_alerts_says_none(window: MainWindow) -> None:
    window.open_patient(ANA)
    panel = window.patient_panel
    alerts = panel.values[[t.text() for t in panel.titles].index("Alerts")]
    assert alerts.text() == "None" and not alerts.styleSheet()
