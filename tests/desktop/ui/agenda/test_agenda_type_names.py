"""Issue 18: appointment types named per language are shown in the desk's language."""

from __future__ import annotations

from desktop.services.appointment_details import load_details
from desktop.services.clinic_reference import load_reference
from desktop.services.context import DeskContext
from desktop.ui.text import set_language
from tests.desktop.services.conftest import CLINIC, edit_checkup
from tests.desktop.ui.agenda.conftest import TUESDAY, OpenAgenda, book


def test_the_agenda_details_and_booking_lists_name_the_type_in_the_desks_language(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    edit_checkup(ctx, names=[["es", "Revisión"]])
    ana = book(ctx)
    agenda = open_agenda(TUESDAY)
    item = agenda.appointment_item(ana)
    assert item is not None and item.agenda_item.type_name == "Check-up"

    set_language("es")
    agenda.retranslate()  # as the window does on a language switch: reads the range again

    item = agenda.appointment_item(ana)
    assert item is not None and item.agenda_item.type_name == "Revisión"
    details = load_details(ctx, ana)
    assert details is not None and details.type_name == "Revisión"
    assert [t.name for t in load_reference(ctx, CLINIC).types] == ["Revisión"]
    set_language("en")
    assert load_reference(ctx, CLINIC).types[0].name == "Check-up"
