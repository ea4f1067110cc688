"""What a patient receives: templates (the catalogue's defaults or the organization's own),
their variables, and the rendered subject, text, HTML and .ics.

Templates are Jinja2 with ``StrictUndefined`` in a sandbox: a variable that does not
exist is an error at save and preview time (:class:`TemplateProblem`), never an empty
hole in a patient's message. The default texts are msgids of the one gettext
catalogue, so Spanish comes from ``translations/es``; dates and times are formatted
with Babel in the clinic's zone and the patient's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from scheduling import ical
from scheduling.refusals import N_
from sync_server.core.translations import translations

LANGUAGES = ("en", "es")
PATIENT_KINDS = ("created", "modified", "cancelled", "reminder", "invitation",
                 "waitlist-offer", "offer-gone", "no-show", "rerouted", "nojoin-offer")
#: Kinds about an appointment the patient has (an .ics goes with their e-mails).
APPOINTMENT_KINDS = ("created", "modified", "cancelled", "reminder")
PATIENT_CHANNELS = ("email", "sms")

#: Every variable a template may use (the preview's sample values in :func:`sample`).
VARIABLES = ("patient_name", "clinic_name", "clinic_phone", "provider_name",
             "appointment_type", "date", "time", "confirm_url", "cancel_url", "accept_url",
             "hold_until", "appointments", "video_url")


@dataclass(frozen=True, slots=True)
class Template:
    subject: str | None
    body_text: str
    body_html: str | None


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str | None
    text: str
    html: str | None


class TemplateProblem(ValueError):
    """A template that cannot be rendered: unknown variable, syntax error (message says which)."""


# --------------------------------------------------------------------------- defaults

_SUBJECTS = {
    "created": N_("Your appointment on {{ date }} at {{ time }}"),
    "modified": N_("Your appointment has moved to {{ date }} at {{ time }}"),
    "cancelled": N_("Your appointment on {{ date }} at {{ time }} is cancelled"),
    "reminder": N_("Reminder: your appointment on {{ date }} at {{ time }}"),
    "invitation": N_("Time to book your {{ appointment_type }} at {{ clinic_name }}"),
    "waitlist-offer": N_("A place is free on {{ date }} at {{ time }}"),
    "offer-gone": N_("The place on {{ date }} at {{ time }} has been taken"),
    "no-show": N_("We missed you on {{ date }}"),
    "rerouted": N_("Your appointments at {{ clinic_name }} have changed"),
    "nojoin-offer": N_("Your video visit at {{ time }}: see another provider now or choose "
                       "a new time"),
}
_EMAIL_TEXTS = {
    "created": N_("Hello {{ patient_name }},\n\nYour appointment with {{ provider_name }} at "
                  "{{ clinic_name }} is booked for {{ date }} at {{ time }}.\n\nTo change it, "
                  "call us at {{ clinic_phone }}."),
    "modified": N_("Hello {{ patient_name }},\n\nYour appointment with {{ provider_name }} at "
                   "{{ clinic_name }} has moved to {{ date }} at {{ time }}.\n\nTo change it, "
                   "call us at {{ clinic_phone }}."),
    "cancelled": N_("Hello {{ patient_name }},\n\nYour appointment with {{ provider_name }} at "
                    "{{ clinic_name }} on {{ date }} at {{ time }} is cancelled.\n\nTo book "
                    "again, call us at {{ clinic_phone }}."),
    "reminder": N_("Hello {{ patient_name }},\n\nThis is a reminder of your appointment with "
                   "{{ provider_name }} at {{ clinic_name }} on {{ date }} at {{ time }}.\n\n"
                   "Confirm: {{ confirm_url }}\nCancel: {{ cancel_url }}\n\nTo change it, call "
                   "us at {{ clinic_phone }}."),
    "invitation": N_("Hello {{ patient_name }},\n\nAfter your visit on {{ date }}, "
                     "{{ provider_name }} asked to see you again for a {{ appointment_type }} "
                     "at {{ clinic_name }}.\n\nPlease call us at {{ clinic_phone }} to book "
                     "a time that suits you."),
    "waitlist-offer": N_("Hello {{ patient_name }},\n\nA place for {{ appointment_type }} with "
                         "{{ provider_name }} at {{ clinic_name }} is free on {{ date }} at "
                         "{{ time }}. We hold it for you until {{ hold_until }}; other patients "
                         "on the waiting list may be offered it too, and the first to accept "
                         "gets it.\n\nAccept: {{ accept_url }}\n\nQuestions: call us at "
                         "{{ clinic_phone }}."),
    "offer-gone": N_("Hello {{ patient_name }},\n\nThe place on {{ date }} at {{ time }} at "
                     "{{ clinic_name }} has been taken. You stay on our waiting list and we "
                     "will write again when another place is free.\n\nQuestions: call us at "
                     "{{ clinic_phone }}."),
    "no-show": N_("Hello {{ patient_name }},\n\nWe missed you at {{ clinic_name }} on "
                  "{{ date }} at {{ time }}. To book a new appointment, call us at "
                  "{{ clinic_phone }}."),
    "rerouted": N_("Hello {{ patient_name }},\n\n{{ clinic_name }} had to change your "
                   "appointments because of a service interruption. Your appointments are now:"
                   "\n\n{{ appointments }}\n\nIf a new time does not suit you, call us at "
                   "{{ clinic_phone }}."),
    "nojoin-offer": N_("Hello {{ patient_name }},\n\nWe are sorry: {{ provider_name }} has "
                       "not joined your video visit of {{ date }} at {{ time }}. You can see "
                       "another provider now, when one is free, or choose a new time:\n\n"
                       "{{ accept_url }}\n\nQuestions: call us at {{ clinic_phone }}."),
}
_SMS_TEXTS = {
    "created": N_("{{ clinic_name }}: your appointment is booked for {{ date }} at {{ time }}."),
    "modified": N_("{{ clinic_name }}: your appointment has moved to {{ date }} at "
                   "{{ time }}."),
    "cancelled": N_("{{ clinic_name }}: your appointment on {{ date }} at {{ time }} is "
                    "cancelled."),
    "reminder": N_("{{ clinic_name }}: reminder of your appointment on {{ date }} at "
                   "{{ time }}. Reply C to confirm or X to cancel."),
    "invitation": N_("{{ clinic_name }}: it is time to book your {{ appointment_type }}. "
                     "Call us at {{ clinic_phone }}."),
    "waitlist-offer": N_("{{ clinic_name }}: a place is free on {{ date }} at {{ time }}, held "
                         "for you until {{ hold_until }}. Accept: {{ accept_url }}"),
    "offer-gone": N_("{{ clinic_name }}: the place on {{ date }} at {{ time }} has been "
                     "taken. You stay on our waiting list."),
    "no-show": N_("{{ clinic_name }}: we missed you on {{ date }} at {{ time }}. To book "
                  "again, call {{ clinic_phone }}."),
    "rerouted": N_("{{ clinic_name }}: your appointments have changed. Now:\n"
                   "{{ appointments }}\nQuestions: {{ clinic_phone }}."),
    "nojoin-offer": N_("{{ clinic_name }}: {{ provider_name }} has not joined your video "
                       "visit. See another provider now or choose a new time: "
                       "{{ accept_url }}"),
}
#: The HTML of every default e-mail: the text's paragraphs (``body``) and the links.
DEFAULT_HTML = (
    '<!DOCTYPE html>\n<html><body style="font-family: sans-serif">\n{{ body }}\n'
    '{% if confirm_url %}<p><a href="{{ confirm_url }}">{{ confirm_label }}</a> &middot; '
    '<a href="{{ cancel_url }}">{{ cancel_label }}</a></p>{% endif %}\n'
    '{% if accept_url %}<p><a href="{{ accept_url }}">{{ accept_label }}</a></p>{% endif %}\n'
    '{% if video_url %}<p><a href="{{ video_url }}">{{ video_label }}</a></p>{% endif %}\n'
    '</body></html>\n')


#: Kinds whose default texts give a telemedicine visit's video link (when it has one).
VIDEO_KINDS = ("created", "modified", "reminder")
_VIDEO_TEXTS = {
    "email": N_("This is a video visit. At the time of your appointment, open this link on a "
                "phone or computer with a camera and microphone: {{ video_url }}"),
    "sms": N_("Video visit: {{ video_url }}"),
}


def default_template(kind: str, channel: str, language: str) -> Template:
    catalogue = translations(language)
    video = ""
    if kind in VIDEO_KINDS:
        video = ("{% if video_url %}\n\n" + catalogue.gettext(_VIDEO_TEXTS[channel])
                 + "{% endif %}")
    if channel == "sms":
        return Template(None, catalogue.gettext(_SMS_TEXTS[kind]) + video, None)
    return Template(catalogue.gettext(_SUBJECTS[kind]),
                    catalogue.gettext(_EMAIL_TEXTS[kind]) + video, DEFAULT_HTML)


# --------------------------------------------------------------------------- rendering

_TEXT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                             keep_trailing_newline=True)
_HTML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True,
                             keep_trailing_newline=True)


@dataclass(frozen=True, slots=True)
class Facts:
    """What a message says about one appointment (plain values, already looked up)."""

    appointment_id: str
    start: datetime
    end: datetime
    time_zone: str
    language: str
    patient_name: str
    clinic_name: str
    clinic_phone: str
    provider_name: str
    appointment_type: str
    confirm_url: str = ""
    cancel_url: str = ""
    version: int = 1
    cancelled: bool = False
    #: The appointment's last change (its DTSTAMP and LAST-MODIFIED, as in the feeds).
    updated_at: datetime | None = None
    accept_url: str = ""
    #: Until when a waitlist offer holds the place.
    hold_until: datetime | None = None
    #: A ``rerouted`` message's appointments: (start, provider's name) each.
    moved: tuple[tuple[datetime, str], ...] = ()
    #: A telemedicine visit's video link (``""``: none).
    video_url: str = ""
    #: The link leads to choices (a no-join offer), not to one place to accept.
    choose: bool = False


def variables(facts: Facts) -> dict[str, Any]:
    local = facts.start.astimezone(ZoneInfo(facts.time_zone))
    locale = "es_ES" if facts.language == "es" else "en_US"
    catalogue = translations(facts.language)
    return {
        "patient_name": facts.patient_name, "clinic_name": facts.clinic_name,
        "clinic_phone": facts.clinic_phone, "provider_name": facts.provider_name,
        "appointment_type": facts.appointment_type,
        "date": _date_text(local.date(), locale),
        "time": _time_text(local.time(), locale),
        "confirm_url": facts.confirm_url, "cancel_url": facts.cancel_url,
        "accept_url": facts.accept_url, "video_url": facts.video_url,
        "hold_until": _time_text(facts.hold_until.astimezone(ZoneInfo(facts.time_zone)).time(),
                                 locale) if facts.hold_until else "",
        "appointments": "\n".join(
            "- " + catalogue.gettext(N_("{date} at {time} with {provider}")).format(
                date=_date_text(at.astimezone(ZoneInfo(facts.time_zone)).date(), locale),
                time=_time_text(at.astimezone(ZoneInfo(facts.time_zone)).time(), locale),
                provider=provider) for at, provider in facts.moved),
        "accept_label": catalogue.gettext(N_("See your choices") if facts.choose
                                          else N_("Accept the place")),
        "video_label": catalogue.gettext(N_("Join the video visit")),
        "confirm_label": catalogue.gettext(N_("Confirm")),
        "cancel_label": catalogue.gettext(N_("Cancel the appointment")),
    }


@lru_cache(maxsize=4096)
def _date_text(day: date, locale: str) -> str:
    """Babel's full date (the same few days recur in every batch of reminders)."""
    return str(format_date(day, "full", locale=locale))


