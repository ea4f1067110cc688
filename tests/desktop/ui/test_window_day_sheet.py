"""The day sheet prints to a PDF whose text holds the day's appointments, per provider or
per room; the appointment card prints to a PDF with the appointment and the next ones."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from pypdf import PdfReader
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.ui.appointment_card import appointment_card_pdf
from desktop.ui.day_sheet import day_sheet_pdf, pdf_printer
from desktop.ui.main_window import MainWindow
from desktop.ui.text import set_language
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CARLA,
    CHECKUP,
    CLINIC,
    DR_LOPEZ,
    DR_RUIZ,
    ROOM,
    ROOM_2,
    TUESDAY_9,
    edit_checkup,
)

TUESDAY = date(2025, 3, 4)


def _book(ctx: DeskContext, patient: str, hours: float, provider: str,
          room: str | None = None) -> str:
    made = booking.book(ctx, clinic_id=CLINIC, patient_id=patient, appointment_type_id=CHECKUP,
                        provider_id=provider, start=TUESDAY_9 + timedelta(hours=hours),
                        room_id=room)
    assert made.ok and made.appointment is not None
    return made.appointment.id


def _text(path: Path) -> str:
    return " ".join(" ".join((page.extract_text() or "").split())
                    for page in PdfReader(str(path)).pages)


def test_the_day_sheet_pdf_lists_the_days_appointments_by_provider(
    qapp: QApplication, ctx: DeskContext, tmp_path: Path
) -> None:
    _book(ctx, ANA, 0, DR_RUIZ)
    _book(ctx, BEN, 1.5, DR_LOPEZ)
    _book(ctx, CARLA, 24, DR_RUIZ)  # Wednesday: not on Tuesday's sheet

    text = _text(day_sheet_pdf(ctx, CLINIC, TUESDAY, tmp_path / "sheet.pdf"))

    assert "Madrid" in text
    for expected in ("Dr Ruiz", "Dr López", "Ana García", "Ben Smith", "09:00", "10:30",
                     "Check-up"):
        assert expected in text, expected
    assert "Carla" not in text
    assert text.index("Dr Ruiz") < text.index("Ana García")


def test_the_window_saves_the_shown_days_sheet_in_the_ui_language(
    qtbot: QtBot, ctx: DeskContext, tmp_path: Path
) -> None:
    _book(ctx, ANA, 0, DR_RUIZ)
    settings = QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat)
    window = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], TUESDAY, "desk-1", settings=settings)
    qtbot.addWidget(window)
    set_language("es")
    target = tmp_path / "hoja.pdf"
    window.ask_pdf_path = lambda: target

    window.pdf_action.trigger()

    text = _text(target)
    assert "Ana García" in text and "Paciente" in text and "martes" in text


def test_the_day_sheet_by_room_groups_the_appointments_under_their_rooms(
    qapp: QApplication, ctx: DeskContext, tmp_path: Path
) -> None:
    _book(ctx, ANA, 0, DR_RUIZ, ROOM_2)
    _book(ctx, BEN, 1.5, DR_LOPEZ, ROOM)

    text = _text(day_sheet_pdf(ctx, CLINIC, TUESDAY, tmp_path / "rooms.pdf", "room"))

    assert text.index("Room 1") < text.index("Ben Smith") < text.index("Room 2") < text.index(
        "Ana García")
    assert "Provider" in text and "Dr López" in text  # the other column names the provider


def test_the_appointment_card_pdf_says_when_with_whom_and_the_next_ones(
    qtbot: QtBot, ctx: DeskContext, tmp_path: Path
) -> None:
    edit_checkup(ctx, cancellation_period_seconds=24 * 3600)
    made = _book(ctx, ANA, 1.5, DR_LOPEZ, ROOM)
    _book(ctx, ANA, 24 * 7, DR_RUIZ)  # a week later
    _book(ctx, BEN, 3, DR_RUIZ)  # another patient: not on Ana's card

    text = _text(appointment_card_pdf(ctx, made, tmp_path / "card.pdf"))

    for expected in ("Madrid", "Appointment card", "Ana García", "Tue, 4 Mar 2025, 10:30",
                     "until 11:00", "Check-up", "Dr López", "Room 1",
                     "Your next appointments", "Tue, 11 Mar 2025, 09:00",
                     "at least 24 hrs ahead"):
        assert expected in text, expected
    assert "Ben" not in text


def test_the_agenda_menu_prints_the_card_in_the_ui_language(
    qtbot: QtBot, ctx: DeskContext, tmp_path: Path
) -> None:
    made = _book(ctx, ANA, 0, DR_RUIZ)
    settings = QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat)
    window = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], TUESDAY, "desk-1", settings=settings)
    qtbot.addWidget(window)
    set_language("es")
    target = tmp_path / "tarjeta.pdf"
    window.cards.ask_printer = lambda: pdf_printer(target)
    menu = window.agenda.context_menu(made)
    assert menu is not None
    [card] = [a for a in menu.actions() if a.data() == "card"]
    assert card.text() == "Imprimir tarjeta de cita…"

    card.trigger()

    text = _text(target)
    assert "Tarjeta de cita" in text and "Ana García" in text and "mar, 4 mar 2025" in text
