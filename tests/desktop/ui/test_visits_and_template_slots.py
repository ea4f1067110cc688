"""Visits, template slots and "other clinics with room" on the desk, against a real sync
server (uvicorn on a loopback port) and a real desk enrolled on it.

A visit (a scan and a check-up) is booked from the booking dialog through the server's
visit endpoint, all or nothing; a refused part books nothing and the dialog names it;
the whole visit moves and is cancelled from the agenda; a click in a provider's template
slot books into it and the server records the template; a day without room at the shown
clinic offers the clinics that have some, and one click books there.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from PySide6.QtCore import QEvent, QPoint
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.services import patients
from desktop.services.dto import PatientDTO
from desktop.services.server_call import signed_in_call
from desktop.services.visits import VisitPart, VisitsService
from desktop.store.models import AppointmentRow
from desktop.sync.client import RetryPolicy, SyncClient
from desktop.ui.agenda.template_slots import TemplateSlotItem
from desktop.ui.booking_dialog import BookingDialog
from desktop.ui.main_window import MainWindow
from desktop.ui.text import set_language
from desktop.ui.theme import ERROR
from scheduling import model
from scheduling.wire import to_wire
from sync_server.db import models as db
from sync_server.services import changes
from sync_server.services.calendar import appointment_record
from tests.desktop.ui.agenda.conftest import drag, mouse, point_at
from tests.desktop.ui.notifications_server import LiveNotifications, live_notifications
from tests.desktop.ui.test_exceptions_panel import window_for
from tests.desktop.ui.test_texts_fit import clipped
from tests.e2e.server_side import TZ, _record, free_port

TEMPLATE_NAME = "New patient"


@dataclasses.dataclass
class Extra:
    """What this module adds to the seeded clinic on the server."""

    scan_type: str
    template_id: str
    other_clinic: str
    other_provider: str


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNotifications]:
    with live_notifications(tmp_path_factory.mktemp("visits")) as running:
        running.extra = _add_setup(running)  # type: ignore[attr-defined]
        running.client.sync_once()
        yield running


@pytest.fixture
def fresh(live: LiveNotifications) -> Iterator[LiveNotifications]:
    live.sign_in(live.admin_email)
    yield live
    with live.database() as session:  # tests sharing the server start with a free week,
        rows = session.scalars(select(db.Appointment).where(  # on the desk's copy too
            db.Appointment.status != "entered_in_error")).all()
        if rows:
            version = changes.bump_version(session, live.clinic.org_id)
            for row in rows:
                row.status = "entered_in_error"
                changes.record_change(session, live.clinic.org_id, version, "appointment",
                                      row.id, "upsert", to_wire(appointment_record(row)))
        session.commit()
    live.client.sync_once()


def extra(live: LiveNotifications) -> Extra:
    return live.extra  # type: ignore[attr-defined, no-any-return]


def _add_setup(live: LiveNotifications) -> Extra:
    """A 15-minute scan (no room), a "New patient" template on provider 0's Mondays
    09:00-10:00 for check-ups, and a second clinic whose provider also works Saturdays."""
    clinic = live.clinic
    org = clinic.org_id
    with live.database() as session:
        scan = model.AppointmentType(
            str(uuid.uuid4()), org, "Scan", timedelta(minutes=15), timedelta(minutes=15),
            timedelta(minutes=30))
        session.add(db.AppointmentType(
            id=scan.id, organization_id=org, name=scan.name, default_duration_seconds=900,
            min_duration_seconds=900, max_duration_seconds=1800,
            requirement={"providers": [], "rooms": [], "equipment": []}))
        template = model.SlotTemplate(str(uuid.uuid4()), clinic.provider_ids[0],
                                      clinic.clinic_id, 0, clock_time(9), clock_time(10),
                                      TEMPLATE_NAME, clinic.type_id)
        session.add(db.SlotTemplate(
            id=template.id, organization_id=org, provider_id=template.provider_id,
            clinic_id=template.clinic_id, weekday=0, start_time=template.start,
            end_time=template.end, name=template.name,
            appointment_type_id=template.appointment_type_id))
        other = model.Clinic(str(uuid.uuid4()), org, "Chamberí", TZ, "es_ES")
        session.add(db.Clinic(id=other.id, organization_id=org, name=other.name,
                              time_zone=TZ, locale=other.locale))
        provider = model.Resource(str(uuid.uuid4()), org, model.ResourceKind.PROVIDER,
                                  "provider Chamberí", frozenset({other.id}))
        room = model.Resource(str(uuid.uuid4()), org, model.ResourceKind.ROOM,
                              "room Chamberí", frozenset({other.id}))
        records: list[object] = [scan, template, other, provider, room]
        for resource in (provider, room):
            session.add(db.Resource(id=resource.id, organization_id=org,
                                    kind=resource.kind.value, name=resource.name))
        session.flush()
        for resource in (provider, room):
            session.add(db.ResourceClinic(resource_id=resource.id, clinic_id=other.id,
                                          organization_id=org))
        kind = session.get(db.AppointmentType, clinic.type_id)
        assert kind is not None  # check-ups may use the other clinic's room too
        kind.requirement = {**kind.requirement,
                            "rooms": sorted([*kind.requirement["rooms"], room.id])}
        checkup = model.AppointmentType(
            clinic.type_id, org, "Check-up", timedelta(minutes=30), timedelta(minutes=15),
            timedelta(hours=1), requirement=model.ResourceRequirement(
                rooms=frozenset(kind.requirement["rooms"])))
        records.append(checkup)
        for weekday in range(6):
            schedule = model.WeeklySchedule(str(uuid.uuid4()), provider.id, other.id, weekday,
                                            clock_time(9), clock_time(17))
            session.add(db.WeeklySchedule(
                id=schedule.id, organization_id=org, provider_id=provider.id,
                clinic_id=other.id, weekday=weekday, start_time=schedule.start,
                end_time=schedule.end, breaks=[]))
            records.append(schedule)
        session.flush()
        _record(session, org, records)
        session.commit()
    return Extra(scan.id, template.id, other.id, provider.id)


def patient_of(live: LiveNotifications, index: int) -> PatientDTO:
    found = patients.get(live.ctx, live.clinic.patient_ids[index])
    assert found is not None
    return found


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, clock_time(hour, minute), ZoneInfo(TZ)).astimezone(UTC)


@dataclasses.dataclass(frozen=True)
class ServerRow:
    id: str
    start_at: datetime
    appointment_type_id: str
    status: str
    visit_id: str | None
    slot_template_id: str | None
    clinic_id: str


def server_rows(live: LiveNotifications) -> list[ServerRow]:
    """The server's live appointments, earliest first (read in a transaction of its own)."""
    with live.database() as session:
        try:
            return [ServerRow(r.id, r.start_at, r.appointment_type_id, r.status, r.visit_id,
                              r.slot_template_id, r.clinic_id)
                    for r in session.scalars(select(db.Appointment).where(
                        db.Appointment.organization_id == live.clinic.org_id,
                        db.Appointment.status != "entered_in_error")
                        .order_by(db.Appointment.start_at))]
        finally:
            session.rollback()