@lru_cache(maxsize=4096)
def _time_text(at: time, locale: str) -> str:
    return str(format_time(at, "short", locale=locale))


def render(template: Template, values: dict[str, Any]) -> Rendered:
    """Render all parts of ``template``; :class:`TemplateProblem` names what is wrong."""
    subject = _render(_TEXT, template.subject, values, "subject")
    text = _render(_TEXT, template.body_text, values, "text") or ""
    html = None
    if template.body_html is not None:
        paragraphs = Markup("\n").join(
            Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line)
                                                                for line in part.split("\n")))
            for part in text.strip().split("\n\n"))
        html = _render(_HTML, template.body_html, {**values, "body": paragraphs}, "HTML")
    return Rendered(subject.strip() if subject else subject, text.strip(), html)


@lru_cache(maxsize=512)
def _compiled(html: bool, source: str) -> Any:
    """Compiled once per text (the defaults and each organization's templates)."""
    return (_HTML if html else _TEXT).from_string(source)


def _render(environment: SandboxedEnvironment, source: str | None, values: dict[str, Any],
            part: str) -> str | None:
    if source is None:
        return None
    try:
        return str(_compiled(environment is _HTML, source).render(values))
    except UndefinedError as error:
        raise TemplateProblem(f"The {part} uses a variable that does not exist: {error.message}. "
                              f"Known variables: {', '.join(VARIABLES)}.") from None
    except TemplateError as error:
        raise TemplateProblem(f"The {part} is not a valid template: {error.message}") from None


