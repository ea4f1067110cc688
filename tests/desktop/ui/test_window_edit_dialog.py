"""The edit dialog changes provider, room, time and length through the rules, as one
undoable step, and the window says so with View · Undo."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTime
from pytestqt.qtbot import QtBot

from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.ui.edit_dialog import EditDialog
from desktop.ui.main_window import MainWindow
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CHECKUP,
    CLINIC,
    DR_LOPEZ,
    DR_RUIZ,
    ROOM_2,
    TUESDAY_9,
)
from tests.desktop.ui.agenda.conftest import row

MONDAY = date(2025, 3, 3)
TEN = TUESDAY_9 + timedelta(hours=1)


@pytest.fixture
def window(qtbot: QtBot, ctx: DeskContext, tmp_path: Path) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat)
    made = MainWindow(ctx, [(CLINIC, "Madrid", "es_ES")], MONDAY, "desk-1", settings=settings)
    qtbot.addWidget(made)
    made.show()
    yield made


def _book(ctx: DeskContext, patient: str = ANA, start: datetime = TUESDAY_9,
          provider: str = DR_RUIZ) -> str:
    result = booking.book(ctx, clinic_id=CLINIC, patient_id=patient,
                          appointment_type_id=CHECKUP, provider_id=provider, start=start)
    assert result.ok and result.appointment is not None
    return result.appointment.id


def test_editing_provider_room_time_and_length_is_one_undoable_change(
    window: MainWindow, ctx: DeskContext
) -> None:
    ana = _book(ctx)
    window.go_to(date(2025, 3, 4))
    menu = window.agenda.context_menu(ana)
    assert menu is not None
    edit = next(a for a in menu.actions() if a.data() == "edit")
    edit.trigger()
    dialog = next(d for d in window.findChildren(EditDialog) if d.isVisible())
    assert dialog.provider_combo.currentData() == DR_RUIZ
    assert dialog.duration.value() == 30
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(DR_LOPEZ))
    dialog.room_combo.setCurrentIndex(dialog.room_combo.findData(ROOM_2))
    dialog.time_edit.setTime(QTime(10, 0))  # Madrid, 09:00 UTC
    dialog.duration.setValue(45)

    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()

    changed = row(ctx, ana)
    assert (changed.provider_id, changed.room_id) == (DR_LOPEZ, ROOM_2)
    assert changed.start.replace(tzinfo=UTC) == TEN
    assert changed.end.replace(tzinfo=UTC) == TEN + timedelta(minutes=45)
    assert window.change_notice.isVisible()
    assert window.change_notice.text.text().startswith("Changed: Ana García")
    assert window.undo_action.text() == "Undo edit"

    window.undo_action.trigger()

    back = row(ctx, ana)
    assert (back.provider_id, back.start.replace(tzinfo=UTC)) == (DR_RUIZ, TUESDAY_9)
    assert back.end.replace(tzinfo=UTC) == TUESDAY_9 + timedelta(minutes=30)


def test_a_refused_edit_says_why_and_changes_nothing(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    ana = _book(ctx)
    _book(ctx, BEN, TEN, DR_LOPEZ)
    before = row(ctx, ana)
    dialog = EditDialog(ctx, ana, window.agenda.history, window)
    qtbot.addWidget(dialog)
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(DR_LOPEZ))
    dialog.time_edit.setTime(QTime(10, 0))  # when Ben is with Dr López

    dialog.save()

    after = row(ctx, ana)
    assert (after.provider_id, after.start, after.version) == (
        before.provider_id, before.start, before.version)
    assert "Dr López" in dialog.message.text()
    assert not window.agenda.history.can_undo()


def _add_type(ctx: DeskContext, type_id: str, name: str, rooms: list[str]) -> None:
    from desktop.store.models import AppointmentTypeRow
    from tests.desktop.services.conftest import ORG

    with ctx.store.write() as session:
        session.add(AppointmentTypeRow(
            id=type_id, organization_id=ORG, name=name, default_duration_seconds=1800,
            min_duration_seconds=900, max_duration_seconds=3600,
            requirement={"providers": [], "rooms": rooms, "equipment": []},
            color="#3366aa", cancellation_period_seconds=0,
        ))


def test_the_type_and_the_notes_are_changed_and_queued_for_the_server_as_one_step(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    from desktop.store import outbox

    _add_type(ctx, "type-cleaning", "Cleaning", ["room-1", ROOM_2])
    ana = _book(ctx)
    dialog = EditDialog(ctx, ana, window.agenda.history, window)
    qtbot.addWidget(dialog)
    assert dialog.type_combo.currentData() == CHECKUP
    dialog.type_combo.setCurrentIndex(dialog.type_combo.findData("type-cleaning"))
    dialog.notes.setPlainText("Bring the X-rays")

    dialog.save()

    changed = row(ctx, ana)
    assert (changed.appointment_type_id, changed.notes) == ("type-cleaning", "Bring the X-rays")
    with ctx.store.session() as session:
        last = outbox.pending(session)[-1]
        assert (last.name, last.args["appointment_type_id"], last.args["notes"]) == (
            "appointment.change_details", "type-cleaning", "Bring the X-rays")
    window.agenda.history.undo()
    back = row(ctx, ana)
    assert (back.appointment_type_id, back.notes) == (CHECKUP, "")


def test_a_type_the_appointments_room_does_not_suit_is_placed_in_a_room_that_does(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext
) -> None:
    _add_type(ctx, "type-xray", "X-ray", [ROOM_2])
    ana = _book(ctx)
    before = row(ctx, ana)
    assert before.room_id != ROOM_2
    dialog = EditDialog(ctx, ana, window.agenda.history, window)
    qtbot.addWidget(dialog)
    dialog.type_combo.setCurrentIndex(dialog.type_combo.findData("type-xray"))
    dialog.duration.setValue(45)

    dialog.save()

    after = row(ctx, ana)
    assert (after.appointment_type_id, after.room_id) == ("type-xray", ROOM_2)
    assert after.end - after.start == timedelta(minutes=45)  # the length chosen, not the default
    window.agenda.history.undo()
    back = row(ctx, ana)
    assert (back.appointment_type_id, back.room_id, back.end) == (
        before.appointment_type_id, before.room_id, before.end)
