"""The desk's cancel dialog offers the cancellation categories (EN/ES); the agenda stores
the chosen category with the free text and queues it with the cancel intent."""

from __future__ import annotations

from datetime import timedelta

from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.services.context import DeskContext
from desktop.store.models import OutboxEntry
from desktop.ui.cancel_dialog import CancelChoice, CancelDialog
from desktop.ui.text import set_language
from scheduling import intents
from scheduling.cancellation import CANCEL_CATEGORIES
from tests.desktop.services.conftest import BEN, TUESDAY_9
from tests.desktop.ui.agenda.conftest import OpenAgenda, book, row


def test_the_dialog_lists_every_category_in_the_desk_language(qtbot: QtBot) -> None:
    dialog = CancelDialog()
    qtbot.addWidget(dialog)
    codes = [dialog.category.itemData(i) for i in range(dialog.category.count())]
    assert codes == list(CANCEL_CATEGORIES)
    assert dialog.category.itemText(codes.index("illness")) == "Illness"
    dialog.choose("no_transport")
    assert dialog.choice() == CancelChoice("no_transport", "No transport")  # label as reason
    dialog.choose("illness", "flu")
    assert dialog.choice() == CancelChoice("illness", "flu")
    set_language("es")
    spanish = CancelDialog()
    qtbot.addWidget(spanish)
    assert spanish.category.itemText(codes.index("illness")) == "Enfermedad"
    assert spanish.windowTitle() == "Cancelar cita"


def test_a_cancel_stores_the_category_and_queues_it(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    ana = book(ctx)
    agenda = open_agenda()
    agenda.appointment_actions.ask_cancel_reason = lambda: CancelChoice("illness", "flu")
    assert agenda.appointment_actions.cancel(ana)
    cancelled = row(ctx, ana)
    assert (cancelled.status, cancelled.cancel_category, cancelled.cancel_reason) == (
        "cancelled", "illness", "flu")
    with ctx.store.session() as session:
        queued = session.scalars(select(OutboxEntry).where(
            OutboxEntry.name == intents.APPOINTMENT_CANCEL)).one()
        assert queued.args["category"] == "illness"
    agenda.appointment_actions.ask_cancel_reason = lambda: None
    other = book(ctx, BEN, TUESDAY_9 + timedelta(hours=2))
    assert not agenda.appointment_actions.cancel(other)  # the user kept it
    assert row(ctx, other).status == "booked"
