"""The agenda widget drives the real services: drags move and resize, drops book, menus act."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from PySide6.QtCore import QByteArray, QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import QApplication, QGraphicsSimpleTextItem
from pytestqt.qtbot import QtBot

from desktop.services import booking, waitlist
from desktop.services.context import DeskContext
from desktop.ui.agenda import WAITLIST_MIME, AgendaWidget
from desktop.ui.agenda.scene import HEADER, PIXELS_PER_MINUTE, AppointmentItem
from desktop.ui.agenda.view import Mode
from scheduling.recurrence import weekly_for_weeks
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CHECKUP,
    CLINIC,
    DR_LOPEZ,
    DR_RUIZ,
    TUESDAY_9,
)
from tests.desktop.ui.agenda.conftest import (
    TUESDAY,
    OpenAgenda,
    book,
    drag,
    mouse,
    point_at,
    row,
    snapshot,
)

TEN = TUESDAY_9 + timedelta(hours=1)  # 10:00 in Madrid


def _texts(widget: AgendaWidget) -> list[str]:
    return [i.text() for i in widget.scene.items() if isinstance(i, QGraphicsSimpleTextItem)]


def test_the_day_shows_each_appointment_in_its_providers_column(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    ana = book(ctx)
    ben = book(ctx, BEN, TEN, DR_LOPEZ)
    agenda = open_agenda()
    geometry = agenda.geometry_
    assert geometry is not None
    for appointment_id, provider in ((ana, DR_RUIZ), (ben, DR_LOPEZ)):
        item = agenda.appointment_item(appointment_id)
        assert item is not None
        assert geometry.column_at(item.rect().center().x()).key == provider  # type: ignore[union-attr]
    assert agenda.appointment_item(ana).agenda_item.pending  # type: ignore[union-attr]
    assert {"Dr Ruiz", "Dr López"} <= set(_texts(agenda))


def test_dragging_an_appointment_to_another_provider_moves_it_in_the_store_and_the_outbox(
    ctx: DeskContext, open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    ana = book(ctx)
    agenda = open_agenda()
    before = snapshot(ctx)[1]
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=10))
    drop = point_at(agenda, TUESDAY, DR_LOPEZ, TEN + timedelta(minutes=10))

    with qtbot.waitSignal(agenda.changed, timeout=1000):
        drag(agenda, grab, grab + QPoint(0, 10), drop)

    moved = row(ctx, ana)
    assert (moved.provider_id, moved.start.replace(tzinfo=UTC)) == (DR_LOPEZ, TEN)
    assert snapshot(ctx)[1] == before + 1
    assert agenda.appointment_item(ana) is not None


def test_dragging_onto_a_busy_slot_is_refused_and_changes_nothing(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    ana = book(ctx)
    book(ctx, BEN, TEN, DR_LOPEZ)
    agenda = open_agenda()
    before = snapshot(ctx)
    said: list[str] = []
    agenda.message.connect(said.append)
    changed: list[bool] = []
    agenda.changed.connect(lambda: changed.append(True))
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=5))
    target = point_at(agenda, TUESDAY, DR_LOPEZ, TEN + timedelta(minutes=5))

    drag(agenda, grab, grab + QPoint(0, 10), target)

    assert snapshot(ctx) == before
    assert not changed
    assert said and "Dr López" in said[-1]
    assert row(ctx, ana).provider_id == DR_RUIZ


def test_the_ghost_shows_the_verdict_while_dragging(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    book(ctx)
    book(ctx, BEN, TEN, DR_LOPEZ)
    agenda = open_agenda()
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=5))
    mouse(agenda, QEvent.Type.MouseButtonPress, grab)
    mouse(agenda, QEvent.Type.MouseMove, grab + QPoint(0, 12))
    assert agenda.view.mode is Mode.MOVING
    free = agenda.view.mapFromScene(agenda.view.mapToScene(grab) + QPointF(0, 120))
    mouse(agenda, QEvent.Type.MouseMove, free)
    assert agenda.view.last_judgement is not None and agenda.view.last_judgement.ok
    assert agenda.view.ghost().pen().color().name() == "#2e7d32"  # type: ignore[union-attr]
    geometry = agenda.geometry_
    assert geometry is not None
    busy = geometry.column_for(TUESDAY, DR_LOPEZ)
    assert busy is not None
    over = agenda.view.mapFromScene(QPointF(geometry.column_x(busy) + 10,
                                            geometry.y_of(TUESDAY, TEN + timedelta(minutes=5))))
    mouse(agenda, QEvent.Type.MouseMove, over)
    assert agenda.view.last_judgement is not None and not agenda.view.last_judgement.ok
    assert agenda.view.ghost().pen().color().name() == "#c62828"  # type: ignore[union-attr]
    assert agenda.view.ghost().toolTip() == agenda.view.last_judgement.reason  # type: ignore[union-attr]


def test_dropping_past_the_end_of_the_day_is_refused(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    book(ctx)
    agenda = open_agenda()
    before = snapshot(ctx)
    said: list[str] = []
    agenda.message.connect(said.append)
    late = datetime(2025, 3, 4, 22, 50, tzinfo=UTC)  # 23:50 local: would end after midnight
    drop = point_at(agenda, TUESDAY, DR_RUIZ, late)
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=2))
    drag(agenda, grab, grab + QPoint(0, 10), drop)

    assert snapshot(ctx) == before
    assert said[-1] == "That does not fit inside the day."


def test_dragging_the_bottom_edge_resizes_the_appointment(
    ctx: DeskContext, open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    ana = book(ctx)
    agenda = open_agenda()
    edge = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=30))
    edge -= QPoint(0, 2)  # just inside the bottom edge
    longer = edge + QPoint(0, round(15 * PIXELS_PER_MINUTE))

    with qtbot.waitSignal(agenda.changed, timeout=1000):
        drag(agenda, edge, edge + QPoint(0, 6), longer)

    resized = row(ctx, ana)
    assert resized.start.replace(tzinfo=UTC) == TUESDAY_9
    assert resized.end.replace(tzinfo=UTC) == TUESDAY_9 + timedelta(minutes=45)


def test_a_drop_from_the_waitlist_books_the_patient(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    entry = waitlist.add(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP)
    assert entry.record_id is not None
    agenda = open_agenda()
    before = snapshot(ctx)
    at = point_at(agenda, TUESDAY, DR_LOPEZ, TEN)
    data = QMimeData()
    data.setData(WAITLIST_MIME, QByteArray(entry.record_id.encode("utf-8")))
    viewport = agenda.view.viewport()
    copy = Qt.DropAction.CopyAction
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier

    enter = QDragEnterEvent(at, copy, data, left, none)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(viewport, QDragMoveEvent(at, copy, data, left, none))
    assert agenda.view.last_judgement is not None and agenda.view.last_judgement.ok
    QApplication.sendEvent(viewport, QDropEvent(QPointF(at), copy, data, left, none))

    rows, pending = snapshot(ctx)
    assert pending == before[1] + 1
    booked = [r for r in rows if r not in before[0]]
    assert len(booked) == 1 and booked[0][3] == DR_LOPEZ
    assert booked[0][1].replace(tzinfo=UTC) == TEN  # type: ignore[attr-defined]
    assert waitlist.entries(ctx, CLINIC) == ()


def test_a_waitlist_drop_on_a_busy_slot_books_nothing(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    book(ctx, ANA, TEN, DR_LOPEZ)
    entry = waitlist.add(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP)
    assert entry.record_id is not None
    agenda = open_agenda()
    before = snapshot(ctx)
    said: list[str] = []
    agenda.message.connect(said.append)
    at = point_at(agenda, TUESDAY, DR_LOPEZ, TEN)
    data = QMimeData()
    data.setData(WAITLIST_MIME, QByteArray(entry.record_id.encode("utf-8")))
    copy = Qt.DropAction.CopyAction
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    viewport = agenda.view.viewport()
    QApplication.sendEvent(viewport, QDragEnterEvent(at, copy, data, left, none))
    QApplication.sendEvent(viewport, QDropEvent(QPointF(at), copy, data, left, none))

    assert snapshot(ctx) == before
    assert said and "Dr López" in said[-1]


def test_a_status_change_through_the_context_menu_and_ctrl_z_undoes_it(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    ana = book(ctx)
    agenda = open_agenda()
    menu = agenda.context_menu(ana)
    assert menu is not None
    labels = {a.data(): a.text() for a in menu.actions() if a.data()}
    # Tomorrow's appointment: it can be confirmed or cancelled, not checked in yet.
    assert {"confirmed", "cancel", "duplicate", "open_patient", "pinboard"} <= set(labels)
    assert not {"arrived", "in_progress", "completed", "no_show"} & set(labels)

    next(a for a in menu.actions() if a.data() == "confirmed").trigger()
    assert row(ctx, ana).status == "confirmed"

    agenda.select(ana)
    agenda.view.keyPressEvent(QKeyEvent(QKeyEvent.Type.KeyPress, Qt.Key.Key_Z,
                                        Qt.KeyboardModifier.ControlModifier))
    assert row(ctx, ana).status == "booked"


def test_the_context_menu_opens_the_patient_and_sends_to_the_pinboard(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    ana = book(ctx)
    agenda = open_agenda()
    opened: list[str] = []
    pinned: list[str] = []
    agenda.openPatient.connect(opened.append)
    agenda.pinboardRequested.connect(pinned.append)
    menu = agenda.context_menu(ana)
    assert menu is not None
    for key in ("open_patient", "pinboard"):
        next(a for a in menu.actions() if a.data() == key).trigger()
    assert (opened, pinned) == ([ANA], [ana])


def test_ctrl_z_moves_a_dragged_appointment_back(
    ctx: DeskContext, open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    ana = book(ctx)
    agenda = open_agenda()
    drop = point_at(agenda, TUESDAY, DR_LOPEZ, TEN + timedelta(minutes=10))
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=10))
    with qtbot.waitSignal(agenda.changed, timeout=1000):
        drag(agenda, grab, grab + QPoint(0, 10), drop)
    assert row(ctx, ana).provider_id == DR_LOPEZ

    assert agenda.undo()

    back = row(ctx, ana)
    assert (back.provider_id, back.start.replace(tzinfo=UTC)) == (DR_RUIZ, TUESDAY_9)


def test_keyboard_arrows_enter_and_delete(ctx: DeskContext, open_agenda: OpenAgenda) -> None:
    ana = book(ctx)
    later = book(ctx, BEN, TEN, DR_RUIZ)
    agenda = open_agenda()
    activated: list[str] = []
    agenda.activated.connect(activated.append)
    agenda.appointment_actions.ask_cancel_reason = lambda: "patient called"

    def press(key: Qt.Key) -> None:
        agenda.view.keyPressEvent(QKeyEvent(QKeyEvent.Type.KeyPress, key,
                                            Qt.KeyboardModifier.NoModifier))

    press(Qt.Key.Key_Down)
    assert agenda.selected_appointment() == ana
    press(Qt.Key.Key_Down)
    assert agenda.selected_appointment() == later
    press(Qt.Key.Key_Return)
    assert activated == [later]
    press(Qt.Key.Key_Delete)
    assert row(ctx, later).status == "cancelled"
    assert row(ctx, ana).status == "booked"


def test_moving_a_series_occurrence_asks_which_ones_and_moves_the_following(
    ctx: DeskContext, open_agenda: OpenAgenda, qtbot: QtBot
) -> None:
    series = booking.book_series(
        ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
        provider_id=DR_RUIZ, first_start=TUESDAY_9, rrule=weekly_for_weeks([1], 3))
    first, second, third = (a.id for a in series.appointments)
    agenda = open_agenda()
    asked: list[bool] = []
    agenda.choose_series_scope = lambda: asked.append(True) or "following"  # type: ignore[func-returns-value]
    drop = point_at(agenda, TUESDAY, DR_RUIZ, TEN + timedelta(minutes=10))
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=10))

    with qtbot.waitSignal(agenda.changed, timeout=1000):
        drag(agenda, grab, grab + QPoint(0, 10), drop)

    assert asked == [True]
    starts = {row(ctx, i).start.replace(tzinfo=UTC) for i in (first, second, third)}
    assert starts == {TEN, TEN + timedelta(days=7), TEN + timedelta(days=14)}


def test_giving_up_the_series_question_moves_nothing(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    booking.book_series(
        ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
        provider_id=DR_RUIZ, first_start=TUESDAY_9, rrule=weekly_for_weeks([1], 2))
    agenda = open_agenda()
    agenda.choose_series_scope = lambda: None
    before = snapshot(ctx)
    drop = point_at(agenda, TUESDAY, DR_RUIZ, TEN + timedelta(minutes=10))
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=10))
    drag(agenda, grab, grab + QPoint(0, 10), drop)
    assert snapshot(ctx) == before


def test_dst_days_draw_23_and_25_hour_rows(open_agenda: OpenAgenda) -> None:
    for day, hours in ((date(2025, 3, 30), 23), (date(2025, 10, 26), 25), (TUESDAY, 24)):
        agenda = open_agenda(day)
        labels = [i for i in agenda.scene.items()
                  if isinstance(i, QGraphicsSimpleTextItem) and i.pos().x() == 4]
        assert len(labels) == hours, day
        assert agenda.scene.sceneRect().height() == HEADER + hours * 60 * PIXELS_PER_MINUTE
    spring = open_agenda(date(2025, 3, 30))
    clock = sorted((i.pos().y(), i.text()) for i in spring.scene.items()
                   if isinstance(i, QGraphicsSimpleTextItem) and i.pos().x() == 4)
    assert [text for _y, text in clock[:3]] == ["00:00", "01:00", "03:00"]


def test_the_week_view_has_a_group_of_columns_per_open_day(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    ana = book(ctx)
    agenda = open_agenda(date(2025, 3, 3), 7, "room")
    geometry = agenda.geometry_
    assert geometry is not None
    assert len({c.day for c in geometry.columns}) == 5  # the closed weekend left out
    assert {c.key for c in geometry.columns} >= {"room-1", "room-2"}
    item = agenda.appointment_item(ana)
    assert item is not None
    column = geometry.column_at(item.rect().center().x())
    assert column is not None and column.day == TUESDAY
    assert column.key == row(ctx, ana).room_id


def test_a_locked_session_hides_patient_names_and_refuses_drags_gracefully(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    ana = book(ctx)
    agenda = open_agenda()
    item = agenda.appointment_item(ana)
    assert item is not None and "Ana García" in item.toolTip()
    agenda.set_patients_hidden(True)
    assert "Ana" not in agenda.appointment_item(ana).toolTip()  # type: ignore[union-attr]
    agenda.set_patients_hidden(False)
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=10))
    drop = grab + QPoint(0, 80)
    said: list[str] = []
    agenda.message.connect(said.append)
    before = snapshot(ctx)

    ctx.sessions.lock()
    drag(agenda, grab, grab + QPoint(0, 10), drop)
    agenda.refresh()

    assert any("locked" in s for s in said)
    assert not [i for i in agenda.scene.items() if isinstance(i, AppointmentItem)]
    assert not any("Ana" in t for t in _texts(agenda))
    assert snapshot(ctx) == before
