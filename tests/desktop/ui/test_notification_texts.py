"""What the desk says about notifications: alert sentences and reminder times, EN and ES."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from desktop.services.notifications import AlertPerson, StaffAlert
from desktop.ui.exceptions_panel import alert_sentence
from desktop.ui.notification_settings import offsets_text, parse_offsets
from desktop.ui.text import set_language

#: 10:30 in Madrid on Tuesday 4 March 2025.
START = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
SAME_MORNING = datetime(2025, 3, 4, 7, 0, tzinfo=UTC)
DAY_BEFORE = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)
MADRID = ("Europe/Madrid", "es_ES")


def alert(kind: str = "reminder", reason: str = "invalid_phone") -> StaffAlert:
    return StaffAlert("x1", "appt-1", "pat-ana", START, kind, reason, ("sms", "email"),
                      SAME_MORNING)


def person(phone: str = "+34 600 111 222", email: str = "") -> AlertPerson:
    return AlertPerson("A. G.", phone, email, *MADRID, True)


def test_a_reminder_that_reached_no_one_today_says_the_time_the_initials_and_whom_to_call(
        ) -> None:
    assert alert_sentence(alert(), person(), SAME_MORNING) == (
        "Reminder for 10:30 A.\u00a0G. not delivered: no valid phone. "
        "Call +34\u00a0600\u00a0111\u00a0222.")


def test_another_day_gives_the_date_too_and_no_phone_says_what_to_do() -> None:
    text = alert_sentence(alert("cancelled", "no_contact"), person(phone=""), DAY_BEFORE)
    assert text == ("Cancellation notice for Tue, 4 Mar 2025, 10:30 A.\u00a0G. not delivered: "
                    "no phone or e-mail on file. Add a phone number to the patient's details.")


def test_an_e_mail_is_offered_when_there_is_no_phone() -> None:
    text = alert_sentence(alert("created", "smtp_refused"), person("", "ana@example.org"),
                          SAME_MORNING)
    assert text.endswith("not delivered: the mail server refused it. Write to ana@example.org.")


def test_a_patient_the_desk_does_not_mirror_is_named_as_such() -> None:
    unknown = AlertPerson("", "", "", *MADRID, False)
    assert "a patient not on this desk" in alert_sentence(alert(), unknown, SAME_MORNING)


def test_the_sentence_speaks_spanish() -> None:
    set_language("es")
    assert alert_sentence(alert(), person(), SAME_MORNING) == (
        "Recordatorio para A.\u00a0G., 10:30, no entregado: ningún teléfono válido. "
        "Llame al +34\u00a0600\u00a0111\u00a0222.")


def test_reminder_times_read_days_hours_and_minutes() -> None:
    assert parse_offsets("1 d, 2 h") == (1440, 120)
    assert parse_offsets("30min; 2h, 90") == (120, 90, 30)
    assert parse_offsets("") == ()
    assert offsets_text((1440, 120, 90)) == "1 d, 2 h, 90 min"
    assert parse_offsets(offsets_text((2880, 45))) == (2880, 45)


@pytest.mark.parametrize("text", ["tomorrow", "2 weeks", "0 h", "-1 h"])
def test_a_reminder_time_that_cannot_be_read_is_named(text: str) -> None:
    with pytest.raises(ValueError, match=text.strip()):
        parse_offsets(f"2 h, {text}")
