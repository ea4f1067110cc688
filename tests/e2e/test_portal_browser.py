"""The patient portal in a real browser: Debian's Chromium driven by Playwright against a
real uvicorn server on loopback (SQLite), sign-in codes through a real aiosmtpd server.

Books, reschedules and cancels in English and Spanish, meets "slot just taken", runs
axe-core on every page (no serious or critical violations), and scans every URL the
browser visited and the server's log records for the planted patient's details.
``PORTAL_SCREENSHOTS=<folder>`` also saves every page at 390x844 and 1280x800.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.db import models
from sync_server.db.migrate import upgrade
from sync_server.db.session import make_engine, make_session_factory
from sync_server.portal import signin
from tests.e2e.server_side import PASSWORD, ServerThread
from tests.support.notify_servers import SmtpSink
from tests.support.records import by_id
from tests.sync_server.conftest import make_settings
from tests.sync_server.portal_setup import FAMILY, GIVEN, PortalClinic, last_code, seed_portal

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("PORTAL_SCREENSHOTS")
SIZES = {"mobile": (390, 844), "desktop": (1280, 800)}


def _browser_or_fail() -> Any:
    """Playwright and Debian's Chromium; in CI a missing one fails instead of skipping."""
    ci = os.environ.get("CI") == "true" or os.environ.get("CLINICDESK_REQUIRE_ALL") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        if ci:
            pytest.fail(f"playwright is not installed: {error}")
        pytest.skip("playwright is not installed (pip install 'clinicdesk[test]')")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        if ci:
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing")
    return sync_playwright


@dataclass
class Live:
    server: ServerThread
    place: PortalClinic
    smtp: SmtpSink
    database: Any
    browser: Any
    visited: list[str] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return f"{self.server.url}{self.place.base}{path}"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with portal_in_browser(tmp_path_factory.mktemp("portal-browser")) as running:
        yield running


@contextmanager
def portal_in_browser(folder: Path, clock: Callable[[], datetime] | None = None,
                      prepare: Callable[[Session, PortalClinic], None] | None = None
                      ) -> Iterator[Live]:
    """The seeded portal (``prepare`` may change it first) on a server with ``clock``, and
    the browser."""
    sync_playwright = _browser_or_fail()
    url = f"sqlite:///{folder / 'server.db'}"
    upgrade(url)
    settings = make_settings(url, folder)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    smtp = SmtpSink().start()
    with factory() as session:
        place = seed_portal(session, settings, smtp, codes=1)  # one desk enrolls
        if prepare is not None:
            prepare(session, place)
            session.commit()
    server = ServerThread(settings, clock)
    server.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                yield Live(server, place, smtp, factory, browser)
            finally:
                browser.close()
    finally:
        server.stop()
        smtp.stop()
        engine.dispose()


@pytest.fixture
def lang() -> str:
    return "en"


@pytest.fixture
def page(live: Live, lang: str) -> Iterator[Any]:
    """A fresh browser context (no cookies) in the browser language ``lang``, and fresh
    sign-in rate limits (every test signs the same patient in from the same address)."""
    live.server.server.config.app.state.portal_guard = signin.Guard()
    context = live.browser.new_context(
        locale="es-ES" if lang == "es" else "en-US", viewport={"width": 390, "height": 844},
        extra_http_headers={"Accept-Language": "es-ES,es;q=0.9" if lang == "es" else "en-US"})
    tab = context.new_page()
    tab.on("request", lambda r: live.visited.append(r.url))
    tab.on("framenavigated", lambda f: live.visited.append(f.url))
    yield tab
    context.close()


def accessible(tab: Any) -> None:
    """axe-core (bundled by axe-playwright-python) finds nothing serious or critical."""
    from axe_playwright_python.sync_playwright import Axe
    results = Axe().run(tab)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, [(v["id"], [n["target"] for n in v["nodes"]]) for v in bad]


