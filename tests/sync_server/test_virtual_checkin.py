"""Virtual check-in from the portal (issue 17 item 3), on SQLite and PostgreSQL: the
window around the start, the status change through the booking path (audit, change log),
idempotence, and every refusal audited with nothing stored and no patient data logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.app import create_app
from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.portal import signin
from sync_server.portal.models import PortalSettings
from tests.support.notify_servers import SmtpSink
from tests.support.records import by_id
from tests.sync_server.conftest import Clock, OrgUser, make_settings, sign_in
from tests.sync_server.portal_setup import FAMILY, GIVEN, PortalClinic, seed_portal
from tests.sync_server.test_portal import refusals, signed_in, token


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def portal_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(database_url, tmp_path_factory.mktemp("checkin"))


@pytest.fixture(scope="module")
def module_clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def portal_client(portal_settings: Settings, module_clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(portal_settings, clock=module_clock)) as client:
        yield client


@pytest.fixture
def place(db: Session, portal_settings: Settings, smtp_sink: SmtpSink,
          portal_client: TestClient, module_clock: Clock) -> PortalClinic:
    """A fresh organization whose check-up is a telemedicine visit; the clock 10 minutes
    before the first slot, a fresh browser and fresh rate limits."""
    portal_client.cookies.clear()
    portal_client.app.state.portal_guard = signin.Guard()
    found = telemedicine_clinic(db, portal_settings, smtp_sink)
    module_clock.now = found.clinic.slot(0)[1] - timedelta(minutes=10)
    return found


def telemedicine_clinic(db: Session, settings: Settings, smtp: SmtpSink) -> PortalClinic:
    """The portal's clinic with its check-up a telemedicine visit bookable the same day."""
    found = seed_portal(db, settings, smtp)
    kind = db.get(models.AppointmentType, found.clinic.type_id)
    assert kind is not None
    kind.telemedicine, kind.min_notice_seconds = True, 0
    db.commit()
    return found


def staff_book(client: TestClient, place: PortalClinic, index: int, *,
               patient: str | None = None, type_id: str | None = None) -> str:
    provider, start = place.clinic.slot(index)
    staff = sign_in(client, OrgUser(place.clinic.org_id, place.clinic.org_slug, "",
                                    place.clinic.user_email))
    answer = client.post("/api/v1/appointments", headers=staff, json={
        "clinic_id": place.clinic.clinic_id, "patient_id": patient or place.patient_id,
        "appointment_type_id": type_id or place.clinic.type_id, "provider_id": provider,
        "start": start.isoformat()})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["appointments"][0]["id"])


def row_of(session: Session, appointment_id: str) -> models.Appointment:
    try:
        row = by_id(session, models.Appointment, appointment_id)
        assert row is not None
        session.expunge(row)
        return row
    finally:
        session.rollback()


def check_in(client: TestClient, place: PortalClinic, appointment_id: str,
             **headers: str) -> tuple[int, str, str]:
    page = client.get(f"{place.base}/appointments/{appointment_id}", headers=headers)
    answer = client.post(f"{place.base}/appointments/{appointment_id}/checkin",
                         data={"csrf": token(page.text)}, headers=headers,
                         follow_redirects=False)
    return answer.status_code, answer.headers.get("location", ""), answer.text


# --------------------------------------------------------------------------- the check-in


def test_a_patient_checks_in_within_the_window_as_an_arrival_through_the_booking_path(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        module_clock: Clock) -> None:
    appointment_id = staff_book(portal_client, place, 0)
    signed_in(portal_client, place, smtp_sink)
    page = portal_client.get(f"{place.base}/appointments/{appointment_id}")
    assert "Virtual check-in" in page.text and ">Check in</button>" in page.text
    status, location, _ = check_in(portal_client, place, appointment_id)
    assert status == 303 and location.endswith(f"/appointments/{appointment_id}?done=checked_in")
    row = row_of(db, appointment_id)
    assert row.status == "arrived" and row.virtual_checkin_at == module_clock.now
    assert row.last_status_actor_id == "patient:portal"
    try:
        logged = db.scalars(select(models.ChangeLogEntry).where(
            models.ChangeLogEntry.entity_id == appointment_id).order_by(
            models.ChangeLogEntry.version.desc())).first()
        assert logged is not None and logged.payload is not None
        assert logged.payload["status"] == "arrived"
        assert logged.payload["virtual_checkin_at"] == module_clock.now.isoformat()
        entry = db.scalars(select(models.AuditEntry).where(
            models.AuditEntry.target_id == appointment_id,
            models.AuditEntry.intent == "appointment.change_status:arrived")).one()
        assert entry.outcome == "accepted" and entry.actor_user_id == "patient:portal"
    finally:
        db.rollback()
    shown = portal_client.get(location)
    assert "You are checked in" in shown.text and ">Check in</button>" not in shown.text


