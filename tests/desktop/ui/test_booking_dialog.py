"""The booking dialog drives the real booking services on a seeded SQLCipher store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from desktop.services import booking, patients
from desktop.services.context import DeskContext
from desktop.store import outbox
from desktop.ui.booking_dialog import BookingDialog
from desktop.ui.text import set_language
from tests.desktop.services.conftest import (
    ALL_PERMISSIONS,
    ANA,
    BEN,
    CHECKUP,
    CLINIC,
    DR_RUIZ,
    EMAIL,
    MONDAY_8,
    PASSWORD,
    TUESDAY_9,
    server_accepting,
)

ModelTester = Callable[[QAbstractItemModel], None]
OpenDialog = Callable[[], BookingDialog]


def _pending(ctx: DeskContext) -> int:
    with ctx.store.session() as session:
        return outbox.pending_count(session)


@pytest.fixture
def open_dialog(qtbot: QtBot, ctx: DeskContext, model_tester: ModelTester) -> OpenDialog:
    """Open the dialog for Ana, Tuesday 09:00 with Dr Ruiz; its models are checked."""

    def open_it() -> BookingDialog:
        dialog = BookingDialog(ctx, CLINIC, start=TUESDAY_9, provider_id=DR_RUIZ,
                               patient=patients.get(ctx, ANA))
        qtbot.addWidget(dialog)
        for model in (dialog.alternatives_model, dialog.occurrences_model,
                      dialog.patients.results_model):
            model_tester(model)
        return dialog

    return open_it


def test_typing_a_name_finds_the_patient_and_booking_writes_the_store_and_the_outbox(
    qtbot: QtBot, ctx: DeskContext, model_tester: ModelTester
) -> None:
    dialog = BookingDialog(ctx, CLINIC, start=TUESDAY_9, provider_id=DR_RUIZ)
    qtbot.addWidget(dialog)
    model_tester(dialog.patients.results_model)
    qtbot.keyClicks(dialog.patients.search, "garc")
    qtbot.waitUntil(lambda: dialog.patients.results_model.rowCount() == 1)
    dialog.patients.results.clicked.emit(dialog.patients.results_model.index(0))
    dialog.staff_notes.setPlainText("first visit")
    before = _pending(ctx)

    with qtbot.waitSignal(dialog.booked) as signal:
        qtbot.mouseClick(dialog.book_button, Qt.MouseButton.LeftButton)

    appointment = signal.args[0].appointment
    assert (appointment.patient_id, appointment.provider_id, appointment.start) == (
        ANA, DR_RUIZ, TUESDAY_9)
    assert appointment.end - appointment.start == timedelta(minutes=30)
    assert appointment.notes == "first visit"
    assert _pending(ctx) == before + 1
    assert dialog.result() == dialog.DialogCode.Accepted


def test_a_clash_shows_the_reason_and_alternatives_and_a_picked_alternative_books(
    qtbot: QtBot, ctx: DeskContext, open_dialog: OpenDialog
) -> None:
    assert booking.book(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP,
                        provider_id=DR_RUIZ, start=TUESDAY_9).ok
    dialog = open_dialog()

    dialog.submit()

    assert "Dr Ruiz" in dialog.message.text()
    assert dialog.alternatives_model.rowCount() > 0
    assert _pending(ctx) == 1
    first = dialog.alternatives_model.alternative(0)
    assert first is not None
    dialog.alternatives.clicked.emit(dialog.alternatives_model.index(0))
    assert dialog.start() == first.start
    assert dialog.provider_combo.currentData() == first.provider_id
    with qtbot.waitSignal(dialog.booked) as signal:
        dialog.submit()

    assert signal.args[0].appointment.start == first.start
    assert _pending(ctx) == 2


def test_find_next_available_lists_free_times_after_the_chosen_one(
    qtbot: QtBot, ctx: DeskContext, open_dialog: OpenDialog
) -> None:
    dialog = open_dialog()

    qtbot.mouseClick(dialog.find_button, Qt.MouseButton.LeftButton)

    starts = [dialog.alternatives_model.alternative(r).start  # type: ignore[union-attr]
              for r in range(dialog.alternatives_model.rowCount())]
    assert starts and min(starts) >= TUESDAY_9


def test_the_override_is_hidden_without_the_permission(
    ctx: DeskContext, open_dialog: OpenDialog
) -> None:
    ctx.sessions.sign_in_online(EMAIL, PASSWORD, None, server_accepting(
        ALL_PERMISSIONS - {"booking:override"}))
    dialog = open_dialog()
    dialog.show()

    assert not dialog.override.isVisible()


def test_double_booking_needs_a_reason_and_then_books_over_the_clash(
    qtbot: QtBot, ctx: DeskContext, open_dialog: OpenDialog
) -> None:
    assert booking.book(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP,
                        provider_id=DR_RUIZ, start=TUESDAY_9).ok
    dialog = open_dialog()
    dialog.show()
    assert dialog.override.isVisible()
    dialog.override_box.setChecked(True)

    dialog.submit()
    assert dialog.message.text() == "Double-booking needs a reason."
    assert _pending(ctx) == 1

    dialog.override_reason.setText("emergency")
    with qtbot.waitSignal(dialog.booked):
        dialog.submit()
    assert _pending(ctx) == 2


def test_a_monday_and_wednesday_series_for_six_weeks_shows_twelve_rows(
    qtbot: QtBot, ctx: DeskContext, open_dialog: OpenDialog
) -> None:
    dialog = open_dialog()
    dialog.set_start(MONDAY_8 + timedelta(hours=2))  # Monday 10:00 in Madrid
    dialog.recurrence.setChecked(True)
    dialog.recurrence.set_weekdays({0, 2})
    dialog.recurrence.weeks.setValue(6)
    dialog.submit()  # the first press previews the dates
    assert dialog.book_button.text() == "Book 12 appointments"

    with qtbot.waitSignal(dialog.booked) as signal:
        dialog.submit()

    assert len(signal.args[0].occurrences) == 12
    assert dialog.occurrences_model.rowCount() == 12
    assert dialog.occurrences_model.index(0, 1).data() == "Booked"
    assert dialog.isVisible() or not dialog.result()  # a series keeps the dialog open
    assert "12 of 12" in dialog.message.text()


def test_a_series_clash_shows_the_reason_and_alternatives_in_its_row(
    qtbot: QtBot, ctx: DeskContext, open_dialog: OpenDialog
) -> None:
    wednesday_10 = MONDAY_8 + timedelta(days=2, hours=2)
    assert booking.book(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP,
                        provider_id=DR_RUIZ, start=wednesday_10).ok
    dialog = open_dialog()
    dialog.set_start(MONDAY_8 + timedelta(hours=2))
    dialog.recurrence.setChecked(True)
    dialog.recurrence.set_weekdays({0, 2})
    dialog.recurrence.weeks.setValue(2)

    dialog.submit()  # the preview already shows the clash
    dialog.submit()

    model = dialog.occurrences_model
    results = [model.index(r, 1).data() for r in range(model.rowCount())]
    assert results.count("Booked") == 3
    clash = results.index(next(r for r in results if r != "Booked"))
    assert "Dr Ruiz" in results[clash]
    assert model.index(clash, 2).data()


def test_switching_to_spanish_retranslates_the_visible_labels(
    qtbot: QtBot, ctx: DeskContext, open_dialog: OpenDialog
) -> None:
    dialog = open_dialog()
    dialog.show()
    english = sorted(w.text() for w in dialog.findChildren(QLabel) if w.isVisible() and w.text())

    set_language("es")

    assert dialog.windowTitle() == "Reservar una cita"
    assert dialog.labels["provider"].text() == "Profesional"
    assert dialog.book_button.text() == "Reservar"
    spanish = sorted(w.text() for w in dialog.findChildren(QLabel) if w.isVisible() and w.text())
    assert len(set(english) & set(spanish)) <= 1  # at most the patient's own name stays


def test_find_next_available_from_a_past_day_lists_todays_free_times(
    qtbot: QtBot, ctx: DeskContext, model_tester: ModelTester
) -> None:
    weeks_ago = TUESDAY_9 - timedelta(days=21)  # beyond the two weeks the dialog searches
    dialog = BookingDialog(ctx, CLINIC, start=weeks_ago, provider_id=DR_RUIZ,
                           patient=patients.get(ctx, ANA))
    qtbot.addWidget(dialog)
    model_tester(dialog.alternatives_model)

    qtbot.mouseClick(dialog.find_button, Qt.MouseButton.LeftButton)

    found = [dialog.alternatives_model.alternative(r)
             for r in range(dialog.alternatives_model.rowCount())]
    assert len(found) == 8
    now = ctx.now()
    # Today is Monday 08:00 in Madrid; Dr Ruiz works from 09:00: today's first slots.
    assert [a.start for a in found if a is not None] == [
        now + timedelta(hours=1, minutes=m) for m in range(0, 8 * 15, 15)]
    assert {a.provider_id for a in found if a is not None} == {DR_RUIZ}
    assert "No free time" not in dialog.message.text()
