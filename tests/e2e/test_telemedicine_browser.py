# ruff: noqa: F811 - the page fixture imported from test_portal_browser is requested by name
"""A telemedicine visit in the patient portal, in a real browser (Debian's Chromium through
Playwright, a real uvicorn server on loopback, SQLite, sign-in codes through aiosmtpd), in
English and Spanish: the video link and instructions, consent refused until the box is
ticked then recorded, a wrong-type upload refused with a clear message, a PDF sent and
stored encrypted. axe-core finds nothing serious on the page. ``PORTAL_SCREENSHOTS=<folder>``
saves the pages (``telemedicine-consent-<lang>.png``, ``telemedicine-upload-<lang>.png``,
``telemedicine-upload-refused-<lang>.png``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sync_server.telemedicine.models import ConsentAcceptance, VisitDocument
from tests.e2e.test_portal_browser import (  # noqa: F401 - the portal's page fixture
    SCREENSHOTS,
    Live,
    accessible,
    page,
    running_portal,
    sign_in,
)
from tests.sync_server.telemedicine_setup import make_telemedicine, pdf

TEXTS = {
    "en": {"book": "Book this time", "video": "Video visit", "join": "Join the video visit",
           "accept": "Accept the consent form", "tick": "Tick the box",
           "agree": "I have read the consent form", "recorded": "your consent is recorded",
           "consent": "I agree to be seen by video.", "send": "Send the document",
           "only": "We accept PDF, JPEG and PNG files only.",
           "sent": "Your document has been sent to the clinic."},
    "es": {"book": "Reservar esta hora", "video": "Videoconsulta",
           "join": "Entrar en la videoconsulta", "accept": "Aceptar el consentimiento",
           "tick": "Marque la casilla", "agree": "He leído el consentimiento informado",
           "recorded": "hemos registrado su consentimiento",
           "consent": "Acepto ser atendido por vídeo.", "send": "Enviar el documento",
           "only": "Solo aceptamos archivos PDF, JPEG y PNG.",
           "sent": "Su documento se ha enviado a la clínica."},
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("telemedicine-browser")
    with running_portal(folder, make_telemedicine) as running:
        yield running


def shoot(tab: Any, name: str) -> None:
    accessible(tab)
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        tab.locator("section.telemedicine").scroll_into_view_if_needed()
        tab.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def rows(live: Live, table: Any, appointment_id: str) -> list[Any]:
    with live.database() as session:
        found = list(session.scalars(select(table).where(table.appointment_id == appointment_id)))
        session.expunge_all()
        return found


@pytest.mark.parametrize("lang", ["en", "es"])
def test_consent_and_a_document_in_the_browser(live: Live, page: Any, lang: str,
                                               tmp_path: Path) -> None:
    words = TEXTS[lang]
    page.set_viewport_size({"width": 1280, "height": 800})
    provider, start = live.place.clinic.slot(3 if lang == "en" else 6)
    page.goto(live.url(
        f"/book?clinic={live.place.clinic.clinic_id}&type={live.place.clinic.type_id}"
        f"&provider={provider}&start={start.isoformat().replace('+', '%2B')}"))
    sign_in(live, page, lang)
    page.get_by_role("button", name=words["book"]).click()
    page.wait_for_selector(f"h2:has-text('{words['video']}')")
    appointment_id = page.url.split("/appointments/")[1].split("?")[0]
    link = page.get_by_role("link", name=words["join"])
    assert re.fullmatch(r"https://meet\.example/[A-Za-z0-9_-]{32}", link.get_attribute("href"))
    assert words["consent"] in page.locator(".consent-text").inner_text()
    shoot(page, f"telemedicine-consent-{lang}")

    page.get_by_role("button", name=words["accept"]).click()  # the box not ticked
    page.wait_for_selector(f"#problem:has-text('{words['tick']}')")
    assert rows(live, ConsentAcceptance, appointment_id) == []
    page.get_by_label(words["agree"]).check()
    page.get_by_role("button", name=words["accept"]).click()
    page.wait_for_selector(f"text={words['recorded']}")
    [accepted] = rows(live, ConsentAcceptance, appointment_id)
    assert (accepted.version, accepted.channel, accepted.language) == (1, "portal", lang)
    assert accepted.accepted_at <= datetime.now(UTC)

    wrong = tmp_path / "notes.txt"
    wrong.write_text("not a document")
    page.set_input_files("#document", str(wrong))
    page.get_by_role("button", name=words["send"]).click()
    page.wait_for_selector(f"#problem:has-text('{words['only']}')")
    shoot(page, f"telemedicine-upload-refused-{lang}")
    assert rows(live, VisitDocument, appointment_id) == []

    report = tmp_path / "Informe médico.pdf"
    report.write_bytes(pdf(4000))
    page.set_input_files("#document", str(report))
    page.get_by_role("button", name=words["send"]).click()
    page.wait_for_selector(f"text={words['sent']}")
    assert "Informe médico.pdf" in page.locator("ul.documents").inner_text()
    shoot(page, f"telemedicine-upload-{lang}")
    [stored] = rows(live, VisitDocument, appointment_id)
    assert stored.size == 4000 and b"SECRET-REPORT-TEXT" not in stored.content_sealed
    assert not any("informe" in url.lower() for url in live.visited)
