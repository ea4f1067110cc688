"""Issue 19's later admin fields against a real server: the Departments screen and the
department fields of providers, users and roles (a link that would hide a user's own
appointments is refused in the server's words); a booking policy's late-cancellation fee
(money on the form, cents on the server, a negative one refused before sending); a
provider's agenda colour."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from desktop.ui.admin import kinds
from tests.desktop.ui.admin_server import LiveAdmin, live_admin
from tests.desktop.ui.test_admin_screens import (
    fill,
    lines,
    open_editor,
    refused,
    saved,
    server_record,
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAdmin]:
    with live_admin(tmp_path_factory.mktemp("admin-server")) as running:
        yield running


def test_departments_are_created_and_renamed(qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.DEPARTMENTS)
    fill(dialog, clinic_id="Retiro", name="Dental")
    record = saved(dialog)
    assert "Dental · Retiro" in lines(dialog)
    fill(dialog, name="Dentistry")
    assert saved(dialog)["name"] == "Dentistry"
    assert server_record(live, "/api/v1/admin/departments", record["id"])["name"] == "Dentistry"
    fill(dialog, name="")
    assert refused(dialog) == "Fill in: Name."


def test_a_scoped_user_of_a_department_and_a_link_hiding_their_appointments_refused(
        qtbot: QtBot, live: LiveAdmin) -> None:
    departments = open_editor(qtbot, live, kinds.DEPARTMENTS)
    fill(departments, clinic_id="Retiro", name="Physio")
    physio = saved(departments)["id"]
    departments.new_button.click()
    fill(departments, clinic_id="Retiro", name="Radiology")
    radiology = saved(departments)["id"]
    roles = open_editor(qtbot, live, kinds.ROLES)
    fill(roles, name="physio desk", permissions=["booking:view_calendar"],
         department_scoped=True)
    assert saved(roles)["department_scoped"] is True
    assert "physio desk · 1 · by department" in lines(roles)
    users = open_editor(qtbot, live, kinds.USERS_KIND)
    fill(users, email="physio-desk@clinic.example", display_name="Physio desk",
         password="correct horse battery staple", roles=["physio desk"],
         department_ids=[physio])
    user = saved(users)
    assert user["department_ids"] == [physio]
    providers = open_editor(qtbot, live, kinds.PROVIDERS)
    fill(providers, name="Dr. Radiology", clinic_ids=["Retiro"], department_id=radiology)
    saved(providers)
    fill(providers, user_id=user["id"])
    assert "would hide the linked user's own appointments" in refused(providers)


def test_a_booking_policy_takes_a_late_cancellation_fee(qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.BOOKING_POLICIES)
    fill(dialog, cancellation_period_seconds=24, late_cancellation_fee="25,50")
    record = saved(dialog)
    assert record["late_cancellation_fee_cents"] == 2550
    assert server_record(live, "/api/v1/admin/appointment-types",
                         record["id"])["late_cancellation_fee_cents"] == 2550
    assert {e.spec.name: e for e in dialog.editors}[
        "late_cancellation_fee"].widget.text() == "25.50"  # type: ignore[attr-defined]
    fill(dialog, late_cancellation_fee="")
    assert saved(dialog)["late_cancellation_fee_cents"] is None


def test_a_negative_fee_is_refused_before_sending(qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.BOOKING_POLICIES)
    before = saved(dialog)  # the first policy, as it stands
    fill(dialog, late_cancellation_fee="-5")
    assert refused(dialog).startswith("Write the late-cancellation fee like 25.00")
    after = server_record(live, "/api/v1/admin/appointment-types", before["id"])
    assert after["late_cancellation_fee_cents"] == before["late_cancellation_fee_cents"]


def test_a_provider_gets_an_agenda_colour(qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_editor(qtbot, live, kinds.PROVIDERS)
    fill(dialog, name="Dr. Colour", clinic_ids=["Retiro"], color="#2e7d32")
    record = saved(dialog)
    assert server_record(live, "/api/v1/admin/resources", record["id"])["color"] == "#2e7d32"
    fill(dialog, color="green")
    assert refused(dialog) == "A colour is written #rrggbb, e.g. #4a90d9."
