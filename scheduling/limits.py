"""One bound for every input, declared once.

The desk's intents (:mod:`scheduling.intents`), the server's REST bodies
(``sync_server/api/fields.py``) and the server's columns all use these numbers;
``tests/sync_server/test_input_limits.py`` reads every text column of the server's
models and fails when a column and its limit here disagree, so a value that passes
the decoder always fits the database.

Text is also refused when it holds NUL or another control character (PostgreSQL
cannot store NUL; the others have no business in a clinic's records), or a lone
surrogate (not encodable as UTF-8). Multi-line fields (notes, reasons, addresses)
may hold line breaks and tabs. Instants and dates must fall in
[:data:`EARLIEST_YEAR`, :data:`LATEST_YEAR`]: year 1 or 9999 overflows the moment a
buffer or a time zone is applied to it.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Final

#: Record ids: UUID text (36 characters).
ID: Final = 36
#: Appointment ids: a UUID, or ``<series id>@<YYYYmmddTHHMM>`` for a series occurrence.
APPOINTMENT_ID: Final = 64
#: Names of clinics, departments, resources, appointment types, holidays, devices.
NAME: Final = 200
#: A patient's given or family name.
PERSON_NAME: Final = 100
PHONE: Final = 32
#: RFC 5321's longest forward path.
EMAIL: Final = 320
#: Cancel, override, outage, blockout and exception reasons.
REASON: Final = 500
#: Free-text notes (appointment notes, waitlist notes, a patient's address).
NOTE: Final = 2000
#: An RFC 5545 recurrence rule.
RRULE: Final = 500
#: A patient's preferred language (``en``, ``es`` …).
LANGUAGE: Final = 8
#: Notification settings: an SMTP host or user name, a secret (SMTP password, gateway
#: key), a gateway account id, a link or gateway base URL; a template's subject and body.
HOST: Final = 255
SECRET: Final = 500
ACCOUNT_ID: Final = 100
BASE_URL: Final = 500
TEMPLATE_SUBJECT: Final = 500
TEMPLATE: Final = 20_000
#: A patient's contact preference (``email_then_sms`` …).
CONTACT_PREFERENCE: Final = 16
#: An IANA time zone name (the longest real one has 32 characters).
TIME_ZONE: Final = 64
INSURANCE_PROVIDER: Final = 100
INSURANCE_ID: Final = 50
#: A provider's professional licence number (seed 002: 50).
LICENCE_NUMBER: Final = 50
#: An organization's slug, and a sign-in's organization field (slug or id).
SLUG: Final = 64
#: An address a server fetches (an external busy calendar's .ics URL).
URL: Final = 2000
#: A sync mutation's intent name.
INTENT_NAME: Final = 64
#: An EHR's encounter reference on an appointment (e.g. ``Encounter/123``).
ENCOUNTER_REF: Final = 200
PASSWORD: Final = 1024
#: Whole-number counters (versions): a 32-bit column.
COUNTER: Final = 2**31 - 1
#: The longest appointment (a day).
DURATION_SECONDS: Final = 86_400
#: A waitlist priority lies in [-PRIORITY, PRIORITY].
PRIORITY: Final = 1000
#: How many ids a list field (equipment, preferred providers) may hold.
ID_LIST: Final = 100

EARLIEST_YEAR: Final = 1900
LATEST_YEAR: Final = 2200

#: Control characters a multi-line field may hold.
_LINE_BREAKS = frozenset("\n\r\t")


def text_problem(value: str, limit: int, *, multiline: bool = False) -> str | None:
    """Why ``value`` is not acceptable text of at most ``limit`` characters, or None.

    The answer never quotes the value (it could be patient data).
    """
    if len(value) > limit:
        return f"at most {limit} characters"
    for ch in value:
        if ch.isprintable() or ch == " " or (multiline and ch in _LINE_BREAKS):
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs") or ch == "\x00":
            return "text without NUL or other control characters"
    return None


def year_problem(value: date | datetime) -> str | None:
    """Why the year of ``value`` is out of range, or None."""
    if EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        return None
    return f"a date between the years {EARLIEST_YEAR} and {LATEST_YEAR}"