def shoot(tab: Any, name: str, lang: str) -> None:
    accessible(tab)
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    size = tab.viewport_size
    for label, (width, height) in SIZES.items():
        tab.set_viewport_size({"width": width, "height": height})
        tab.screenshot(path=str(folder / f"portal-{name}-{lang}-{label}.png"), full_page=True)
    tab.set_viewport_size(size)


def sign_in(live: Live, tab: Any, lang: str, address: str | None = None,
            shots: bool = True) -> None:
    """Sign in with a code from the e-mail; ``shots``: check and photograph the pages
    (the hand-off tests leave the plain sign-in pages' screenshots as they are)."""
    address = address or live.place.email
    if shots:
        shoot(tab, "signin", lang)
    tab.get_by_label(re.compile("E-mail|Correo")).fill(address)
    tab.locator("form[action$='/signin'] button[type=submit]").click()
    tab.wait_for_selector("#code")
    if shots:
        shoot(tab, "code", lang)
    tab.fill("#code", last_code(live.smtp, address.lower()))
    tab.locator("form[action$='/signin/code'] button[type=submit]").click()


def appointments(live: Live) -> list[models.Appointment]:
    with live.database() as session:
        session: Session
        rows = list(session.scalars(select(models.Appointment).where(
            models.Appointment.patient_id == live.place.patient_id)
            .order_by(models.Appointment.created_at)))
        session.expunge_all()
        session.rollback()
        return rows


