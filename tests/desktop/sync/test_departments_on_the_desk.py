"""Departments on the desk against the real server (issue 19 item 4): two users of
different departments sign in on one desk; each sees only their department's (and
shared) providers, rooms, appointments, free times and today board, and the window says
whose departments it shows. Booking another department's provider is refused on the desk
in the words the server uses, before anything is queued. A user without department
limits sees everything."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session

from desktop.services import agenda, booking, patients
from desktop.services.appointment_details import load_details
from desktop.services.context import DeskContext
from desktop.services.patient_history import patient_history
from desktop.ui.agenda.widget import AgendaWidget
from desktop.ui.booking_dialog import BookingDialog
from desktop.ui.main_window import MainWindow
from desktop.ui.today_board import TodayBoard
from scheduling.refusals import RefusalCode, message_for
from sync_server.core.config import Settings
from sync_server.core.security import Passwords, password_hasher
from sync_server.db import models as db_models
from sync_server.services import admin, staff
from sync_server.services.accounts import Principal
from tests.desktop.sync.conftest import Desk
from tests.e2e.server_side import PASSWORD, Clinic
from tests.support.records import by_id

ROLE_PERMISSIONS = ["booking:view_calendar", "booking:create_appointment",
                    "booking:modify_appointment", "booking:cancel_appointment",
                    "patient:view", "patient:edit"]
#: Slots of the first day: 0 with provider 0 (Dental), 71 with provider 1 (Physio).
DENTAL_SLOT, PHYSIO_SLOT = 0, 71


@dataclass
class TwoDepartments:
    desk: Desk
    dental_email: str
    physio_email: str
    dental_visit: str  # an appointment with the Dental provider
    physio_visit: str  # one with the Physio provider, the same day
    shared_room: str  # the room the rules gave the Dental visit (no department)
    physio_room: str  # the other room, in Physio

    @property
    def clinic(self) -> Clinic:
        return self.desk.clinic


@pytest.fixture
def org(desk: Desk, clinic: Clinic, db: Session, server_settings: Settings) -> TwoDepartments:
    """Provider 0 in Dental, provider 1 and room 1 in Physio, room 0 shared; a
    department-scoped role and one user of each department; one appointment each."""
    dental_visit, physio_visit = desk.book(DENTAL_SLOT), desk.book(PHYSIO_SLOT)
    desk.client.push()
    now = datetime.now(UTC)
    who = Principal("admin", clinic.org_id, "admin@clinic.example",
                    frozenset({"administrator"}), frozenset({"admin:config", "admin:users"}), {})

    def department(name: str) -> str:
        return str(admin.create(db, who, admin.DEPARTMENT,
                                {"clinic_id": clinic.clinic_id, "name": name}, now)["id"])

    dental, physio = department("Dental"), department("Physio")
    # The rules chose the visits' rooms: the Dental visit's room stays shared (else the
    # Dental user would not see their own visit), the other one goes to Physio.
    dental_row = by_id(db, db_models.Appointment, dental_visit)
    assert dental_row is not None and dental_row.room_id in clinic.room_ids
    shared_room = dental_row.room_id
    physio_room = next(room for room in clinic.room_ids if room != shared_room)
    for resource, department_id in ((clinic.provider_ids[0], dental),
                                    (clinic.provider_ids[1], physio),
                                    (physio_room, physio)):
        admin.update(db, who, admin.RESOURCE, resource, {"department_id": department_id},
                     lambda values: values, now)
    db.commit()
    staff.create_role(db, who, "department desk", ROLE_PERMISSIONS, False, now,
                      department_scoped=True)
    emails = []
    for name, department_id in (("dental", dental), ("physio", physio)):
        email = f"{name}-{uuid.uuid4().hex[:6]}@clinic.example"
        staff.create_user(db, Passwords(password_hasher(server_settings)), who, email,
                          name.title(), PASSWORD, ["department desk"], now,
                          department_ids=[department_id])
        emails.append(email)
    db.commit()  # end the session's read: SQLite would keep the server waiting
    desk.client.pull()
    return TwoDepartments(desk, emails[0], emails[1], dental_visit, physio_visit,
                          shared_room, physio_room)


def booking_start(ctx: DeskContext, appointment_id: str) -> datetime:
    details = load_details(ctx, appointment_id)
    assert details is not None
    return details.start


def agenda_of(qtbot: QtBot, ctx: DeskContext, clinic: Clinic, columns: str) -> AgendaWidget:
    widget = AgendaWidget(ctx)
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    widget.show_range(clinic.clinic_id, clinic.first_day, 1, columns)
    return widget


def test_each_user_sees_only_their_departments_providers_rooms_and_appointments(
        qtbot: QtBot, org: TwoDepartments) -> None:
    clinic = org.clinic
    shared_room, physio_room = org.shared_room, org.physio_room
    dental_provider, physio_provider = clinic.provider_ids
    for email, provider, mine, theirs, rooms in (
            (org.dental_email, dental_provider, org.dental_visit, org.physio_visit,
             [shared_room]),
            (org.physio_email, physio_provider, org.physio_visit, org.dental_visit,
             [shared_room, physio_room])):
        ctx = org.desk.sign_in(email)
        by_provider = agenda_of(qtbot, ctx, clinic, "provider")
        by_room = agenda_of(qtbot, ctx, clinic, "room")
        assert by_provider.reference is not None and by_room.reference is not None
        assert [p.id for p in by_provider.reference.providers] == [provider]
        assert sorted(r.id for r in by_room.reference.rooms) == sorted(rooms)
        # Columns and hours off screen are drawn a moment later (the agenda draws what
        # is on screen first): wait for the user's own appointment, then judge.
        qtbot.waitUntil(lambda w=by_provider, m=mine: w.appointment_item(m) is not None,
                        timeout=10_000)
        assert by_provider.appointment_item(theirs) is None
        history = patient_history(ctx, clinic.patient_ids[0])
        assert history is not None and [v.appointment_id for v in history.upcoming] == [mine]
        [found] = [p for p in patients.search(ctx, "Given0 Family0") if p.id == history.patient.id]
        assert found.next_appointment == booking_start(ctx, mine)
        free = agenda.earliest_free(ctx, clinic.clinic_id, clinic.type_id, limit=6)
        assert free and {slot.provider_id for slot in free} == {provider}
        dialog = BookingDialog(ctx, clinic.clinic_id)
        qtbot.addWidget(dialog)
        assert [dialog.provider_combo.itemData(i)
                for i in range(dialog.provider_combo.count())] == [provider]
        board = TodayBoard(ctx, clinic.clinic_id, day=clinic.first_day)
        qtbot.addWidget(board)
        board.refresh()
        assert board.snapshot is not None
        assert [i.appointment.appointment_id for i in board.snapshot.items] == [mine]
        assert len(board.snapshot.utilization) == 1


def test_a_user_without_department_limits_sees_everything(
        qtbot: QtBot, org: TwoDepartments) -> None:
    widget = agenda_of(qtbot, org.desk.ctx, org.clinic, "provider")
    assert widget.reference is not None
    assert sorted(p.id for p in widget.reference.providers) == sorted(org.clinic.provider_ids)
    assert widget.appointment_item(org.dental_visit) is not None
    assert widget.appointment_item(org.physio_visit) is not None


def test_the_window_shows_the_signed_in_users_department(
        qtbot: QtBot, org: TwoDepartments, tmp_path: Path) -> None:
    clinics = [(org.clinic.clinic_id, "Clinic", "en_US")]
    shown = []
    for ctx in (org.desk.sign_in(org.dental_email), org.desk.ctx):
        window = MainWindow(ctx, clinics, org.clinic.first_day, "desk-1",
                            settings=QSettings(str(tmp_path / f"{len(shown)}.ini"),
                                               QSettings.Format.IniFormat))
        qtbot.addWidget(window)
        window.show()
        shown.append(window.department_label.text())
    assert shown == ["Department: Dental", "All departments"]


def test_booking_another_departments_provider_is_refused_on_the_desk_in_the_servers_words(
        org: TwoDepartments) -> None:
    ctx = org.desk.sign_in(org.dental_email)
    before = org.desk.client.pending_count()
    provider, start = org.clinic.slot(PHYSIO_SLOT + 2)
    refused = booking.book(ctx, clinic_id=org.clinic.clinic_id,
                           patient_id=org.clinic.patient_ids[1],
                           appointment_type_id=org.clinic.type_id, provider_id=provider,
                           start=start)
    assert not refused.ok and refused.refusal is not None
    assert (refused.refusal.code, refused.refusal.message_id, dict(refused.refusal.params)) == (
        RefusalCode.UNKNOWN_RECORD.value, message_for(RefusalCode.UNKNOWN_RECORD),
        {"kind": "provider"})
    moved = booking.move(ctx, org.physio_visit, start)
    assert not moved.ok and moved.refusal is not None
    assert dict(moved.refusal.params) == {"kind": "appointment"}
    assert org.desk.client.pending_count() == before
    own_provider, own_start = org.clinic.slot(DENTAL_SLOT + 2)
    assert booking.book(ctx, clinic_id=org.clinic.clinic_id,
                        patient_id=org.clinic.patient_ids[1],
                        appointment_type_id=org.clinic.type_id, provider_id=own_provider,
                        start=own_start).ok
    result = org.desk.client.sync_once()
    assert result.pending == 0 and result.pull.new_conflicts == 0