def window_with_visits(qtbot: QtBot, live: LiveNotifications, tmp_path: Path) -> MainWindow:
    window = window_for(qtbot, live, tmp_path)
    window.set_visits(VisitsService(signed_in_call(live.client, live.ctx.sessions),
                                    live.ctx.new_id))
    window.set_clinic(live.clinic.clinic_id)
    window.go_to(live.clinic.first_day)
    return window


def visit_dialog(window: MainWindow, live: LiveNotifications, scan_at: datetime,
                 checkup_provider: int = 1) -> BookingDialog:
    """The booking dialog with a scan listed and a check-up right after it in the form."""
    dialog = window.new_appointment(patient_of(live, 0), start=scan_at)
    dialog.type_combo.setCurrentIndex(dialog.type_combo.findData(extra(live).scan_type))
    dialog.provider_combo.setCurrentIndex(
        dialog.provider_combo.findData(live.clinic.provider_ids[0]))
    dialog.add_to_visit()
    dialog.type_combo.setCurrentIndex(dialog.type_combo.findData(live.clinic.type_id))
    dialog.provider_combo.setCurrentIndex(
        dialog.provider_combo.findData(live.clinic.provider_ids[checkup_provider]))
    return dialog


def test_a_scan_and_a_check_up_are_booked_together_as_one_visit(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    window = window_with_visits(qtbot, fresh, tmp_path)
    day = fresh.clinic.first_day
    dialog = visit_dialog(window, fresh, at(day, 9))
    assert dialog.start() == at(day, 9, 15)  # the next part starts when the scan ends
    assert dialog.visit.list.count() == 1
    assert dialog.book_button.text() == "Book the visit (2 appointments)"

    dialog.book_button.click()

    assert not dialog.isVisible(), dialog.message.text()
    rows = server_rows(fresh)
    assert [(r.start_at.astimezone(UTC), r.appointment_type_id) for r in rows] == [
        (at(day, 9), extra(fresh).scan_type), (at(day, 9, 15), fresh.clinic.type_id)]
    assert rows[0].visit_id is not None and rows[0].visit_id == rows[1].visit_id
    fresh.client.sync_once()
    window.refresh()
    window.show_appointment(rows[1].id)
    assert "Part of a visit (2 of 2)" in window.details_panel.grouping.text()
    item = window.agenda.appointment_item(rows[0].id)
    assert item is not None and "Part of a visit (1 of 2)" in item.toolTip()


def test_one_refused_part_books_nothing_and_the_dialog_names_it(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    day = fresh.clinic.first_day
    taken = fresh.book(0, patient=1)  # provider 0 at 09:00 on the first day
    before = {r.id for r in server_rows(fresh)}
    assert before == {taken}
    window = window_with_visits(qtbot, fresh, tmp_path)
    dialog = visit_dialog(window, fresh, at(day, 9))

    dialog.book_button.click()

    assert dialog.isVisible()
    assert {r.id for r in server_rows(fresh)} == before  # nothing of the visit was kept
    message = dialog.message.text()
    assert message.startswith("Appointment 1 of the visit (Scan with provider 0) cannot be "
                              "booked:")
    assert "Nothing was booked." in message
    assert dialog.visit.list.item(0).foreground().color() == ERROR
    assert dialog.alternatives_model.rowCount() > 0

    dialog.alternatives.clicked.emit(dialog.alternatives_model.index(0))
    moved = dialog.visit.parts[0]
    assert moved.start != at(day, 9) and moved.end - moved.start == timedelta(minutes=15)
    dialog.set_start(moved.end)  # the check-up right after the scan again
    dialog.book_button.click()
    assert not dialog.isVisible(), dialog.message.text()
    assert len(server_rows(fresh)) == 3


def test_without_the_server_a_visit_books_nothing_and_says_why(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    window = window_with_visits(qtbot, fresh, tmp_path)
    dead = SyncClient(fresh.store, dataclasses.replace(
        fresh.client.config, server_url=f"http://127.0.0.1:{free_port()}"), requests.Session(),
        keyring_backend=fresh.client._keyring,
        retry=RetryPolicy(attempts=1, base_seconds=0.0, cap_seconds=0.0))
    window.set_visits(VisitsService(signed_in_call(dead, fresh.ctx.sessions), uuid.uuid4))
    dialog = visit_dialog(window, fresh, at(fresh.clinic.first_day, 11))

    dialog.book_button.click()

    assert dialog.isVisible()
    assert dialog.message.text().startswith("Visits are booked on the server, and this desk "
                                            "cannot reach it now. Nothing was booked.")
    assert server_rows(fresh) == []
    with fresh.store.session() as session:
        assert session.scalars(select(AppointmentRow).where(
            AppointmentRow.pending_mutation_id.is_not(None))).all() == []


def book_visit(live: LiveNotifications, day: date) -> list[str]:
    service = VisitsService(signed_in_call(live.client, live.ctx.sessions), uuid.uuid4)
    clinic = live.clinic
    outcome = service.book(clinic.clinic_id, clinic.patient_ids[2], [
        VisitPart(extra(live).scan_type, clinic.provider_ids[0], at(day, 10), at(day, 10, 15)),
        VisitPart(clinic.type_id, clinic.provider_ids[1], at(day, 10, 15), at(day, 10, 45))])
    assert outcome.ok, outcome
    live.client.sync_once()
    return [r.id for r in server_rows(live) if r.visit_id == outcome.visit_id]


def test_moving_one_part_can_move_the_whole_visit_on_the_server(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    day = fresh.clinic.first_day
    scan, checkup = book_visit(fresh, day)
    window = window_with_visits(qtbot, fresh, tmp_path)
    window.resize(1400, 900)
    window.show()
    agenda = window.agenda
    asked: list[tuple[int, int]] = []

    def whole(position: object) -> str:
        asked.append((position.number, position.total))  # type: ignore[attr-defined]
        return "visit"

    agenda.visit_actions.choose_scope = whole
    provider = fresh.clinic.provider_ids[1]
    grab = point_at(agenda, day, provider, at(day, 10, 20))
    drop = point_at(agenda, day, provider, at(day, 11, 20))
    drag(agenda, grab, grab + QPoint(0, 10), drop)

    assert asked == [(2, 2)]
    rows = {r.id: r for r in server_rows(fresh)}
    assert rows[scan].start_at.astimezone(UTC) == at(day, 11)
    assert rows[checkup].start_at.astimezone(UTC) == at(day, 11, 15)


def test_a_whole_visit_move_that_collides_names_the_part_and_changes_nothing(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    day = fresh.clinic.first_day
    scan, checkup = book_visit(fresh, day)
    blocker = fresh.book(4 + 14 * 5, patient=1)  # provider 1 on the first day at 11:00
    assert blocker not in (scan, checkup)
    window = window_with_visits(qtbot, fresh, tmp_path)
    said: list[str] = []
    window.agenda.message.connect(said.append)
    window.agenda.visit_actions.choose_scope = lambda _position: "visit"
    position = window.agenda.visit_actions.scope(scan)[1]
    assert position is not None

    assert not window.agenda.visit_actions.move(position, at(day, 10, 45))

    assert said[-1].startswith("Appointment 2 of the visit cannot be moved:")
    assert "Nothing was moved." in said[-1] and "Free times:" in said[-1]
    rows = {r.id: r for r in server_rows(fresh)}
    assert rows[scan].start_at.astimezone(UTC) == at(day, 10)


def test_cancelling_one_part_can_cancel_the_whole_visit_or_only_itself(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    day = fresh.clinic.first_day
    scan, checkup = book_visit(fresh, day)
    window = window_with_visits(qtbot, fresh, tmp_path)
    actions = window.agenda.appointment_actions
    actions.ask_cancel_reason = lambda: "Patient called"
    window.agenda.visit_actions.choose_scope = lambda _position: None
    assert not actions.cancel(scan)  # giving up cancels nothing
    assert {r.status for r in server_rows(fresh)} == {"booked"}

    window.agenda.visit_actions.choose_scope = lambda _position: "visit"
    assert actions.cancel(checkup)
    assert {r.id: r.status for r in server_rows(fresh)} == {scan: "cancelled",
                                                            checkup: "cancelled"}

    scan, checkup = book_visit(fresh, day + timedelta(days=1))
    window.agenda.visit_actions.choose_scope = lambda _position: "this"
    assert actions.cancel(scan)
    fresh.client.sync_once()
    statuses = {r.id: r.status for r in server_rows(fresh)}
    assert statuses[scan] == "cancelled" and statuses[checkup] == "booked"


def test_a_click_in_a_template_slot_books_into_it_and_the_server_records_it(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    day = fresh.clinic.first_day  # a Monday: provider 0's "New patient" 09:00-10:00
    window = window_with_visits(qtbot, fresh, tmp_path)
    window.resize(1400, 900)
    window.show()
    outlines = [i for i in window.agenda.scene.items() if isinstance(i, TemplateSlotItem)]
    assert [(o.slot.name, o.slot.start, o.slot.end) for o in outlines] == [
        (TEMPLATE_NAME, at(day, 9), at(day, 10))]

    click = point_at(window.agenda, day, fresh.clinic.provider_ids[0], at(day, 9, 20))
    mouse(window.agenda, QEvent.Type.MouseButtonPress, click)
    mouse(window.agenda, QEvent.Type.MouseButtonRelease, click)
    dialogs = [d for d in window.findChildren(BookingDialog) if d.isVisible()]
    assert len(dialogs) == 1
    dialog = dialogs[0]
    assert dialog.labels["template"].text() == "Template slot"
    assert dialog.template_label.text() == TEMPLATE_NAME
    assert dialog.type_combo.currentData() == fresh.clinic.type_id
    assert dialog.start() == at(day, 9) and dialog.duration.value() == 60
    dialog.patients.choose(patient_of(fresh, 0))
    dialog.book_button.click()
    assert not dialog.isVisible()
    fresh.client.sync_once()

    rows = server_rows(fresh)
    assert [(r.slot_template_id, r.start_at.astimezone(UTC)) for r in rows] == [
        (extra(fresh).template_id, at(day, 9))]
    window.show_appointment(rows[0].id)
    assert "Template slot: New patient" in window.details_panel.grouping.text()


def test_a_day_without_room_offers_other_clinics_and_one_click_books_there(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    saturday = fresh.clinic.first_day + timedelta(days=5)  # nobody works at Retiro
    window = window_with_visits(qtbot, fresh, tmp_path)
    dialog = window.new_appointment(patient_of(fresh, 1),
                                    start=at(saturday, 10))
    dialog.find_next_available()

    assert not dialog.other_clinics.isHidden()
    assert dialog.other_clinics.title.text().startswith("Other clinics with room on ")
    assert [b.text().split(":")[0] for b in dialog.other_clinics.buttons] == ["Chamberí"]

    dialog.other_clinics.buttons[0].click()

    assert window.clinic_id == extra(fresh).other_clinic
    opened = [d for d in window.findChildren(BookingDialog) if d.isVisible()]
    assert len(opened) == 1 and opened[0] is not dialog
    chamberi = opened[0]
    assert chamberi.reference.clinic_id == extra(fresh).other_clinic
    assert chamberi.patients.patient is not None
    assert chamberi.patients.patient.id == fresh.clinic.patient_ids[1]
    assert chamberi.start() == at(saturday, 9)
    assert chamberi.provider_combo.currentData() == extra(fresh).other_provider
    chamberi.book_button.click()
    assert not chamberi.isVisible()
    fresh.client.sync_once()
    assert [r.clinic_id for r in server_rows(fresh)] == [extra(fresh).other_clinic]


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", [(1600, 1000), (1280, 800)])
def test_the_visit_dialog_and_template_slots_fit_in_both_languages(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path, language: str,
        size: tuple[int, int]) -> None:
    set_language(language)
    try:
        day = fresh.clinic.first_day
        book_visit(fresh, day)  # the agenda shows a visit's parts beside the template slot
        window = window_with_visits(qtbot, fresh, tmp_path)
        window.resize(*size)
        window.show()
        dialog = visit_dialog(window, fresh, at(day, 11))
        dialog.add_to_visit()
        dialog.type_combo.setCurrentIndex(dialog.type_combo.findData(extra(fresh).scan_type))
        QApplication.processEvents()
        assert dialog.visit.list.count() == 2
        assert clipped(dialog) == []
        assert clipped(window.details_panel) == []
        folder = os.environ.get("CLINICDESK_SCREENSHOTS")  # docs/screenshots when asked
        if folder:
            suffix = f"{language}-{size[0]}x{size[1]}"
            Path(folder).mkdir(parents=True, exist_ok=True)
            dialog.grab().save(str(Path(folder) / f"booking-visit-{suffix}.png"))
            window.grab().save(str(Path(folder) / f"agenda-template-slots-{suffix}.png"))
        dialog.reject()
    finally:
        set_language("en")


def test_a_visit_holds_at_most_ten_appointments_and_never_repeats(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    window = window_with_visits(qtbot, fresh, tmp_path)
    dialog = visit_dialog(window, fresh, at(fresh.clinic.first_day, 9))
    dialog.type_combo.setCurrentIndex(dialog.type_combo.findData(extra(fresh).scan_type))
    while len(dialog.visit.parts) < 9:
        dialog.add_to_visit()
    dialog.add_to_visit()
    assert len(dialog.visit.parts) == 9  # with the form's own: ten
    assert dialog.message.text() == "A visit holds at most 10 appointments."
    assert not dialog.recurrence.isEnabled()

    dialog.visit.list.setCurrentRow(0)
    dialog.visit.remove_button.click()
    assert len(dialog.visit.parts) == 8
    assert server_rows(fresh) == []  # nothing is sent before Book


def test_choosing_another_provider_leaves_the_template_slot(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    day = fresh.clinic.first_day
    window = window_with_visits(qtbot, fresh, tmp_path)
    window.resize(1400, 900)
    window.show()
    click = point_at(window.agenda, day, fresh.clinic.provider_ids[0], at(day, 9, 40))
    mouse(window.agenda, QEvent.Type.MouseButtonPress, click)
    mouse(window.agenda, QEvent.Type.MouseButtonRelease, click)
    dialog = next(d for d in window.findChildren(BookingDialog) if d.isVisible())
    assert dialog.slot_template is not None and not dialog.template_label.isHidden()

    dialog.provider_combo.setCurrentIndex(
        dialog.provider_combo.findData(fresh.clinic.provider_ids[1]))

    assert dialog.slot_template is None and dialog.template_label.isHidden()


def test_a_part_dragged_over_its_own_visit_moves_the_whole_visit(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    day = fresh.clinic.first_day
    scan, checkup = book_visit(fresh, day)  # 10:00 scan, 10:15 check-up
    window = window_with_visits(qtbot, fresh, tmp_path)
    window.resize(1400, 900)
    window.show()
    agenda = window.agenda
    agenda.visit_actions.choose_scope = lambda _position: "visit"
    provider = fresh.clinic.provider_ids[0]
    grab = point_at(agenda, day, provider, at(day, 10, 5))
    drop = point_at(agenda, day, provider, at(day, 10, 35))
    drag(agenda, grab, grab + QPoint(0, 10), drop)  # onto the check-up's time

    rows = {r.id: r for r in server_rows(fresh)}
    assert rows[scan].start_at.astimezone(UTC) == at(day, 10, 30)
    assert rows[checkup].start_at.astimezone(UTC) == at(day, 10, 45)
