"""The telemedicine session log and the provider no-join path: joins, leaves and problems
are recorded (desk REST and portal join page); the statistics count no-joins; a visit
whose patient joined and whose provider did not is detected exactly once by two workers,
offered a free backup provider (dry run of the move path) and new times through the
outbox and the portal, and raises a staff alert; the patient's choice moves the visit
through the booking path with 0 overlaps under a concurrent desk booking of the backup
provider; a backup who became busy gives the next alternatives. Bad input: before and
long after the window, someone else's or another organization's visit, twice, cancelled
and in-person visits — SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.commands import BookAppointment, ChangeStatus
from scheduling.model import AppointmentStatus
from sync_server.core.config import Settings
from sync_server.db import models as db_models
from sync_server.notifications.models import Notification, NotificationException
from sync_server.portal import service as portal_service
from sync_server.services import audit, booking
from sync_server.telemedicine import no_join, sessions
from sync_server.telemedicine.session_tables import NoJoinCase, SessionEvent
from tests.support.notify_servers import SmsGateway, SmtpSink
from tests.support.records import by_id, video_url_of
from tests.sync_server.booking_setup import active_overlaps
from tests.sync_server.conftest import Clock, Tenants, sign_in
from tests.sync_server.notify_setup import STAFF, NotifyClinic, notify_clinic
from tests.sync_server.portal_setup import last_code

#: Monday 2 March 2026; the visit is at 10:00 in Madrid (09:00 UTC).
DAY = date(2026, 3, 2)


@pytest.fixture
def clinic(database_url: str, settings: Settings, smtp: SmtpSink, gateway: SmsGateway,
           clock: Clock) -> NotifyClinic:
    place = notify_clinic(database_url, settings, smtp, gateway, clock.now)
    with place.sessions() as session:
        kind = session.get(db_models.AppointmentType, place.clinic.type_id)
        assert kind is not None
        kind.telemedicine, kind.min_notice_seconds = True, 0
        session.commit()
    return place


def visit_at(clinic: NotifyClinic, clock: Clock, hour: int = 10, patient: int = 0,
             provider: int = 0) -> str:
    return clinic.book(clinic.local(DAY, hour), clock.now, patient=patient, provider=provider)


def patient_joins(clinic: NotifyClinic, appointment_id: str, at: datetime) -> None:
    with clinic.sessions() as session:
        visit = sessions.visit_of(session, clinic.org_id, appointment_id)
        sessions.record(session, visit, "patient", "join", at)
        session.commit()


def case_of(clinic: NotifyClinic, appointment_id: str) -> NoJoinCase | None:
    with clinic.sessions() as session:
        found = no_join.case_of(session, appointment_id)
        if found is not None:
            session.expunge(found)
        return found


def run_worker(clinic: NotifyClinic, clock: Clock) -> int:
    worker = clinic.worker(clock)
    try:
        return worker.run_once()
    finally:
        worker.close()


def desk_headers(client: TestClient, clinic: NotifyClinic, tenants: Tenants,
                 role: str = "administrator") -> dict[str, str]:
    return sign_in(client, tenants.user(clinic.org_id, clinic.clinic.org_slug, role))


# --------------------------------------------------------------------------- session log


def test_the_provider_joins_and_leaves_from_the_desk_and_the_log_lists_it(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, clock: Clock) -> None:
    appointment_id = visit_at(clinic, clock)
    clock.now = clinic.local(DAY, 9, 55)
    headers = desk_headers(client, clinic, tenants)
    joined = client.post(f"/api/v1/appointments/{appointment_id}/telemedicine/join",
                         headers=headers)
    assert joined.status_code == 200, joined.text
    with clinic.sessions() as session:
        assert joined.json()["video_url"] == video_url_of(session, appointment_id)
    again = client.post(f"/api/v1/appointments/{appointment_id}/telemedicine/join",
                        headers=headers)
    assert [e["action"] for e in again.json()["events"]] == ["join"]  # twice: once
    clock.now = clinic.local(DAY, 10, 25)
    headers = desk_headers(client, clinic, tenants)
    left = client.post(f"/api/v1/appointments/{appointment_id}/telemedicine/leave",
                       headers=headers)
    assert left.status_code == 200
    log = client.get(f"/api/v1/appointments/{appointment_id}/telemedicine/sessions",
                     headers=headers).json()
    assert [(e["role"], e["action"]) for e in log["events"]] == [
        ("provider", "join"), ("provider", "leave")]
    assert log["events"][0]["at"] == clinic.local(DAY, 9, 55).isoformat().replace(
        "+00:00", "Z")
    assert log["no_join"] is None
    left_again = client.post(f"/api/v1/appointments/{appointment_id}/telemedicine/leave",
                             headers=headers)
    assert left_again.status_code == 409 and left_again.json()["error"]["code"] == "not_joined"


def test_joining_before_or_long_after_the_window_or_a_cancelled_visit_is_refused(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, clock: Clock) -> None:
    appointment_id = visit_at(clinic, clock)
    headers = desk_headers(client, clinic, tenants)
    url = f"/api/v1/appointments/{appointment_id}/telemedicine/join"
    for hour, minute, code in ((9, 44, "too_early"), (11, 1, "too_late")):
        clock.now = clinic.local(DAY, hour, minute)
        headers = desk_headers(client, clinic, tenants)
        assert client.post(url, headers=headers).json()["error"]["code"] == code
    clock.now = clinic.local(DAY, 9, 0)
    clinic.cancel(appointment_id, clock.now)
    clock.now = clinic.local(DAY, 10, 0)
    headers = desk_headers(client, clinic, tenants)
    assert client.post(url, headers=headers).json()["error"]["code"] == "not_taking_place"
    with clinic.sessions() as session:
        assert session.scalar(select(SessionEvent.id).where(
            SessionEvent.appointment_id == appointment_id)) is None


def test_in_person_visits_and_other_organizations_ids_are_refused(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, clock: Clock,
        database_url: str, settings: Settings, smtp: SmtpSink, gateway: SmsGateway) -> None:
    other = notify_clinic(database_url, settings, smtp, gateway, clock.now)
    theirs = other.book(other.local(DAY, 10), clock.now)  # in person (type not telemedicine)
    clock.now = clinic.local(DAY, 10)
    headers = desk_headers(client, clinic, tenants)
    answer = client.post(f"/api/v1/appointments/{theirs}/telemedicine/join", headers=headers)
    assert answer.status_code == 404
    assert client.get(f"/api/v1/appointments/{theirs}/telemedicine/sessions",
                      headers=headers).status_code == 404
    own_headers = desk_headers(client, other, tenants)
    in_person = client.post(f"/api/v1/appointments/{theirs}/telemedicine/join",
                            headers=own_headers)
    assert in_person.status_code == 409 and in_person.json()["error"]["code"] == "not_telemedicine"
    nul = client.post(f"/api/v1/appointments/{'x' * 65}/telemedicine/join", headers=headers)
    assert nul.status_code == 422


def test_a_problem_is_kept_bounded_and_never_logged(
        clinic: NotifyClinic, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    appointment_id = visit_at(clinic, clock)
    secret = "Zoraida cannot hear"
    with clinic.sessions() as session:
        visit = sessions.visit_of(session, clinic.org_id, appointment_id)
        at = clinic.local(DAY, 10, 2)
        with pytest.raises(sessions.SessionError) as unknown:
            sessions.record(session, visit, "patient", "problem", at, problem="boom")
        assert unknown.value.code == "unknown_problem"
        with pytest.raises(sessions.SessionError) as long:
            sessions.record(session, visit, "patient", "problem", at, problem="no_sound",
                            problem_text="x" * 301)
        assert long.value.code == "problem_too_long"
        sessions.record(session, visit, "patient", "problem", at, problem="no_sound",
                        problem_text=f"  {secret}\x00 ")
        session.commit()
        kept = sessions.events(session, clinic.org_id, appointment_id)
    assert kept == [{"role": "patient", "action": "problem", "at": kept[0]["at"],
                     "problem": "no_sound", "problem_text": secret, "user_id": None}]
    assert secret not in caplog.text


def test_statistics_count_no_joins_per_provider_and_overall(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, clock: Clock) -> None:
    both = visit_at(clinic, clock, 10, patient=0, provider=0)
    only_patient = visit_at(clinic, clock, 11, patient=1, provider=0)
    nobody = visit_at(clinic, clock, 10, patient=2, provider=1)
    visit_at(clinic, clock, 16, patient=3, provider=1)  # still ahead: not counted
    clock.now = clinic.local(DAY, 10, 1)
    headers = desk_headers(client, clinic, tenants)
    assert client.post(f"/api/v1/appointments/{both}/telemedicine/join",
                       headers=headers).status_code == 200
    patient_joins(clinic, both, clock.now)
    clock.now = clinic.local(DAY, 11, 1)
    patient_joins(clinic, only_patient, clock.now)
    clock.now = clinic.local(DAY, 12)
    headers = desk_headers(client, clinic, tenants)
    answer = client.get("/api/v1/telemedicine/statistics", headers=headers, params={
        "since": clinic.local(DAY, 0).isoformat(),
        "until": clinic.local(DAY + timedelta(days=1), 0).isoformat()})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["overall"] == {"visits": 3, "provider_no_join": 2, "patient_no_join": 1,
                                "provider_no_join_rate": 0.6667,
                                "patient_no_join_rate": 0.3333}
    per = {p["provider_id"]: p for p in found["providers"]}
    assert per[clinic.clinic.provider_ids[0]]["provider_no_join"] == 1
    assert per[clinic.clinic.provider_ids[1]]["patient_no_join"] == 1
    assert nobody
    backwards = client.get("/api/v1/telemedicine/statistics", headers=headers, params={
        "since": clinic.local(DAY, 12).isoformat(), "until": clinic.local(DAY, 0).isoformat()})
    assert backwards.status_code == 422


# --------------------------------------------------------------------------- no-join


def test_two_workers_detect_a_provider_no_join_exactly_once_and_offer_a_backup(
        clinic: NotifyClinic, clock: Clock, smtp: SmtpSink) -> None:
    appointment_id = visit_at(clinic, clock)
    patient_joins(clinic, appointment_id, clinic.local(DAY, 10, 1))
    clock.now = clinic.local(DAY, 10, 4)
    run_worker(clinic, clock)
    assert case_of(clinic, appointment_id) is None  # 4 minutes: not yet
    clock.now = clinic.local(DAY, 10, 6)
    barrier = threading.Barrier(2)
    handled: list[int] = []

    def work() -> None:
        barrier.wait(timeout=30)
        handled.append(run_worker(clinic, clock))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(handled) == 2  # both workers ran to the end
    case = case_of(clinic, appointment_id)
    assert case is not None and case.state == "offered"
    assert case.backup_provider_id == clinic.clinic.provider_ids[1]
    assert case.slots and all(s["start"] > clock.now.isoformat() for s in case.slots)
    with clinic.sessions() as session:
        alerts = list(session.scalars(select(NotificationException).where(
            NotificationException.appointment_id == appointment_id)))
        assert [(a.kind, a.reason) for a in alerts] == [("provider-nojoin",
                                                         "provider_not_joined")]
        offers = list(session.scalars(select(Notification).where(
            Notification.appointment_id == appointment_id,
            Notification.kind == "nojoin-offer")))
        assert len(offers) == 1
    run_worker(clinic, clock)  # sends it
    sent = [m for m in smtp.messages() if "patient0@example.org" in m.recipients]
    body = sent[-1].message.get_body(("plain",)).get_content()
    assert "has not joined your video visit" in body
    assert re.search(r"http://testserver/portal/[^/]+/video/\S+\?lang=en", body)


def test_a_worker_that_died_after_claiming_is_taken_over_when_its_lease_runs_out(
        clinic: NotifyClinic, clock: Clock) -> None:
    appointment_id = visit_at(clinic, clock)
    patient_joins(clinic, appointment_id, clinic.local(DAY, 10, 1))
    clock.now = clinic.local(DAY, 10, 6)
    claimed = no_join.claim(clinic.sessions, clock.now, "dead-worker", clinic.org_id)
    assert len(claimed) == 1  # ... and it dies before making the offer
    run_worker(clinic, clock)
    case = case_of(clinic, appointment_id)
    assert case is not None and (case.state, case.lease_owner) == ("claimed", "dead-worker")
    clock.now += no_join.LEASE + timedelta(seconds=1)
    run_worker(clinic, clock)
    case = case_of(clinic, appointment_id)
    assert case is not None and case.state == "offered" and case.lease_owner is None
    with clinic.sessions() as session:
        assert len(list(session.scalars(select(NotificationException).where(
            NotificationException.appointment_id == appointment_id)))) == 1


def test_a_spanish_speaking_patient_gets_the_offer_by_sms_in_spanish(
        clinic: NotifyClinic, clock: Clock, gateway: SmsGateway) -> None:
    clinic.patient(0, preferred_language="es", contact_preference="sms")
    offered(clinic, clock)
    run_worker(clinic, clock)
    [text] = [m["Body"] for m in gateway.sent if m["To"] == "+34600000000"]
    assert "no se ha conectado a su videoconsulta" in text
    assert re.search(r"/portal/[^/]+/video/\S+\?lang=es", text)


def test_no_offer_when_the_provider_joined_or_the_patient_did_not(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, clock: Clock) -> None:
    provider_came = visit_at(clinic, clock, 10, patient=0)
    patient_absent = visit_at(clinic, clock, 10, patient=1, provider=1)
    clock.now = clinic.local(DAY, 10, 1)
    headers = desk_headers(client, clinic, tenants)
    patient_joins(clinic, provider_came, clock.now)
    client.post(f"/api/v1/appointments/{provider_came}/telemedicine/join", headers=headers)
    clock.now = clinic.local(DAY, 10, 10)
    run_worker(clinic, clock)
    assert case_of(clinic, provider_came) is None and case_of(clinic, patient_absent) is None


def offered(clinic: NotifyClinic, clock: Clock, day: date = DAY) -> str:
    """A visit at 10:00 on ``day`` whose patient joined and whose provider did not, with
    its offer made (the clock at 10:06)."""
    appointment_id = clinic.book(clinic.local(day, 10), clock.now)
    patient_joins(clinic, appointment_id, clinic.local(day, 10, 1))
    clock.now = clinic.local(day, 10, 6)
    run_worker(clinic, clock)
    case = case_of(clinic, appointment_id)
    assert case is not None and case.state == "offered"
    return appointment_id


def desk_book(clinic: NotifyClinic, start: datetime, now: datetime, patient: int,
              provider: int) -> bool:
    with clinic.sessions() as session:
        result = booking.book(session, booking.Caller(clinic.org_id, STAFF, audit.Actor(None)),
                              BookAppointment(STAFF, str(uuid.uuid4()), clinic.clinic.clinic_id,
                                              clinic.clinic.patient_ids[patient],
                                              clinic.clinic.type_id,
                                              clinic.clinic.provider_ids[provider], start), now)
        session.commit()
        return result.refused is None


def race(clinic: NotifyClinic, clock: Clock, appointment_id: str) -> tuple[str, bool]:
    """The patient takes the backup provider while a desk books that provider at the same
    minute for another patient, both released by one barrier."""
    start = no_join.next_minute(clock.now)
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def patient_chooses() -> None:
        barrier.wait(timeout=30)
        with clinic.sessions() as session:
            results["choice"] = no_join.choose(session, clinic.org_id, appointment_id,
                                               "backup", clock.now).outcome

    def desk_books() -> None:
        barrier.wait(timeout=30)
        results["desk"] = desk_book(clinic, start, clock.now, patient=3, provider=1)

    threads = [threading.Thread(target=patient_chooses), threading.Thread(target=desk_books)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results["choice"], results["desk"]


def test_the_backup_choice_and_a_concurrent_desk_booking_never_overlap(
        clinic: NotifyClinic, clock: Clock, db: Session) -> None:
    for round_ in range(4):  # Monday to Thursday, one race a day
        appointment_id = offered(clinic, clock, DAY + timedelta(days=round_))
        choice, desk = race(clinic, clock, appointment_id)
        assert active_overlaps(db) == 0
        db.rollback()
        assert (choice, desk) in (("moved", False), ("busy", True))
        with clinic.sessions() as session:
            row = by_id(session, db_models.Appointment, appointment_id)
            assert row is not None
            moved = row.provider_id == clinic.clinic.provider_ids[1]
        assert moved == (choice == "moved")
        case = case_of(clinic, appointment_id)
        assert case is not None
        assert case.state == ("moved" if moved else "offered")


def test_a_backup_who_became_busy_gives_the_next_alternatives_and_nothing_changes(
        clinic: NotifyClinic, clock: Clock) -> None:
    appointment_id = offered(clinic, clock)
    assert desk_book(clinic, no_join.next_minute(clock.now), clock.now, patient=3, provider=1)
    with clinic.sessions() as session:
        chosen = no_join.choose(session, clinic.org_id, appointment_id, "backup", clock.now)
    assert chosen.outcome == "busy" and chosen.offer is not None
    assert chosen.offer.backup_provider_id is None  # nobody else is free now
    assert chosen.offer.slots
    with clinic.sessions() as session:
        row = by_id(session, db_models.Appointment, appointment_id)
        assert row is not None and row.provider_id == clinic.clinic.provider_ids[0]
        assert row.start_at == clinic.local(DAY, 10)
    slot = chosen.offer.slots[0]
    with clinic.sessions() as session:
        wrong = no_join.choose(session, clinic.org_id, appointment_id, "slot", clock.now,
                               clinic.local(DAY, 15, 17), slot["provider_id"])
        assert wrong.outcome == "invalid"
        done = no_join.choose(session, clinic.org_id, appointment_id, "slot", clock.now,
                              datetime.fromisoformat(slot["start"]), slot["provider_id"])
        assert done.outcome == "rebooked"
        twice = no_join.choose(session, clinic.org_id, appointment_id, "backup", clock.now)
        assert twice.outcome == "used"
        row = by_id(session, db_models.Appointment, appointment_id)
        assert row is not None and row.start_at == datetime.fromisoformat(slot["start"])
        alert = session.scalar(select(NotificationException).where(
            NotificationException.appointment_id == appointment_id))
        assert alert is not None and alert.reason == "patient_rebooked"
        other_org = no_join.choose(session, str(uuid.uuid4()), appointment_id, "backup",
                                   clock.now)
        assert other_org.outcome == "invalid"


def test_a_patient_checked_in_online_is_handed_to_the_backup_and_stays_arrived(
        clinic: NotifyClinic, clock: Clock) -> None:
    """Checked in from the portal (arrived, virtual), then the provider does not join: the
    backup provider takes the waiting patient; a new time is left to the front desk."""
    appointment_id = clinic.book(clinic.local(DAY, 10), clock.now)
    clock.now = clinic.local(DAY, 9, 55)
    with clinic.sessions() as session:
        caller = portal_service.caller(clinic.org_id)
        checked = booking.change(session, caller, ChangeStatus(
            caller.actor, appointment_id, AppointmentStatus.ARRIVED, "checked in online",
            virtual=True), clock.now)
        assert checked.refused is None, checked.refused
        session.commit()
    patient_joins(clinic, appointment_id, clinic.local(DAY, 10, 1))
    clock.now = clinic.local(DAY, 10, 6)
    run_worker(clinic, clock)
    case = case_of(clinic, appointment_id)
    assert case is not None and case.state == "offered"
    assert case.backup_provider_id == clinic.clinic.provider_ids[1]
    assert case.slots == []  # a checked-in visit gets a new time from the front desk
    with clinic.sessions() as session:
        later = no_join.choose(session, clinic.org_id, appointment_id, "slot", clock.now,
                               clinic.local(DAY, 15), clinic.clinic.provider_ids[0])
        assert later.outcome == "invalid"
        chosen = no_join.choose(session, clinic.org_id, appointment_id, "backup", clock.now)
        assert chosen.outcome == "moved"
        row = by_id(session, db_models.Appointment, appointment_id)
        assert row is not None
        assert row.provider_id == clinic.clinic.provider_ids[1]
        assert row.status == AppointmentStatus.ARRIVED.value
        assert row.virtual_checkin_at is not None
        assert row.start_at == no_join.next_minute(clock.now)


def test_the_no_join_minutes_are_an_administrators_setting_beside_the_video_link(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants) -> None:
    admin = desk_headers(client, clinic, tenants)
    path = "/api/v1/telemedicine/no-join-settings"
    assert client.get(path, headers=admin).json() == {
        "no_join_minutes": no_join.DEFAULT_NO_JOIN_MINUTES}
    assert client.put(path, headers=admin, json={"no_join_minutes": 10}).status_code == 200
    assert client.get(path, headers=admin).json() == {"no_join_minutes": 10}
    assert client.put(path, headers=admin, json={"no_join_minutes": 61}).status_code == 422
    viewer = desk_headers(client, clinic, tenants, role="viewer")
    assert client.put(path, headers=viewer, json={"no_join_minutes": 3}).status_code == 403
    # The video link's settings keep their own path and body.
    video = client.get("/api/v1/telemedicine/settings", headers=admin)
    assert video.status_code == 200 and "no_join_minutes" not in video.json()
    with clinic.sessions() as session:
        assert no_join.no_join_minutes(session, clinic.org_id) == 10


def test_a_provider_who_joins_late_closes_the_offer(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, clock: Clock) -> None:
    appointment_id = offered(clinic, clock)
    headers = desk_headers(client, clinic, tenants)
    log = client.post(f"/api/v1/appointments/{appointment_id}/telemedicine/join",
                      headers=headers).json()
    assert log["no_join"]["state"] == "closed"
    with clinic.sessions() as session:
        chosen = no_join.choose(session, clinic.org_id, appointment_id, "backup", clock.now)
    assert chosen.outcome == "closed"


# --------------------------------------------------------------------------- portal


def portal_sign_in(client: TestClient, clinic: NotifyClinic, smtp: SmtpSink) -> str:
    base = f"/portal/{clinic.clinic.org_slug}"
    page = client.get(f"{base}/signin")
    asked = client.post(f"{base}/signin", data={"csrf": csrf(page.text),
                                                "address": "patient0@example.org", "next": ""})
    assert asked.status_code == 200, asked.text
    done = client.post(f"{base}/signin/code", data={
        "csrf": csrf(asked.text), "code": last_code(smtp, "patient0@example.org"), "next": ""},
        follow_redirects=False)
    assert done.status_code == 303, done.text
    return base


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_the_join_page_records_join_leave_and_problem_and_shows_the_offer(
        clinic: NotifyClinic, client: TestClient, clock: Clock, smtp: SmtpSink) -> None:
    appointment_id = visit_at(clinic, clock)
    other_patients = visit_at(clinic, clock, 11, patient=1)
    clock.now = clinic.local(DAY, 9, 40)
    base = portal_sign_in(client, clinic, smtp)
    page = client.get(f"{base}/appointments/{appointment_id}")
    assert "/video" in page.text  # the appointment page leads to the join page
    early = client.get(f"{base}/appointments/{appointment_id}/video")
    assert early.status_code == 200 and "opens 15 minutes before" in early.text
    assert client.get(f"{base}/appointments/{other_patients}/video").status_code == 404
    clock.now = clinic.local(DAY, 10, 1)
    page = client.get(f"{base}/appointments/{appointment_id}/video")
    joined = client.post(f"{base}/appointments/{appointment_id}/video/join",
                         data={"csrf": csrf(page.text)}, follow_redirects=False)
    with clinic.sessions() as session:
        link = video_url_of(session, appointment_id)
    if link is None:
        assert joined.status_code == 409 and "not ready" in joined.text
        patient_joins(clinic, appointment_id, clock.now)
    else:
        assert joined.status_code == 303 and joined.headers["location"] == link
    clock.now = clinic.local(DAY, 10, 2)
    reported = client.post(f"{base}/appointments/{appointment_id}/video/problem", data={
        "csrf": csrf(page.text), "problem": "no_video", "details": "frozen"},
        follow_redirects=False)
    assert reported.status_code == 303
    clock.now = clinic.local(DAY, 10, 6)
    run_worker(clinic, clock)
    shown = client.get(f"{base}/appointments/{appointment_id}/video")
    assert "Your provider has not joined" in shown.text
    moved = client.post(f"{base}/appointments/{appointment_id}/video/choice", data={
        "csrf": csrf(shown.text), "choice": "backup"}, follow_redirects=False)
    assert moved.status_code == 303, moved.text
    with clinic.sessions() as session:
        row = by_id(session, db_models.Appointment, appointment_id)
        assert row is not None and row.provider_id == clinic.clinic.provider_ids[1]
    left = client.post(f"{base}/appointments/{appointment_id}/video/leave",
                       data={"csrf": csrf(shown.text)}, follow_redirects=False)
    assert left.status_code == 303
    with clinic.sessions() as session:
        assert [e["action"] for e in sessions.events(
            session, clinic.org_id, appointment_id)] == [
            "join", "problem", "leave"]


def test_the_signed_link_shows_the_offer_and_a_bad_link_is_refused(
        clinic: NotifyClinic, client: TestClient, clock: Clock, smtp: SmtpSink) -> None:
    appointment_id = offered(clinic, clock)
    run_worker(clinic, clock)
    body = [m for m in smtp.messages() if "patient0@example.org" in m.recipients][-1] \
        .message.get_body(("plain",)).get_content()
    found = re.search(r"http://testserver(/portal/\S+)", body)
    assert found
    page = client.get(found.group(1))
    assert page.status_code == 200 and "Your provider has not joined" in page.text
    forged = found.group(1).rsplit("/", 1)[0] + "/AAAA.BBBB"
    assert client.get(forged).status_code == 404
    chosen = client.post(found.group(1).split("?")[0], data={"csrf": csrf(page.text),
                                                            "choice": "backup"})
    assert chosen.status_code == 200 and "will see you now" in chosen.text
    assert case_of(clinic, appointment_id).state == "moved"  # type: ignore[union-attr]
    clock.now += timedelta(hours=25)
    assert client.get(found.group(1)).status_code == 404  # expired


def test_the_join_page_refuses_bad_problem_reports_and_cancelled_visits(
        clinic: NotifyClinic, client: TestClient, clock: Clock, smtp: SmtpSink) -> None:
    appointment_id = visit_at(clinic, clock)
    clock.now = clinic.local(DAY, 10, 1)
    base = portal_sign_in(client, clinic, smtp)
    page = client.get(f"{base}/appointments/{appointment_id}/video")
    url = f"{base}/appointments/{appointment_id}/video/problem"
    too_long = client.post(url, data={"csrf": csrf(page.text), "problem": "other",
                                      "details": "x" * 301})
    assert too_long.status_code == 422 and "fewer words" in too_long.text
    unknown = client.post(url, data={"csrf": csrf(page.text), "problem": "boom"})
    assert unknown.status_code == 409 and "choose what went wrong" in unknown.text
    forged = client.post(url, data={"csrf": "forged", "problem": "other"})
    assert forged.status_code == 403
    kept = client.post(url, data={"csrf": csrf(page.text), "problem": "other",
                                  "details": "a\x00b"}, follow_redirects=False)
    assert kept.status_code == 303
    clinic.cancel(appointment_id, clock.now)
    cancelled = client.get(f"{base}/appointments/{appointment_id}/video")
    assert "This visit is cancelled" in cancelled.text
    assert "/video/join" not in cancelled.text
    with clinic.sessions() as session:
        assert [(e["problem"], e["problem_text"]) for e in sessions.events(
            session, clinic.org_id, appointment_id)] == [("other", "ab")]
