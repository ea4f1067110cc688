"""The patient portal's server side, on SQLite and PostgreSQL: sign-in codes, CSRF, rate
limits, the booking rules as a patient online meets them, other people's appointments,
escaping, the widget's frame-ancestors, and no patient data in URLs or logs."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.app import create_app
from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.portal import signin
from sync_server.portal.models import PortalCode, PortalSession
from tests.support.notify_servers import SmsGateway, SmtpSink
from tests.support.records import by_id
from tests.sync_server.conftest import make_settings, sign_in
from tests.sync_server.portal_setup import (
    CLINIC_PHONE,
    FAMILY,
    GIVEN,
    PortalClinic,
    last_code,
    seed_portal,
)

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def sms_gateway() -> Iterator[SmsGateway]:
    server = SmsGateway().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def portal_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(database_url, tmp_path_factory.mktemp("portal"))


@pytest.fixture(scope="module")
def portal_client(portal_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(portal_settings)) as client:
        yield client


@pytest.fixture
def place(db: Session, portal_settings: Settings, smtp_sink: SmtpSink,
          sms_gateway: SmsGateway, portal_client: TestClient) -> PortalClinic:
    """A fresh organization, a fresh browser (no cookies) and fresh rate limits (every
    request comes from one client address) for each test."""
    portal_client.cookies.clear()
    portal_client.app.state.portal_guard = signin.Guard()
    return seed_portal(db, portal_settings, smtp_sink, sms_gateway)


def token(page: str) -> str:
    found = CSRF.search(page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def signed_in(client: TestClient, place: PortalClinic, smtp: SmtpSink,
              address: str | None = None) -> None:
    address = address or place.email
    page = client.get(f"{place.base}/signin")
    asked = client.post(f"{place.base}/signin", data={"csrf": token(page.text),
                                                      "address": address, "next": ""})
    assert asked.status_code == 200, asked.text
    done = client.post(f"{place.base}/signin/code", data={
        "csrf": token(asked.text), "code": last_code(smtp, address.lower()), "next": ""},
        follow_redirects=False)
    assert done.status_code == 303, done.text


def ask_code(client: TestClient, place: PortalClinic, address: str) -> Any:
    """The sign-in page, then a code asked for ``address``: the answer (the code page)."""
    page = client.get(f"{place.base}/signin")
    return client.post(f"{place.base}/signin", data={"csrf": token(page.text),
                                                      "address": address})


def slot_start(place: PortalClinic, index: int) -> tuple[str, str]:
    provider, start = place.clinic.slot(index)
    return provider, start.isoformat()


def book(client: TestClient, place: PortalClinic, index: int, **extra: str
         ) -> tuple[int, str, str]:
    provider, start = slot_start(place, index)
    query = {"clinic": place.clinic.clinic_id, "type": place.clinic.type_id,
             "provider": provider, "start": start}
    page = client.get(f"{place.base}/book", params=query)
    assert page.status_code == 200, page.text
    answer = client.post(f"{place.base}/book", data={**query, "csrf": token(page.text),
                                                     **extra}, follow_redirects=False)
    return answer.status_code, answer.headers.get("location", ""), answer.text


def read(session: Session, query: Any) -> list[Any]:
    """Rows read and let go at once (on SQLite a test holding a transaction would stall the
    server; detached rows keep their values without reading again)."""
    try:
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows
    finally:
        session.rollback()


def appointments_of(session: Session, patient_id: str) -> list[models.Appointment]:
    return read(session, select(models.Appointment).where(
        models.Appointment.patient_id == patient_id))


def refusals(session: Session, org_id: str, reason: str) -> int:
    try:
        return len(list(session.scalars(select(models.AuditEntry).where(
            models.AuditEntry.organization_id == org_id, models.AuditEntry.reason == reason,
            models.AuditEntry.outcome == "refused"))))
    finally:
        session.rollback()


# --------------------------------------------------------------------------- pages


def test_the_search_page_offers_only_online_bookable_types_and_free_times(
        portal_client: TestClient, place: PortalClinic) -> None:
    page = portal_client.get(f"{place.base}/", params={
        "type": place.clinic.type_id, "clinic": place.clinic.clinic_id,
        "first": place.clinic.first_day.isoformat()})
    assert page.status_code == 200
    assert "Check-up" in page.text and "Surgery" not in page.text
    assert "Next available" in page.text
    assert page.text.count('class="slot"') > 10
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_the_language_follows_the_browser_and_the_switch(
        portal_client: TestClient, place: PortalClinic) -> None:
    spanish = portal_client.get(f"{place.base}/", headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert '<html lang="es">' in spanish.text and "Reservar una cita" in spanish.text
    switched = portal_client.get(f"{place.base}/", params={"lang": "en"},
                                 headers={"Accept-Language": "es"})
    assert '<html lang="en">' in switched.text
    kept = portal_client.get(f"{place.base}/", headers={"Accept-Language": "es"})
    assert '<html lang="en">' in kept.text  # the switch is remembered


# --------------------------------------------------------------------------- sign-in


def test_a_patient_signs_in_with_an_emailed_code_and_books_online(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    signed_in(portal_client, place, smtp_sink)
    status, location, _ = book(portal_client, place, 3)
    assert status == 303 and location.startswith(f"{place.base}/appointments/")
    [booked] = appointments_of(db, place.patient_id)
    assert booked.source == "online" and booked.status == "booked"
    mine = portal_client.get(f"{place.base}/appointments")
    assert f"/appointments/{booked.id}" in mine.text
    cookie = next(c for c in portal_client.cookies.jar if c.name == signin.SESSION_COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly") or cookie._rest.get("HttpOnly") is not None


def test_a_code_sent_by_sms_signs_in_too(portal_client: TestClient, place: PortalClinic,
                                         sms_gateway: SmsGateway) -> None:
    page = portal_client.get(f"{place.base}/signin")
    asked = portal_client.post(f"{place.base}/signin", data={
        "csrf": token(page.text), "address": place.phone})
    assert asked.status_code == 200
    sent = [m for m in sms_gateway.sent if m["To"] == place.phone.replace(" ", "")]
    code = re.search(r"\b(\d{6})\b", sent[-1]["Body"])
    assert code
    done = portal_client.post(f"{place.base}/signin/code", data={
        "csrf": token(asked.text), "code": code.group(1)}, follow_redirects=False)
    assert done.status_code == 303


def test_codes_are_stored_hashed_and_locked_after_five_wrong_tries(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    page = portal_client.get(f"{place.base}/signin")
    asked = portal_client.post(f"{place.base}/signin", data={
        "csrf": token(page.text), "address": place.email})
    code = last_code(smtp_sink, place.email)
    [stored] = read(db, select(PortalCode).where(
        PortalCode.organization_id == place.clinic.org_id))
    assert code not in stored.code_hash and place.email not in stored.address_hash
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(signin.MAX_ATTEMPTS):
        answer = portal_client.post(f"{place.base}/signin/code", data={
            "csrf": token(asked.text), "code": wrong})
        assert answer.status_code == 422
    late = portal_client.post(f"{place.base}/signin/code", data={
        "csrf": token(asked.text), "code": code}, follow_redirects=False)
    assert late.status_code == 422 and "new code" in late.text
    assert portal_client.get(f"{place.base}/appointments",
                             follow_redirects=False).status_code == 303
    assert refusals(db, place.clinic.org_id, "code_locked") == 2  # the 5th try, and the late one


def test_guessing_codes_from_one_client_address_is_limited_and_audited(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    """Brute force: each code dies after 5 wrong tries, and one client address may check
    at most 20 codes per quarter hour, whatever codes it asks for; then 429, even for the
    right code."""
    checks = 0
    while checks < signin.CHECKS_PER_CLIENT:
        asked = ask_code(portal_client, place, f"guess{checks}@patients.example")
        assert asked.status_code == 200
        for _ in range(min(signin.MAX_ATTEMPTS, signin.CHECKS_PER_CLIENT - checks)):
            answer = portal_client.post(f"{place.base}/signin/code", data={
                "csrf": token(asked.text), "code": "000000" if checks % 2 else "999999"})
            assert answer.status_code == 422
            checks += 1
    asked = ask_code(portal_client, place, place.email)
    right = last_code(smtp_sink, place.email)
    limited = portal_client.post(f"{place.base}/signin/code", data={
        "csrf": token(asked.text), "code": right}, follow_redirects=False)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert refusals(db, place.clinic.org_id, "rate_checks") == 1
    assert portal_client.get(f"{place.base}/appointments",
                             follow_redirects=False).status_code == 303


def test_an_expired_code_is_refused_and_audited(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    asked = ask_code(portal_client, place, place.email)
    code = last_code(smtp_sink, place.email)
    [row] = read(db, select(PortalCode).where(
        PortalCode.organization_id == place.clinic.org_id, PortalCode.used_at.is_(None)))
    stored = db.get(PortalCode, row.id)
    assert stored is not None
    stored.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.commit()
    late = portal_client.post(f"{place.base}/signin/code", data={
        "csrf": token(asked.text), "code": code}, follow_redirects=False)
    assert late.status_code == 422 and "expired" in late.text
    assert refusals(db, place.clinic.org_id, "code_expired") == 1
    assert portal_client.get(f"{place.base}/appointments",
                             follow_redirects=False).status_code == 303


def test_asking_too_many_codes_for_one_address_answers_429_with_retry_after(
        portal_client: TestClient, place: PortalClinic, db: Session) -> None:
    answers = []
    for _ in range(signin.CODES_PER_ADDRESS + 1):
        page = portal_client.get(f"{place.base}/signin")
        answers.append(portal_client.post(f"{place.base}/signin", data={
            "csrf": token(page.text), "address": place.email.upper()}))
    assert [a.status_code for a in answers[:-1]] == [200] * signin.CODES_PER_ADDRESS
    assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) > 0
    assert refusals(db, place.clinic.org_id, "rate_address") == 1


def test_one_client_address_asking_codes_for_many_addresses_is_limited(
        portal_client: TestClient, place: PortalClinic) -> None:
    statuses = []
    for n in range(signin.CODES_PER_CLIENT + 1):
        page = portal_client.get(f"{place.base}/signin")
        statuses.append(portal_client.post(f"{place.base}/signin", data={
            "csrf": token(page.text), "address": f"someone{n}@patients.example"}
        ).status_code)
    assert statuses == [200] * signin.CODES_PER_CLIENT + [429]


# --------------------------------------------------------------------------- CSRF


@pytest.mark.parametrize("given", [None, "", "forged-token"])
def test_a_form_without_the_right_csrf_token_is_refused_and_audited(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        given: str | None) -> None:
    signed_in(portal_client, place, smtp_sink)
    provider, start = slot_start(place, 5)
    data = {"clinic": place.clinic.clinic_id, "type": place.clinic.type_id,
            "provider": provider, "start": start}
    if given is not None:
        data["csrf"] = given
    answer = portal_client.post(f"{place.base}/book", data=data)
    assert answer.status_code == 403
    assert appointments_of(db, place.patient_id) == []
    assert refusals(db, place.clinic.org_id, "csrf") == 1


def test_a_csrf_token_from_another_browser_is_refused(
        portal_client: TestClient, place: PortalClinic, portal_settings: Settings) -> None:
    other_browser = token(portal_client.get(f"{place.base}/signin").text)
    portal_client.cookies.clear()
    portal_client.get(f"{place.base}/signin")
    answer = portal_client.post(f"{place.base}/signin", data={
        "csrf": other_browser, "address": place.email})
    assert answer.status_code == 403


# --------------------------------------------------------------------------- booking rules


def test_a_type_that_is_not_online_bookable_is_refused(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    signed_in(portal_client, place, smtp_sink)
    provider, start = slot_start(place, 2)
    page = portal_client.get(f"{place.base}/book", params={
        "clinic": place.clinic.clinic_id, "type": place.offline_type_id,
        "provider": provider, "start": start})
    assert page.status_code == 404 and CLINIC_PHONE in page.text
    assert refusals(db, place.clinic.org_id, "not_online_bookable") == 1


def test_inside_minimum_notice_is_refused_with_the_reason_and_the_phone(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    signed_in(portal_client, place, smtp_sink)
    soon = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    query = {"clinic": place.clinic.clinic_id, "type": place.clinic.type_id,
             "provider": place.clinic.provider_ids[0], "start": soon.isoformat()}
    page = portal_client.get(f"{place.base}/book", params=query)
    answer = portal_client.post(f"{place.base}/book", data={**query, "csrf": token(page.text)})
    assert answer.status_code == 409
    assert "notice" in answer.text.lower() and CLINIC_PHONE in answer.text
    assert appointments_of(db, place.patient_id) == []
    assert refusals(db, place.clinic.org_id, "TOO_SHORT_NOTICE") == 1


def test_a_slot_taken_meanwhile_is_answered_with_other_free_times(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        portal_settings: Settings) -> None:
    signed_in(portal_client, place, smtp_sink)
    provider, start = slot_start(place, 4)
    query = {"clinic": place.clinic.clinic_id, "type": place.clinic.type_id,
             "provider": provider, "start": start}
    page = portal_client.get(f"{place.base}/book", params=query)
    staff = sign_in(portal_client, _desk_user(place))
    taken = portal_client.post("/api/v1/appointments", headers=staff, json={
        "clinic_id": place.clinic.clinic_id, "patient_id": place.clinic.patient_ids[1],
        "appointment_type_id": place.clinic.type_id, "provider_id": provider, "start": start})
    assert taken.status_code == 201, taken.text
    answer = portal_client.post(f"{place.base}/book", data={**query, "csrf": token(page.text)})
    assert answer.status_code == 409
    assert "just taken" in answer.text
    assert answer.text.count('name="start"') >= 3  # the alternatives, each a form
    assert appointments_of(db, place.patient_id) == []
    assert refusals(db, place.clinic.org_id, "PROVIDER_BUSY") == 1


def _desk_user(place: PortalClinic) -> object:
    from tests.sync_server.conftest import OrgUser
    return OrgUser(place.clinic.org_id, place.clinic.org_slug, "", place.clinic.user_email)


def test_a_late_cancellation_is_refused_with_the_clinics_phone(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    signed_in(portal_client, place, smtp_sink)
    book(portal_client, place, 6)
    [booked] = appointments_of(db, place.patient_id)
    booked_row = by_id(db, models.Appointment, booked.id)
    assert booked_row is not None
    # The clinic moved it to tomorrow morning (inside the 24 h cancellation period).
    soon = datetime.now(UTC) + timedelta(hours=20)
    booked_row.start_at, booked_row.end_at = soon, soon + timedelta(minutes=30)
    booked_row.block_start, booked_row.block_end = booked_row.start_at, booked_row.end_at
    db.commit()
    page = portal_client.get(f"{place.base}/appointments/{booked.id}/cancel")
    answer = portal_client.post(f"{place.base}/appointments/{booked.id}/cancel",
                                data={"csrf": token(page.text)})
    assert answer.status_code == 409 and CLINIC_PHONE in answer.text
    assert appointments_of(db, place.patient_id)[0].status == "booked"


def test_reschedule_then_cancel_and_the_reschedule_limit(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    signed_in(portal_client, place, smtp_sink)
    book(portal_client, place, 8)
    [booked] = appointments_of(db, place.patient_id)
    url = f"{place.base}/appointments/{booked.id}/reschedule"
    page = portal_client.get(url, params={"first": place.clinic.first_day.isoformat()})
    provider, start = slot_start(place, 9)
    moved = portal_client.post(url, data={"csrf": token(page.text), "start": start,
                                          "provider": provider}, follow_redirects=False)
    assert moved.status_code == 303
    assert appointments_of(db, place.patient_id)[0].start_at.isoformat() == start
    provider, start = slot_start(place, 10)
    again = portal_client.post(url, data={"csrf": token(page.text), "start": start,
                                          "provider": provider})
    assert again.status_code == 409 and CLINIC_PHONE in again.text  # limit: once
    page = portal_client.get(f"{place.base}/appointments/{booked.id}/cancel")
    gone = portal_client.post(f"{place.base}/appointments/{booked.id}/cancel",
                              data={"csrf": token(page.text)}, follow_redirects=False)
    assert gone.status_code == 303
    assert appointments_of(db, place.patient_id)[0].status == "cancelled"


# --------------------------------------------------------------------------- other people


def test_another_organizations_or_patients_appointment_is_not_found_and_audited(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        portal_settings: Settings, sms_gateway: SmsGateway) -> None:
    other = seed_portal(db, portal_settings, smtp_sink, sms_gateway)
    signed_in(portal_client, other, smtp_sink)
    book(portal_client, other, 1)
    [theirs] = appointments_of(db, other.patient_id)
    portal_client.cookies.clear()
    signed_in(portal_client, place, smtp_sink)
    for path in ("", "/reschedule", "/cancel"):
        answer = portal_client.get(f"{place.base}/appointments/{theirs.id}{path}")
        assert answer.status_code == 404
    page = portal_client.get(f"{place.base}/appointments")
    answer = portal_client.post(f"{place.base}/appointments/{theirs.id}/cancel",
                                data={"csrf": token(page.text)})
    assert answer.status_code == 404
    assert appointments_of(db, other.patient_id)[0].status == "booked"
    assert refusals(db, place.clinic.org_id, "not_own") == 4
    # The other organization's portal does not take this organization's session either.
    assert portal_client.get(f"{other.base}/appointments",
                             follow_redirects=False).status_code == 303


def test_script_in_every_text_field_is_shown_escaped(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    script = '<script>alert("x")</script>'
    address = "new.patient@patients.example"
    signed_in(portal_client, place, smtp_sink, address)
    status, location, _ = book(portal_client, place, 12, given_name=script,
                               family_name=script, note=script)
    assert status == 303
    pages = [portal_client.get(location), portal_client.get(f"{place.base}/appointments"),
             portal_client.get(f"{place.base}/signin", params={"next": script}),
             portal_client.get(f"{place.base}/", params={"first": script, "type": script})]
    for page in pages:
        assert script not in page.text
    [patient] = read(db, select(models.Patient).where(models.Patient.email == address))
    assert patient.given_name == script  # stored as typed, shown escaped
    # The sign-in fields: refused in words (never a 500), shown escaped, nothing stored.
    portal_client.cookies.clear()
    page = portal_client.get(f"{place.base}/signin")
    codes_before = len(read(db, select(PortalCode)))
    typed = portal_client.post(f"{place.base}/signin", data={
        "csrf": token(page.text), "address": script, "next": script})
    assert typed.status_code == 422 and script not in typed.text
    assert len(read(db, select(PortalCode))) == codes_before
    asked = ask_code(portal_client, place, place.email)
    wrong = portal_client.post(f"{place.base}/signin/code", data={
        "csrf": token(asked.text), "code": script, "next": script})
    assert wrong.status_code == 422 and script not in wrong.text


def test_garbage_in_any_portal_url_or_form_is_refused_never_a_500(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    signed_in(portal_client, place, smtp_sink)
    book(portal_client, place, 20)
    [mine] = appointments_of(db, place.patient_id)
    page = portal_client.get(f"{place.base}/appointments")
    csrf = token(page.text)
    provider, start = slot_start(place, 21)
    good = {"clinic": place.clinic.clinic_id, "type": place.clinic.type_id,
            "provider": provider, "start": start}
    gets = [
        ("/", {"first": "2026-13-45", "last": "yesterday", "type": "x", "clinic": "y",
               "provider": "z"}),
        ("/", {"first": "9" * 11}),
        ("/", {"returnUrl": "https://app.example/" + "a" * 2100, "state": "s"}),
        ("/", {"returnUrl": "javascript:alert(1)", "state": "s"}),
        ("/", {"returnUrl": "https://app.example/return", "state": "a\x00b"}),
        ("/book", {**good, "start": "not a time"}),
        ("/book", {**good, "start": "2026-03-09T08:00:00"}),  # no offset
        ("/book", {**good, "provider": "p" * 201}),
        ("/book", {**good, "clinic": "another organization's clinic"}),
        (f"/appointments/{'x' * 5000}", {}),
        (f"/appointments/{mine.id}/reschedule", {"first": "2026-02-30", "last": "-1"}),
        (f"/appointments/{mine.id}", {"done": "<script>"}),
        ("/signin", {"next": "https://evil.example/"}),
    ]
    for path, params in gets:
        answer = portal_client.get(f"{place.base}{path}", params=params)
        assert answer.status_code < 500, (path, params, answer.status_code)
    posts = [
        ("/book", {**good, "start": "not a time", "csrf": csrf}),
        ("/book", {**good, "type": "", "csrf": csrf}),
        (f"/appointments/{mine.id}/reschedule", {"start": "garbage", "provider": provider,
                                                 "csrf": csrf}),
        (f"/appointments/{mine.id}/reschedule", {"start": start, "provider": "nobody",
                                                 "csrf": csrf}),
        ("/signin/code", {"code": "1" * 5000, "csrf": csrf}),
        ("/signin", {"address": "@" * 5000, "csrf": csrf}),
        ("/handoff/return", {"why": "<script>", "csrf": csrf}),
    ]
    for path, data in posts:
        answer = portal_client.post(f"{place.base}{path}", data=data)
        assert answer.status_code < 500, (path, data, answer.status_code)
    raw = portal_client.post(f"{place.base}/book", content=b"\xff\xfe=\x00&csrf=%ZZ",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert raw.status_code == 403
    assert portal_client.get("/portal/no-such-organization/").status_code == 404
    [still] = appointments_of(db, place.patient_id)
    assert still.start_at == mine.start_at and still.status == "booked"


# --------------------------------------------------------------------------- widget


def test_the_widget_is_framed_only_by_the_sites_the_organization_allows(
        portal_client: TestClient, place: PortalClinic, db: Session) -> None:
    embedded = f"{place.base}/?embed=1"
    assert "frame-ancestors 'none'" in portal_client.get(embedded).headers[
        "Content-Security-Policy"]
    admin = sign_in(portal_client, _admin(place, portal_client))
    saved = portal_client.put("/api/v1/portal/settings", headers=admin,
                              json={"widget_sites": ["https://clinic.example"]})
    assert saved.status_code == 200
    refused = portal_client.put("/api/v1/portal/settings", headers=admin,
                                json={"widget_sites": ["https://a.example; script-src *"]})
    assert refused.status_code == 422
    policy = portal_client.get(embedded).headers["Content-Security-Policy"]
    assert "frame-ancestors https://clinic.example" in policy
    # Pages with forms are never framed.
    assert "frame-ancestors 'none'" in portal_client.get(
        f"{place.base}/signin").headers["Content-Security-Policy"]
    script = portal_client.get(f"{place.base}/widget.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert f"{place.base}/?embed=1" in script.text
    # The frame asked for by a page of an allowed site, or of the portal itself: shown.
    for referer in ("https://clinic.example/contact", f"http://testserver{place.base}/"):
        shown = portal_client.get(embedded, headers={"Referer": referer})
        assert shown.status_code == 200 and "Book an appointment" in shown.text
    # Asked for by any other site: refused by the server too (the browser would refuse
    # to show it anyway), audited, nothing stored, never framed.
    before = refusals(db, place.clinic.org_id, "site_not_allowed")
    for referer in ("https://evil.example/page", "http://clinic.example/",
                    "https://clinic.example.evil.example/"):
        other = portal_client.get(embedded, headers={"Referer": referer})
        assert other.status_code == 403, referer
        assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"]
        assert "may not be shown on this website" in other.text
    assert refusals(db, place.clinic.org_id, "site_not_allowed") == before + 3
    assert read(db, select(PortalSession).where(
        PortalSession.organization_id == place.clinic.org_id)) == []


def _admin(place: PortalClinic, client: TestClient) -> object:
    from sync_server.core.security import Passwords, password_hasher
    from sync_server.services import accounts
    from tests.sync_server.conftest import PASSWORD, OrgUser
    settings: Settings = client.app.state.context.settings
    factory = client.app.state.context.sessions
    with factory() as session:
        email = f"admin-{place.clinic.org_slug}@clinic.example"
        user = accounts.create_user(session, Passwords(password_hasher(settings)),
                                    place.clinic.org_id, email, PASSWORD, ["administrator"],
                                    datetime.now(UTC))
        session.commit()
        return OrgUser(place.clinic.org_id, place.clinic.org_slug, user.id, email)


# --------------------------------------------------------------------------- no PHI


def test_no_patient_data_in_urls_or_logs(portal_client: TestClient, place: PortalClinic,
                                         smtp_sink: SmtpSink, caplog: pytest.LogCaptureFixture,
                                         tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    urls: list[str] = []
    portal_client.event_hooks = {"request": [lambda r: urls.append(str(r.url))],
                                 "response": [lambda r: urls.append(
                                     r.headers.get("location", ""))]}
    try:
        signed_in(portal_client, place, smtp_sink)
        book(portal_client, place, 14)
        portal_client.get(f"{place.base}/appointments")
    finally:
        portal_client.event_hooks = {"request": [], "response": []}
    planted = [GIVEN, FAMILY, place.email, place.phone, place.phone.replace(" ", ""),
               html.escape(place.email)]
    # The server's and its libraries' records; not the test's own SMTP server's ("mail.log").
    logs = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records
                     if not r.name.startswith("mail.log"))
    for value in planted:
        assert value not in logs
        assert not any(value.lower() in url.lower() for url in urls)
    assert len(urls) > 8


# --------------------------------------------------------------------------- hand-off (seed 004)

RETURN = "https://app.example/return"


def _client(db: Session, place: PortalClinic) -> None:
    from sync_server.fhir import clients
    clients.register(db, place.clinic.org_id, name="Rides app", return_urls=[RETURN],
                     now=datetime.now(UTC))
    db.commit()


def _deep_link(client: TestClient, place: PortalClinic, state: str,
               return_url: str = RETURN) -> Any:
    return client.get(f"{place.base}/", params={"returnUrl": return_url, "state": state},
                      follow_redirects=False)


def test_a_hand_off_booking_returns_to_the_app_with_state_outcome_and_result_token(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    from urllib.parse import parse_qs, urlsplit
    _client(db, place)
    arrived = _deep_link(portal_client, place, "attempt-1 ünïcode&=")
    assert arrived.status_code == 303 and arrived.headers["location"] == f"{place.base}/"
    assert "Go back without booking" in portal_client.get(f"{place.base}/").text
    signed_in(portal_client, place, smtp_sink)
    status, location, _ = book(portal_client, place, 16)
    assert status == 303 and location.startswith(RETURN + "?")
    answer = parse_qs(urlsplit(location).query)
    [booked] = appointments_of(db, place.patient_id)
    assert answer["state"] == ["attempt-1 ünïcode&="] and answer["outcome"] == ["booked"]
    assert answer["appointmentRef"] == [booked.id] and answer["resultToken"][0]
    for value in (place.email, GIVEN, FAMILY, place.phone):
        assert value not in location
    # The hand-off is over: the next booking stays in the portal.
    status, location, _ = book(portal_client, place, 18)
    assert location.startswith(f"{place.base}/appointments/")


def test_a_foreign_return_url_and_a_reused_state_are_refused(
        portal_client: TestClient, place: PortalClinic, db: Session) -> None:
    _client(db, place)
    foreign = _deep_link(portal_client, place, "s-1", "https://evil.example/return")
    assert foreign.status_code == 400 and "not allowed" in foreign.text
    assert _deep_link(portal_client, place, "s-2").status_code == 303
    reused = _deep_link(portal_client, place, "s-2")
    assert reused.status_code == 400
    assert refusals(db, place.clinic.org_id, "return-url-not-allowed") == 1
    assert refusals(db, place.clinic.org_id, "state-reused") == 1


def test_leaving_a_hand_off_without_booking_returns_cancelled(
        portal_client: TestClient, place: PortalClinic, db: Session) -> None:
    _client(db, place)
    _deep_link(portal_client, place, "s-leave")
    page = portal_client.get(f"{place.base}/")
    back = portal_client.post(f"{place.base}/handoff/return", data={"csrf": token(page.text)},
                              follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"] == f"{RETURN}?state=s-leave&outcome=cancelled"


def test_the_widget_sites_are_records_for_the_desks_administration(
        portal_client: TestClient, place: PortalClinic) -> None:
    admin = sign_in(portal_client, _admin(place, portal_client))
    url = "/api/v1/portal/widget-sites"
    assert portal_client.get(url, headers=admin).json() == []
    made = portal_client.post(url, headers=admin, json={"site": "https://clinic.example/"})
    assert made.status_code == 201 and made.json()["site"] == "https://clinic.example"
    site_id = made.json()["id"]
    changed = portal_client.patch(f"{url}/{site_id}", headers=admin,
                                  json={"site": "https://www.clinic.example"})
    assert changed.status_code == 200
    assert [r["site"] for r in portal_client.get(url, headers=admin).json()] == [
        "https://www.clinic.example"]
    assert portal_client.post(url, headers=admin, json={"site": "javascript:alert(1)"}
                              ).status_code == 422
    assert portal_client.delete(f"{url}/{changed.json()['id']}", headers=admin
                                ).status_code == 204
    assert portal_client.delete(f"{url}/{site_id}", headers=admin).status_code == 404
    desk = sign_in(portal_client, _desk_user(place))  # a receptionist may not
    assert portal_client.get(url, headers=desk).status_code == 403


def test_a_session_past_its_expiry_signs_the_patient_out(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    signed_in(portal_client, place, smtp_sink)
    assert portal_client.get(f"{place.base}/appointments",
                             follow_redirects=False).status_code == 200
    [row] = read(db, select(PortalSession).where(
        PortalSession.organization_id == place.clinic.org_id))
    assert row.expires_at > datetime.now(UTC) + timedelta(
        minutes=signin.SESSION_MINUTES - 5)  # moved on by the last page
    expired = db.get(PortalSession, row.token_hash)
    assert expired is not None
    expired.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.commit()
    answer = portal_client.get(f"{place.base}/appointments", follow_redirects=False)
    assert answer.status_code == 303 and "/signin" in answer.headers["location"]
