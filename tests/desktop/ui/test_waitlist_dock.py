"""The waitlist dock: entries in serving order, drags carrying the entry id, add and pin."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop.services import agenda, booking, patients, waitlist
from desktop.services.clinic_reference import load_reference
from desktop.services.context import DeskContext
from desktop.ui.agenda import WAITLIST_MIME
from desktop.ui.main_window import MainWindow
from desktop.ui.waitlist_dock import AddToWaitlistDialog, WaitlistPanel
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CARLA,
    CHECKUP,
    CLINIC,
    DR_RUIZ,
    MONDAY_8,
)

MONDAY = date(2025, 3, 3)


def _panel(qtbot: QtBot, ctx: DeskContext) -> WaitlistPanel:
    panel = WaitlistPanel(ctx)
    qtbot.addWidget(panel)
    panel.set_clinic(CLINIC)
    return panel


def test_entries_are_listed_in_serving_order_and_each_drag_carries_its_own_id(
    qtbot: QtBot, ctx: DeskContext
) -> None:
    ben = waitlist.add(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP)
    carla = waitlist.add(ctx, clinic_id=CLINIC, patient_id=CARLA,
                         appointment_type_id=CHECKUP, priority=5)
    panel = _panel(qtbot, ctx)

    names = [str(panel.model.index(row).data()).split("\n")[0] for row in range(2)]
    assert names == ["Carla Núñez · priority 5", "Ben Smith"]  # the higher priority first
    for row, entry in ((0, carla), (1, ben)):
        mime = panel.model.mimeData([panel.model.index(row)])
        assert bytes(mime.data(WAITLIST_MIME).data()).decode() == entry.record_id
    assert panel.model.mimeTypes() == [WAITLIST_MIME]


def test_adding_needs_a_patient_and_then_puts_them_on_the_list(
    qtbot: QtBot, ctx: DeskContext
) -> None:
    dialog = AddToWaitlistDialog(ctx, load_reference(ctx, CLINIC))
    qtbot.addWidget(dialog)
    dialog.submit()
    assert dialog.message.text() == "Please choose a patient first."
    assert waitlist.entries(ctx, CLINIC) == ()

    patient = patients.get(ctx, BEN)
    assert patient is not None
    dialog.picker.choose(patient)
    dialog.note.setText("mornings only")
    dialog.submit()
    entries = waitlist.entries(ctx, CLINIC)
    assert [(e.patient_id, e.note) for e in entries] == [(BEN, "mornings only")]


def test_pinning_an_appointment_puts_its_patient_on_the_waitlist_and_keeps_the_booking(
    qtbot: QtBot, ctx: DeskContext, tmp_path: Path
) -> None:
    booked = booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                          provider_id=DR_RUIZ, start=MONDAY_8 + timedelta(hours=2))
    assert booked.ok
    appointment_id = booked.appointments[0].id
    window = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], MONDAY,
                        settings=QSettings(str(tmp_path / "desk.ini"),
                                           QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.pin_to_waitlist(appointment_id)  # "Move to pinboard" now holds the appointment

    entries = waitlist.entries(ctx, CLINIC)
    assert [(e.patient_id, e.appointment_type_id) for e in entries] == [(ANA, CHECKUP)]
    assert entries[0].note.startswith("Had Check-up on ")
    assert window.waitlist_panel.model.rowCount() == 1
    still = [i.appointment_id for i in agenda.day_view(ctx, CLINIC, MONDAY).items]
    assert appointment_id in still
