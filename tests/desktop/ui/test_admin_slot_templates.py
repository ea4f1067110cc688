"""The "Slot templates" administration screen against a real sync server: create, edit,
refuse before sending what the server would refuse."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from desktop.ui.admin import kinds
from desktop.ui.admin.menu import may_open
from tests.desktop.ui.admin_server import LiveAdmin, live_admin
from tests.desktop.ui.test_admin_screens import fill, lines, open_editor, refused, saved


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAdmin]:
    with live_admin(tmp_path_factory.mktemp("admin-server")) as running:
        yield running


def test_slot_templates_are_created_edited_and_refused(qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.SLOT_TEMPLATES)
    fill(dialog, name="New patient", provider_id="provider 0", clinic_id="Retiro", weekday=0,
         start="09:00", end="10:00")
    record = saved(dialog)
    assert (record["name"], record["start"], record["appointment_type_id"]) == (
        "New patient", "09:00:00", None)
    assert "New patient · provider 0 · Monday 09:00-10:00" in lines(dialog)
    fill(dialog, appointment_type_id="Check-up", end="10:30")
    changed = saved(dialog)
    assert changed["end"] == "10:30:00" and changed["appointment_type_id"] is not None
    server = live.call("GET", f"/api/v1/admin/slot-templates/{record['id']}")
    assert server["end"] == "10:30:00"
    fill(dialog, end="08:00")
    assert refused(dialog) == "The end must be after the start."
    assert may_open(kinds.SLOT_TEMPLATES, frozenset({"schedule:own"}))
    assert not may_open(kinds.SLOT_TEMPLATES, frozenset({"booking:view_calendar"}))
