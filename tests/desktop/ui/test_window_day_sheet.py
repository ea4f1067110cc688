"""The day sheet prints to a PDF whose text holds the day's appointments, per provider."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from pypdf import PdfReader
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.ui.day_sheet import day_sheet_pdf
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
    TUESDAY_9,
)

TUESDAY = date(2025, 3, 4)


def _book(ctx: DeskContext, patient: str, hours: float, provider: str) -> None:
    assert booking.book(ctx, clinic_id=CLINIC, patient_id=patient, appointment_type_id=CHECKUP,
                        provider_id=provider, start=TUESDAY_9 + timedelta(hours=hours)).ok


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