def sample(language: str) -> Facts:
    """The sample appointment previews are rendered with."""
    start = datetime(2026, 3, 10, 9, 30, tzinfo=ZoneInfo("Europe/Madrid"))
    return Facts("sample", start, start + timedelta(minutes=30), "Europe/Madrid", language,
                 "Ana", "Clínica Centro", "+34 910 000 000", "Dr. Ruiz", "Check-up",
                 "https://clinic.example/n/confirm-link", "https://clinic.example/n/cancel-link",
                 accept_url="https://clinic.example/n/accept-link",
                 hold_until=start - timedelta(hours=20),
                 moved=((start, "Dr. Ruiz"), (start + timedelta(days=7), "Dr. Vidal")),
                 video_url="https://meet.example/sample-room")


# --------------------------------------------------------------------------- calendar file


def ics(facts: Facts) -> bytes:
    """The appointment as an iCalendar file (attached to every e-mail): the VEVENT
    :func:`scheduling.ical.appointment_event` makes for a busy-only feed, with the type
    and clinic as its summary, written as text (the ``icalendar`` objects cost more than
    the rest of a message; tests compare both byte for byte)."""
    zone = ZoneInfo(facts.time_zone)
    summary = f"{facts.appointment_type} — {facts.clinic_name}"
    if facts.cancelled:
        summary = translations(facts.language).gettext(N_("Cancelled: {title}")).format(
            title=summary)
    stamp = f"{(facts.updated_at or facts.start).astimezone(UTC):%Y%m%dT%H%M%SZ}"
    lines = [f"SUMMARY:{_ical_text(summary)}",
             f"DTSTART;TZID={facts.time_zone}:{facts.start.astimezone(zone):%Y%m%dT%H%M%S}",
             f"DTEND;TZID={facts.time_zone}:{facts.end.astimezone(zone):%Y%m%dT%H%M%S}",
             f"DTSTAMP:{stamp}", f"UID:{ical.uid(facts.appointment_id)}",
             f"SEQUENCE:{facts.version}", "CLASS:PRIVATE", f"LAST-MODIFIED:{stamp}"]
    if facts.clinic_name:
        lines.append(f"LOCATION:{_ical_text(facts.clinic_name)}")
    lines += [f"STATUS:{'CANCELLED' if facts.cancelled else 'CONFIRMED'}", "TRANSP:OPAQUE"]
    event = "".join(_fold(line) + "\r\n" for line in ["BEGIN:VEVENT", *lines, "END:VEVENT"])
    head = _calendar_head(facts.clinic_name, facts.time_zone, facts.start.year)
    return head + event.encode("utf-8") + b"END:VCALENDAR\r\n"


def _ical_text(value: str) -> str:
    """An iCalendar TEXT value (RFC 5545 3.3.11)."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _fold(line: str) -> str:
    """Content lines under 75 octets, continued after CRLF and a space, never split right
    after a backslash (as ``icalendar`` folds them)."""
    if len(line.encode("utf-8")) < 75:
        return line
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if current and size + width >= 75:
            carried = current.pop() if len(current) > 1 and current[-1] == "\\" else ""
            pieces.append("".join(current))
            current, size = ([carried], 1) if carried else ([], 0)
        current.append(char)
        size += width
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


@lru_cache(maxsize=64)
def _calendar_head(name: str, time_zone: str, year: int) -> bytes:
    """The VCALENDAR's lines and VTIMEZONE up to its last event (the same for every message
    of a clinic and year: serialized once)."""
    calendar = ical.calendar_head(name, timedelta(days=1), [time_zone], (year - 1, year + 1))
    text = bytes(calendar.to_ical())
    end = b"END:VCALENDAR\r\n"
    assert text.endswith(end)
    return text[:-len(end)]
