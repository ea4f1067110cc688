"""The notification API of NOTIFY_API.md: exceptions panel, history, settings (secrets
write-only), templates with preview (unknown variable → 422), test message."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.support.notify_servers import SmsGateway, SmtpSink
from tests.sync_server.conftest import START, Clock, Tenants, sign_in
from tests.sync_server.notify_setup import NotifyClinic, notify_clinic
from tests.sync_server.test_notifications import drain

DAY = date(2026, 3, 17)


@pytest.fixture
def clinic(database_url: str, settings: object, smtp: SmtpSink,
           gateway: SmsGateway) -> NotifyClinic:
    return notify_clinic(database_url, settings, smtp, gateway, START)  # type: ignore[arg-type]


@pytest.fixture
def admin(client: TestClient, clinic: NotifyClinic, tenants: Tenants) -> dict[str, str]:
    return sign_in(client, tenants.user(clinic.org_id, clinic.clinic.org_slug, "administrator"))


def test_settings_keep_secrets_write_only(client: TestClient, admin: dict[str, str],
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    shown = client.get("/api/v1/notifications/settings", headers=admin).json()
    assert shown["reminder_offsets_minutes"] == [1440, 120]
    assert shown["email"]["password_set"] is False and "password" not in shown["email"]
    body = {**shown, "quiet_hours": {"start": "21:00", "end": "08:00"},
            "reminder_offsets_minutes": [2880, 60],
            "email": {**shown["email"], "password": "smtp-secret-value"},
            "sms": {**shown["sms"], "api_key": "gateway-secret-value"}}
    saved = client.put("/api/v1/notifications/settings", json=body, headers=admin)
    assert saved.status_code == 200
    again = client.get("/api/v1/notifications/settings", headers=admin).json()
    assert again["email"]["password_set"] and again["sms"]["api_key_set"]
    assert again["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert again["reminder_offsets_minutes"] == [2880, 60]
    for secret in ("smtp-secret-value", "gateway-secret-value"):
        assert secret not in saved.text and secret not in caplog.text
    unchanged = client.put("/api/v1/notifications/settings",
                           json={"email": {"host": "mail.clinic.example"}}, headers=admin)
    assert unchanged.json()["email"]["password_set"] is True


def test_a_template_with_an_unknown_variable_is_refused_by_name(
        client: TestClient, admin: dict[str, str]) -> None:
    items = client.get("/api/v1/notifications/templates", headers=admin).json()["items"]
    # 10 kinds (4 about an appointment, the follow-up invitation, the waitlist offer, its
    # "gone", "we missed you", the outage re-route and the video no-join offer) x 2
    # channels x 2 languages
    assert len(items) == 40 and not any(i["customized"] for i in items)
    spanish = next(i for i in items if (i["kind"], i["channel"], i["language"]) ==
                   ("reminder", "sms", "es"))
    assert "Responda C para confirmar" in spanish["body_text"]
    bad = client.put("/api/v1/notifications/templates/reminder/email/en", headers=admin,
                     json={"subject": "Hi", "body_text": "Dear {{ patient_fullname }}",
                           "body_html": None})
    assert bad.status_code == 422 and "patient_fullname" in bad.json()["error"]["message"]
    preview = client.post("/api/v1/notifications/templates/preview", headers=admin, json={
        "kind": "reminder", "channel": "email", "language": "es", "subject": "Cita {{ date }}",
        "body_text": "Hola {{ patient_name }}, {{ time }}",
        "body_html": "<b>{{ clinic_name }}</b>"})
    assert preview.json() == {"subject": "Cita martes, 10 de marzo de 2026",
                              "text": "Hola Ana, 9:30", "html": "<b>Clínica Centro</b>"}
    saved = client.put("/api/v1/notifications/templates/reminder/email/en", headers=admin,
                       json={"subject": "See you {{ date }}", "body_text": "{{ time }}",
                             "body_html": None})
    assert saved.status_code == 200 and saved.json()["customized"] is True
    assert client.delete("/api/v1/notifications/templates/reminder/email/en",
                         headers=admin).status_code == 204
    items = client.get("/api/v1/notifications/templates", headers=admin).json()["items"]
    assert not any(i["customized"] for i in items)


def test_a_custom_template_is_what_the_patient_receives(
        client: TestClient, admin: dict[str, str], clinic: NotifyClinic, smtp: SmtpSink,
        clock: Clock) -> None:
    client.put("/api/v1/notifications/templates/created/email/en", headers=admin,
               json={"subject": "Booked: {{ date }}", "body_text": "See you at {{ time }}.",
                     "body_html": None})
    clinic.book(clinic.local(DAY, 9, 0), START)
    clock.now = START + timedelta(minutes=2)
    drain(clinic, clock)
    message = smtp.messages()[0].message
    assert str(message["Subject"]) == "Booked: Tuesday, March 17, 2026"
    assert message.get_body(("plain",)).get_content().strip() == "See you at 9:00\u202fAM."  # type: ignore[union-attr]


def test_the_test_message_goes_to_the_smtp_server(client: TestClient, admin: dict[str, str],
                                                  smtp: SmtpSink) -> None:
    answer = client.post("/api/v1/notifications/test", headers=admin,
                         json={"channel": "email", "to": "it@clinic.example"})
    assert answer.json() == {"ok": True, "message": "The test message was sent."}
    assert smtp.messages()[0].recipients == ("it@clinic.example",)
    bad = client.post("/api/v1/notifications/test", headers=admin,
                      json={"channel": "sms", "to": "12-ab"})
    assert bad.json()["ok"] is False and "invalid_phone" in bad.json()["message"]


def test_the_exceptions_panel_lists_and_resolves_alerts(
        client: TestClient, admin: dict[str, str], clinic: NotifyClinic, smtp: SmtpSink,
        gateway: SmsGateway, clock: Clock) -> None:
    smtp.refuse.add("patient0@example.org")
    gateway.invalid.add("+34600000000")
    clinic.configure(START, fallback_delay_minutes=0)
    appointment = clinic.book(clinic.local(DAY, 9, 0), START)
    clock.now = START + timedelta(minutes=2)
    drain(clinic, clock)
    items = client.get("/api/v1/notifications/exceptions", headers=admin).json()["items"]
    assert [(i["appointment_id"], i["patient_id"], i["reason"], i["channels_tried"], i["kind"])
            for i in items] == [(appointment, clinic.clinic.patient_ids[0],
                                 "all_channels_failed", ["email", "sms"], "created")]
    assert items[0]["appointment_start"] == "2026-03-17T08:00:00Z"
    url = f"/api/v1/notifications/exceptions/{items[0]['id']}/resolve"
    done = client.post(url, json={"note": "called the patient"}, headers=admin)
    assert done.status_code == 200 and done.json()["resolution_note"] == "called the patient"
    assert client.post(url, json={"note": None}, headers=admin).status_code == 409
    assert client.post("/api/v1/notifications/exceptions/nope/resolve", json={},
                       headers=admin).status_code == 404
    assert client.get("/api/v1/notifications/exceptions", headers=admin).json()["items"] == []
    history = client.get(f"/api/v1/appointments/{appointment}/notifications",
                         headers=admin).json()["items"]
    assert {(h["kind"], h["channel"], h["state"]) for h in history} >= {
        ("created", "email", "failed"), ("created", "sms", "failed"),
        ("staff-alert", "desk", "sent"), ("reminder", "email", "pending")}
