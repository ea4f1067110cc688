"""Confirm or cancel by reply: signed single-use links and SMS keywords, through the real
booking path of a running app (TestClient), the real SMTP server and SMS gateway."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from sync_server.db import models as db
from sync_server.notifications.models import Notification
from sync_server.notifications.routes import twilio_signature
from tests.support.notify_servers import SmsGateway, SmtpSink
from tests.support.records import by_id
from tests.sync_server.conftest import START, Clock
from tests.sync_server.notify_setup import NotifyClinic, notify_clinic
from tests.sync_server.test_notifications import drain

DAY = date(2026, 3, 17)


@pytest.fixture
def clinic(database_url: str, settings: object, smtp: SmtpSink,
           gateway: SmsGateway) -> NotifyClinic:
    return notify_clinic(database_url, settings, smtp, gateway, START)  # type: ignore[arg-type]


def reminder_links(clinic: NotifyClinic, smtp: SmtpSink, clock: Clock,
                   offset_hours: int = 24) -> tuple[str, dict[str, str]]:
    """Book, run the worker when the reminder is due; the appointment and its links."""
    start = clinic.local(DAY, 10, 30)
    appointment = clinic.book(start, START)
    clock.now = start - timedelta(hours=offset_hours) + timedelta(minutes=1)
    drain(clinic, clock)
    text = next(text for m in reversed(smtp.messages())
                if "/notify/r/" in (text := m.message.get_body(("plain",)).get_content()))  # type: ignore[union-attr]
    links = dict(re.findall(r"(Confirm|Cancel)\w*: (http://testserver/notify/r/\S+)", text))
    assert links, text
    return appointment, {"confirm": links["Confirm"], "cancel": links["Cancel"]}


def appointment_row(clinic: NotifyClinic, appointment_id: str) -> db.Appointment:
    with clinic.sessions() as session:
        row = by_id(session, db.Appointment, appointment_id)
        assert row is not None
        session.expunge(row)
        session.rollback()
    return row


def test_a_confirm_link_confirms_through_the_booking_path_once(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock, client: TestClient) -> None:
    appointment, links = reminder_links(clinic, smtp, clock)
    assert "/notify/r/" in links["confirm"] and clinic.clinic.patient_ids[0] not in links["confirm"]
    shown = client.get(links["confirm"])
    assert shown.status_code == 200 and "Confirm your appointment" in shown.text
    assert appointment_row(clinic, appointment).status == "booked"  # a GET changes nothing
    done = client.post(links["confirm"])
    assert "Your appointment is confirmed" in done.text
    row = appointment_row(clinic, appointment)
    assert (row.status, row.version, row.last_status_actor_id) == (
        "confirmed", 2, "patient:email-link")
    again = client.post(links["cancel"])
    assert "This link was used already" in again.text and "+34 910 000 000" in again.text
    assert appointment_row(clinic, appointment).version == 2


def test_an_expired_link_changes_nothing(clinic: NotifyClinic, smtp: SmtpSink, clock: Clock,
                                         client: TestClient) -> None:
    clinic.configure(START, reply_link_hours=1)
    appointment, links = reminder_links(clinic, smtp, clock)
    clock.advance(timedelta(hours=1))
    answer = client.post(links["confirm"])
    assert "This link has expired" in answer.text
    assert appointment_row(clinic, appointment).status == "booked"


def test_a_forged_or_foreign_link_changes_nothing(clinic: NotifyClinic, smtp: SmtpSink,
                                                   clock: Clock, client: TestClient) -> None:
    appointment, links = reminder_links(clinic, smtp, clock)
    token = links["confirm"].rsplit("/", 1)[1]
    forged = client.post("/notify/r/" + token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    assert forged.status_code == 404 and "This link is not valid" in forged.text
    with clinic.sessions() as session:  # the notice now names another patient
        for row in session.query(Notification).filter_by(appointment_id=appointment):
            row.patient_id = clinic.clinic.patient_ids[1]
        session.commit()
    foreign = client.post(links["confirm"])
    assert "This link is not for this appointment" in foreign.text
    assert appointment_row(clinic, appointment).status == "booked"


def test_a_late_cancellation_by_link_is_refused_with_the_clinic_phone(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock, client: TestClient) -> None:
    with clinic.sessions() as session:
        kind = session.get(db.AppointmentType, clinic.clinic.type_id)
        assert kind is not None
        kind.cancellation_period_seconds = 24 * 3600
        session.commit()
    appointment, links = reminder_links(clinic, smtp, clock, offset_hours=2)
    answer = client.post(links["cancel"])
    assert "It is too late to cancel online" in answer.text and "+34 910 000 000" in answer.text
    assert appointment_row(clinic, appointment).status == "booked"
    cancel = client.post(links["cancel"])  # refused: the link still works for confirming
    assert "too late" in cancel.text
    assert "confirmed" in client.post(links["confirm"]).text


def test_a_cancel_link_cancels_and_the_patient_hears_of_it(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock, client: TestClient) -> None:
    clinic.patient(0, preferred_language="es")
    appointment, links = reminder_links(clinic, smtp, clock)
    shown = client.get(links["cancel"])
    assert "Cancele su cita" in shown.text
    answer = client.post(links["cancel"])
    assert "Su cita está cancelada" in answer.text
    row = appointment_row(clinic, appointment)
    assert (row.status, row.last_status_actor_id) == ("cancelled", "patient:email-link")
    kinds = {(r.kind, r.state) for r in clinic.rows(appointment)}
    assert ("cancelled", "pending") in kinds and ("reminder", "void") in kinds


def test_an_sms_reply_c_confirms_and_an_unsigned_one_is_refused(
        clinic: NotifyClinic, gateway: SmsGateway, clock: Clock, client: TestClient) -> None:
    clinic.patient(0, contact_preference="sms")
    start = clinic.local(DAY, 10, 30)
    appointment = clinic.book(start, START)
    clock.now = start - timedelta(hours=24) + timedelta(minutes=1)
    drain(clinic, clock)
    assert "Reply C to confirm" in gateway.sent[-1]["Body"]
    form = {"AccountSid": gateway.account, "From": "+34600000000", "To": "+34911000000",
            "Body": " c ", "MessageSid": "SMreply1"}
    url = "http://testserver/notify/sms/inbound"
    refused = client.post(url, data=form, headers={"X-Twilio-Signature": "forged"})
    assert refused.status_code == 403
    assert appointment_row(clinic, appointment).status == "booked"
    answer = client.post(url, data=form, headers={
        "X-Twilio-Signature": twilio_signature(gateway.key, url, form)})
    assert answer.status_code == 200 and "your appointment is confirmed" in answer.text
    row = appointment_row(clinic, appointment)
    assert (row.status, row.last_status_actor_id) == ("confirmed", "patient:sms-reply")
