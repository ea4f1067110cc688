"""The "Calendar feeds" dialog against a real sync server on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from desktop.services.feeds import FeedResource
from desktop.ui.feeds_dialog import FeedsDialog
from desktop.ui.text import set_language
from tests.desktop.ui.feeds_server import LiveFeeds, live_feeds
from tests.support.http_servers import MisbehavingServer


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveFeeds]:
    with live_feeds(tmp_path) as running:
        yield running


def dialog_for(qtbot: QtBot, live: LiveFeeds, resources: list[FeedResource] | None = None
               ) -> FeedsDialog:
    dialog = FeedsDialog(live.service, resources or live.resources, "Europe/Madrid", "es_ES")
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def table_texts(dialog: FeedsDialog) -> list[list[str]]:
    return [[dialog.table.item(row, column).text() for column in range(5)]  # type: ignore[union-attr]
            for row in range(dialog.table.rowCount())]


def test_creating_a_link_shows_it_once_with_a_qr_code_and_it_works(
        qtbot: QtBot, live: LiveFeeds) -> None:
    dialog = dialog_for(qtbot, live)
    assert dialog.table.rowCount() == 0 and not dialog.link_box.isVisible()
    dialog.label_edit.setText("Phone")
    dialog.create_button.click()

    link = dialog.link_edit.text()
    assert link.startswith(f"{live.url}/feeds/") and link.endswith(".ics")
    assert dialog.link_box.isVisible()
    assert dialog.qr_label.pixmap().width() >= 100
    answer = requests.get(link, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == link
    assert table_texts(dialog) == [["provider 0", "Phone", "Busy only", "never", "active"]]
    # The list read again from the server shows the feed, never its link.
    dialog.reload()
    assert table_texts(dialog)[0][:3] == ["provider 0", "Phone", "Busy only"]
    assert link.rsplit("/", 1)[1][:-4] not in str(live.service.feeds())


def test_revoking_a_link_turns_it_off(qtbot: QtBot, live: LiveFeeds) -> None:
    dialog = dialog_for(qtbot, live)
    dialog.resource_combo.setCurrentIndex(2)  # room 2
    dialog.create_button.click()
    link = dialog.link_edit.text()
    assert not dialog.revoke_button.isEnabled()
    dialog.table.selectRow(0)
    assert dialog.revoke_button.isEnabled()

    dialog.revoke_selected(confirm=False)
    assert table_texts(dialog)[0][4] == "revoked"
    assert not dialog.revoke_button.isEnabled()
    assert requests.get(link, timeout=10).status_code == 404


def test_full_details_are_offered_only_when_allowed_and_warned_about(
        qtbot: QtBot, live: LiveFeeds) -> None:
    dialog = dialog_for(qtbot, live)
    full = dialog.privacy_combo.findData("full")
    assert not dialog.privacy_combo.model().item(full).isEnabled()  # type: ignore[attr-defined]
    assert not dialog.full_warning.isVisible()

    live.set_full_allowed(True)
    dialog.reload()
    assert dialog.privacy_combo.model().item(full).isEnabled()  # type: ignore[attr-defined]
    dialog.privacy_combo.setCurrentIndex(full)
    assert dialog.full_warning.isVisible()
    assert "patient names" in dialog.full_warning.text()
    dialog.create_button.click()
    assert table_texts(dialog)[0][2] == "Full details"


def test_a_refusal_of_the_server_is_shown(qtbot: QtBot, live: LiveFeeds) -> None:
    dialog = dialog_for(qtbot, live, [FeedResource("not-a-resource", "Ghost", "provider")])
    dialog.create_button.click()
    assert dialog.error_label.isVisible()
    assert "There is no such provider or room." in dialog.error_label.text()
    assert not dialog.link_box.isVisible()


def test_the_dialog_speaks_spanish(qtbot: QtBot, live: LiveFeeds) -> None:
    dialog = dialog_for(qtbot, live)
    dialog.create_button.click()
    set_language("es")
    assert dialog.windowTitle() == "Enlaces de calendario"
    assert dialog.create_button.text() == "Crear enlace"
    assert dialog.privacy_combo.itemText(0) == "Solo ocupado"
    assert table_texts(dialog)[0][2:] == ["Solo ocupado", "nunca", "activo"]


def test_a_failing_external_busy_calendar_is_shown(qtbot: QtBot, live: LiveFeeds) -> None:
    with MisbehavingServer(200, b"<html>Sign in</html>") as source:
        added = live.http.post(f"{live.url}/api/v1/feeds/busy-calendars", timeout=20, json={
            "provider_id": live.clinic.provider_ids[1], "clinic_id": live.clinic.clinic_id,
            "url": source.url + "/cal.ics"})
    assert added.status_code == 201 and added.json()["ok"] is False
    dialog = dialog_for(qtbot, live)
    assert dialog.busy_warning.isVisible()
    assert dialog.busy_warning.text().startswith(
        "The external busy calendar of provider 1 could not be read: The address did not "
        "answer with a calendar")
