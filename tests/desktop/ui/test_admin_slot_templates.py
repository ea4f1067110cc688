"""Administration against a real sync server: the "Slot templates" screen (create, edit,
refuse before sending what the server would refuse), and quotas and booking policies
set on the desk screens refusing bookings with their codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from desktop.ui.admin import kinds
from desktop.ui.admin.menu import may_open
from tests.desktop.ui.admin_server import LiveAdmin, Refused, live_admin
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


def book_at(live: LiveAdmin, index: int, patient: int) -> Any:
    provider, start = live.clinic.slot(index)
    return live.call("POST", "/api/v1/appointments", json={
        "clinic_id": live.clinic.clinic_id, "patient_id": live.clinic.patient_ids[patient],
        "appointment_type_id": live.clinic.type_id, "provider_id": provider,
        "start": start.isoformat()})


def test_a_quota_set_on_the_desk_refuses_bookings_over_it(
        qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.QUOTAS)
    fill(dialog, clinic_id="Retiro", period="day", max_count=1, provider_id="provider 0")
    saved(dialog)
    book_at(live, 20, 0)
    with pytest.raises(Refused) as refusal:
        book_at(live, 21, 1)
    assert refusal.value.status == 409
    assert refusal.value.server_message == "The limit of 1 appointments per day is reached."
    assert dialog.remove_current()
    book_at(live, 21, 1)  # the quota is gone


def test_booking_policies_set_on_the_desk_refuse_with_their_codes(
        qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.BOOKING_POLICIES)
    row = next(i for i, line in enumerate(lines(dialog)) if line == "Check-up")
    dialog.list.setCurrentRow(row)
    fill(dialog, min_notice_seconds=24 * 90)  # hours: every seeded slot is sooner
    saved(dialog)
    with pytest.raises(Refused) as notice:
        book_at(live, 40, 2)
    assert notice.value.status == 409 and "minutes' notice" in notice.value.server_message
    fill(dialog, min_notice_seconds=0, max_days_ahead=1)
    saved(dialog)
    with pytest.raises(Refused) as window:
        book_at(live, 40, 2)
    assert "at most 1 days ahead" in window.value.server_message
    fill(dialog, max_days_ahead=0)  # no limit again
    saved(dialog)
    assert book_at(live, 40, 2)["appointments"]
