# ruff: noqa: F811 - the fixtures imported from test_portal are requested by name
"""Telemedicine visits on SQLite and PostgreSQL: the video room opened with the booking,
its link in the portal, messages and feeds (never a busy feed), consent forms accepted
in the portal, encrypted pre-visit documents and the staff's view of them; bad input
(other patients and organizations, cancelled visits, missing consent, oversized, wrong
or disguised files, NUL bytes and overlong consent texts)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.feeds import service as feeds
from sync_server.notifications.links import LinkKey
from sync_server.notifications.worker import Worker
from sync_server.portal import signin
from sync_server.telemedicine import documents
from sync_server.telemedicine.models import (
    ConsentAcceptance,
    ProviderVideoLink,
    VideoRoom,
    VisitDocument,
)
from tests.support.notify_servers import SmtpSink
from tests.support.records import by_id, video_url_of
from tests.sync_server.conftest import OrgUser, Tenants, sign_in
from tests.sync_server.portal_setup import PortalClinic, seed_portal
from tests.sync_server.telemedicine_setup import (
    CONSENT_EN,
    CONSENT_ES,
    TEMPLATE,
    make_telemedicine,
    pdf,
    png,
)
from tests.sync_server.test_portal import (  # noqa: F401 - fixtures shared with the portal's
    book,
    portal_client,
    portal_settings,
    read,
    signed_in,
    smtp_sink,
    token,
)

ROOM_LINK = re.compile(r"https://meet\.example/([A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def client(portal_client: TestClient) -> TestClient:
    return portal_client


@pytest.fixture(scope="module")
def tm_settings(portal_settings: Settings) -> Settings:
    return portal_settings


@pytest.fixture
def place(db: Session, tm_settings: Settings, smtp_sink: SmtpSink,
          client: TestClient) -> PortalClinic:
    client.cookies.clear()
    client.app.state.portal_guard = signin.Guard()  # type: ignore[attr-defined]
    found = seed_portal(db, tm_settings, smtp_sink)
    make_telemedicine(db, found)
    return found


def booked(client: TestClient, place: PortalClinic, smtp: SmtpSink, index: int = 0) -> str:
    """Sign in as the patient, book the ``index``-th slot; the appointment's id."""
    signed_in(client, place, smtp)
    status, location, text = book(client, place, index)
    assert status == 303, text
    found = re.search(r"/appointments/([^/?]+)", location)
    assert found
    return found.group(1)


def page_of(client: TestClient, place: PortalClinic, appointment_id: str,
            lang: str = "en") -> Any:
    return client.get(f"{place.base}/appointments/{appointment_id}", params={"lang": lang})


def upload(client: TestClient, place: PortalClinic, appointment_id: str, name: str,
           content: bytes, csrf: str | None = None) -> Any:
    if csrf is None:
        csrf = token(page_of(client, place, appointment_id).text)
    return client.post(f"{place.base}/appointments/{appointment_id}/telemedicine/documents",
                       data={"csrf": csrf}, files={"document": (name, content)},
                       follow_redirects=False)


def stored(db: Session, appointment_id: str) -> list[VisitDocument]:
    return read(db, select(VisitDocument).where(VisitDocument.appointment_id == appointment_id))


def staff(client: TestClient, tenants: Tenants, place: PortalClinic,
          role: str = "receptionist") -> dict[str, str]:
    who: OrgUser = tenants.user(place.clinic.org_id, place.org, role)
    return sign_in(client, who)


@pytest.fixture
def tenants(db: Session, tm_settings: Settings) -> Tenants:
    return Tenants(db, tm_settings, lambda: datetime.now(UTC))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- video link


def test_booking_a_telemedicine_visit_opens_an_unguessable_room(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session) -> None:
    first = booked(client, place, smtp_sink, 0)
    second = booked(client, place, smtp_sink, 1)
    found = read(db, select(VideoRoom).where(VideoRoom.appointment_id.in_([first, second])))
    assert len(found) == 2
    names = {row.room for row in found}
    assert len(names) == 2
    assert all(len(name) >= 32 and first not in name for name in names)  # 192 random bits
    link = video_url_of(db, first)
    db.rollback()
    room = next(row.room for row in found if row.appointment_id == first)
    assert link == TEMPLATE.replace("{room}", room)


