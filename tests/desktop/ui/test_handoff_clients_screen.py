"""Administration → "Hand-off and FHIR clients" against a real sync server: register a
client (its secret shown once and accepted by the server's token endpoint), change its
return URLs, deactivate it; bad return URLs refused before sending; EN and ES."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from pytestqt.qtbot import QtBot

from desktop.ui.admin.handoff_clients import HANDOFF_CLIENTS, HandoffClientsDialog
from desktop.ui.admin.kinds import ALL_KINDS
from desktop.ui.text import set_language
from tests.desktop.ui.admin_server import LiveAdmin, live_admin
from tests.desktop.ui.test_admin_screens import fill, lines, refused, saved


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAdmin]:
    with live_admin(tmp_path_factory.mktemp("handoff-admin")) as running:
        yield running


def open_dialog(qtbot: QtBot, live: LiveAdmin) -> HandoffClientsDialog:
    dialog = HandoffClientsDialog(live.service, live.lookups(), "Europe/Madrid")
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def token(live: LiveAdmin, client_id: str, secret: str) -> requests.Response:
    return requests.post(f"{live.url}/fhir/{live.clinic.org_slug}/auth/token", timeout=20,
                         data={"grant_type": "client_credentials", "client_id": client_id,
                               "client_secret": secret})


def test_register_shows_the_secret_once_then_edit_and_deactivate(
        qtbot: QtBot, live: LiveAdmin) -> None:
    assert HANDOFF_CLIENTS in ALL_KINDS
    dialog = open_dialog(qtbot, live)
    fill(dialog, name="Ride to care", return_urls="https://ride.example/back\n"
                                                  "http://127.0.0.1:8765/return")
    record = saved(dialog)
    shown = dialog.secret_dialog
    assert shown is not None and shown.isVisible()
    secret = shown.secret.text()
    assert shown.client_id.text() == record["client_id"] and len(secret) >= 40
    assert token(live, record["client_id"], secret).status_code == 200
    listed = live.call("GET", HANDOFF_CLIENTS.path)
    assert secret not in str(listed)
    assert f"Ride to care · {record['client_id']}" in lines(dialog)
    editors = {e.spec.name: e for e in dialog.editors}
    assert editors["return_urls"].widget.toPlainText() == (  # type: ignore[attr-defined]
        "https://ride.example/back\nhttp://127.0.0.1:8765/return")
    fill(dialog, return_urls="https://ride.example/v2/*")
    dialog.secret_dialog = None
    changed = saved(dialog)
    assert changed["return_urls"] == ["https://ride.example/v2/*"]
    assert dialog.secret_dialog is None  # the secret is never shown again
    fill(dialog, active=False)
    saved(dialog)
    assert f"Ride to care · {record['client_id']} · inactive" in lines(dialog)
    assert token(live, record["client_id"], secret).status_code == 401


@pytest.mark.parametrize("url", ["http://ride.example/back", "ftp://x.example/",
                                 "https://ride.example/a*b", "https://ride.example/#top"])
def test_bad_return_urls_are_refused_before_sending(qtbot: QtBot, live: LiveAdmin,
                                                    url: str) -> None:
    dialog = open_dialog(qtbot, live)
    before = len(live.call("GET", HANDOFF_CLIENTS.path))
    fill(dialog, name="Bad", return_urls=url)
    assert "Not an allowed return URL" in refused(dialog)
    assert len(live.call("GET", HANDOFF_CLIENTS.path)) == before


def test_the_screen_speaks_spanish(qtbot: QtBot, live: LiveAdmin) -> None:
    dialog = open_dialog(qtbot, live)
    set_language("es")
    assert dialog.windowTitle() == "Clientes de derivación y FHIR"
    fill(dialog, name="App", return_urls="")
    assert refused(dialog).startswith("Rellene")
