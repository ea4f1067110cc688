"""The patient's confirmation e-mail (real aiosmtpd) attaches the same VEVENT the
provider's calendar feed serves: same UID (calendars that hold both dedupe them), same
SEQUENCE, times and status, as METHOD:PUBLISH (no RSVP prompt); it names no patient."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import icalendar
import pytest

from sync_server.core.config import Settings
from sync_server.feeds import service
from sync_server.feeds.serving import FeedServer
from tests.support.notify_servers import SmsGateway, SmtpSink
from tests.sync_server.conftest import START, Clock
from tests.sync_server.notify_setup import NotifyClinic, notify_clinic

DAY = date(2026, 3, 17)  # a Tuesday well after the test clock's start


@pytest.fixture
def clinic(database_url: str, settings: Settings, smtp: SmtpSink,
           gateway: SmsGateway) -> NotifyClinic:
    return notify_clinic(database_url, settings, smtp, gateway, START)


def _sent_calendars(clinic: NotifyClinic, smtp: SmtpSink, clock: Clock) -> list[Any]:
    worker = clinic.worker(clock)
    try:
        while worker.run_once():
            pass
    finally:
        worker.close()
    found = []
    for received in smtp.messages():
        (part,) = [p for p in received.message.walk() if p.get_content_type() == "text/calendar"]
        assert part.get_filename() == "appointment.ics"
        found.append(icalendar.Calendar.from_ical(part.get_content()))
    return found


def _feed_event(clinic: NotifyClinic, clock: Clock, appointment_id: str) -> Any:
    with clinic.sessions() as session:
        created = service.create_feed(session, clinic.org_id, clinic.clinic.provider_ids[0],
                                      clock.now, privacy="initials")
        session.commit()
        answer = FeedServer().answer(session, created.token, clock.now)
    assert answer.status == 200
    events = icalendar.Calendar.from_ical(answer.body).walk("VEVENT")
    (event,) = [e for e in events if str(e["UID"]).startswith(appointment_id)]
    return event


def _same_event(mailed: Any, fed: Any) -> None:
    assert str(mailed["UID"]) == str(fed["UID"])
    assert int(mailed["SEQUENCE"]) == int(fed["SEQUENCE"])
    assert str(mailed["STATUS"]) == str(fed["STATUS"])
    for name in ("DTSTAMP", "LAST-MODIFIED"):  # the appointment's last change
        assert mailed[name].dt == fed[name].dt
    for name in ("DTSTART", "DTEND"):
        assert mailed[name].dt == fed[name].dt
        assert mailed[name].params["TZID"] == fed[name].params["TZID"] == "Europe/Madrid"


def test_the_confirmation_mail_attaches_the_feeds_vevent_for_the_patient_only(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock) -> None:
    other = clinic.book(clinic.local(DAY, 9, 0), START, patient=1)
    appointment = clinic.book(clinic.local(DAY, 10, 30), START)
    clinic.move(appointment, clinic.local(DAY, 12, 0), START + timedelta(seconds=20))
    clock.now = START + timedelta(minutes=3)

    calendars = _sent_calendars(clinic, smtp, clock)
    assert len(calendars) == 2  # one booking notice each (the move folded into it)
    mine = next(c for c in calendars
                if str(c.walk("VEVENT")[0]["UID"]).startswith(appointment))
    assert str(mine["METHOD"]) == "PUBLISH"
    assert [str(z["TZID"]) for z in mine.walk("VTIMEZONE")] == ["Europe/Madrid"]
    (mailed,) = mine.walk("VEVENT")  # the patient's own appointment and nothing else
    assert int(mailed["SEQUENCE"]) == 2  # booked, then moved
    _same_event(mailed, _feed_event(clinic, clock, appointment))
    text = mine.to_ical().decode()
    assert other not in text and "ATTENDEE" not in text and "ORGANIZER" not in text
    assert "Given" not in text and "Family" not in text and "G. F." not in text  # nor initials


def test_a_cancellation_mail_carries_the_same_uid_as_cancelled(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock) -> None:
    appointment = clinic.book(clinic.local(DAY, 10, 30), START)
    clock.now = START + timedelta(minutes=3)
    _sent_calendars(clinic, smtp, clock)
    clinic.cancel(appointment, clock.now)
    clock.now += timedelta(minutes=3)

    last = _sent_calendars(clinic, smtp, clock)[-1]
    (mailed,) = last.walk("VEVENT")
    assert str(mailed["STATUS"]) == "CANCELLED"
    _same_event(mailed, _feed_event(clinic, clock, appointment))
