"""The follow-up list (Care menu) against a real sync server and a real desk: due and
overdue follow-ups opened by completing visits on the server, a call logged, an invitation
queued in the outbox, "Book now" prefilling the booking dialog, and a booking from the desk
satisfying the follow-up."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select, update

from desktop.services import booking as desk_booking
from desktop.services.followups import FollowUpsService
from desktop.services.server_call import signed_in_call
from desktop.ui.follow_up_list import FollowUpPanel
from desktop.ui.text import set_language
from scheduling.commands import Actor, BookAppointment, ChangeStatus
from scheduling.model import AppointmentStatus
from sync_server.db import models as db
from sync_server.followups.models import FollowUp, FollowUpContact
from sync_server.notifications.models import Notification
from sync_server.notifications.service import settings_row
from sync_server.services import audit, booking
from tests.desktop.ui.notifications_server import LiveNotifications, live_notifications
from tests.desktop.ui.test_exceptions_panel import window_for
from tests.desktop.ui.test_texts_fit import clipped
from tests.e2e.server_side import TZ

STAFF = Actor("staff-user", None, frozenset({
    "booking:create_appointment", "booking:modify_appointment", "booking:view_calendar"}))


def follow_ups_on(live: LiveNotifications) -> None:
    """The check-up asks for a follow-up within 30 days; e-mail is on (invitations)."""
    with live.database() as session:
        kind = session.get(db.AppointmentType, live.clinic.type_id)
        assert kind is not None
        kind.follow_up_days = 30
        settings_row(session, live.clinic.org_id, datetime.now(UTC)).email_enabled = True
        session.commit()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNotifications]:
    with live_notifications(tmp_path_factory.mktemp("followups")) as running:
        follow_ups_on(running)
        yield running


@pytest.fixture
def fresh(live: LiveNotifications) -> Iterator[LiveNotifications]:
    live.sign_in(live.admin_email)
    yield live
    with live.database() as session:  # tests sharing the server start clean: no follow-up,
        for row in session.scalars(select(FollowUp)):  # and no visit that would satisfy one
            session.delete(row)
        session.execute(update(db.Appointment).values(status="entered_in_error"))
        session.commit()


def weekday_before(days: int) -> date:
    day = datetime.now(ZoneInfo(TZ)).date() - timedelta(days=days)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def completed_visit(live: LiveNotifications, day: date, patient: int, hour: int = 10) -> str:
    """A visit booked, arrived and completed on the server on local ``day`` (in the past:
    the server is told that is "now")."""
    start = datetime.combine(day, time(hour), ZoneInfo(TZ)).astimezone(UTC)
    visit = str(uuid.uuid4())
    caller = booking.Caller(live.clinic.org_id, STAFF, audit.Actor(None, None))
    with live.database() as session:
        result = booking.book(session, caller, BookAppointment(
            STAFF, visit, live.clinic.clinic_id, live.clinic.patient_ids[patient],
            live.clinic.type_id, live.clinic.provider_ids[patient % 2], start),
            start - timedelta(days=1))
        assert result.refused is None, result.refused
        for status in (AppointmentStatus.ARRIVED, AppointmentStatus.COMPLETED):
            result = booking.change(session, caller, ChangeStatus(STAFF, visit, status), start)
            assert result.refused is None, result.refused
        session.commit()
    return visit


CALLS = itertools.count()


def two_follow_ups(live: LiveNotifications) -> None:
    """Patient 0's follow-up due (visit 5+ days ago), patient 1's overdue (40+ days ago);
    each call on other days and hours (the visits stay booked on the shared server)."""
    n = next(CALLS)
    completed_visit(live, weekday_before(5 + n), 0, 9 + n % 4)
    completed_visit(live, weekday_before(40 + n), 1, 9 + n % 4)


def panel_for(qtbot: QtBot, live: LiveNotifications) -> FollowUpPanel:
    panel = FollowUpPanel(live.ctx, lambda: (live.clinic.clinic_id, "en_US"))
    qtbot.addWidget(panel)
    panel.resize(460, 520)
    panel.show()
    panel.set_service(FollowUpsService(signed_in_call(live.client, live.ctx.sessions)))
    return panel


def texts(panel: FollowUpPanel) -> list[str]:
    return [panel.list.item(row).text() for row in range(panel.list.count())]


def test_due_and_overdue_follow_ups_are_listed_overdue_first_with_the_missed_count(
        qtbot: QtBot, fresh: LiveNotifications) -> None:
    two_follow_ups(fresh)
    panel = panel_for(qtbot, fresh)
    shown = texts(panel)
    assert len(shown) == 2 and not panel.offline
    assert shown[0].startswith("OVERDUE · Follow-up · Given1 Family1 · ")
    assert shown[1].startswith("Due · Follow-up · Given0 Family0 · ")
    assert "\nPhone: +34 600 111 222" in shown[1]
    assert panel.state_label.text() == "Missed in the last four weeks: 1"


def test_a_logged_call_and_an_invitation_reach_the_server(
        qtbot: QtBot, fresh: LiveNotifications) -> None:
    two_follow_ups(fresh)
    panel = panel_for(qtbot, fresh)
    item = next(i for i in panel.items if not i.overdue)
    panel.select(item.id)
    panel.ask_note = lambda _item: None  # the receptionist cancels
    assert panel.log_call_selected() is False
    panel.ask_note = lambda _item: "left a voicemail"
    assert panel.log_call_selected() is True and panel.last_message == "Call logged."
    panel.select(item.id)
    assert panel.invite_selected() is True
    with fresh.database() as session:
        contacts = [(c.kind, c.note) for c in session.scalars(
            select(FollowUpContact).where(FollowUpContact.follow_up_id == item.id)
            .order_by(FollowUpContact.at))]
        [invitation] = session.scalars(select(Notification).where(
            Notification.kind == "invitation",
            Notification.patient_id == item.patient_id)).all()
    assert contacts == [("call", "left a voicemail"), ("invitation", "")]
    assert invitation.state == "pending"
    shown = next(t for t in texts(panel) if "Given0" in t)
    assert "Last contact: invitation sent on " in shown


def test_book_now_prefills_the_dialog_and_booking_satisfies_the_follow_up(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path) -> None:
    two_follow_ups(fresh)
    window = window_for(qtbot, fresh, tmp_path)
    window.care.set_service(FollowUpsService(signed_in_call(fresh.client, fresh.ctx.sessions)))
    window.care.show_panel()
    panel = window.care.panel
    assert len(panel.items) == 2, (panel.last_message, panel.offline, window.clinic_id)
    item = next(i for i in panel.items if not i.overdue)
    dialog = window.care.book(item)
    assert dialog is not None
    assert dialog.patients.patient is not None and dialog.patients.patient.id == item.patient_id
    assert dialog.type_combo.currentData() == item.appointment_type_id
    dialog.close()

    provider, start = fresh.clinic.slot(3)  # a future slot inside the 30-day window
    result = desk_booking.book(fresh.ctx, clinic_id=fresh.clinic.clinic_id,
                               patient_id=item.patient_id,
                               appointment_type_id=item.appointment_type_id,
                               provider_id=provider, start=start)
    assert result.ok, result.refusal
    fresh.client.sync_once()
    panel.refresh()
    assert [i.patient_id for i in panel.items] == [fresh.clinic.patient_ids[1]]


def test_locking_the_desk_empties_the_list(qtbot: QtBot, fresh: LiveNotifications) -> None:
    two_follow_ups(fresh)
    panel = panel_for(qtbot, fresh)
    assert panel.list.count() == 2
    panel.clear()
    assert panel.list.count() == 0 and panel.items == []


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", [(1600, 1000), (1280, 800)])
def test_the_list_fits_in_the_window_in_both_languages(
        qtbot: QtBot, fresh: LiveNotifications, tmp_path: Path, language: str,
        size: tuple[int, int]) -> None:
    two_follow_ups(fresh)
    set_language(language)
    try:
        window = window_for(qtbot, fresh, tmp_path)
        window.resize(*size)
        window.show()
        window.care.set_service(FollowUpsService(signed_in_call(fresh.client,
                                                                fresh.ctx.sessions)))
        window.care.show_panel()
        panel = window.care.panel
        panel.list.setCurrentRow(0)
        qtbot.waitUntil(panel.isVisible)
        for button in (panel.invite_button, panel.call_button, panel.book_button):
            assert not clipped(button), button.text()
        # The docs' screenshots: scripts/care_screenshots.py (a clinic's names, not these).
    finally:
        set_language("en")