TEXTS = {
    "en": {"book": "Book this time", "booked": "Your appointment is booked.",
           "change": "Change the time", "moved": "Your appointment has been moved.",
           "cancel": "Cancel the appointment", "yes": "Yes, cancel it",
           "cancelled": "Your appointment is cancelled.", "taken": "just taken"},
    "es": {"book": "Reservar esta hora", "booked": "Su cita está reservada.",
           "change": "Cambiar la hora", "moved": "Su cita se ha cambiado.",
           "cancel": "Cancelar la cita", "yes": "Sí, cancelarla",
           "cancelled": "Su cita está cancelada.", "taken": "acaban de reservar"},
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_book_reschedule_and_cancel_in_the_browser(live: Live, page: Any, lang: str) -> None:
    words = TEXTS[lang]
    before = len(appointments(live))
    page.goto(live.url("/"))
    assert page.locator("html").get_attribute("lang") == lang
    page.get_by_role("button", name=re.compile("Show free times|Mostrar horas libres")).click()
    shoot(page, "find", lang)
    page.locator(".soonest a.button").click()
    sign_in(live, page, lang)
    page.wait_for_selector("text=" + words["book"])
    shoot(page, "book", lang)
    page.get_by_role("button", name=words["book"]).click()
    page.wait_for_selector("text=" + words["booked"])
    shoot(page, "appointment", lang)
    booked = appointments(live)[before:]
    assert len(booked) == 1 and booked[0].source == "online"
    page.get_by_role("link", name=words["change"]).click()
    page.locator("#first").fill(live.place.clinic.first_day.isoformat())
    page.locator("form.search button").click()
    shoot(page, "reschedule", lang)
    page.locator("ul.slots button").nth(3).click()
    page.wait_for_selector("text=" + words["moved"])
    moved = appointments(live)[before]
    assert moved.start_at != booked[0].start_at and moved.reschedule_count == 1
    page.get_by_role("link", name=words["cancel"]).click()
    shoot(page, "cancel", lang)
    page.get_by_role("button", name=words["yes"]).click()
    page.wait_for_selector("text=" + words["cancelled"])
    assert appointments(live)[before].status == "cancelled"
    page.goto(live.url("/appointments"))
    shoot(page, "appointments", lang)


def desk_books(live: Live, provider: str, start: str) -> None:
    """The front desk books that very slot through the API."""
    login = requests.post(f"{live.server.url}/api/v1/auth/login", json={
        "organization": live.place.org, "email": live.place.clinic.user_email,
        "password": PASSWORD}, timeout=10)
    taken = requests.post(f"{live.server.url}/api/v1/appointments", timeout=10, headers={
        "Authorization": f"Bearer {login.json()['access_token']}"}, json={
        "clinic_id": live.place.clinic.clinic_id, "appointment_type_id": live.place.clinic.type_id,
        "patient_id": live.place.clinic.patient_ids[1], "provider_id": provider,
        "start": start})
    assert taken.status_code == 201, taken.text


def refused_count(live: Live, reason: str) -> int:
    with live.database() as session:
        session: Session
        try:
            return len(list(session.scalars(select(models.AuditEntry.seq).where(
                models.AuditEntry.organization_id == live.place.clinic.org_id,
                models.AuditEntry.outcome == "refused", models.AuditEntry.reason == reason))))
        finally:
            session.rollback()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_slot_taken_between_viewing_and_booking_offers_the_next_free_times(
        live: Live, page: Any, lang: str) -> None:
    index = 30 if lang == "en" else 40
    provider, start = live.place.clinic.slot(index)
    query = (f"/book?clinic={live.place.clinic.clinic_id}&type={live.place.clinic.type_id}"
             f"&provider={provider}&start={start.isoformat().replace('+', '%2B')}")
    page.goto(live.url(query))
    sign_in(live, page, lang)
    page.wait_for_selector("text=" + TEXTS[lang]["book"])
    desk_books(live, provider, start.isoformat())  # meanwhile, at the front desk
    before = len(appointments(live))
    page.get_by_role("button", name=TEXTS[lang]["book"]).click()
    page.wait_for_selector("text=" + TEXTS[lang]["taken"])
    shoot(page, "taken", lang)
    assert len(appointments(live)) == before
    page.locator("#others ~ ul.slots button").first.click()
    page.wait_for_selector("text=" + TEXTS[lang]["booked"])
    assert len(appointments(live)) == before + 1


def test_no_patient_data_in_any_url_the_browser_visited_or_in_the_server_log(
        live: Live, page: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    page.goto(live.url("/"))
    page.get_by_role("button", name="Show free times").click()
    page.locator(".soonest a.button").click()
    sign_in(live, page, "en")
    page.get_by_role("button", name="Book this time").click()
    page.wait_for_selector("text=Your appointment is booked.")
    planted = [GIVEN, FAMILY, live.place.email, live.place.phone,
               live.place.phone.replace(" ", "")]
    visited = [u.lower() for u in live.visited]
    logs = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records
                     if not r.name.startswith("mail.log"))
    assert len(visited) > 10
    for value in planted:
        assert not any(value.lower() in u for u in visited), value
        assert value not in logs, value


def _admin_token(live: Live) -> str:
    from datetime import UTC, datetime

    from sync_server.core.security import Passwords, password_hasher
    from sync_server.services import accounts
    settings = live.server.server.config.app.state.context.settings
    email = f"admin-{live.place.org}@clinic.example"
    with live.database() as session:
        if session.scalar(select(models.User).where(models.User.email == email)) is None:
            accounts.create_user(session, Passwords(password_hasher(settings)),
                                 live.place.clinic.org_id, email, PASSWORD, ["administrator"],
                                 datetime.now(UTC))
            session.commit()
    login = requests.post(f"{live.server.url}/api/v1/auth/login", json={
        "organization": live.place.org, "email": email, "password": PASSWORD}, timeout=10)
    return str(login.json()["access_token"])


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_widget_shows_on_an_allowed_site_and_is_refused_elsewhere(
        live: Live, page: Any, lang: str) -> None:
    from tests.support.http_servers import MisbehavingServer
    snippet = (f'<!DOCTYPE html><html lang="{lang}"><head><title>Clinic site</title></head>'
               f'<body><main><h1>Our clinic</h1><script src="{live.url("/widget.js")}" async>'
               f'</script></main></body></html>').encode()
    heading = "Book an appointment" if lang == "en" else "Reservar una cita"
    headers = {"Authorization": f"Bearer {_admin_token(live)}"}
    with MisbehavingServer(200, snippet) as site:
        allowed = requests.put(f"{live.server.url}/api/v1/portal/settings", headers=headers,
                               json={"widget_sites": [site.url]}, timeout=10)
        assert allowed.status_code == 200, allowed.text
        page.goto(site.url)
        frame = page.frame_locator("iframe")
        frame.get_by_role("heading", name=heading).wait_for()
        assert frame.locator("html").get_attribute("lang") == lang
        assert frame.locator("a.slot").first.get_attribute("target") == "_blank"
        shoot(page, "widget", lang)
        requests.put(f"{live.server.url}/api/v1/portal/settings", headers=headers,
                     json={"widget_sites": []}, timeout=10)
        before = refused_count(live, "site_not_allowed")
        page.goto(site.url)
        page.wait_for_selector("iframe")
        embedded = page.frames[1]
        embedded.wait_for_load_state()
        # The server refused it (the frame's Referer is the site's origin: audited) and the
        # browser would not show it anyway (frame-ancestors): Chromium's error page instead.
        assert embedded.url.startswith("chrome-error://")
        assert embedded.get_by_text(heading).count() == 0
        assert refused_count(live, "site_not_allowed") == before + 1


def test_the_seed_004_round_trip_from_published_slot_to_fhir_appointment(
        live: Live, page: Any) -> None:
    """The i16 test client app (tests/support/handoff_client.py) discovers a slot, sends the
    patient here; the patient books in Chromium; the app gets the return and exchanges its
    result token for the FHIR Appointment."""
    from tests.support.handoff_client import HandoffClient
    from tests.sync_server.fhir_setup import register, validate_r4
    app = HandoffClient(live.server.url, live.place.org, "", "")
    with live.database() as session:
        registered = register(session, live.place.clinic.org_id, urls=(app.return_url,),
                              name="Rides app")
    app.client_id, app.client_secret = registered.client_id, registered.secret
    app.start()
    try:
        state = "rides-attempt-42"
        page.goto(app.deep_link(app.free_slots()[0], state))
        assert "returnUrl" not in page.url and "state=" not in page.url
        sign_in(live, page, "en", "new.rider@patients.example", shots=False)  # new patient
        page.get_by_label("First name").fill("Rider")
        page.get_by_label("Last name").fill("Newcomer")
        page.get_by_role("button", name="Book this time").click()
        back = app.wait_for_return(state)
        assert back.params["outcome"] == "booked", back.params
        assert back.appointment is not None, back.exchange_error
        validate_r4(back.appointment)
        assert back.appointment["id"] == back.params["appointmentRef"]
        assert back.appointment["status"] == "booked"
        with live.database() as session:
            row = by_id(session, models.Appointment, back.appointment["id"])
            assert row is not None and row.source == "online"
            session.rollback()
        page.wait_for_url(f"{app.return_url}?*")
        for value in (GIVEN, FAMILY, "new.rider@patients.example", "Newcomer"):
            assert value not in page.url
    finally:
        app.stop()


def running_portal(folder: Path, prepare: Callable[[Session, PortalClinic], None] | None = None
                   ) -> AbstractContextManager[Live]:
    """The seeded portal clinic (then ``prepare``-d) on the real clock, and the browser."""
    return portal_in_browser(folder, prepare=prepare)


HANDOFF = {
    "en": {"refused": "not allowed to use this booking page", "back": "Go back without booking",
           "none": "None of these: go back to the app"},
    "es": {"refused": "no puede usar esta página de reservas", "back": "Volver sin reservar",
           "none": "Ninguna de estas: volver a la aplicación"},
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_hand_off_pages_refuse_a_foreign_app_and_return_failed_or_cancelled(
        live: Live, page: Any, lang: str) -> None:
    """A deep link with a return URL nobody registered is refused (audited); a patient
    handed over by the registered app meets "slot just taken" and goes back (``failed``,
    ``slot-unavailable``), then comes again and leaves without booking (``cancelled``):
    no result token, no appointment."""
    from urllib.parse import parse_qs, urlsplit

    from tests.support.handoff_client import HandoffClient
    from tests.sync_server.fhir_setup import register
    words = HANDOFF[lang]
    app = HandoffClient(live.server.url, live.place.org, "", "")
    with live.database() as session:
        registered = register(session, live.place.clinic.org_id, urls=(app.return_url,),
                              name=f"Rides app {lang}")
    app.client_id, app.client_secret = registered.client_id, registered.secret
    app.start()
    try:
        slot = app.free_slots()[-3 if lang == "en" else -6]
        foreign = app.deep_link(slot, f"foreign-{lang}").replace(
            f"127.0.0.1%3A{app.port}", "evil.example")
        before = refused_count(live, "return-url-not-allowed")
        page.goto(foreign)
        page.wait_for_selector("text=" + words["refused"])
        shoot(page, "handoff-refused", lang)
        assert refused_count(live, "return-url-not-allowed") == before + 1

        page.goto(app.deep_link(slot, f"taken-{lang}"))
        sign_in(live, page, lang, f"handoff.{lang}@patients.example", shots=False)
        page.wait_for_selector("#given_name")
        assert page.get_by_role("button", name=words["back"]).is_visible()
        shoot(page, "handoff-book", lang)
        page.fill("#given_name", "Ana")
        page.fill("#family_name", "Handoff")
        query = parse_qs(urlsplit(page.url).query)
        desk_books(live, query["provider"][0], query["start"][0])
        before_rows = len(appointments(live))
        page.get_by_role("button", name=TEXTS[lang]["book"]).click()
        page.wait_for_selector("text=" + TEXTS[lang]["taken"])
        shoot(page, "handoff-taken", lang)
        page.get_by_role("button", name=words["none"]).click()
        failed = app.wait_for_return(f"taken-{lang}")
        assert failed.params == {"state": f"taken-{lang}", "outcome": "failed",
                                 "reason": "slot-unavailable"}
        assert len(appointments(live)) == before_rows

        page.goto(app.deep_link(slot, f"leave-{lang}"))
        page.get_by_role("button", name=words["back"]).click()
        left = app.wait_for_return(f"leave-{lang}")
        assert left.params == {"state": f"leave-{lang}", "outcome": "cancelled"}
        page.wait_for_url(f"{app.return_url}?*")
    finally:
        app.stop()


def test_an_online_booking_reaches_a_desk_marked_online(
        live: Live, page: Any, tmp_path: Path) -> None:
    """A booking made in the browser arrives at an enrolled desk (a real desk store in a
    child process, synced over HTTP) like any other, with source "online" (the desk's
    details say "Booked via: Online (patient portal)")."""
    from tests.e2e.conftest import Desk
    before = {a.id for a in appointments(live)}
    page.goto(live.url("/"))
    page.get_by_role("button", name="Show free times").click()
    page.locator(".soonest a.button").click()
    sign_in(live, page, "en", shots=False)
    page.get_by_role("button", name="Book this time").click()
    page.wait_for_selector("text=Your appointment is booked.")
    [booked] = [a for a in appointments(live) if a.id not in before]
    desk = Desk(tmp_path / "desk", live.place.clinic)
    desk.command("create")
    enrolled = desk.command("enroll", {"url": live.server.url,
                                       "code": live.place.clinic.codes[0]})
    assert "client_id" in enrolled, enrolled
    signed = desk.command("sign-in", {"organization": live.place.org,
                                      "email": live.place.clinic.user_email,
                                      "password": PASSWORD})
    assert signed["ok"], signed
    desk.sync()
    on_desk = desk.dump()["appointments"][booked.id]
    assert on_desk["source"] == "online" and on_desk["status"] == "booked"
    assert on_desk["patient_id"] == live.place.patient_id
