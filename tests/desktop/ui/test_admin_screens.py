"""The Administration screens against a real sync server: each creates, edits and
refuses (in the server's words, or before sending what the server would refuse)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QDateTime, Qt, QTime
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QSpinBox,
    QTimeEdit,
)
from pytestqt.qtbot import QtBot

from desktop.ui.admin import kinds
from desktop.ui.admin.menu import may_open
from desktop.ui.admin.record_editor import RecordEditorDialog, RecordKind
from desktop.ui.text import set_language
from tests.desktop.ui.admin_server import LiveAdmin, live_admin

ZONE = "Europe/Madrid"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAdmin]:
    with live_admin(tmp_path_factory.mktemp("admin-server")) as running:
        yield running


def open_editor(qtbot: QtBot, live: LiveAdmin, kind: RecordKind) -> RecordEditorDialog:
    dialog = RecordEditorDialog(kind, live.service, live.lookups(), ZONE)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def fill(dialog: RecordEditorDialog, **values: Any) -> None:
    """Type ``values`` into the form as a person would (by API field name)."""
    editors = {e.spec.name: e for e in dialog.editors}
    for name, value in values.items():
        widget = editors[name].widget
        if isinstance(widget, QLineEdit):
            widget.setText(str(value))
        elif isinstance(widget, QPlainTextEdit):
            widget.setPlainText(str(value))
        elif isinstance(widget, QSpinBox):
            widget.setValue(value)
        elif isinstance(widget, QCheckBox):
            widget.setChecked(value)
        elif isinstance(widget, QComboBox):
            index = widget.findText(value) if isinstance(value, str) and widget.findData(
                value) < 0 else widget.findData(value)
            assert index >= 0, (name, value)
            widget.setCurrentIndex(index)
        elif isinstance(widget, QListWidget):
            for row in range(widget.count()):
                item = widget.item(row)
                chosen = item.text() in value or item.data(Qt.ItemDataRole.UserRole) in value
                item.setCheckState(Qt.CheckState.Checked if chosen else Qt.CheckState.Unchecked)
        elif isinstance(widget, QTimeEdit):
            widget.setTime(QTime.fromString(value, "HH:mm"))
        elif isinstance(widget, QDateTimeEdit):
            assert isinstance(value, datetime)
            widget.setDateTime(QDateTime(value.year, value.month, value.day, value.hour,
                                         value.minute, 0))
        else:
            raise AssertionError(name)


def saved(dialog: RecordEditorDialog) -> dict[str, Any]:
    record = dialog.save()
    assert record is not None, dialog.error_label.text()
    assert not dialog.error_label.isVisible() and dialog.status_label.text() == "Saved."
    return record


def refused(dialog: RecordEditorDialog) -> str:
    assert dialog.save() is None
    assert dialog.error_label.isVisible()
    return dialog.error_label.text()


def lines(dialog: RecordEditorDialog) -> list[str]:
    return [dialog.list.item(row).text() for row in range(dialog.list.count())]


def server_record(live: LiveAdmin, path: str, record_id: str) -> dict[str, Any]:
    return dict(live.call("GET", f"{path}/{record_id}"))


def test_clinics_are_created_edited_and_a_time_zone_alias_is_refused_by_the_server(
        qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.CLINICS)
    fill(dialog, name="Salamanca", time_zone="Europe/Madrid", address="Calle Mayor 1",
         opening_hours="Mon-Fri 08:00-20:00")
    record = saved(dialog)
    assert "Salamanca · Europe/Madrid" in lines(dialog)
    fill(dialog, address="Calle Mayor 2\nMadrid")
    saved(dialog)
    assert server_record(live, kinds.CLINICS.path, record["id"])["address"] == (
        "Calle Mayor 2\nMadrid")
    fill(dialog, time_zone="US/Eastern")  # an alias: the desk lets it through, the server not
    assert "canonical IANA name" in refused(dialog)
    fill(dialog, time_zone="Mars/Olympus")
    assert "Unknown time zone" in refused(dialog)
    assert server_record(live, kinds.CLINICS.path, record["id"])["time_zone"] == ZONE


def test_providers_get_specialty_licence_clinics_and_an_account(
        qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.PROVIDERS)
    assert len(lines(dialog)) == 2  # the seeded providers; rooms are not listed
    fill(dialog, name="Dr. Vega", specialty="Dermatology", licence_number="MAD-28-777",
         clinic_ids=["Retiro"])
    record = saved(dialog)
    assert "Dr. Vega · Dermatology" in lines(dialog)
    assert server_record(live, "/api/v1/admin/resources", record["id"])["kind"] == "provider"
    fill(dialog, user_id=live.admin_email)
    assert saved(dialog)["user_id"] is not None
    fill(dialog, name="")
    assert refused(dialog) == "Fill in: Name."


def test_appointment_types_check_their_durations_before_sending(
        qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.APPOINTMENT_TYPES)
    fill(dialog, name="Long visit", default_duration_seconds=45, min_duration_seconds=30,
         max_duration_seconds=60, buffer_after_seconds=10, color="#aa3300")
    record = saved(dialog)
    assert record["default_duration_seconds"] == 45 * 60
    assert record["buffer_after_seconds"] == 600
    fill(dialog, min_duration_seconds=50)
    assert refused(dialog) == "The durations must satisfy minimum ≤ default ≤ maximum."
    fill(dialog, min_duration_seconds=30, color="red")
    assert "#rrggbb" in refused(dialog)
    fill(dialog, color="#aa3300", capacity=4)
    assert saved(dialog)["capacity"] == 4


def test_booking_policies_edit_the_types_rules(qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.BOOKING_POLICIES)
    assert not dialog.new_button.isVisible() and lines(dialog)
    fill(dialog, min_notice_seconds=24, max_days_ahead=60, cancellation_period_seconds=48,
         reschedule_limit=2)
    record = saved(dialog)
    assert (record["min_notice_seconds"], record["max_days_ahead"],
            record["cancellation_period_seconds"], record["reschedule_limit"]) == (
        86_400, 60, 172_800, 2)
    fill(dialog, max_days_ahead=0)  # the lowest value reads "no limit"
    assert saved(dialog)["max_days_ahead"] is None


def test_weekly_schedules_with_breaks_and_validity_and_overlaps_refused(
        qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.WEEKLY_SCHEDULES)
    fill(dialog, provider_id="provider 0", clinic_id="Retiro", weekday=5, start="09:00",
         end="13:00", breaks="11:00-11:15", valid_from="2027-01-01", valid_until="2027-06-30")
    record = saved(dialog)
    assert record["breaks"] == [{"start": "11:00:00", "end": "11:15:00"}]
    assert "provider 0 · Saturday 09:00-13:00" in lines(dialog)
    fill(dialog, breaks="12:30-13:30")
    assert refused(dialog) == "Breaks must lie within the working hours."
    fill(dialog, breaks="11:00-11:30")
    assert saved(dialog)["breaks"][0]["end"] == "11:30:00"
    dialog.start_new()
    fill(dialog, provider_id="provider 0", clinic_id="Retiro", weekday=5, start="12:00",
         end="14:00")
    assert "overlaps another weekly block" in refused(dialog)
    fill(dialog, breaks="noon")
    assert refused(dialog) == "Write breaks as start-end times, e.g. 13:00-14:00."


def test_time_off_is_created_edited_and_a_backwards_period_refused(
        qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.TIME_OFF)
    start = datetime(2027, 2, 1, 9, 0)
    fill(dialog, provider_id="provider 1", clinic_id="Retiro", start=start,
         end=start + timedelta(hours=8), reason="Congress")
    record = saved(dialog)
    assert datetime.fromisoformat(record["start"]) == start.replace(tzinfo=ZoneInfo(ZONE))
    fill(dialog, kind="extra_hours")
    assert saved(dialog)["kind"] == "extra_hours"
    fill(dialog, end=start - timedelta(hours=1))
    assert refused(dialog) == "The end must be after the start."


def test_a_holiday_over_booked_appointments_lists_them_and_is_kept_only_on_purpose(
        qtbot: QtBot, live: LiveAdmin) -> None:
    provider, start = live.clinic.slot(0)
    booked = live.call("POST", "/api/v1/appointments", json={
        "clinic_id": live.clinic.clinic_id, "patient_id": live.clinic.patient_ids[0],
        "appointment_type_id": live.clinic.type_id, "provider_id": provider,
        "start": start.isoformat()})
    assert booked["outcome"] == "done" if "outcome" in booked else booked
    day = start.astimezone(ZoneInfo(ZONE)).date().isoformat()
    dialog = open_editor(qtbot, live, kinds.HOLIDAYS)
    fill(dialog, clinic_id="Retiro", day=day, name="Local feast")
    message = refused(dialog)
    assert "1 appointment(s) are booked" in message
    assert start.astimezone(ZoneInfo(ZONE)).strftime("%H:%M") in message
    assert lines(dialog) == []
    fill(dialog, keep_appointments=True)
    saved(dialog)
    assert lines(dialog) == [f"{day} · Local feast"]
    fill(dialog, day="2027-12-24", name="Christmas Eve")
    saved(dialog)
    assert lines(dialog) == ["2027-12-24 · Christmas Eve"]
    fill(dialog, day="24/12/2027")
    assert refused(dialog) == "Give a date as YYYY-MM-DD."


def test_blockouts_are_created_edited_and_a_backwards_period_refused(
        qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.BLOCKOUTS)
    start = datetime(2027, 3, 1, 10, 0)
    fill(dialog, clinic_id="Retiro", resource_id="room 2", start=start,
         end=start + timedelta(hours=2), reason="Painting")
    record = saved(dialog)
    assert record["resource_id"] == live.clinic.room_ids[0]
    fill(dialog, resource_id="(none)")
    assert saved(dialog)["resource_id"] is None  # the whole clinic
    fill(dialog, end=start)
    assert refused(dialog) == "The end must be after the start."
    assert dialog.remove_current() and lines(dialog) == []


def test_quotas_are_created_edited_and_removed(qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.QUOTAS)
    fill(dialog, clinic_id="Retiro", period="week", max_count=30, provider_id="provider 0")
    record = saved(dialog)
    assert "30 per week · Retiro" in lines(dialog)
    fill(dialog, max_count=25, appointment_type_id="Check-up")
    changed = saved(dialog)
    assert (changed["max_count"], changed["appointment_type_id"]) == (25, live.clinic.type_id)
    fill(dialog, clinic_id="Retiro")
    assert dialog.remove_current()
    assert record["id"] not in {r["id"] for r in dialog.records()}


def test_the_widgets_allowed_sites_are_added_changed_and_removed(
        qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.WIDGET_SITES)
    fill(dialog, site="https://www.clinic.example")
    saved(dialog)
    assert lines(dialog) == ["https://www.clinic.example"]
    fill(dialog, site="https://clinic.example/page?x=1")
    assert "origin" in refused(dialog)  # a site is an origin, nothing after it
    fill(dialog, site="https://book.clinic.example")
    saved(dialog)
    assert live.call("GET", "/api/v1/portal/settings") == {
        "widget_sites": ["https://book.clinic.example"]}
    assert dialog.remove_current()
    assert live.call("GET", "/api/v1/portal/settings") == {"widget_sites": []}
    folder = os.environ.get("DESK_SCREENSHOTS")  # docs/screenshots/admin-widget-sites-*.png
    if folder:
        fill(dialog, site="https://www.clinic.example")
        saved(dialog)
        for language in ("en", "es"):
            set_language(language)
            for width, height in ((1600, 1000), (1280, 800)):
                dialog.resize(width, height)
                QApplication.processEvents()
                dialog.grab().save(
                    f"{folder}/admin-widget-sites-{language}-{width}x{height}.png")
        set_language("en")


def test_users_are_created_given_roles_and_the_last_administrator_is_kept(
        qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.USERS_KIND)
    fill(dialog, email="nurse@clinic.example", display_name="Nurse Ana",
         password="correct horse battery staple", roles=["viewer"])
    record = saved(dialog)
    assert "nurse@clinic.example · viewer" in lines(dialog)
    assert not dialog.editors[0].widget.isEnabled()  # the e-mail is set once
    fill(dialog, roles=["receptionist"])
    assert saved(dialog)["roles"] == ["receptionist"]
    assert live.sign_in("nurse@clinic.example").status_code == 200
    admin = next(r for r in dialog.records() if r["email"] == live.admin_email)
    dialog.select(admin["id"])
    fill(dialog, roles=["receptionist"])
    assert "no active user could manage users" in refused(dialog)
    assert record["id"] != admin["id"]


def test_roles_are_created_edited_and_a_duplicate_name_refused(
        qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.ROLES)
    fill(dialog, name="physician", permissions=["booking:view_calendar", "schedule:own"])
    record = saved(dialog)
    assert record["permissions"] == ["booking:view_calendar", "schedule:own"]
    fill(dialog, mfa_required=True)
    assert saved(dialog)["mfa_required"] is True
    dialog.start_new()
    fill(dialog, name="physician")
    assert "already exists" in refused(dialog)


def test_screens_open_for_the_permissions_they_need() -> None:
    assert may_open(kinds.CLINICS, frozenset({"admin:config"}))
    assert not may_open(kinds.USERS_KIND, frozenset({"admin:config"}))
    assert may_open(kinds.ROLES, frozenset({"admin:users"}))
    assert may_open(kinds.WEEKLY_SCHEDULES, frozenset({"schedule:own"}))
    assert may_open(kinds.TIME_OFF, frozenset({"schedule:own"}))
    assert not may_open(kinds.HOLIDAYS, frozenset({"schedule:own"}))




def test_rooms_and_equipment_with_a_restriction(qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.ROOMS)
    assert sorted(lines(dialog)) == ["room 2 · Room", "room 3 · Room"]
    fill(dialog, kind="equipment", name="Ultrasound", clinic_ids=["Retiro"], restricted=True,
         requires_approval=True, min_lead_time_seconds=48)
    record = saved(dialog)
    assert record["restriction"] == {"requires_approval": True,
                                     "min_lead_time_seconds": 48 * 3600}
    assert "Ultrasound · Equipment · restricted" in lines(dialog)
    assert not dialog.editors[0].widget.isEnabled()  # the kind is set once
    fill(dialog, restricted=False)
    assert saved(dialog)["restriction"] is None
    fill(dialog, name="")
    assert refused(dialog) == "Fill in: Name."
