"""An appointment type's Spanish name: the booking dialog and the waitlist show the type
in the desk's language (the Spanish name when the type has one)."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from desktop.services import waitlist
from desktop.services.clinic_reference import load_reference
from desktop.services.context import DeskContext
from desktop.store.models import AppointmentTypeRow
from desktop.ui.booking_dialog import BookingDialog
from desktop.ui.text import set_language
from desktop.ui.waitlist_dock import AddToWaitlistDialog, WaitlistPanel
from tests.desktop.services.conftest import BEN, CHECKUP, CLINIC, DR_RUIZ, TUESDAY_9, edit_checkup


def test_the_booking_dialog_names_the_type_in_the_desk_language(
    qtbot: QtBot, ctx: DeskContext
) -> None:
    with ctx.store.write() as session:
        row = session.get(AppointmentTypeRow, CHECKUP)
        assert row is not None
        english, row.names = row.name, [["es", "Revisión general"]]

    def shown() -> str:
        dialog = BookingDialog(ctx, CLINIC, start=TUESDAY_9, provider_id=DR_RUIZ)
        qtbot.addWidget(dialog)
        return dialog.type_combo.itemText(dialog.type_combo.findData(CHECKUP))

    assert shown() == english
    set_language("es")
    assert shown() == "Revisión general"


def test_the_waitlist_names_the_type_in_the_language_switched_to(
    qtbot: QtBot, ctx: DeskContext
) -> None:
    edit_checkup(ctx, names=[["es", "Revisión general"]])
    waitlist.add(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP)
    panel = WaitlistPanel(ctx)
    qtbot.addWidget(panel)
    panel.set_clinic(CLINIC)
    assert str(panel.model.index(0).data()).split("\n")[1] == "Check-up"

    set_language("es")  # switched live, the panel already open

    assert str(panel.model.index(0).data()).split("\n")[1] == "Revisión general"
    dialog = AddToWaitlistDialog(ctx, load_reference(ctx, CLINIC))
    qtbot.addWidget(dialog)
    assert dialog.type_combo.itemText(dialog.type_combo.findData(CHECKUP)) == "Revisión general"
