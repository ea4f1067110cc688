"""The "Resource out of service" dialog against a real sync server and a real desk: marking
a provider out lists the appointments it hits with the rules' proposals, applying one and
then all moves them on the server (0 overlaps), and the texts fit in EN and ES."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from desktop.app import desk_clinics
from desktop.services.followups import FollowUpsService
from desktop.services.outages import OutagesService
from desktop.services.server_call import signed_in_call
from desktop.ui.main_window import MainWindow
from desktop.ui.outage_dialog import OutageDialog
from desktop.ui.text import set_language
from sync_server.db import models as db
from tests.desktop.ui.notifications_server import LiveNotifications, live_notifications
from tests.desktop.ui.test_texts_fit import clipped
from tests.e2e.server_side import TZ
from tests.sync_server.booking_setup import active_overlaps

#: Slots of provider 0 in week ``n`` of the clinic's calendar (Clinic.slot's numbering).
WEEK = 140


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNotifications]:
    with live_notifications(tmp_path_factory.mktemp("outages")) as running:
        yield running


def dialog_for(qtbot: QtBot, live: LiveNotifications, tmp_path: Path,
               size: tuple[int, int] = (1280, 800)) -> tuple[MainWindow, OutageDialog]:
    live.sign_in(live.admin_email)
    _org, clinics = desk_clinics(live.store)
    window = MainWindow(live.ctx, clinics, live.clinic.first_day,
                        settings=QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    call = signed_in_call(live.client, live.ctx.sessions)
    window.care.set_service(FollowUpsService(call), OutagesService(call))
    dialog = window.care.open_outage()
    assert dialog is not None
    return window, dialog


def mark_week(live: LiveNotifications, dialog: OutageDialog, week: int) -> None:
    """Three appointments of provider 0 that Monday, then provider 0 out that day."""
    for index in range(3):
        live.book(WEEK * week + index, patient=index)
    day = live.clinic.first_day + timedelta(days=7 * week)
    zone = ZoneInfo(TZ)
    dialog.choose_resource(live.clinic.provider_ids[0])
    dialog.set_period(datetime.combine(day, time(8), zone), datetime.combine(day, time(20), zone))
    dialog.reason_edit.setText("flu")
    assert dialog.mark() is not None, dialog.last_message


def on_provider_0(live: LiveNotifications, week: int) -> int:
    day = live.clinic.first_day + timedelta(days=7 * week)
    start = datetime.combine(day, time(0), ZoneInfo(TZ))
    with live.database() as session:
        return int(session.scalar(select(func.count()).select_from(db.Appointment).where(
            db.Appointment.provider_id == live.clinic.provider_ids[0],
            db.Appointment.start_at >= start, db.Appointment.start_at < start + timedelta(1),
            db.Appointment.status != "cancelled")) or 0)


def test_marking_lists_the_hit_appointments_and_applying_moves_them(
        qtbot: QtBot, live: LiveNotifications, tmp_path: Path) -> None:
    _window, dialog = dialog_for(qtbot, live, tmp_path)
    mark_week(live, dialog, 1)
    assert dialog.incident is not None and dialog.table.rowCount() == 3
    assert dialog.table.item(0, 1).text() == "Given0 Family0"
    first = dialog.incident.affected[0]
    assert first.proposals and first.proposals[0].kind == "other_provider"
    assert "(other provider)" in dialog.proposal_text(first.proposals[0])

    dialog.table.selectRow(0)
    [outcome] = dialog.apply_selected()
    assert outcome.action == "moved" and dialog.table.rowCount() == 2
    outcomes = dialog.apply_all()
    assert [o.action for o in outcomes] == ["moved", "moved"]
    assert dialog.table.rowCount() == 0
    assert dialog.last_message == "2 moved, 0 left for the exceptions panel."
    assert on_provider_0(live, 1) == 0
    with live.database() as session:
        assert active_overlaps(session) == 0


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", [(1600, 1000), (1280, 800)])
def test_the_dialog_fits_in_both_languages(
        qtbot: QtBot, live: LiveNotifications, tmp_path: Path, language: str,
        size: tuple[int, int]) -> None:
    week = {("en", (1600, 1000)): 2, ("es", (1600, 1000)): 3, ("en", (1280, 800)): 4,
            ("es", (1280, 800)): 5}[(language, size)]
    set_language(language)
    try:
        _window, dialog = dialog_for(qtbot, live, tmp_path, size)
        mark_week(live, dialog, week)
        dialog.resize(size[0] - 200, size[1] - 200)  # a dialog inside the window
        dialog.table.selectRow(0)
        for widget in (dialog.mark_button, dialog.apply_button, dialog.apply_all_button,
                       dialog.close_button):
            assert not clipped(widget), widget.text()
        for row in range(dialog.table.rowCount()):
            combo = dialog.table.cellWidget(row, 3)
            assert combo.width() >= combo.sizeHint().width(), combo.currentText()
        # The docs' screenshots: scripts/care_screenshots.py (a clinic's names, not these).
    finally:
        set_language("en")
