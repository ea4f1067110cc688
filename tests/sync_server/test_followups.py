"""Follow-ups and recalls: opened by completing a visit (the event handler in the booking's
transaction), satisfied by a matching booking, overdue on the clinic's local day (across a
DST change), counted, and invited through the notifications outbox — SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from scheduling.commands import ChangeStatus, UndoStatus
from scheduling.followups import Window, add_months, windows_after
from scheduling.model import AppointmentStatus
from sync_server.core.config import Settings
from sync_server.db import models as db
from sync_server.followups.models import FollowUp
from sync_server.services import audit, booking
from tests.support.notify_servers import SmsGateway, SmtpSink
from tests.sync_server.conftest import START, Clock, OrgUser, Tenants, sign_in
from tests.sync_server.notify_setup import STAFF, NotifyClinic, notify_clinic
from tests.sync_server.test_notifications import drain

#: A Monday; the clinic's 20-day follow-up window then ends on 2026-03-29, the day Madrid
#: moves its clocks forward (a 23-hour local day).
VISIT_DAY = date(2026, 3, 9)
STATUS_STAFF = STAFF.__class__(STAFF.user_id, None, STAFF.permissions | {"booking:undo"})


@pytest.fixture
def clinic(database_url: str, settings: Settings, smtp: SmtpSink,
           gateway: SmsGateway) -> NotifyClinic:
    return notify_clinic(database_url, settings, smtp, gateway, START)


def set_type(clinic: NotifyClinic, **values: Any) -> None:
    with clinic.sessions() as session:
        row = session.get(db.AppointmentType, clinic.clinic.type_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        session.commit()


def set_status(clinic: NotifyClinic, appointment_id: str, status: AppointmentStatus,
               now: datetime) -> None:
    caller = booking.Caller(clinic.org_id, STATUS_STAFF, audit.Actor(None, None))
    with clinic.sessions() as session:
        result = booking.change(session, caller,
                                ChangeStatus(STATUS_STAFF, appointment_id, status), now)
        assert result.refused is None, result.refused
        session.commit()


def undo_status(clinic: NotifyClinic, appointment_id: str, now: datetime) -> None:
    caller = booking.Caller(clinic.org_id, STATUS_STAFF, audit.Actor(None, None))
    with clinic.sessions() as session:
        result = booking.change(session, caller, UndoStatus(STATUS_STAFF, appointment_id), now)
        assert result.refused is None, result.refused
        session.commit()


def complete_visit(clinic: NotifyClinic, day: date = VISIT_DAY, patient: int = 0) -> str:
    start = clinic.local(day, 10 + patient)
    visit = clinic.book(start, START, patient=patient)
    set_status(clinic, visit, AppointmentStatus.ARRIVED, start)
    set_status(clinic, visit, AppointmentStatus.COMPLETED, start + timedelta(minutes=30))
    return visit


def follow_ups(clinic: NotifyClinic) -> list[FollowUp]:
    with clinic.sessions() as session:
        rows = list(session.scalars(select(FollowUp).where(
            FollowUp.organization_id == clinic.org_id).order_by(FollowUp.kind)))
        session.expunge_all()
    return rows


def test_windows_are_local_days_and_recall_months_keep_the_day() -> None:
    assert windows_after(date(2026, 3, 9), 20, None) == [
        Window("follow_up", date(2026, 3, 10), date(2026, 3, 29))]
    [recall] = windows_after(date(2026, 8, 31), None, 6)
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert (recall.due_from, recall.due_until) == (date(2027, 2, 14), date(2027, 3, 14))
    assert windows_after(date(2026, 3, 9), None, None) == []
    window = Window("follow_up", date(2026, 3, 10), date(2026, 3, 29))
    assert [window.standing(date(2026, 3, d)) for d in (9, 10, 29, 30)] == [
        "upcoming", "due", "due", "overdue"]


def test_completing_a_visit_opens_its_follow_up_and_recall(clinic: NotifyClinic) -> None:
    set_type(clinic, follow_up_days=20, recall_months=6)
    visit = complete_visit(clinic)
    rows = follow_ups(clinic)
    assert [(r.kind, r.due_from, r.due_until, r.state, r.source_appointment_id,
             r.patient_id) for r in rows] == [
        ("follow_up", date(2026, 3, 10), date(2026, 3, 29), "open", visit,
         clinic.clinic.patient_ids[0]),
        ("recall", date(2026, 8, 26), date(2026, 9, 23), "open", visit,
         clinic.clinic.patient_ids[0])]
    # Undoing the completion voids them; completing again re-opens the same rows.
    undo_status(clinic, visit, clinic.local(VISIT_DAY, 10, 32))
    assert {r.state for r in follow_ups(clinic)} == {"void"}
    set_status(clinic, visit, AppointmentStatus.COMPLETED, clinic.local(VISIT_DAY, 10, 35))
    assert [r.state for r in follow_ups(clinic)] == ["open", "open"]


def test_a_type_without_follow_up_opens_nothing(clinic: NotifyClinic) -> None:
    complete_visit(clinic)
    assert follow_ups(clinic) == []


def test_a_matching_booking_satisfies_it_and_cancelling_that_booking_reopens_it(
        clinic: NotifyClinic) -> None:
    set_type(clinic, follow_up_days=20)
    complete_visit(clinic)
    after_visit = clinic.local(VISIT_DAY, 12)
    outside = clinic.book(clinic.local(date(2026, 3, 31), 10), after_visit)
    other_patient = clinic.book(clinic.local(date(2026, 3, 16), 10), after_visit, patient=1)
    assert [r.state for r in follow_ups(clinic)] == ["open"]

    inside = clinic.book(clinic.local(date(2026, 3, 16), 11), after_visit)
    [row] = follow_ups(clinic)
    assert (row.state, row.satisfied_by) == ("satisfied", inside)

    clinic.cancel(inside, after_visit)
    [row] = follow_ups(clinic)
    assert (row.state, row.satisfied_by) == ("open", None)
    # Moving the late booking into the window satisfies it.
    clinic.move(outside, clinic.local(date(2026, 3, 27), 10), after_visit)
    [row] = follow_ups(clinic)
    assert (row.state, row.satisfied_by) == ("satisfied", outside)
    assert other_patient != outside


def test_a_booking_made_before_the_visit_was_completed_counts(clinic: NotifyClinic) -> None:
    set_type(clinic, follow_up_days=20)
    early = clinic.book(clinic.local(date(2026, 3, 20), 10), START)
    complete_visit(clinic)
    [row] = follow_ups(clinic)
    assert (row.state, row.satisfied_by) == ("satisfied", early)


def reception(client: TestClient, clinic: NotifyClinic) -> dict[str, str]:
    return sign_in(client, OrgUser(clinic.org_id, clinic.clinic.org_slug, "",
                                   clinic.clinic.user_email))


def listed(client: TestClient, clinic: NotifyClinic, clock: Clock,
           now: datetime) -> list[dict[str, Any]]:
    """The list at ``now`` (signed in again: the test clock jumps by weeks)."""
    clock.now = now
    answer = client.get("/api/v1/follow-ups", headers=reception(client, clinic),
                        params={"clinic_id": clinic.clinic.clinic_id})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_it_becomes_overdue_at_the_clinics_midnight_after_a_dst_change(
        clinic: NotifyClinic, client: TestClient, clock: Clock) -> None:
    set_type(clinic, follow_up_days=20)
    complete_visit(clinic)
    assert listed(client, clinic, clock, clinic.local(VISIT_DAY, 23, 59)) == []
    [item] = listed(client, clinic, clock, clinic.local(date(2026, 3, 10), 0, 0))
    assert item["standing"] == "due" and item["due_until"] == "2026-03-29"
    # 2026-03-29 is 23 hours long in Madrid: its midnight is 22:00 UTC, not 23:00.
    last_minute = datetime(2026, 3, 29, 21, 59, tzinfo=UTC)
    assert clinic.local(date(2026, 3, 29), 23, 59) == last_minute
    [item] = listed(client, clinic, clock, last_minute)
    assert item["standing"] == "due"
    [item] = listed(client, clinic, clock, datetime(2026, 3, 29, 22, 0, tzinfo=UTC))
    assert item["standing"] == "overdue"

    clock.now = datetime(2026, 4, 2, 9, tzinfo=UTC)
    summary = client.get("/api/v1/follow-ups/summary", headers=reception(client, clinic), params={
        "clinic_id": clinic.clinic.clinic_id, "first": "2026-03-01", "last": "2026-03-31"})
    assert summary.status_code == 200, summary.text
    assert summary.json() == {"satisfied": 0, "missed": 1, "still_due": 0, "overdue": 1}


def test_missed_and_satisfied_are_counted_apart(
        clinic: NotifyClinic, client: TestClient, clock: Clock) -> None:
    set_type(clinic, follow_up_days=20)
    complete_visit(clinic, patient=0)
    complete_visit(clinic, patient=1)
    complete_visit(clinic, date(2026, 3, 10), patient=2)
    clinic.book(clinic.local(date(2026, 3, 18), 10), clinic.local(VISIT_DAY, 12), patient=1)
    clock.now = clinic.local(date(2026, 3, 30), 9)  # patient 2's window ends today
    headers = reception(client, clinic)
    answer = client.get("/api/v1/follow-ups/summary", headers=headers, params={
        "clinic_id": clinic.clinic.clinic_id, "first": "2026-03-01", "last": "2026-03-31"})
    assert answer.json() == {"satisfied": 1, "missed": 1, "still_due": 1, "overdue": 1}


def test_outreach_logs_calls_and_sends_an_invitation_once_through_the_outbox(
        clinic: NotifyClinic, client: TestClient, clock: Clock, smtp: SmtpSink) -> None:
    set_type(clinic, follow_up_days=20)
    complete_visit(clinic)
    [item] = listed(client, clinic, clock, clinic.local(date(2026, 3, 12), 9))
    headers = reception(client, clinic)
    called = client.post(f"/api/v1/follow-ups/{item['id']}/calls", headers=headers,
                         json={"note": "no answer, try Friday"})
    assert called.status_code == 201, called.text
    invited = client.post(f"/api/v1/follow-ups/{item['id']}/invitation", headers=headers)
    assert invited.status_code == 201, invited.text
    [item] = listed(client, clinic, clock, clock.now)
    assert [(c["kind"], c["note"]) for c in item["contacts"]] == [
        ("call", "no answer, try Friday"), ("invitation", "")]
    assert all(c["by_user_id"] for c in item["contacts"])

    drain(clinic, clock)
    invitations = [m for m in smtp.messages() if "Time to book" in str(m.message["Subject"])]
    assert len(invitations) == 1
    message = invitations[0].message
    assert invitations[0].recipients == ("patient0@example.org",)
    assert {part.get_content_type() for part in message.walk()} >= {"text/plain"}
    assert "text/calendar" not in {part.get_content_type() for part in message.walk()}
    assert "+34 910 000 000" in message.get_body(("plain",)).get_content()

    # Booked: the follow-up leaves the list and outreach is refused.
    clinic.book(clinic.local(date(2026, 3, 16), 10), clock.now)
    assert listed(client, clinic, clock, clock.now) == []
    late = client.post(f"/api/v1/follow-ups/{item['id']}/calls", headers=headers, json={})
    assert late.status_code == 409 and late.json()["error"]["code"] == "follow_up_closed"


def test_a_spanish_patient_gets_the_spanish_invitation(
        clinic: NotifyClinic, client: TestClient, clock: Clock, smtp: SmtpSink) -> None:
    set_type(clinic, follow_up_days=20)
    clinic.patient(0, preferred_language="es")
    complete_visit(clinic)
    [item] = listed(client, clinic, clock, clinic.local(date(2026, 3, 12), 9))
    headers = reception(client, clinic)
    assert client.post(f"/api/v1/follow-ups/{item['id']}/invitation",
                       headers=headers).status_code == 201
    drain(clinic, clock)
    [message] = [m.message for m in smtp.messages() if "reservar" in str(m.message["Subject"])]
    assert "Hola" in message.get_body(("plain",)).get_content()


def test_follow_ups_of_another_organization_are_not_found(
        clinic: NotifyClinic, client: TestClient, clock: Clock, tenants: Tenants) -> None:
    set_type(clinic, follow_up_days=20)
    complete_visit(clinic)
    [row] = follow_ups(clinic)
    clock.now = clinic.local(date(2026, 3, 12), 9)
    stranger = sign_in(client, tenants.organization())
    answer = client.post(f"/api/v1/follow-ups/{row.id}/calls", headers=stranger, json={})
    assert answer.status_code == 404
    answer = client.get("/api/v1/follow-ups", headers=stranger,
                        params={"clinic_id": clinic.clinic.clinic_id})
    assert answer.status_code == 200 and answer.json()["items"] == []
