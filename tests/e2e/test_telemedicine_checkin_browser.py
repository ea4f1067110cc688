"""Virtual check-in in a real browser (Debian's Chromium through Playwright) against a real
uvicorn server on loopback (SQLite), sign-in codes through a real aiosmtpd server.

In English and Spanish: the patient opens their telemedicine appointment, signs in,
checks in, sees it confirmed, and the same form sent again from a second tab says
"already checked in" without a second change; axe-core finds nothing serious on the pages; no
URL carries patient data. ``PORTAL_SCREENSHOTS=<folder>`` also saves
``telemedicine-checkin-<lang>.png`` (check-in open) and
``telemedicine-checkin-done-<lang>.png`` (checked in), as kept in docs/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sync_server.db import models
from sync_server.db.migrate import upgrade
from sync_server.db.session import make_engine, make_session_factory
from sync_server.portal import signin
from tests.e2e.server_side import ServerThread
from tests.e2e.telemedicine_setup import book_soon, seed_telemedicine
from tests.e2e.test_portal_browser import (
    CHROMIUM,
    SCREENSHOTS,
    Live,
    _browser_or_fail,
    accessible,
    sign_in,
)
from tests.support.notify_servers import SmtpSink
from tests.support.records import by_id
from tests.sync_server.conftest import make_settings
from tests.sync_server.portal_setup import FAMILY, GIVEN

TEXTS = {
    "en": {"button": "Check in", "done": "You are checked in.",
           "again": "You are already checked in"},
    "es": {"button": "Registrar mi llegada", "done": "Ya consta su llegada.",
           "again": "Su llegada ya estaba registrada"},
}


@pytest.fixture(scope="module")
def server_and_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[ServerThread, Any, Any, SmtpSink]]:
    folder = tmp_path_factory.mktemp("checkin-browser")
    url = f"sqlite:///{folder / 'server.db'}"
    upgrade(url)
    settings = make_settings(url, folder)
    engine = make_engine(url)
    smtp = SmtpSink().start()
    server = ServerThread(settings)
    server.start()
    try:
        yield server, make_session_factory(engine), settings, smtp
    finally:
        server.stop()
        smtp.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def browser(server_and_database: Any) -> Iterator[Any]:
    sync_playwright = _browser_or_fail()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def live(server_and_database: Any, browser: Any) -> Live:
    """A fresh telemedicine clinic (so each language's patient has one visit soon)."""
    server, database, settings, smtp = server_and_database
    with database() as session:
        place = seed_telemedicine(session, settings, smtp)
    server.server.config.app.state.portal_guard = signin.Guard()
    return Live(server, place, smtp, database, browser)


def appointment(live: Live, appointment_id: str) -> models.Appointment:
    with live.database() as session:
        session: Session
        row = by_id(session, models.Appointment, appointment_id)
        assert row is not None
        session.expunge(row)
        session.rollback()
        return row


def screenshot(tab: Any, name: str) -> None:
    accessible(tab)
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_patient_checks_in_for_a_video_visit_in_the_browser(live: Live, lang: str) -> None:
    words = TEXTS[lang]
    appointment_id, _start = book_soon(live.server.url, live.place)
    context = live.browser.new_context(
        locale="es-ES" if lang == "es" else "en-US", viewport={"width": 1280, "height": 800},
        extra_http_headers={"Accept-Language": "es-ES,es;q=0.9" if lang == "es" else "en-US"})
    try:
        tab = context.new_page()
        tab.on("request", lambda r: live.visited.append(r.url))
        tab.goto(live.url(f"/appointments/{appointment_id}"))
        sign_in(live, tab, lang)
        tab.wait_for_selector("#checkin-title")
        assert tab.locator("html").get_attribute("lang") == lang
        screenshot(tab, f"telemedicine-checkin-{lang}")
        other = context.new_page()  # the same page open in a second tab
        other.goto(tab.url)
        tab.get_by_role("button", name=words["button"]).click()
        tab.wait_for_selector(f"text={words['done']}")
        screenshot(tab, f"telemedicine-checkin-done-{lang}")
        checked = appointment(live, appointment_id)
        assert checked.status == "arrived" and checked.virtual_checkin_at is not None
        assert tab.get_by_role("button", name=words["button"]).count() == 0

        other.get_by_role("button", name=words["button"]).click()  # the second tab's form
        other.wait_for_selector(f"text={words['again']}")
        again = appointment(live, appointment_id)
        assert (again.version, again.virtual_checkin_at) == (
            checked.version, checked.virtual_checkin_at)
    finally:
        context.close()
    planted = [GIVEN.lower(), FAMILY.lower(), live.place.email.lower()]
    assert not [u for u in live.visited for p in planted if p in u.lower()]
