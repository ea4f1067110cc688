"""The conflict inbox lists refused offline actions and books their alternatives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QAbstractItemModel, Qt
from pytestqt.qtbot import QtBot

from desktop.services import agenda, booking
from desktop.services.context import DeskContext
from desktop.store import outbox
from desktop.store.models import AppointmentRow, ConflictRow
from desktop.ui.conflict_inbox import ConflictInbox
from desktop.ui.text import set_language
from scheduling import intents
from scheduling.commands import Actor, BookAppointment
from scheduling.refusals import RefusalCode, message_for
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CHECKUP,
    CLINIC,
    DR_RUIZ,
    ROOM,
    TUESDAY_9,
)

ModelTester = Callable[[QAbstractItemModel], None]
HALF_PAST_9 = TUESDAY_9 + timedelta(minutes=30)


@pytest.fixture
def refused_booking(ctx: DeskContext) -> None:
    """Ana holds Tuesday 09:00 with Dr Ruiz; Ben's offline booking of it came back refused."""
    assert booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                        provider_id=DR_RUIZ, start=TUESDAY_9).ok
    attempted = BookAppointment(Actor("user-desk"), "lost-1", CLINIC, BEN, CHECKUP, DR_RUIZ,
                                TUESDAY_9, notes="knee")
    with ctx.store.write() as session:
        session.add(ConflictRow(
            mutation_id=99, attempted={"name": intents.APPOINTMENT_BOOK,
                                       "args": intents.book(attempted)},
            code=RefusalCode.PROVIDER_BUSY.value,
            message_id=message_for(RefusalCode.PROVIDER_BUSY),
            params={"provider": DR_RUIZ, "other_start": TUESDAY_9.isoformat(),
                    "other_end": HALF_PAST_9.isoformat()},
            alternatives=[{"start": HALF_PAST_9.isoformat(),
                           "end": (HALF_PAST_9 + timedelta(minutes=30)).isoformat(),
                           "provider_id": DR_RUIZ, "room_id": ROOM}],
            received_at=datetime(2025, 3, 3, 8, tzinfo=UTC),
        ))


def _inbox(qtbot: QtBot, ctx: DeskContext, model_tester: ModelTester) -> ConflictInbox:
    inbox = ConflictInbox(ctx, CLINIC)
    qtbot.addWidget(inbox)
    inbox.show()
    model_tester(inbox.model)
    return inbox


@pytest.mark.usefixtures("refused_booking")
def test_the_inbox_says_what_was_tried_and_why_it_lost_in_plain_words(
    qtbot: QtBot, ctx: DeskContext, model_tester: ModelTester
) -> None:
    inbox = _inbox(qtbot, ctx, model_tester)

    assert inbox.count == 1
    assert inbox.model.index(0).data() == (
        "Book Ben Smith for Check-up with Dr Ruiz on Tue, 4 Mar 2025, 09:00")
    assert inbox.why.text().startswith("Dr Ruiz is already booked from")
    assert [b.text() for b in inbox._buttons] == [
        "Tue, 4 Mar 2025, 09:30 with Dr Ruiz in Room 1"]


@pytest.mark.usefixtures("refused_booking")
def test_one_click_books_the_alternative_and_clears_the_entry(
    qtbot: QtBot, ctx: DeskContext, model_tester: ModelTester
) -> None:
    inbox = _inbox(qtbot, ctx, model_tester)
    with ctx.store.session() as session:
        before = outbox.pending_count(session)

    with qtbot.waitSignals([inbox.changed, inbox.countChanged]):
        qtbot.mouseClick(inbox._buttons[0], Qt.MouseButton.LeftButton)

    with ctx.store.session() as session:
        assert outbox.pending_count(session) == before + 1
        booked = session.query(AppointmentRow).filter_by(patient_id=BEN).one()
        assert (booked.start.replace(tzinfo=UTC), booked.notes) == (HALF_PAST_9, "knee")
    assert inbox.count == 0 and agenda.conflict_inbox(ctx) == ()


@pytest.mark.usefixtures("refused_booking")
def test_dismiss_keeps_an_audit_trail(
    qtbot: QtBot, ctx: DeskContext, model_tester: ModelTester
) -> None:
    inbox = _inbox(qtbot, ctx, model_tester)

    qtbot.mouseClick(inbox.dismiss_button, Qt.MouseButton.LeftButton)

    assert inbox.count == 0
    with ctx.store.session() as session:
        row = session.query(ConflictRow).one()
        assert (row.dismissed_by, row.dismissed_at is not None) == ("user-desk", True)


@pytest.mark.usefixtures("refused_booking")
def test_the_inbox_speaks_spanish_after_a_switch(
    qtbot: QtBot, ctx: DeskContext, model_tester: ModelTester
) -> None:
    inbox = _inbox(qtbot, ctx, model_tester)

    set_language("es")

    assert inbox.dismiss_button.text() == "Descartar"
    assert inbox.model.index(0).data().startswith("Reservar a Ben Smith")
    assert inbox.why.text().startswith("Dr Ruiz ya tiene una cita")
