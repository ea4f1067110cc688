"""The desk's video-visit actions against a real sync server and a real desk: a
telemedicine appointment's context menu offers "Join video", "Leave video" and "Session
log…"; joining records the provider's join on the server and opens the link (or says
there is none yet); the log dialog lists it; a visit not open yet is refused in the
desk's words; the exceptions panel says a provider no-join in English and Spanish."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.app import desk_clinics
from desktop.services.dto import AgendaItem
from desktop.services.server_call import signed_in_call
from desktop.services.video_visits import VideoVisitsService
from desktop.store.models import AppointmentTypeRow
from desktop.ui.main_window import MainWindow
from desktop.ui.text import set_language
from desktop.ui.video_actions import VideoActions
from sync_server.db import models as db
from sync_server.telemedicine.session_tables import SessionEvent
from tests.desktop.ui.notifications_server import LiveNotifications, live_notifications, raise_alert
from tests.desktop.ui.test_exceptions_panel import panel_for
from tests.e2e.server_side import TZ
from tests.support.records import by_id, video_url_of


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNotifications]:
    with live_notifications(tmp_path_factory.mktemp("video")) as running:
        with running.database() as session:  # the type becomes a video visit
            kind = session.get(db.AppointmentType, running.clinic.type_id)
            assert kind is not None
            kind.telemedicine = True
            session.commit()
        with running.store.session() as session:  # as the desk's next pull would mirror it
            row = session.get(AppointmentTypeRow, running.clinic.type_id)
            assert row is not None
            row.telemedicine = True
            session.commit()
        yield running


def starting_now(live: LiveNotifications, slot: int) -> str:
    """A booked visit moved on the server to have started two minutes ago (arranging the
    clock of the test, whatever the day and hour it runs)."""
    appointment_id = live.book(slot)
    now = datetime.now(UTC)
    with live.database() as session:
        row = by_id(session, db.Appointment, appointment_id)
        assert row is not None
        row.start_at, row.end_at = now - timedelta(minutes=2), now + timedelta(minutes=28)
        row.block_start, row.block_end = row.start_at, row.end_at
        session.commit()
    return appointment_id


def item_of(live: LiveNotifications, appointment_id: str) -> AgendaItem:
    now = datetime.now(UTC)
    return AgendaItem(appointment_id, live.clinic.patient_ids[0], "Given0 Family0",
                      live.clinic.type_id, "Check-up", "#4a90d9", live.clinic.provider_ids[0],
                      "Provider", None, None, now, now + timedelta(minutes=30), "booked", False)


def actions_for(qtbot: QtBot, live: LiveNotifications) -> tuple[VideoActions, list[str],
                                                                   list[str]]:
    parent = QWidget()
    qtbot.addWidget(parent)
    said: list[str] = []
    opened: list[str] = []
    actions = VideoActions(live.ctx, parent, said.append, lambda: (TZ, "es_ES"))
    actions.open_url = opened.append
    actions.set_service(VideoVisitsService(signed_in_call(live.client, live.ctx.sessions)))
    return actions, said, opened


def menu_data(actions: VideoActions, item: AgendaItem) -> list[str]:
    menu = QMenu()
    actions.extend(menu, item)
    return [str(a.data()) for a in menu.actions() if a.data()]


def test_join_leave_and_the_session_log_from_the_context_menu(
        qtbot: QtBot, live: LiveNotifications, tmp_path: Path) -> None:
    live.sign_in(live.admin_email)
    appointment_id = starting_now(live, 0)
    _org, clinics = desk_clinics(live.store)
    window = MainWindow(live.ctx, clinics, live.clinic.first_day,
                        settings=QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    assert window.video.extend in window.agenda.appointment_actions.menu_extensions
    actions, said, opened = actions_for(qtbot, live)
    item = item_of(live, appointment_id)
    assert menu_data(actions, item) == ["video_join", "video_leave", "video_log"]

    joined = actions.join(appointment_id)
    with live.database() as session:
        link = video_url_of(session, appointment_id)
        events = list(session.scalars(select(SessionEvent.action).where(
            SessionEvent.appointment_id == appointment_id, SessionEvent.role == "provider")))
    assert events == ["join"]
    if link is None:
        assert not joined and opened == []
        assert said[-1] == "Your join is recorded, but this visit has no video link yet."
    else:
        assert joined and opened == [link]
    assert actions.leave(appointment_id) and said[-1] == "Your leave is recorded."
    assert not actions.leave(appointment_id)
    assert said[-1] == "You have not joined this video visit."

    dialog = actions.show_log(appointment_id)
    assert dialog is not None
    lines = [dialog.entries.item(row).text() for row in range(dialog.entries.count())]
    assert [line.split(" ", 1)[1] for line in lines] == ["The provider joined",
                                                         "The provider left"]
    out = os.environ.get("CLINICDESK_SCREENSHOTS")
    if out:
        dialog.grab().save(str(Path(out) / "video-session-log-en.png"))
    set_language("es")
    spanish = actions.show_log(appointment_id)
    assert spanish is not None
    assert spanish.entries.item(0).text().endswith(" El profesional se conectó")
    if out:
        spanish.grab().save(str(Path(out) / "video-session-log-es.png"))


def test_a_visit_not_open_yet_is_refused_in_the_desks_words(
        qtbot: QtBot, live: LiveNotifications) -> None:
    live.sign_in(live.admin_email)
    later = live.book(3)  # the clinic's bookable slots lie days ahead
    actions, said, opened = actions_for(qtbot, live)
    assert not actions.join(later) and opened == []
    assert said[-1] == ("The video visit is not open yet (it opens 15 minutes before the "
                        "start).")
    set_language("es")
    assert not actions.join(later)
    assert said[-1].startswith("La videoconsulta aún no está abierta")


def test_an_in_person_type_has_no_video_actions(qtbot: QtBot, live: LiveNotifications) -> None:
    actions, _said, _opened = actions_for(qtbot, live)
    item = item_of(live, "any")
    in_person = AgendaItem(*[getattr(item, f) for f in (
        "appointment_id", "patient_id", "patient_name")], "no-such-type",
        *[getattr(item, f) for f in ("type_name", "color", "provider_id", "provider_name",
                                     "room_id", "room_name", "start", "end", "status",
                                     "pending")])
    assert menu_data(actions, in_person) == []


def test_the_exceptions_panel_says_a_provider_no_join_in_english_and_spanish(
        qtbot: QtBot, live: LiveNotifications) -> None:
    live.sign_in(live.admin_email)
    live.forget_alerts()
    appointment_id = live.book(4)
    raise_alert(live, appointment_id, patient=0, reason="provider_not_joined",
                kind="provider-nojoin")
    panel = panel_for(qtbot, live)
    [text] = [panel.list.item(row).text() for row in range(panel.list.count())]
    assert text.startswith("Video visit at ")
    assert ": the provider has not joined; the patient was offered a backup provider or a new " \
           "time." in text
    set_language("es")
    with qtbot.waitSignal(panel.loaded, timeout=20_000):
        panel.refresh()
    [text] = [panel.list.item(row).text() for row in range(panel.list.count())]
    assert text.startswith("Videoconsulta de las ") or text.startswith("Videoconsulta del ")
    live.forget_alerts()
