"""The main window: docks, navigation through the agenda contract, lock, badge, settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QModelIndex, QSettings
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QDockWidget,
    QGraphicsView,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QToolBar,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop.services import booking, waitlist
from desktop.services.context import DeskContext
from desktop.store.models import AppointmentRow, ClinicRow, ConflictRow
from desktop.ui.main_window import MainWindow
from desktop.ui.text import set_language
from scheduling import intents
from scheduling.refusals import RefusalCode, message_for
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CHECKUP,
    CLINIC,
    DR_RUIZ,
    MONDAY_8,
    ORG,
    PASSWORD,
    FakeClock,
)

MONDAY = date(2025, 3, 3)
WEDNESDAY = date(2025, 3, 5)
CLINICS = [(CLINIC, "Madrid", "es_ES"), ("clinic-sevilla", "Sevilla", "es_ES")]
ANA_NAME, BEN_NAME = "Ana García", "Ben Smith"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[QSettings]:
    """Preferences in a file of the test's folder, never the user's own."""
    yield QSettings(str(tmp_path / "desk.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot: QtBot, ctx: DeskContext, settings: QSettings) -> MainWindow:
    with ctx.store.write() as session:
        session.add(ClinicRow(id="clinic-sevilla", organization_id=ORG, name="Sevilla",
                              time_zone="Europe/Madrid", locale="es_ES"))
    made = MainWindow(ctx, CLINICS, MONDAY, "desk-1", settings=settings)
    qtbot.addWidget(made)
    made.show()
    return made


class AgendaCalls:
    """Records what the window asks of the agenda through its contract."""

    def __init__(self, window: MainWindow) -> None:
        self.calls: list[tuple[str, date, int, str]] = []
        original = window.agenda.show_range

        def show_range(clinic_id: str, first_day: date, days: int = 1,
                       columns: str = "provider") -> None:
            self.calls.append((clinic_id, first_day, days, columns))
            original(clinic_id, first_day, days, columns)

        window.agenda.show_range = show_range  # type: ignore[method-assign]

    @property
    def last(self) -> tuple[str, date, int, str]:
        return self.calls[-1]


def _of_window(top: QWidget, window: MainWindow) -> bool:
    """Whether ``top`` is the window or one of its dialogs (a window another test of the
    same process left open is not this desk's)."""
    widget: QWidget | None = top
    while widget is not None:
        if widget is window:
            return True
        widget = widget.parentWidget()
    return False


def visible_texts(window: MainWindow, *, skip: QWidget | None = None) -> set[str]:
    """Every text a person could read on the desk's visible windows right now
    (leaving out ``skip`` and what it holds)."""
    texts: set[str] = {window.windowTitle()}
    widgets: list[QWidget] = []
    for top in QApplication.topLevelWidgets():
        if top.isVisible() and _of_window(top, window):
            widgets += [top, *top.findChildren(QWidget)]
    for widget in widgets:
        if not widget.isVisible() or (skip is not None and (
                widget is skip or skip.isAncestorOf(widget))):
            continue
        if isinstance(widget, QLabel | QAbstractButton):
            texts.add(widget.text())
        elif isinstance(widget, QLineEdit):
            texts.update((widget.text(), widget.placeholderText()))
        elif isinstance(widget, QDockWidget):
            texts.add(widget.windowTitle())
        elif isinstance(widget, QMenu):
            texts.add(widget.title())
        if isinstance(widget, QToolBar | QMenu) or widget is window.menuBar():
            for action in widget.actions():
                texts.add(action.text())
                if action.menu() is not None:
                    texts.add(action.menu().title())
                    texts.update(a.text() for a in action.menu().actions())
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            for row in range(model.rowCount(QModelIndex())):
                column = 0
                while model.index(row, column).isValid():  # list models hide columnCount
                    texts.add(str(model.index(row, column).data() or ""))
                    column += 1
        if isinstance(widget, QGraphicsView) and widget.scene() is not None:
            for item in widget.scene().items():
                for reader in ("toPlainText", "text"):
                    if hasattr(item, reader):
                        texts.add(str(getattr(item, reader)()))
    return {t for t in texts if t}


def contains(texts: set[str], fragment: str) -> bool:
    return any(fragment in text for text in texts)


def test_the_window_has_the_agenda_and_its_docks(window: MainWindow) -> None:
    docks = {d.objectName(): d for d in window.findChildren(QDockWidget)}
    assert set(docks) == {"calendar-dock", "waitlist-dock", "details-dock", "legend-dock",
                          "patient-dock", "exceptions-dock", "pinboard-dock",
                          "follow-ups-dock", "virtual-waiting-dock"}
    # the Care menu opens the follow-ups, the View menu the virtual waiting room
    on_demand = {"pinboard-dock", "follow-ups-dock", "virtual-waiting-dock"}
    assert all(dock.isVisible() for name, dock in docks.items() if name not in on_demand)
    assert not docks["pinboard-dock"].isVisible()  # shown once something is pinned
    assert window.centralWidget() is window.agenda
    assert docks["calendar-dock"].widget() is window.mini_calendar
    assert docks["waitlist-dock"].widget() is window.waitlist_panel
    # the details scroll (taller than a 1280×800 window leaves them for a video visit)
    scroller = docks["details-dock"].widget()
    assert isinstance(scroller, QScrollArea) and scroller.widget() is window.details_panel


def test_the_week_toggle_asks_the_agenda_for_monday_and_seven_days(window: MainWindow) -> None:
    agenda = AgendaCalls(window)
    window.go_to(WEDNESDAY)
    assert agenda.last == (CLINIC, WEDNESDAY, 1, "provider")

    window.week_action.trigger()
    assert agenda.last == (CLINIC, MONDAY, 7, "provider")

    window.next_action.trigger()
    assert agenda.last == (CLINIC, MONDAY + timedelta(days=7), 7, "provider")

    window.day_action.trigger()
    assert agenda.last[2] == 1


def test_switching_clinic_and_columns_and_picking_a_day_call_the_agenda(
    window: MainWindow,
) -> None:
    agenda = AgendaCalls(window)
    window.clinic_combo.setCurrentIndex(1)
    assert agenda.last == ("clinic-sevilla", MONDAY, 1, "provider")

    window.by_room_action.trigger()
    assert agenda.last == ("clinic-sevilla", MONDAY, 1, "room")

    window.mini_calendar.setSelectedDate(window.mini_calendar.selectedDate().addDays(2))
    assert agenda.last[1] == WEDNESDAY
    assert window.date_edit.date().toPython() == WEDNESDAY


def test_the_conflict_badge_counts_the_undismissed_conflicts(
    window: MainWindow, ctx: DeskContext
) -> None:
    assert window.conflicts_button.text() == "Conflicts (0)"
    with ctx.store.write() as session:
        for mutation_id in (7, 8):
            session.add(ConflictRow(
                mutation_id=mutation_id, attempted={"name": intents.APPOINTMENT_BOOK,
                                                    "args": {}},
                code=RefusalCode.PROVIDER_BUSY.value,
                message_id=message_for(RefusalCode.PROVIDER_BUSY), params={},
                alternatives=[], received_at=MONDAY_8,
            ))
    window.on_data_changed()  # a sync brought them
    assert window.conflicts_button.text() == "Conflicts (2)"


def test_the_idle_lock_hides_every_patient_name_until_the_password_is_given(
    window: MainWindow, ctx: DeskContext, clock: FakeClock
) -> None:
    booked = booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                          provider_id=DR_RUIZ, start=MONDAY_8 + timedelta(hours=2))
    assert booked.ok
    assert waitlist.add(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP).ok
    window.refresh()
    window.open_appointment(booked.appointments[0].id)
    shown = visible_texts(window)
    assert contains(shown, ANA_NAME) and contains(shown, BEN_NAME)

    clock.advance(timedelta(minutes=30))  # nobody touched the desk
    window.lock_overlay.check_idle()
    locked = visible_texts(window)
    assert window.lock_overlay.is_locked()
    assert not contains(locked, ANA_NAME) and not contains(locked, BEN_NAME)
    assert contains(locked, "This desk is locked")
    assert not window.new_action.isEnabled()

    window.lock_overlay.password.setText(PASSWORD)
    window.lock_overlay.unlock()
    unlocked = visible_texts(window)
    assert contains(unlocked, ANA_NAME) and contains(unlocked, BEN_NAME)
    assert window.new_action.isEnabled()


