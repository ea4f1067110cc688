"""Notifications: the outbox written in the booking's transaction, the worker sending to a
real SMTP server (aiosmtpd) and a real local SMS gateway, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sync_server.core.config import Settings
from sync_server.notifications.models import NotificationException
from tests.support.notify_servers import SmsGateway, SmtpSink
from tests.sync_server.conftest import START, Clock
from tests.sync_server.notify_setup import NotifyClinic, notify_clinic

#: A Tuesday well after the test clock's start.
DAY = date(2026, 3, 17)


@pytest.fixture
def clinic(database_url: str, settings: Settings, smtp: SmtpSink,
           gateway: SmsGateway) -> NotifyClinic:
    return notify_clinic(database_url, settings, smtp, gateway, START)


def drain(clinic: NotifyClinic, clock: Clock) -> int:
    worker = clinic.worker(clock)
    handled = 0
    try:
        while (done := worker.run_once()):
            handled += done
    finally:
        worker.close()
    return handled


def test_a_booking_queues_its_notice_and_the_24_and_2_hour_reminders(
        clinic: NotifyClinic) -> None:
    start = clinic.local(DAY, 10, 30)
    appointment = clinic.book(start, START)
    rows = clinic.rows(appointment)
    assert sorted((r.kind, r.offset_minutes, r.channel, r.state) for r in rows) == [
        ("created", 0, "email", "pending"), ("reminder", 120, "email", "pending"),
        ("reminder", 1440, "email", "pending")]
    due = {r.offset_minutes: r.due_at for r in rows if r.kind == "reminder"}
    assert due == {1440: clinic.local(DAY - timedelta(days=1), 10, 30),
                   120: clinic.local(DAY, 8, 30)}


def test_the_worker_sends_each_due_message_once_with_an_ics(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock) -> None:
    start = clinic.local(DAY, 10, 30)
    appointment = clinic.book(start, START)
    clock.now = START + timedelta(minutes=2)
    assert drain(clinic, clock) == 1  # the booking notice; the reminders are not due
    clock.now = clinic.local(DAY, 8, 31)
    assert drain(clinic, clock) == 2
    assert drain(clinic, clock) == 0
    received = smtp.messages()
    assert [m.recipients for m in received] == [("patient0@example.org",)] * 3
    reminder = received[-1].message
    assert "Reminder" in str(reminder["Subject"])
    parts = {part.get_content_type(): part for part in reminder.walk()}
    assert "text/html" in parts and "text/calendar" in parts
    assert "DTSTART;TZID=Europe/Madrid:20260317T103000" in parts["text/calendar"].get_content()
    assert "http://testserver/notify/r/" in parts["text/plain"].get_content()
    states = {(r.kind, r.offset_minutes): (r.state, r.provider_message_id, r.recipient_hint)
              for r in clinic.rows(appointment)}
    assert states[("reminder", 120)] == ("sent", f"<{_id(clinic, appointment, 120)}"
                                         "@clinicdesk.notifications>", "p…@example.org")


def _id(clinic: NotifyClinic, appointment: str, offset: int) -> str:
    return next(r.id for r in clinic.rows(appointment)
                if r.kind == "reminder" and r.offset_minutes == offset)


def test_a_cancelled_appointment_gets_no_reminder_even_after_the_claim(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock) -> None:
    first = clinic.book(clinic.local(DAY, 10, 30), START)
    second = clinic.book(clinic.local(DAY, 11, 30), START)
    clock.now = START + timedelta(minutes=2)
    drain(clinic, clock)
    before = len(smtp.messages())
    clinic.cancel(first, clock.now)  # before its reminders are due: voided at once
    assert {r.state for r in clinic.rows(first) if r.kind == "reminder"} == {"void"}
    clock.now = clinic.local(DAY - timedelta(days=1), 11, 31)
    worker = clinic.worker(clock, after_claim=lambda _ids: clinic.cancel(second, clock.now))
    worker.run_once()  # claimed the 24 h reminder of the second, then it was cancelled
    worker.close()
    sent = smtp.messages()[before:]
    assert [str(m.message["Subject"]) for m in sent].count("") == 0
    assert not any("Reminder" in str(m.message["Subject"]) for m in sent)
    assert {r.state for r in clinic.rows(second) if r.kind == "reminder"} == {"void"}


def test_five_moves_in_a_minute_send_one_notice_with_the_last_time(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock) -> None:
    appointment = clinic.book(clinic.local(DAY, 9, 0), START)
    for step in range(1, 6):
        clinic.move(appointment, clinic.local(DAY, 9, 0) + timedelta(minutes=30 * step),
                    START + timedelta(seconds=10 * step))
    clock.now = START + timedelta(minutes=3)
    drain(clinic, clock)
    sent = smtp.messages()
    assert len(sent) == 1
    assert "11:30" in sent[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    live = [r for r in clinic.rows(appointment) if r.state in ("pending", "sent")]
    assert sorted((r.kind, r.offset_minutes) for r in live) == [
        ("created", 0), ("reminder", 120), ("reminder", 1440)]


def test_english_and_spanish_texts_come_from_the_catalogue(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock) -> None:
    clinic.patient(1, preferred_language="es")
    clinic.book(clinic.local(DAY, 9, 0), START, patient=0)
    clinic.book(clinic.local(DAY, 9, 30), START, patient=1, provider=1)
    clock.now = START + timedelta(minutes=2)
    drain(clinic, clock)
    by_recipient = {m.recipients[0]: m.message for m in smtp.messages()}
    english, spanish = by_recipient["patient0@example.org"], by_recipient["patient1@example.org"]
    assert str(english["Subject"]) == "Your appointment on Tuesday, March 17, 2026 at 9:00\u202fAM"
    assert str(spanish["Subject"]) == "Su cita el martes, 17 de marzo de 2026 a las 9:30"
    assert "Hola Given1" in spanish.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_sms_goes_through_the_gateway_once(clinic: NotifyClinic, gateway: SmsGateway,
                                          clock: Clock) -> None:
    clinic.patient(0, contact_preference="sms")
    appointment = clinic.book(clinic.local(DAY, 9, 0), START)
    clock.now = clinic.local(DAY, 7, 1)
    assert drain(clinic, clock) == 3
    assert [m["To"] for m in gateway.sent] == ["+34600000000"] * 3
    rows = clinic.rows(appointment)
    assert {r.provider_message_id for r in rows} == {m["sid"] for m in gateway.sent}
    assert {r.recipient_hint for r in rows} == {"+3 …00"}


def test_an_invalid_address_falls_back_to_sms_after_the_configured_delay(
        clinic: NotifyClinic, smtp: SmtpSink, gateway: SmsGateway, clock: Clock) -> None:
    clinic.patient(0, email="not-an-address")
    clinic.configure(START, fallback_delay_minutes=15)
    appointment = clinic.book(clinic.local(DAY, 9, 0), START)
    clock.now = START + timedelta(minutes=1)
    drain(clinic, clock)
    failed = [r for r in clinic.rows(appointment) if r.kind == "created"]
    assert [(r.channel, r.state, r.error_code) for r in failed] == [
        ("email", "failed", "invalid_email"), ("sms", "pending", None)]
    assert failed[1].next_attempt_at == clock.now + timedelta(minutes=15)
    clock.advance(timedelta(minutes=14, seconds=59))
    drain(clinic, clock)
    assert gateway.sent == []
    clock.advance(timedelta(seconds=1))
    drain(clinic, clock)
    assert len(gateway.sent) == 1 and smtp.messages() == []


def test_every_channel_failed_raises_one_staff_alert(
        clinic: NotifyClinic, smtp: SmtpSink, gateway: SmsGateway, clock: Clock) -> None:
    smtp.refuse.add("patient0@example.org")
    gateway.invalid.add("+34600000000")
    clinic.configure(START, fallback_delay_minutes=0)
    appointment = clinic.book(clinic.local(DAY, 9, 0), START)
    clock.now = START + timedelta(minutes=1)
    drain(clinic, clock)
    rows = clinic.rows(appointment)
    assert sorted((r.kind, r.channel, r.state, r.error_code) for r in rows
                  if r.kind != "reminder") == [
        ("created", "email", "failed", "smtp_refused"),
        ("created", "sms", "failed", "invalid_phone"),
        ("staff-alert", "desk", "sent", "invalid_phone")]
    with clinic.sessions() as session:
        alerts = list(session.query(NotificationException).filter_by(
            organization_id=clinic.org_id))
        assert [(a.reason, a.channels_tried, a.kind) for a in alerts] == [
            ("all_channels_failed", ["email", "sms"], "created")]


def test_a_gateway_error_is_retried_with_backoff(clinic: NotifyClinic, gateway: SmsGateway,
                                                 clock: Clock) -> None:
    clinic.patient(0, contact_preference="sms")
    appointment = clinic.book(clinic.local(DAY, 9, 0), START)
    gateway.fail_status = 503
    clock.now = START + timedelta(minutes=1)
    drain(clinic, clock)
    row = next(r for r in clinic.rows(appointment) if r.kind == "created")
    assert (row.state, row.attempts, row.error_code) == ("pending", 1, "gateway_unavailable")
    assert row.next_attempt_at == clock.now + timedelta(seconds=30)
    gateway.fail_status = None
    clock.advance(timedelta(seconds=30))
    drain(clinic, clock)
    row = next(r for r in clinic.rows(appointment) if r.kind == "created")
    assert (row.state, row.attempts) == ("sent", 2)
    assert len(gateway.sent) == 1


def test_two_workers_send_a_thousand_reminders_exactly_once(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock) -> None:
    from tests.sync_server.notify_bulk import due_reminders

    ids = due_reminders(clinic, 1000, START)
    clock.now = START + timedelta(minutes=1)
    workers = [clinic.worker(clock, batch=25) for _ in range(2)]
    threads = [threading.Thread(target=lambda w=w: _drain_worker(w)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = Counter(m.message_id for m in smtp.messages())
    assert len(counts) == 1000 and max(counts.values()) == 1
    assert {c.strip("<>").split("@")[0] for c in counts} == set(ids)
    assert {r.state for r in clinic.rows()} == {"sent"}


def test_a_claim_takes_at_most_one_batch(clinic: NotifyClinic, smtp: SmtpSink,
                                         clock: Clock) -> None:
    """PostgreSQL may run an ``IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`` subquery again
    per row; a claim that took every due row would outlive its lease and be sent twice."""
    from tests.sync_server.notify_bulk import due_reminders

    due_reminders(clinic, 60, START)
    clock.now = START + timedelta(minutes=1)
    worker = clinic.worker(clock, batch=25)
    first, second = worker.claim(), worker.claim()
    assert (len(first), len(second)) == (25, 25) and not set(first) & set(second)
    assert sum(r.state == "sending" for r in clinic.rows()) == 50
    assert not smtp.messages()


def _drain_worker(worker: object) -> None:
    from sync_server.notifications.worker import Worker

    assert isinstance(worker, Worker)
    try:
        while worker.run_once():
            pass
    finally:
        worker.close()


def test_logs_carry_ids_never_contact_data(clinic: NotifyClinic, smtp: SmtpSink,
                                           gateway: SmsGateway, clock: Clock,
                                           caplog: pytest.LogCaptureFixture) -> None:
    smtp.refuse.add("patient0@example.org")
    clinic.configure(START, fallback_delay_minutes=0)
    caplog.set_level(logging.DEBUG)
    clinic.book(clinic.local(DAY, 9, 0), START)
    clock.now = START + timedelta(minutes=1)
    drain(clinic, clock)
    # Ours and the libraries' lines (the test's own SMTP server logs what it receives).
    logged = "\n".join(record.getMessage() for record in caplog.records
                       if not record.name.startswith("mail.log"))
    assert "notification" in logged
    for secret in ("patient0@example.org", "600 000 000", "34600000000", "Given0", "Family0",
                   clinic.clinic.patient_ids[0], gateway.key):
        assert secret not in logged


@pytest.mark.parametrize("mode,channel", [("claim", "email"), ("send", "sms")])
def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(
        clinic: NotifyClinic, smtp: SmtpSink, gateway: SmsGateway, database_url: str,
        tmp_path: Path, mode: str, channel: str) -> None:
    """kill -9 between claim and commit (e-mail) and after sending before the outcome was
    recorded (SMS, whose gateway honours the idempotency key): 1,000 reminders, each
    delivered once."""
    from tests.sync_server.notify_bulk import due_reminders

    now = datetime.now(UTC)
    ids = due_reminders(clinic, 1000, now, channel=channel)
    marker = tmp_path / "marker"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.notify_worker_process", database_url,
         clinic.org_id, str(marker), mode, "5"],
        cwd=Path(__file__).resolve().parents[2], env={**os.environ, "PYTHONPATH": str(
            Path(__file__).resolve().parents[2])})
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the marker the worker writes (no fixed wait)
        assert marker.read_text() == "paused"
    finally:
        process.kill()  # SIGKILL: no clean-up runs in the worker
        process.wait()
    stuck = [r for r in clinic.rows() if r.state == "sending"]
    assert stuck, "the killed worker held claimed rows"
    later = Clock(datetime.now(UTC) + timedelta(minutes=3))  # its lease has run out
    drain(clinic, later)
    rows = clinic.rows()
    assert {r.state for r in rows} == {"sent"} and len(rows) == 1000
    if channel == "email":
        delivered = Counter(m.message_id.strip("<>").split("@")[0] for m in smtp.messages())
    else:
        delivered = Counter(m["sid"] for m in gateway.sent)
        assert {r.provider_message_id for r in rows} == set(delivered)
    assert len(delivered) == 1000 and max(delivered.values()) == 1
    if channel == "email":
        assert set(delivered) == set(ids)


@pytest.mark.parametrize("zone,day", [
    ("America/New_York", date(2026, 3, 9)), ("America/New_York", date(2026, 11, 2)),
    ("Europe/Madrid", date(2026, 3, 30)), ("Europe/Madrid", date(2026, 10, 26))])
def test_reminders_are_queued_at_the_right_local_hour_on_dst_days(
        database_url: str, settings: Settings, smtp: SmtpSink, gateway: SmsGateway,
        zone: str, day: date) -> None:
    """The Monday after each transition: "24 h before" is 10:30 on the transition Sunday,
    "2 h before" is 08:30 on the Monday."""
    clinic = notify_clinic(database_url, settings, smtp, gateway, START, tz=zone, patients=1)
    appointment = clinic.book(clinic.local(day, 10, 30), START)
    due = {r.offset_minutes: r.due_at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
           for r in clinic.rows(appointment) if r.kind == "reminder"}
    sunday = day - timedelta(days=1)
    assert due == {1440: datetime(sunday.year, sunday.month, sunday.day, 10, 30),
                   120: datetime(day.year, day.month, day.day, 8, 30)}


def test_an_opt_out_after_queueing_skips_the_reminders_but_not_the_notice(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock) -> None:
    appointment = clinic.book(clinic.local(DAY, 9, 0), START)
    clinic.patient(0, reminders_opt_out=True)
    clock.now = clinic.local(DAY, 7, 1)
    drain(clinic, clock)
    assert len(smtp.messages()) == 1
    assert sorted((r.kind, r.state, r.error_code) for r in clinic.rows(appointment)) == [
        ("created", "sent", None), ("reminder", "skipped", "opted_out"),
        ("reminder", "skipped", "opted_out")]


def test_the_worker_command_sends_what_is_due_and_stops(
        clinic: NotifyClinic, smtp: SmtpSink, database_url: str, tmp_path: Path) -> None:
    from tests.sync_server.notify_bulk import due_reminders

    ids = due_reminders(clinic, 3, datetime.now(UTC))
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "sync_server.cli", "--database-url", database_url, "worker",
         "--once"], cwd=root, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(root), "CLINICDESK_DATA_DIR": str(tmp_path),
             "CLINICDESK_SECRET_KEY": "test-signing-key-not-for-production"})
    assert done.returncode == 0, done.stderr
    assert {m.message_id for m in smtp.messages()} >= {
        f"<{i}@clinicdesk.notifications>" for i in ids}
    assert {r.state for r in clinic.rows() if r.id in ids} == {"sent"}
