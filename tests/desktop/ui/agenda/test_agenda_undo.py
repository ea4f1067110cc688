"""Undo and redo in the agenda: only the last change, never another one; cancels too;
only the status steps that make sense today; the status bar says what just happened."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta
from decimal import Decimal

from PySide6.QtCore import QByteArray, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.services import booking, waitlist
from desktop.services.context import DeskContext
from desktop.ui.agenda import WAITLIST_MIME, AgendaWidget
from desktop.ui.agenda.scene import PIXELS_PER_MINUTE
from desktop.ui.cancel_dialog import CancelDialog
from scheduling.commands import Policy
from tests.desktop.services.conftest import (
    BEN,
    CARLA,
    CHECKUP,
    CLINIC,
    DR_LOPEZ,
    DR_RUIZ,
    MONDAY_8,
    TUESDAY_9,
    FakeClock,
    edit_checkup,
)
from tests.desktop.ui.agenda.conftest import TUESDAY, OpenAgenda, book, drag, point_at, row

TEN = TUESDAY_9 + timedelta(hours=1)


def test_undo_after_a_cancel_restores_the_cancelled_one_and_leaves_an_earlier_move_alone(
    ctx: DeskContext, open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    ana = book(ctx)
    ben = book(ctx, BEN, TEN + timedelta(hours=2), DR_LOPEZ)
    agenda = open_agenda()
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=10))
    drop = point_at(agenda, TUESDAY, DR_LOPEZ, TEN + timedelta(minutes=10))
    with qtbot.waitSignal(agenda.changed, timeout=1000):
        drag(agenda, grab, grab + QPoint(0, 10), drop)
    agenda.appointment_actions.ask_cancel_reason = lambda: "patient called"
    assert agenda.appointment_actions.cancel(ben)
    assert row(ctx, ben).status == "cancelled"

    assert agenda.undo()

    assert row(ctx, ben).status == "booked"
    moved = row(ctx, ana)
    assert (moved.provider_id, moved.start.replace(tzinfo=UTC)) == (DR_LOPEZ, TEN)


def test_redo_does_the_undone_cancel_again(ctx: DeskContext, open_agenda: OpenAgenda) -> None:
    ben = book(ctx, BEN, TEN, DR_LOPEZ)
    agenda = open_agenda()
    agenda.appointment_actions.ask_cancel_reason = lambda: "patient called"
    agenda.appointment_actions.cancel(ben)
    agenda.undo()
    assert agenda.history.can_redo()
    assert agenda.history.redo_text() == "Redo cancellation"

    assert agenda.redo()

    assert row(ctx, ben).status == "cancelled"
    assert agenda.history.can_undo() and not agenda.history.can_redo()


def test_undo_refuses_when_another_change_touched_the_appointment_since(
    ctx: DeskContext, open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    ana = book(ctx)
    agenda = open_agenda()
    said: list[str] = []
    agenda.message.connect(said.append)
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=10))
    drop = point_at(agenda, TUESDAY, DR_LOPEZ, TEN + timedelta(minutes=10))
    with qtbot.waitSignal(agenda.changed, timeout=1000):
        drag(agenda, grab, grab + QPoint(0, 10), drop)
    # Someone else (another screen, a sync) moves it again.
    later = TEN + timedelta(hours=4)
    assert booking.move(ctx, ana, later).ok

    assert not agenda.undo()

    assert row(ctx, ana).start.replace(tzinfo=UTC) == later
    assert "has changed since" in said[-1]
    assert not agenda.history.can_undo()


def test_a_successful_drop_replaces_an_earlier_refusal_in_the_status_bar(
    ctx: DeskContext, open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    book(ctx)
    book(ctx, BEN, TEN, DR_LOPEZ)
    agenda = open_agenda()
    said: list[str] = []
    agenda.message.connect(said.append)
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=10))
    busy = point_at(agenda, TUESDAY, DR_LOPEZ, TEN + timedelta(minutes=10))
    drag(agenda, grab, grab + QPoint(0, 10), busy)
    assert said and "Dr López" in said[-1]
    free = point_at(agenda, TUESDAY, DR_LOPEZ, TEN + timedelta(hours=2, minutes=10))

    with qtbot.waitSignal(agenda.changed, timeout=1000):
        drag(agenda, grab, grab + QPoint(0, 10), free)

    assert said[-1].startswith("Moved to ")
    assert "Dr López" not in said[-1]


def test_arrival_is_offered_on_the_day_not_the_day_before(
    ctx: DeskContext, open_agenda: OpenAgenda, clock: FakeClock
) -> None:
    ana = book(ctx)
    agenda = open_agenda()
    menu = agenda.context_menu(ana)
    assert menu is not None
    assert "arrived" not in {a.data() for a in menu.actions()}
    assert not booking.change_status(ctx, ana, "arrived").ok  # the rules agree

    clock.advance(timedelta(days=1))  # Tuesday 08:00, the appointment's day
    menu = agenda.context_menu(ana)
    assert menu is not None
    assert {"arrived", "confirmed", "cancel"} <= {a.data() for a in menu.actions()}
    assert "no_show" not in {a.data() for a in menu.actions()}  # it has not started yet


def test_a_late_cancellation_is_recorded_and_said_with_the_fee(
    ctx: DeskContext, qtbot: QtBot
) -> None:
    edit_checkup(ctx, cancellation_period_seconds=24 * 3600)
    ctx = replace(ctx, policy=Policy(late_cancellation_fee=Decimal(25)))
    this_afternoon = MONDAY_8 + timedelta(hours=6)  # 14:00, six hours from now
    ana = book(ctx, start=this_afternoon)
    agenda = AgendaWidget(ctx)
    qtbot.addWidget(agenda)
    agenda.show_range(CLINIC, MONDAY_8.date())
    said: list[str] = []
    agenda.message.connect(said.append)
    actions = agenda.appointment_actions
    notes: list[str] = []
    actions.ask_cancel_reason = lambda: notes.append(actions.cancel_note) or "ill"

    assert actions.cancel(ana)

    # The dialog said it before: the way forward is to record it, not a refusal.
    assert notes == ["Less than 24 hrs ahead: this will be recorded as a late cancellation, "
                     "with a fee of 25."]
    dialog = CancelDialog(None, notes[0])
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.note.isVisible() and dialog.note.text() == notes[0]
    assert row(ctx, ana).status == "cancelled"
    assert "late cancellation (fee 25)" in said[-1]
    assert agenda.undo()  # and it can be taken back like any change
    assert row(ctx, ana).status == "booked"


def test_a_cancellation_well_ahead_says_nothing_of_lateness(
    ctx: DeskContext, open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    edit_checkup(ctx, cancellation_period_seconds=24 * 3600)
    ben = book(ctx, BEN, TEN + timedelta(days=2), DR_LOPEZ)  # Thursday: two days ahead
    actions = open_agenda().appointment_actions
    notes: list[str] = []
    actions.ask_cancel_reason = lambda: notes.append(actions.cancel_note) or "ill"
    assert actions.cancel(ben)
    assert notes == [""]
    dialog = CancelDialog(None, notes[0])
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.note.isVisible()


def _refused_first(ctx: DeskContext, agenda: AgendaWidget, said: list[str]) -> None:
    """A refused drop (Dr López is busy at ten) leaves its refusal in ``said``."""
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=10))
    busy = point_at(agenda, TUESDAY, DR_LOPEZ, TEN + timedelta(minutes=10))
    drag(agenda, grab, grab + QPoint(0, 10), busy)
    assert said and "Dr López" in said[-1]


def test_a_successful_resize_replaces_an_earlier_refusal(
    ctx: DeskContext, open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    ana = book(ctx)
    book(ctx, BEN, TEN, DR_LOPEZ)
    agenda = open_agenda()
    said: list[str] = []
    agenda.message.connect(said.append)
    _refused_first(ctx, agenda, said)
    edge = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=30)) - QPoint(0, 2)

    with qtbot.waitSignal(agenda.changed, timeout=1000):
        drag(agenda, edge, edge + QPoint(0, 6), edge + QPoint(0, round(15 * PIXELS_PER_MINUTE)))

    assert row(ctx, ana).end.replace(tzinfo=UTC) == TUESDAY_9 + timedelta(minutes=45)
    assert "Dr López" not in said[-1] and said[-1]


def test_a_successful_waitlist_drop_replaces_an_earlier_refusal(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    book(ctx)
    book(ctx, BEN, TEN, DR_LOPEZ)
    entry = waitlist.add(ctx, clinic_id=CLINIC, patient_id=CARLA, appointment_type_id=CHECKUP)
    assert entry.record_id is not None
    agenda = open_agenda()
    said: list[str] = []
    agenda.message.connect(said.append)
    _refused_first(ctx, agenda, said)
    at = point_at(agenda, TUESDAY, DR_LOPEZ, TEN + timedelta(hours=2))
    data = QMimeData()
    data.setData(WAITLIST_MIME, QByteArray(entry.record_id.encode("utf-8")))
    viewport = agenda.view.viewport()
    copy, left = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton
    none = Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(viewport, QDragEnterEvent(at, copy, data, left, none))
    QApplication.sendEvent(viewport, QDragMoveEvent(at, copy, data, left, none))
    QApplication.sendEvent(viewport, QDropEvent(QPointF(at), copy, data, left, none))

    assert waitlist.entries(ctx, CLINIC) == ()
    assert said[-1].startswith("Booked from the waitlist for ")