def test_signing_out_shows_the_sign_in_screen_and_signing_in_brings_the_desk_back(
    window: MainWindow, ctx: DeskContext
) -> None:
    assert waitlist.add(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP).ok
    window.refresh()
    window.sign_out_action.trigger()
    assert ctx.sessions.user is None
    assert not contains(visible_texts(window), BEN_NAME)
    assert contains(visible_texts(window), "Sign in to ClinicDesk")

    screen = window.centralWidget()
    screen.email.setText("desk@clinic.example")  # type: ignore[attr-defined]
    screen.password.setText(PASSWORD)  # type: ignore[attr-defined]
    screen.sign_in()  # type: ignore[attr-defined]  # offline: the verifier cached at sign-in
    assert window.centralWidget() is window.agenda
    assert not screen.isVisible()
    assert contains(visible_texts(window), BEN_NAME)


def test_the_waitlist_dock_lists_entries_and_drags_carry_the_entry_id(
    window: MainWindow, ctx: DeskContext
) -> None:
    from desktop.ui.agenda import WAITLIST_MIME

    added = waitlist.add(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP,
                         note="mornings only")
    assert added.ok and added.record_id
    window.waitlist_panel.refresh()
    model = window.waitlist_panel.model
    assert model.rowCount() == 1
    assert str(model.index(0).data()).startswith(BEN_NAME)
    assert "mornings only" in str(model.index(0).data(3))  # the tooltip

    mime = model.mimeData([model.index(0)])
    assert mime.hasFormat(WAITLIST_MIME)
    assert bytes(mime.data(WAITLIST_MIME).data()).decode() == added.record_id
    assert window.waitlist_panel.list.dragEnabled()


