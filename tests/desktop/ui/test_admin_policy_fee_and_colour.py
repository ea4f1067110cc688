"""Issue 19 item 1 leftovers against a real server: a booking policy's late-cancellation
fee (entered as money, stored in cents, refused when negative before sending) and a
provider's agenda colour (refused when not #rrggbb)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from desktop.ui.admin import kinds
from tests.desktop.ui.admin_server import LiveAdmin, live_admin
from tests.desktop.ui.test_admin_screens import fill, open_editor, refused, saved, server_record


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAdmin]:
    with live_admin(tmp_path_factory.mktemp("admin-server")) as running:
        yield running


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
