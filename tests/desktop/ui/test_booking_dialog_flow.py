"""The booking dialog without friction: series preview, clickable clash alternatives,
"Until" from the start, Enter in the search, a default time inside opening hours,
12-hour time in English."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from desktop.services import booking, patients
from desktop.services.context import DeskContext
from desktop.store.models import AppointmentRow
from desktop.ui.booking_defaults import default_start, round_up
from desktop.ui.booking_dialog import BookingDialog
from desktop.ui.text import set_language
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CHECKUP,
    CLINIC,
    DR_RUIZ,
    EMAIL,
    MONDAY_8,
    PASSWORD,
    TUESDAY_9,
    FakeClock,
    server_accepting,
)


def _appointments(ctx: DeskContext) -> int:
    with ctx.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(AppointmentRow)) or 0)


def _dialog(qtbot: QtBot, ctx: DeskContext, **kwargs: object) -> BookingDialog:
    dialog = BookingDialog(ctx, CLINIC, **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    return dialog


def test_a_series_is_previewed_row_by_row_before_anything_is_booked(
    qtbot: QtBot, ctx: DeskContext
) -> None:
    wednesday_10 = MONDAY_8 + timedelta(days=2, hours=2)
    assert booking.book(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP,
                        provider_id=DR_RUIZ, start=wednesday_10).ok
    before = _appointments(ctx)
    dialog = _dialog(qtbot, ctx, start=MONDAY_8 + timedelta(hours=2), provider_id=DR_RUIZ,
                     patient=patients.get(ctx, ANA))
    dialog.show()
    dialog.recurrence.setChecked(True)
    dialog.recurrence.set_weekdays({0, 2})
    dialog.recurrence.weeks.setValue(2)

    dialog.submit()

    assert _appointments(ctx) == before  # nothing booked yet
    model = dialog.occurrences_model
    assert model.rowCount() == 4
    assert all(model.index(r, 0).data() for r in range(4))  # no blank cells
    assert dialog.occurrences.isVisible()
    assert dialog.occurrences.height() >= 4 * dialog.occurrences.rowHeight(0)
    assert dialog.book_button.text() == "Book 3 appointments"
    dialog.duration.setValue(45)  # a change asks for a new preview
    assert dialog.book_button.text() == "Preview dates"


def test_a_clash_alternative_of_a_series_books_that_date_on_its_own(
    qtbot: QtBot, ctx: DeskContext
) -> None:
    wednesday_10 = MONDAY_8 + timedelta(days=2, hours=2)
    assert booking.book(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP,
                        provider_id=DR_RUIZ, start=wednesday_10).ok
    dialog = _dialog(qtbot, ctx, start=MONDAY_8 + timedelta(hours=2), provider_id=DR_RUIZ,
                     patient=patients.get(ctx, ANA))
    dialog.recurrence.setChecked(True)
    dialog.recurrence.set_weekdays({0, 2})
    dialog.recurrence.weeks.setValue(2)
    dialog.submit()
    dialog.submit()
    model = dialog.occurrences_model
    clash = next(r for r in range(model.rowCount()) if model.index(r, 1).data() != "Booked")
    before = _appointments(ctx)

    dialog.occurrences.clicked.emit(model.index(clash, 2))
    assert dialog.alternatives_model.rowCount() > 0
    with qtbot.waitSignal(dialog.booked):
        dialog.alternatives.clicked.emit(dialog.alternatives_model.index(0))

    assert _appointments(ctx) == before + 1
    assert "Booked on its own" in dialog.message.text()


def test_until_defaults_to_six_weeks_after_the_chosen_start_not_today(
    qtbot: QtBot, ctx: DeskContext
) -> None:
    start = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)  # months after "today"
    dialog = _dialog(qtbot, ctx, start=start, provider_id=DR_RUIZ)
    assert dialog.recurrence.until_date.date() == QDate(2025, 10, 13)
    dialog.date_edit.setDate(QDate(2025, 9, 8))
    assert dialog.recurrence.until_date.date() == QDate(2025, 10, 20)
    assert dialog.recurrence.until_date.minimumDate() == QDate(2025, 9, 8)


def test_enter_in_the_patient_search_picks_the_match_and_never_books(
    qtbot: QtBot, ctx: DeskContext
) -> None:
    dialog = _dialog(qtbot, ctx, start=TUESDAY_9, provider_id=DR_RUIZ)
    dialog.show()
    booked: list[object] = []
    dialog.booked.connect(booked.append)
    dialog.submit()
    assert dialog.message.text() == "Choose a patient first, or create a new one."
    dialog.patients.search.setFocus()
    qtbot.keyClicks(dialog.patients.search, "Ben")

    qtbot.keyClick(dialog.patients.search, Qt.Key.Key_Return)

    assert booked == [] and dialog.isVisible()
    assert dialog.patients.patient is not None and dialog.patients.patient.id == BEN
    assert dialog.message.text() == ""  # the stale "Choose a patient first" is gone


def test_the_default_time_is_the_next_quarter_hour_inside_working_hours(
    qtbot: QtBot, ctx: DeskContext, clock: FakeClock
) -> None:
    clock.now = datetime(2025, 3, 3, 7, 7, tzinfo=UTC)  # Monday 08:07 in Madrid: closed
    _sign_in_again(ctx)
    dialog = _dialog(qtbot, ctx, provider_id=DR_RUIZ)
    assert dialog.start() == datetime(2025, 3, 3, 8, 0, tzinfo=UTC)  # 09:00, opening

    clock.now = datetime(2025, 3, 3, 9, 52, tzinfo=UTC)  # 10:52
    _sign_in_again(ctx)
    dialog = _dialog(qtbot, ctx, provider_id=DR_RUIZ)
    assert dialog.start() == datetime(2025, 3, 3, 10, 0, tzinfo=UTC)  # 11:00

    clock.now = datetime(2025, 3, 3, 16, 30, tzinfo=UTC)  # 17:30, after closing
    _sign_in_again(ctx)
    dialog = _dialog(qtbot, ctx, provider_id=DR_RUIZ)
    assert dialog.start() == datetime(2025, 3, 4, 8, 0, tzinfo=UTC)  # Tuesday 09:00


def _sign_in_again(ctx: DeskContext) -> None:
    """The clock jumped past the idle lock: sign in at the new time."""
    assert ctx.sessions.sign_in_online(EMAIL, PASSWORD, None, server_accepting()).ok


def test_round_up_and_default_start_as_pure_functions() -> None:
    moment = datetime(2025, 3, 3, 10, 1, tzinfo=UTC)
    assert round_up(moment) == datetime(2025, 3, 3, 10, 15, tzinfo=UTC)
    assert round_up(datetime(2025, 3, 3, 10, 15, tzinfo=UTC)) == datetime(
        2025, 3, 3, 10, 15, tzinfo=UTC)
    lunch_gap = [(datetime(2025, 3, 3, 9, tzinfo=UTC), datetime(2025, 3, 3, 12, tzinfo=UTC)),
                 (datetime(2025, 3, 3, 13, tzinfo=UTC), datetime(2025, 3, 3, 17, tzinfo=UTC))]
    assert default_start(datetime(2025, 3, 3, 12, 5, tzinfo=UTC), lunch_gap) == datetime(
        2025, 3, 3, 13, tzinfo=UTC)


def test_the_time_field_is_12_hour_in_english_for_a_us_clinic_and_24_hour_in_spain(
    qtbot: QtBot, ctx: DeskContext
) -> None:
    from desktop.store.models import ClinicRow

    with ctx.store.write() as session:
        session.add(ClinicRow(id="clinic-ny", organization_id="org-1", name="New York",
                              time_zone="America/New_York", locale="en_US"))
    new_york = BookingDialog(ctx, "clinic-ny", start=TUESDAY_9 + timedelta(hours=6))
    qtbot.addWidget(new_york)
    assert new_york.time_edit.displayFormat() == "h:mm AP"
    assert new_york.time_edit.text().endswith("AM")  # 15:00 UTC = 10:00 AM in New York
    madrid = _dialog(qtbot, ctx, start=TUESDAY_9)
    assert madrid.time_edit.displayFormat() == "HH:mm"
    assert (madrid.date_edit.displayFormat(), new_york.date_edit.displayFormat()) == (
        "dd/MM/yyyy", "M/d/yyyy")  # English at a Spanish clinic: day first
    set_language("es")
    assert madrid.date_edit.displayFormat() == "d/M/yyyy"
    assert madrid.recurrence.until_date.displayFormat() == "d/M/yyyy"
    QApplication.processEvents()
    assert date(2025, 3, 4) == madrid.date_edit.date().toPython()