def test_removing_the_selected_entry_takes_it_off_the_list(
    window: MainWindow, ctx: DeskContext
) -> None:
    assert waitlist.add(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP).ok
    panel = window.waitlist_panel
    panel.refresh()
    panel.list.setCurrentIndex(panel.model.index(0))
    panel.remove_button.click()
    assert panel.model.rowCount() == 0
    assert waitlist.entries(ctx, CLINIC) == ()


def test_the_details_panel_shows_the_activated_appointment_in_clinic_time(
    window: MainWindow, ctx: DeskContext
) -> None:
    booked = booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                          provider_id=DR_RUIZ, start=datetime.fromisoformat(
                              "2025-03-03T09:00:00+00:00"), notes="bring x-rays")
    assert booked.ok
    window.agenda.activated.emit(booked.appointments[0].id)
    texts = [label.text() for label in window.details_panel.values]
    assert texts[0] == ANA_NAME
    assert "10:00" in texts[4]  # 09:00 UTC is 10:00 in Madrid
    assert "bring x-rays" in texts
    assert "Waiting to be confirmed by the server" in texts


def test_the_details_panel_says_an_online_booking_came_from_the_patient_portal(
    window: MainWindow, ctx: DeskContext
) -> None:
    booked = booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                          provider_id=DR_RUIZ, start=datetime.fromisoformat(
                              "2025-03-03T11:00:00+00:00"))
    assert booked.ok
    window.agenda.activated.emit(booked.appointments[0].id)
    assert window.details_panel.values[6].text() == "Front desk"
    with ctx.store.session() as session:  # as a pull writes a booking made in the portal
        row = session.get(AppointmentRow, booked.appointments[0].id)
        assert row is not None
        row.source = "online"
        session.commit()
    window.details_panel.refresh()
    assert window.details_panel.titles[6].text() == "Booked via"
    assert window.details_panel.values[6].text() == "Online (patient portal)"


def test_preferences_and_layout_survive_a_restart(
    qtbot: QtBot, window: MainWindow, ctx: DeskContext, settings: QSettings
) -> None:
    window.week_action.trigger()
    window.by_room_action.trigger()
    window.clinic_combo.setCurrentIndex(1)
    window.spanish_action.trigger()
    window.details_dock.hide()
    window.close()
    set_language("en")

    again = MainWindow(ctx, CLINICS, MONDAY, "desk-1", settings=settings)
    qtbot.addWidget(again)
    again.show()
    assert (again.days, again.columns, again.clinic_id) == (7, "room", "clinic-sevilla")
    assert again.spanish_action.isChecked()
    assert not again.details_dock.isVisible()
    stored = {key: settings.value(key) for key in settings.allKeys()}
    assert not any(ANA_NAME in str(v) or BEN_NAME in str(v) for v in stored.values())


def test_switching_to_spanish_retranslates_every_visible_text_of_the_window(
    window: MainWindow,
) -> None:
    window.refresh()
    english = visible_texts(window, skip=window.agenda)  # the agenda's own tests cover it
    window.spanish_action.trigger()
    spanish = visible_texts(window, skip=window.agenda)

    for expected in ("&Archivo", "&Ver", "Idioma", "Hoy", "Día", "Semana", "Por profesional",
                     "Calendario", "Lista de espera", "Cita", "Conflictos (0)", "Añadir…",
                     "Buscar un paciente (Ctrl+F)"):
        assert expected in spanish, expected
    assert any(text.startswith("Sin conexión") for text in spanish)  # the status bar
    # Names, numbers and the language menu's own entries are the same in both languages.
    unchanged = {t for t in english & spanish
                 if not t.isdigit() and t not in ("English", "Español", "Madrid", "Sevilla")
                 and not t.startswith(("ClinicDesk", "desk-"))}
    words = {t for t in unchanged if any(c.isalpha() for c in t)}
    assert words <= {"Dr Ruiz", "Dr López", "Room 1", "Room 2", "Check-up"}, words


def test_a_deleted_window_does_not_react_to_a_language_switch(
    qtbot: QtBot, ctx: DeskContext, settings: QSettings
) -> None:
    window = MainWindow(ctx, CLINICS, MONDAY, "desk-1", settings=settings)
    shiboken6.delete(window)
    assert not shiboken6.isValid(window)

    set_language("es")  # a lambda connection would call into the deleted window and raise
    set_language("en")
