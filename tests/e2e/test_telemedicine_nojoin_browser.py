"""The video-visit join page and the provider no-join offer in a real browser (Debian's
Chromium through Playwright) against a real uvicorn server on loopback (SQLite) whose
clock the test sets: the patient opens the join page, the visit starts, the provider
does not join, the worker's no-join step offers a backup provider and new times, and the
patient chooses — the backup provider in English, a new time in Spanish. axe-core finds
nothing serious on the pages. ``TELEMEDICINE_SCREENSHOTS=<folder>`` saves the offer as
``telemedicine-nojoin-<lang>.png`` (docs/screenshots)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from scheduling.commands import BookAppointment
from sync_server.db import models
from sync_server.services import audit, booking
from sync_server.telemedicine import no_join, sessions
from tests.e2e.server_side import TZ
from tests.e2e.test_portal_browser import Live, accessible, portal_in_browser, sign_in
from tests.support.records import by_id, video_url_of
from tests.sync_server.conftest import Clock
from tests.sync_server.notify_setup import STAFF
from tests.sync_server.portal_setup import PortalClinic

SCREENSHOTS = os.environ.get("TELEMEDICINE_SCREENSHOTS")
TEXTS = {
    "en": {"offer": "Your provider has not joined", "not_ready": "not ready yet",
           "rebooked": "your video visit has moved to", "moved": "will see you now"},
    "es": {"offer": "Su profesional no se ha conectado", "not_ready": "aún no está listo",
           "rebooked": "su videoconsulta ha pasado al", "moved": "le atenderá ahora"},
}


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


def _video_type(session: Session, place: PortalClinic) -> None:
    kind = session.get(models.AppointmentType, place.clinic.type_id)
    assert kind is not None
    kind.telemedicine, kind.min_notice_seconds, kind.reschedule_limit = True, 0, None


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[Live]:
    with portal_in_browser(tmp_path_factory.mktemp("telemedicine-browser"), clock,
                           _video_type) as running:
        yield running


@pytest.fixture
def tab(live: Live, lang: str) -> Iterator[Any]:
    """A fresh browser context (no cookies) in the browser language ``lang``."""
    context = live.browser.new_context(
        locale="es-ES" if lang == "es" else "en-US", viewport={"width": 390, "height": 844},
        extra_http_headers={"Accept-Language": "es-ES,es;q=0.9" if lang == "es" else "en-US"})
    opened = context.new_page()
    opened.on("framenavigated", lambda f: live.visited.append(f.url))
    yield opened
    context.close()


def local(live: Live, week: int, hour: int, minute: int = 0) -> datetime:
    day = live.place.clinic.first_day + timedelta(days=7 * week)
    return datetime.combine(day, time(hour, minute), ZoneInfo(TZ))


def book_visit(live: Live, week: int) -> str:
    """The patient's video visit with provider 0 at 10:00 on Monday of ``week``."""
    appointment_id = str(uuid.uuid4())
    clinic = live.place.clinic
    with live.database() as session:
        result = booking.book(session, booking.Caller(clinic.org_id, STAFF, audit.Actor(None)),
                              BookAppointment(STAFF, appointment_id, clinic.clinic_id,
                                              live.place.patient_id, clinic.type_id,
                                              clinic.provider_ids[0], local(live, week, 10)),
                              local(live, week, 8))
        assert result.refused is None, result.refused
        session.commit()
    return appointment_id


def shot(tab: Any, lang: str) -> None:
    accessible(tab)
    if SCREENSHOTS:
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        tab.set_viewport_size({"width": 1280, "height": 800})
        tab.screenshot(path=str(folder / f"telemedicine-nojoin-{lang}.png"), full_page=True)
        tab.set_viewport_size({"width": 390, "height": 844})


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_join_page_and_the_no_join_offer_in_the_browser(
        live: Live, tab: Any, lang: str, clock: Clock) -> None:
    page = tab
    words = TEXTS[lang]
    week = 0 if lang == "en" else 1
    appointment_id = book_visit(live, week)
    clock.now = local(live, week, 9, 50)
    page.goto(live.url(f"/appointments/{appointment_id}"))
    sign_in(live, page, lang)
    page.goto(live.url(f"/appointments/{appointment_id}"))
    page.locator(f"a[href$='/appointments/{appointment_id}/video']").click()
    page.wait_for_selector("form[action$='/video/problem']")
    accessible(page)

    clock.now = local(live, week, 10, 1)
    with live.database() as session:
        link = video_url_of(session, appointment_id)
    if link is None:  # the stand-in: no link yet, and the join is not recorded
        page.locator("form[action$='/video/join'] button").click()
        page.wait_for_selector(f"text={words['not_ready']}")
    with live.database() as session:  # the patient is in the video visit
        visit = sessions.visit_of(session, live.place.clinic.org_id, appointment_id)
        if not sessions.joined(session, appointment_id, "patient"):
            sessions.record(session, visit, "patient", "join", clock.now)
        session.commit()

    clock.now = local(live, week, 10, 6)
    assert no_join.run_checks(live.database, clock.now, "browser-test") == 1
    page.goto(live.url(f"/appointments/{appointment_id}/video"))
    page.wait_for_selector(f"text={words['offer']}")
    assert page.locator("html").get_attribute("lang") == lang
    shot(page, lang)
    if lang == "en":
        page.locator("input[value='backup'] + button").click()
        page.wait_for_selector(f"text={words['moved']}")
        expected = live.place.clinic.provider_ids[1]
    else:
        page.locator("input[value='slot'] ~ button").first.click()
        page.wait_for_selector(f"text={words['rebooked']}")
        expected = None
    with live.database() as session:
        row = by_id(session, models.Appointment, appointment_id)
        assert row is not None
        if expected:
            assert row.provider_id == expected
        else:
            assert row.start_at > clock.now
    assert not any(re.search(r"zoraida|quintanilla", u, re.I) for u in live.visited)
