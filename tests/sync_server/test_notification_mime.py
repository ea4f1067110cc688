"""The worker's fast paths write bytes by hand: the .ics must equal what the ``icalendar``
objects make, and the e-mail must parse back to the same subject, parts and texts."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from scheduling import ical
from scheduling.refusals import N_
from sync_server.core.translations import translations
from sync_server.notifications import messages
from sync_server.notifications.channels import compose
from sync_server.notifications.messages import Facts, Rendered

START = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the night Madrid moves to summer time
FACTS = [
    Facts("a1", START, START + timedelta(minutes=30), "Europe/Madrid", "es", "Ana",
          "Clínica Centro, Madrid; sur", "+34 910 000 000", "Dr. Ruiz",
          "Revisión general con un nombre bastante largo que obliga a plegar la línea \\ ñ",
          version=3),
    Facts("b2", START, START + timedelta(hours=1), "America/New_York", "en", "Bo", "",
          "", "", "Check-up", version=1, cancelled=True,
          updated_at=START - timedelta(days=3, seconds=7)),
    Facts("c3", START, START + timedelta(minutes=15), "Europe/Madrid", "en", "Cy",
          "€" * 40 + " " + "x" * 80, "", "", "😀" * 30, version=12, cancelled=True),
]


def _reference_ics(facts: Facts) -> bytes:
    """The .ics as the ``icalendar`` objects write it (what ``messages.ics`` replaced)."""
    catalogue = translations(facts.language)
    item = ical.FeedAppointment(
        facts.appointment_id, facts.start, facts.end,
        "cancelled" if facts.cancelled else "booked", facts.version,
        facts.updated_at or facts.start,
        facts.time_zone, facts.clinic_name, "", facts.appointment_type, facts.patient_name,
        "", "", "", "", None, None, None)
    event = ical.appointment_event(item, ical.Privacy.BUSY, catalogue.gettext)
    event.pop("summary")
    summary = f"{facts.appointment_type} — {facts.clinic_name}"
    if facts.cancelled:
        summary = catalogue.gettext(N_("Cancelled: {title}")).format(title=summary)
    event.add("summary", summary)
    calendar = ical.calendar_head(facts.clinic_name, timedelta(days=1), [facts.time_zone],
                                  (facts.start.year - 1, facts.start.year + 1))
    calendar.add_component(event)
    return bytes(calendar.to_ical())


@pytest.mark.parametrize("facts", FACTS, ids=lambda f: f.appointment_id)
def test_the_ics_is_what_the_icalendar_objects_write(facts: Facts) -> None:
    assert messages.ics(facts) == _reference_ics(facts)


@pytest.mark.parametrize("subject", [
    "Short", "", "Recordatorio: su cita el domingo, 29 de marzo de 2026 a las 2:30 — ñáéíóú €",
    "x" * 120, "line\nbreak", "😀" * 20])
def test_the_written_e_mail_parses_back_to_its_parts(subject: str) -> None:
    rendered = Rendered(subject, "Hola ñ\n\n.a line with a dot\n" + "y" * 200,
                        "<p>Hola &amp; ñ</p>")
    attachment = messages.ics(FACTS[0])
    data = compose("clinic@clinic.example", "p@example.org", rendered,
                   message_id="<n1@clinicdesk.notifications>", attachment=attachment,
                   language="es")
    assert isinstance(data, bytes) and all(len(line) <= 998 for line in data.split(b"\r\n"))
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage) and not parsed.defects
    assert str(parsed["Subject"]) == subject
    assert (parsed["From"], parsed["To"], parsed["Message-ID"], parsed["Content-Language"]) == (
        "clinic@clinic.example", "p@example.org", "<n1@clinicdesk.notifications>", "es")
    parts = {part.get_content_type(): part for part in parsed.walk()}
    assert list(parts) == ["multipart/mixed", "multipart/alternative", "text/plain",
                           "text/html", "text/calendar"]
    assert parts["text/plain"].get_content() == rendered.text
    assert parts["text/html"].get_content() == rendered.html
    assert parts["text/calendar"].get_content().encode("utf-8") == attachment
    assert parts["text/calendar"].get_filename() == "appointment.ics"


def test_an_address_outside_ascii_takes_the_email_package_path() -> None:
    rendered = Rendered("Hi", "Text", None)
    mail = compose("clinic@clinic.example", "josé@example.org", rendered,
                   message_id="<n2@clinicdesk.notifications>", attachment=None, language="en")
    assert not isinstance(mail, bytes)
    assert mail["To"] == "josé@example.org"
