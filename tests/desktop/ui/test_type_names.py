"""An appointment type's Spanish name: the booking dialog shows the type in the desk's
language (the Spanish name when the type has one)."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from desktop.services.context import DeskContext
from desktop.store.models import AppointmentTypeRow
from desktop.ui.booking_dialog import BookingDialog
from desktop.ui.text import set_language
from tests.desktop.services.conftest import CHECKUP, CLINIC, DR_RUIZ, TUESDAY_9


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
