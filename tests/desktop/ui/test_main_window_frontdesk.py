"""The main window without friction: Edit ▸ Undo/Redo from anywhere, the booking
announced and shown, quick create on an empty slot, the date field following the
clinic and the language, the pending count right after a booking."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.services import booking, patients
from desktop.services.context import DeskContext
from desktop.store.models import BlockoutRow, ClinicRow, WaitlistEntryRow
from desktop.ui.booking_dialog import BookingDialog
from desktop.ui.main_window import MainWindow
from desktop.ui.text import one_full_stop, set_language
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CHECKUP,
    CLINIC,
    DR_LOPEZ,
    DR_RUIZ,
    ORG,
    ROOM,
    ROOM_2,
    TUESDAY_9,
)
from tests.desktop.ui.agenda.conftest import drag, point_at, row

TUESDAY = date(2025, 3, 4)
MONDAY = date(2025, 3, 3)
TEN = TUESDAY_9 + timedelta(hours=1)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[QSettings]:
    yield QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot: QtBot, ctx: DeskContext, settings: QSettings) -> MainWindow:
    with ctx.store.write() as session:
        session.add(ClinicRow(id="clinic-ny", organization_id=ORG, name="New York",
                              time_zone="America/New_York", locale="en_US"))
    made = MainWindow(ctx, [("clinic-ny", "New York", "en_US"), (CLINIC, "Madrid", "es_ES")],
                      MONDAY, "desk-1", settings=settings)
    qtbot.addWidget(made)
    made.resize(1400, 900)
    made.set_clinic(CLINIC)
    made.show()
    return made


def _book(ctx: DeskContext, patient: str = ANA, start: datetime = TUESDAY_9,
          provider: str = DR_RUIZ) -> str:
    result = booking.book(ctx, clinic_id=CLINIC, patient_id=patient,
                          appointment_type_id=CHECKUP, provider_id=provider, start=start)
    assert result.ok and result.appointment is not None
    return result.appointment.id


def _open_dialog(window: MainWindow) -> BookingDialog:
    dialogs = [d for d in window.findChildren(BookingDialog) if d.isVisible()]
    assert dialogs, "no booking dialog open"
    return dialogs[-1]


def test_edit_menu_undo_works_with_the_focus_in_the_mini_calendar(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    ben = _book(ctx, BEN, TEN, DR_LOPEZ)
    window.go_to(TUESDAY)
    window.agenda.appointment_actions.ask_cancel_reason = lambda: "patient called"
    assert window.agenda.appointment_actions.cancel(ben)
    assert window.undo_action.isEnabled()
    assert window.undo_action.text() == "Undo cancellation"
    assert window.edit_menu.title() == "&Edit"
    window.mini_calendar.setFocus()

    qtbot.keyClick(window.mini_calendar, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    assert row(ctx, ben).status == "booked"
    assert window.redo_action.isEnabled() and window.redo_action.text() == "Redo cancellation"
    window.redo_action.trigger()
    assert row(ctx, ben).status == "cancelled"


def test_after_book_the_agenda_jumps_to_the_new_appointment_and_announces_it(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    assert window.day == MONDAY
    dialog = window.new_appointment(patients.get(ctx, BEN))
    dialog.set_start(TUESDAY_9 + timedelta(days=1))  # Wednesday 10:00
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(DR_LOPEZ))
    assert dialog.room_combo.currentData() is None  # "Any suitable room"

    dialog.submit()

    made = window.agenda.selected_appointment()
    assert made is not None and window.day == date(2025, 3, 5)
    assert row(ctx, made).room_id in (ROOM, ROOM_2)  # the rules gave it a room
    assert window.agenda.appointment_item(made) is not None
    notice = window.change_notice
    assert notice.isVisible() and notice.text.text().startswith("Booked Ben Smith with Dr López")
    assert "1 change waiting" in window.sync_label.text()  # at once, not after a sync
    notice.undo_button.click()
    assert row(ctx, made).status == "entered_in_error"
    assert window.agenda.appointment_item(made) is None


def test_a_click_on_an_empty_slot_opens_the_dialog_with_that_provider_and_time(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    window.go_to(TUESDAY)
    agenda = window.agenda
    at = point_at(agenda, TUESDAY, DR_LOPEZ, TEN + timedelta(minutes=5))

    drag(agenda, at, at)

    dialog = _open_dialog(window)
    assert dialog.provider_combo.currentData() == DR_LOPEZ
    assert dialog.start() == TEN
    assert dialog.duration.value() == 30  # the type's default


def test_a_drag_over_empty_slots_gives_the_dialog_its_length(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.go_to(TUESDAY)
    agenda = window.agenda
    top = point_at(agenda, TUESDAY, DR_RUIZ, TEN + timedelta(minutes=2))
    bottom = point_at(agenda, TUESDAY, DR_RUIZ, TEN + timedelta(minutes=44))

    drag(agenda, top, top + QPoint(0, 12), bottom)

    dialog = _open_dialog(window)
    assert (dialog.provider_combo.currentData(), dialog.start()) == (DR_RUIZ, TEN)
    assert dialog.duration.value() == 45


def test_the_right_click_menu_of_an_empty_slot_blocks_time_and_adds_to_the_waitlist(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    window.go_to(TUESDAY)
    agenda = window.agenda
    geometry = agenda.geometry_
    assert geometry is not None
    column = geometry.column_for(TUESDAY, DR_RUIZ)
    assert column is not None
    scene_point = QPointF(geometry.column_x(column) + 10, geometry.y_of(TUESDAY, TEN))
    menu = agenda.slot_menu_at(scene_point)
    assert menu is not None
    actions = {a.data(): a for a in menu.actions()}
    assert set(actions) == {"new", "block", "waitlist"}
    window.slot_actions.ask_reason = lambda: "staff meeting"

    actions["block"].trigger()

    with ctx.store.session() as session:
        blocked = session.scalars(select(BlockoutRow)).one()
        assert (blocked.resource_id, blocked.reason) == (DR_RUIZ, "staff meeting")
        assert blocked.start.replace(tzinfo=UTC) == TEN

    window.slot_actions.ask_type = lambda _reference: CHECKUP
    actions["waitlist"].trigger()
    finder = next(w for w in QApplication.topLevelWidgets()
                  if w.isVisible() and w.windowTitle() == "Find a patient")
    from desktop.ui.patient_picker import PatientPicker

    picker = finder.findChild(PatientPicker)
    assert picker is not None
    picker.choose(patients.get(ctx, BEN))
    with ctx.store.session() as session:
        entry = session.scalars(select(WaitlistEntryRow)).one()
        assert entry.patient_id == BEN


def test_the_date_field_follows_the_clinic_and_the_language(
    window: MainWindow,
) -> None:
    window.set_clinic("clinic-ny")
    assert window.date_edit.displayFormat() == "M/d/yyyy"
    window.set_clinic(CLINIC)
    assert window.date_edit.displayFormat() == "dd/MM/yyyy"  # English at Madrid: day first
    set_language("es")
    assert window.date_edit.displayFormat() == "d/M/yyyy"
    window.set_clinic("clinic-ny")
    assert window.date_edit.text() == window.date_edit.date().toString(
        window.date_edit.displayFormat())
    assert window.date_edit.displayFormat() != "M/d/yyyy"  # Spanish: never month first


def test_undo_is_off_while_locked(window: MainWindow, ctx: DeskContext) -> None:
    ben = _book(ctx, BEN, TEN, DR_LOPEZ)
    window.agenda.appointment_actions.ask_cancel_reason = lambda: "x"
    window.go_to(TUESDAY)
    window.agenda.appointment_actions.cancel(ben)
    window.lock_overlay.lock()
    assert not window.undo_action.isEnabled()


def test_work_week_and_three_day_views_show_their_days_and_step_by_them(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext, settings: QSettings
) -> None:
    wednesday = date(2025, 3, 5)
    window.go_to(wednesday)
    window.work_week_action.trigger()
    assert (window.first_day(), window.days) == (MONDAY, 5)
    geometry = window.agenda.geometry_
    assert geometry is not None and sorted(geometry.axes) == [
        MONDAY + timedelta(days=d) for d in range(5)]
    assert window.next_action.text() == "Next week"
    window.next_action.trigger()
    assert window.first_day() == MONDAY + timedelta(days=7)

    window.go_to(wednesday)
    window.three_day_action.trigger()
    assert (window.first_day(), window.days) == (wednesday, 3)
    assert window.next_action.text() == "Next 3 days"
    window.next_action.trigger()
    assert window.first_day() == wednesday + timedelta(days=3)
    window.close()

    again = MainWindow(ctx, [("clinic-ny", "New York", "en_US"), (CLINIC, "Madrid", "es_ES")],
                       MONDAY, "desk-1", settings=settings)
    qtbot.addWidget(again)
    assert again.days == 3 and again.three_day_action.isChecked()


def test_every_change_in_the_agenda_is_announced_with_view_and_undo(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    ana = _book(ctx)
    ben = _book(ctx, BEN, TEN, DR_LOPEZ)
    window.go_to(TUESDAY)
    agenda, notice = window.agenda, window.change_notice
    grab = point_at(agenda, TUESDAY, DR_RUIZ, TUESDAY_9 + timedelta(minutes=10))
    drop = point_at(agenda, TUESDAY, DR_RUIZ, TEN + timedelta(hours=2, minutes=10))
    with qtbot.waitSignal(agenda.changed, timeout=1000):
        drag(agenda, grab, grab + QPoint(0, 10), drop)
    assert notice.isVisible() and notice.text.text().startswith("Moved to ")
    assert notice.view_button.isVisible() and notice.undo_button.isVisible()
    assert notice.appointment_id == ana

    agenda.appointment_actions.ask_cancel_reason = lambda: "patient called"
    assert agenda.appointment_actions.cancel(ben)
    assert notice.isVisible() and notice.appointment_id == ben
    assert notice.text.text() == "Cancelled. Ctrl+Z undoes it."
    notice.undo_button.click()  # takes back the cancellation, not the move
    assert row(ctx, ben).status == "booked"
    assert row(ctx, ana).start.replace(tzinfo=UTC) == TEN + timedelta(hours=2)
    assert not notice.isVisible()
    assert window.statusBar().currentMessage() == "Undone: cancellation."  # plain message


def test_when_the_bar_is_short_of_room_the_notice_keeps_its_date_and_the_sync_state_gives_way(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    """The notice's end is the booking's date; a long sync state used to cut it off at
    1280 pixels in Spanish (the demo's longer names; here a narrower window makes the
    same squeeze). Now the sync state shortens, with its whole text as tooltip."""
    set_language("es")
    window.resize(1000, 800)
    dialog = window.new_appointment(patients.get(ctx, BEN))
    dialog.set_start(TUESDAY_9 + timedelta(days=1))
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(DR_LOPEZ))
    dialog.submit()
    whole = "Conectado · 15 cambios pendientes de enviar · última sincronización 10:20 a.m."
    window.sync_label.setText(whole)
    bar = window.statusBar()
    bar.layout().activate()
    label = window.change_notice.text
    assert window.change_notice.isVisible() and label.text().startswith("Reservada")
    assert label.width() >= label.fontMetrics().horizontalAdvance(label.text())  # not cut
    assert window.change_notice.geometry().right() < window.sync_label.geometry().left()
    assert window.sync_label.text() == whole and window.sync_label.is_elided()
    assert window.sync_label.toolTip() == whole

    window.change_notice.dismiss()
    window.resize(1600, 1000)
    bar.layout().activate()
    assert not window.sync_label.is_elided() and window.sync_label.toolTip() == ""


def test_a_sentence_ending_in_an_abbreviation_keeps_one_full_stop() -> None:
    assert one_full_stop("Reservada: Ana, lun, 7 de dic, 10:30 a.m..") == \
        "Reservada: Ana, lun, 7 de dic, 10:30 a.m."
    assert one_full_stop("Booked Ana, Mon 10:30 AM.") == "Booked Ana, Mon 10:30 AM."
    assert one_full_stop("Syncing...") == "Syncing..."


def test_however_tall_the_details_and_patient_panels_get_the_window_fits_1280_by_800(
    window: MainWindow,
) -> None:
    """A video visit's details (with its documents) once made the window's least height
    895 pixels, so a 1280×800 screen cut off the status bar: the panels scroll now."""
    window.details_panel.setMinimumHeight(1500)
    window.patient_panel.setMinimumHeight(1500)
    window.resize(1280, 800)
    assert window.minimumSizeHint().height() <= 800
    assert window.height() == 800