def test_checking_in_twice_says_already_checked_in_and_changes_nothing(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    appointment_id = staff_book(portal_client, place, 0)
    signed_in(portal_client, place, smtp_sink)
    check_in(portal_client, place, appointment_id)
    first = row_of(db, appointment_id)
    answer = portal_client.post(f"{place.base}/appointments/{appointment_id}/checkin", data={
        "csrf": token(portal_client.get(f"{place.base}/appointments").text)},
        follow_redirects=True)
    assert answer.status_code == 200 and "already checked in" in answer.text
    again = row_of(db, appointment_id)
    assert (again.version, again.virtual_checkin_at) == (first.version, first.virtual_checkin_at)
    assert refusals(db, place.clinic.org_id, "already_checked_in") == 1


def test_before_the_window_the_page_says_when_check_in_opens_and_a_post_is_refused(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        module_clock: Clock) -> None:
    appointment_id = staff_book(portal_client, place, 0)
    module_clock.now -= timedelta(minutes=50)  # an hour before the start
    signed_in(portal_client, place, smtp_sink)
    page = portal_client.get(f"{place.base}/appointments/{appointment_id}")
    assert "Check-in opens on" in page.text and ">Check in</button>" not in page.text
    status, _, text = check_in(portal_client, place, appointment_id)
    assert status == 409 and "Check-in opens at" in text and "15 minutes" in text
    assert row_of(db, appointment_id).status == "booked"
    assert refusals(db, place.clinic.org_id, "too_early") == 1


def test_after_the_window_check_in_is_closed_in_english_and_spanish(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        module_clock: Clock) -> None:
    appointment_id = staff_book(portal_client, place, 0)
    module_clock.now += timedelta(minutes=26)  # 16 minutes after the start
    signed_in(portal_client, place, smtp_sink)
    page = portal_client.get(f"{place.base}/appointments/{appointment_id}")
    assert "Check-in closed at" in page.text
    status, _, text = check_in(portal_client, place, appointment_id, **{
        "Accept-Language": "es"})
    assert status == 409 and "El registro de llegada se cerró a las" in text
    assert row_of(db, appointment_id).status == "booked"
    assert refusals(db, place.clinic.org_id, "too_late") == 1


def test_the_window_is_the_organizations_setting(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        module_clock: Clock) -> None:
    appointment_id = staff_book(portal_client, place, 0)
    module_clock.now -= timedelta(minutes=20)  # 30 minutes before the start
    db.add(PortalSettings(organization_id=place.clinic.org_id, widget_sites=[],
                          checkin_opens_minutes=45, checkin_closes_minutes=5,
                          updated_at=module_clock.now))
    db.commit()
    signed_in(portal_client, place, smtp_sink)
    status, _, _ = check_in(portal_client, place, appointment_id)
    assert status == 303
    assert row_of(db, appointment_id).status == "arrived"


@pytest.mark.parametrize("case", ["cancelled", "completed", "in_person", "pending"])
def test_check_in_for_a_visit_that_cannot_be_checked_in_is_refused_and_audited(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        case: str) -> None:
    appointment_id = staff_book(portal_client, place, 0)
    row = by_id(db, models.Appointment, appointment_id)
    assert row is not None
    if case == "in_person":
        kind = db.get(models.AppointmentType, place.clinic.type_id)
        assert kind is not None
        kind.telemedicine = False
    else:
        row.status = case
    version = row.version
    db.commit()
    signed_in(portal_client, place, smtp_sink)
    page = portal_client.get(f"{place.base}/appointments/{appointment_id}")
    assert ">Check in</button>" not in page.text
    answer = portal_client.post(f"{place.base}/appointments/{appointment_id}/checkin",
                                data={"csrf": token(page.text)}, follow_redirects=False)
    assert answer.status_code == 409
    expected = {"cancelled": "is cancelled", "completed": "already over",
                "in_person": "in-person visit", "pending": "approval"}[case]
    assert expected in answer.text
    after = row_of(db, appointment_id)
    assert after.version == version and after.virtual_checkin_at is None
    reason = {"cancelled": "cancelled", "completed": "finished",
              "in_person": "not_telemedicine", "pending": "not_approved"}[case]
    try:
        assert db.scalars(select(models.AuditEntry).where(
            models.AuditEntry.organization_id == place.clinic.org_id,
            models.AuditEntry.target_id == appointment_id,
            models.AuditEntry.outcome == "refused",
            models.AuditEntry.reason.contains(reason))).first() is not None
    finally:
        db.rollback()


def test_another_patients_or_organizations_appointment_is_not_found_and_audited(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink, db: Session,
        portal_settings: Settings) -> None:
    theirs = staff_book(portal_client, place, 0, patient=place.clinic.patient_ids[1])
    other = telemedicine_clinic(db, portal_settings, smtp_sink)
    foreign = staff_book(portal_client, other, 1, patient=other.patient_id)
    signed_in(portal_client, place, smtp_sink)
    csrf = token(portal_client.get(f"{place.base}/appointments").text)
    for appointment_id in (theirs, foreign, "no-such-id"):
        answer = portal_client.post(f"{place.base}/appointments/{appointment_id}/checkin",
                                    data={"csrf": csrf}, follow_redirects=False)
        assert answer.status_code == 404 and "could not find" in answer.text
    assert row_of(db, theirs).status == "booked" and row_of(db, foreign).status == "booked"
    assert refusals(db, place.clinic.org_id, "not_own") == 3


def test_a_post_without_the_forms_token_stores_nothing(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        db: Session) -> None:
    appointment_id = staff_book(portal_client, place, 0)
    signed_in(portal_client, place, smtp_sink)
    answer = portal_client.post(f"{place.base}/appointments/{appointment_id}/checkin",
                                data={"csrf": "forged"}, follow_redirects=False)
    assert answer.status_code == 403
    assert row_of(db, appointment_id).status == "booked"
    assert refusals(db, place.clinic.org_id, "csrf") == 1


def test_no_patient_data_reaches_the_logs_or_the_urls(
        portal_client: TestClient, place: PortalClinic, smtp_sink: SmtpSink,
        caplog: pytest.LogCaptureFixture) -> None:
    appointment_id = staff_book(portal_client, place, 0)
    signed_in(portal_client, place, smtp_sink)  # (the test's mail sink logs addresses)
    caplog.set_level(logging.DEBUG)
    _, location, _ = check_in(portal_client, place, appointment_id)
    check_in(portal_client, place, appointment_id)
    for text in (caplog.text, location):
        for secret in (GIVEN, FAMILY, place.email):
            assert secret not in text