def test_a_visit_of_an_ordinary_type_has_no_video_link(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session) -> None:
    kind = db.get(models.AppointmentType, place.clinic.type_id)
    assert kind is not None
    kind.telemedicine = False
    db.commit()
    appointment_id = booked(client, place, smtp_sink)
    assert video_url_of(db, appointment_id) is None
    assert read(db, select(VideoRoom).where(VideoRoom.appointment_id == appointment_id)) == []
    assert "Video visit" not in page_of(client, place, appointment_id).text


def test_a_providers_own_link_wins_over_the_template(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session) -> None:
    appointment_id = booked(client, place, smtp_sink)
    row = by_id(db, models.Appointment, appointment_id)
    assert row is not None
    db.add(ProviderVideoLink(provider_id=row.provider_id, organization_id=row.organization_id,
                             url="https://video.example/dr-room", updated_at=datetime.now(UTC)))
    db.commit()
    assert video_url_of(db, appointment_id) == "https://video.example/dr-room"
    kind = db.get(models.AppointmentType, place.clinic.type_id)
    assert kind is not None
    kind.telemedicine = False  # no longer a video visit type: its visits give no link
    db.commit()
    assert video_url_of(db, appointment_id) is None
    db.rollback()


def test_the_patient_sees_the_link_and_a_cancelled_visit_has_none(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session) -> None:
    appointment_id = booked(client, place, smtp_sink)
    page = page_of(client, place, appointment_id)
    assert page.status_code == 200
    assert ROOM_LINK.search(page.text)
    assert "Join the video visit" in page.text
    assert "Entrar en la videoconsulta" in page_of(client, place, appointment_id, "es").text
    cancel = client.get(f"{place.base}/appointments/{appointment_id}/cancel")
    done = client.post(f"{place.base}/appointments/{appointment_id}/cancel",
                       data={"csrf": token(cancel.text)}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert video_url_of(db, appointment_id) is None
    db.rollback()
    after = page_of(client, place, appointment_id)
    assert not ROOM_LINK.search(after.text)
    refused = upload(client, place, appointment_id, "report.pdf", pdf(), token(after.text))
    assert refused.status_code == 400
    assert "cancelled or over" in refused.text
    assert stored(db, appointment_id) == []


def test_the_confirmation_email_carries_the_link_in_the_patients_language(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session) -> None:
    patient = by_id(db, models.Patient, place.patient_id)
    assert patient is not None
    patient.preferred_language = "es"
    db.commit()
    appointment_id = booked(client, place, smtp_sink)
    link = video_url_of(db, appointment_id)
    db.rollback()
    assert link
    sessions = client.app.state.context.sessions  # type: ignore[attr-defined]
    worker = Worker(sessions, LinkKey(b"test-signing-key-not-for-production"),
                    clock=lambda: datetime.now(UTC) + timedelta(hours=12),
                    public_url="http://testserver", organization_id=place.clinic.org_id)
    try:
        assert worker.run_once() >= 1
    finally:
        worker.close()
    texts = [received.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
             for received in smtp_sink.messages() if place.email in received.recipients]
    confirmation = [text for text in texts if link in text]
    assert confirmation, "no message carried the video link"
    assert "videoconsulta" in confirmation[-1]


def test_the_link_is_in_initials_feeds_and_never_in_a_busy_feed(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session) -> None:
    appointment_id = booked(client, place, smtp_sink)
    link = video_url_of(db, appointment_id)
    row = by_id(db, models.Appointment, appointment_id)
    assert row is not None and link
    now = datetime.now(UTC)
    busy = feeds.create_feed(db, place.clinic.org_id, row.provider_id, now, privacy="busy")
    named = feeds.create_feed(db, place.clinic.org_id, row.provider_id, now,
                              privacy="initials")
    db.commit()
    busy_text = client.get(busy.path()).text
    named_text = client.get(named.path()).text.replace("\r\n ", "")
    assert "BEGIN:VEVENT" in busy_text and "meet.example" not in busy_text
    assert f"URL:{link}" in named_text
    assert "Video visit:" in named_text


# --------------------------------------------------------------------------- consent


def test_consent_is_shown_in_the_patients_language_and_recorded_when_accepted(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session) -> None:
    appointment_id = booked(client, place, smtp_sink)
    spanish = page_of(client, place, appointment_id, "es").text
    assert CONSENT_ES.split("\n")[0] in spanish and CONSENT_EN.split("\n")[0] not in spanish
    page = page_of(client, place, appointment_id, "en")
    assert CONSENT_EN.split("\n")[0] in page.text
    form_id = re.search(r'name="form" value="([^"]+)"', page.text)
    assert form_id
    url = f"{place.base}/appointments/{appointment_id}/telemedicine/consent"
    unticked = client.post(url, data={"csrf": token(page.text), "form": form_id.group(1)})
    assert unticked.status_code == 400
    assert "Tick the box" in unticked.text
    assert read(db, select(ConsentAcceptance).where(
        ConsentAcceptance.appointment_id == appointment_id)) == []
    accepted = client.post(url, data={"csrf": token(page.text), "form": form_id.group(1),
                                      "agree": "yes"}, follow_redirects=False)
    assert accepted.status_code == 303
    rows = read(db, select(ConsentAcceptance).where(
        ConsentAcceptance.appointment_id == appointment_id))
    assert [(r.version, r.channel, r.patient_id, r.language) for r in rows] == [
        (1, "portal", place.patient_id, "en")]
    assert "You accepted the consent form (version 1)" in page_of(
        client, place, appointment_id).text


def test_a_new_version_asks_again_and_the_old_one_cannot_be_accepted(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        tenants: Tenants) -> None:
    appointment_id = booked(client, place, smtp_sink)
    old = page_of(client, place, appointment_id).text
    old_form = re.search(r'name="form" value="([^"]+)"', old)
    assert old_form
    admin = staff(client, tenants, place, "administrator")
    saved = client.post("/api/v1/telemedicine/consent-forms", headers=admin, json={
        "appointment_type_id": place.clinic.type_id, "text_en": "Version two.",
        "text_es": "Versión dos."})
    assert saved.status_code == 201, saved.text
    assert saved.json()["version"] == 2
    listed = client.get("/api/v1/telemedicine/consent-forms", headers=admin).json()
    assert [item["version"] for item in listed] == [1, 2]
    edited = client.patch(f"/api/v1/telemedicine/consent-forms/{listed[0]['id']}",
                          headers=admin, json={"text_en": "Three.", "text_es": "Tres."})
    assert edited.status_code == 200 and edited.json()["version"] == 3
    assert listed[0]["text_en"] == CONSENT_EN  # the version accepted earlier stays as it was
    stale = client.post(f"{place.base}/appointments/{appointment_id}/telemedicine/consent",
                        data={"csrf": token(old), "form": old_form.group(1), "agree": "yes"})
    assert stale.status_code == 400
    assert "has changed since you opened this page" in stale.text
    assert "Three." in stale.text
    assert read(db, select(ConsentAcceptance).where(
        ConsentAcceptance.appointment_id == appointment_id)) == []


@pytest.mark.parametrize("text", ["bad\x00text", "x" * 20_001])
def test_consent_texts_with_nul_bytes_or_overlong_are_refused(
        client: TestClient, place: PortalClinic, tenants: Tenants, text: str) -> None:
    admin = staff(client, tenants, place, "administrator")
    answer = client.post("/api/v1/telemedicine/consent-forms", headers=admin, json={
        "appointment_type_id": place.clinic.type_id, "text_en": text, "text_es": "Bien."})
    assert answer.status_code == 422
    assert "\x00" not in answer.text and "x" * 100 not in answer.text
    versions = client.get("/api/v1/telemedicine/consent-forms", headers=admin).json()
    assert [item["version"] for item in versions] == [1]


def test_a_receptionist_may_not_edit_consent_forms(
        client: TestClient, place: PortalClinic, tenants: Tenants) -> None:
    desk = staff(client, tenants, place)
    answer = client.post("/api/v1/telemedicine/consent-forms", headers=desk, json={
        "appointment_type_id": place.clinic.type_id, "text_en": "A", "text_es": "B"})
    assert answer.status_code == 403


# --------------------------------------------------------------------------- documents


def test_a_document_is_stored_encrypted_and_staff_can_download_it_audited(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        tenants: Tenants, caplog: pytest.LogCaptureFixture) -> None:
    appointment_id = booked(client, place, smtp_sink)
    content = pdf()
    caplog.set_level(logging.DEBUG)
    sent = upload(client, place, appointment_id, "Informe Quintanilla.pdf", content)
    assert sent.status_code == 303, sent.text
    [row] = stored(db, appointment_id)
    assert b"SECRET-REPORT-TEXT" not in row.content_sealed
    assert b"Quintanilla" not in row.name_sealed and row.content_type == "application/pdf"
    assert "Informe Quintanilla.pdf" in page_of(client, place, appointment_id).text
    desk = staff(client, tenants, place)
    visit = client.get(f"/api/v1/appointments/{appointment_id}/telemedicine", headers=desk)
    assert visit.status_code == 200, visit.text
    body = visit.json()
    assert body["video_url"] and body["telemedicine"] is True
    assert body["consent"]["required"] is True and body["consent"]["accepted"] is False
    assert [(d["name"], d["size"]) for d in body["documents"]] == [
        ("Informe Quintanilla.pdf", len(content))]
    got = client.get(f"/api/v1/appointments/{appointment_id}/telemedicine/documents/"
                     f"{row.id}", headers=desk)
    assert got.status_code == 200 and got.content == content
    assert got.headers["content-type"] == "application/pdf"
    audits = read(db, select(models.AuditEntry).where(
        models.AuditEntry.organization_id == place.clinic.org_id,
        models.AuditEntry.intent == "telemedicine.document_download"))
    assert [a.target_id for a in audits] == [row.id]
    assert "Quintanilla" not in caplog.text and "SECRET-REPORT" not in caplog.text


def test_a_png_keeps_its_bytes_through_the_form(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        tenants: Tenants) -> None:
    appointment_id = booked(client, place, smtp_sink)
    image = png()
    assert upload(client, place, appointment_id, "photo.png", image).status_code == 303
    [row] = stored(db, appointment_id)
    desk = staff(client, tenants, place)
    got = client.get(f"/api/v1/appointments/{appointment_id}/telemedicine/documents/"
                     f"{row.id}", headers=desk)
    assert got.content == image and row.content_type == "image/png"


@pytest.mark.parametrize(("name", "content", "status", "message"), [
    ("big.pdf", pdf(documents.MAX_BYTES + 1), 413, "larger than 10 MB"),
    ("notes.txt", b"just some text", 400, "PDF, JPEG and PNG files only"),
    ("invoice.pdf", b"MZ\x90\x00 an executable", 400, "PDF, JPEG and PNG files only"),
    ("scan.pdf", png(), 400, "does not match its name"),
    ("empty.pdf", b"", 400, "Choose a file"),
])
def test_bad_uploads_are_refused_clearly_and_store_nothing(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        name: str, content: bytes, status: int, message: str) -> None:
    appointment_id = booked(client, place, smtp_sink)
    answer = upload(client, place, appointment_id, name, content)
    assert answer.status_code == status
    assert message in answer.text
    assert stored(db, appointment_id) == []


def test_the_refusal_is_in_spanish_for_a_spanish_page(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink) -> None:
    appointment_id = booked(client, place, smtp_sink)
    spanish = page_of(client, place, appointment_id, "es")  # sets the language cookie
    answer = upload(client, place, appointment_id, "notes.txt", b"text", token(spanish.text))
    assert "Solo aceptamos archivos PDF, JPEG y PNG" in answer.text


def test_the_eleventh_file_is_refused(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session) -> None:
    appointment_id = booked(client, place, smtp_sink)
    csrf = token(page_of(client, place, appointment_id).text)
    for index in range(documents.MAX_FILES):
        assert upload(client, place, appointment_id, f"p{index}.pdf", pdf(200),
                      csrf).status_code == 303
    eleventh = upload(client, place, appointment_id, "more.pdf", pdf(200), csrf)
    assert eleventh.status_code == 400 and "10 files" in eleventh.text
    assert len(stored(db, appointment_id)) == documents.MAX_FILES


def test_an_upload_without_the_csrf_token_is_refused(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session) -> None:
    appointment_id = booked(client, place, smtp_sink)
    answer = upload(client, place, appointment_id, "r.pdf", pdf(), csrf="forged")
    assert answer.status_code == 403
    assert stored(db, appointment_id) == []


# --------------------------------------------------------------------------- other people


def test_another_patient_cannot_open_or_upload_to_the_visit(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        tm_settings: Settings) -> None:
    other = by_id(db, models.Patient, place.clinic.patient_ids[1])
    assert other is not None
    other.email = "someone.else@patients.example"
    db.commit()
    appointment_id = booked(client, place, smtp_sink)
    client.cookies.clear()
    signed_in(client, place, smtp_sink, "someone.else@patients.example")
    page = page_of(client, place, appointment_id)
    assert page.status_code == 404 and not ROOM_LINK.search(page.text)
    answer = upload(client, place, appointment_id, "r.pdf", pdf(), token(page.text))
    consent = client.post(f"{place.base}/appointments/{appointment_id}/telemedicine/consent",
                          data={"csrf": token(page.text), "form": "x", "agree": "yes"})
    assert answer.status_code == 404 and consent.status_code == 404
    assert stored(db, appointment_id) == []
    assert read(db, select(ConsentAcceptance).where(
        ConsentAcceptance.appointment_id == appointment_id)) == []


def test_another_organizations_staff_get_404(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        tenants: Tenants) -> None:
    appointment_id = booked(client, place, smtp_sink)
    assert upload(client, place, appointment_id, "r.pdf", pdf()).status_code == 303
    [row] = stored(db, appointment_id)
    outsider = sign_in(client, tenants.organization("receptionist"))
    visit = client.get(f"/api/v1/appointments/{appointment_id}/telemedicine",
                       headers=outsider)
    got = client.get(f"/api/v1/appointments/{appointment_id}/telemedicine/documents/"
                     f"{row.id}", headers=outsider)
    assert visit.status_code == 404 and got.status_code == 404
    assert "r.pdf" not in visit.text


def test_documents_do_not_open_with_another_key(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        tm_settings: Settings) -> None:
    appointment_id = booked(client, place, smtp_sink)
    assert upload(client, place, appointment_id, "r.pdf", pdf()).status_code == 303
    [row] = stored(db, appointment_id)
    other = documents.Sealer(b"\x01" * 32)
    with pytest.raises(ValueError, match="document key"):
        documents.opened(db, other, place.clinic.org_id, appointment_id, row.id)
    db.rollback()
    mine = documents.Sealer(tm_settings.document_key_bytes())
    found = documents.opened(db, mine, place.clinic.org_id, appointment_id, row.id)
    db.rollback()
    assert found is not None and found[0].name == "r.pdf"


def test_only_the_upload_form_may_send_a_large_body(
        client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session) -> None:
    appointment_id = booked(client, place, smtp_sink)
    csrf = token(page_of(client, place, appointment_id).text)
    base = f"{place.base}/appointments/{appointment_id}/telemedicine"
    huge = upload(client, place, appointment_id, "huge.pdf", pdf(2 * documents.MAX_BYTES + 1),
                  csrf)
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"
    consent_body = client.post(f"{base}/consent", content=b"csrf=x&agree=" + b"y" * 2_000_000,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert consent_body.status_code == 413
    assert stored(db, appointment_id) == []
