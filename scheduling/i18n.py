"""The product's one gettext catalogue, and domain messages rendered for a clinic.

Messages are English msgids with named placeholders (``{provider}``); the
catalogue ``clinicdesk`` in ``translations/<lang>/LC_MESSAGES/`` holds their
translations. Parameters are formatted with Babel in the clinic's locale and
time zone: instants as local wall-clock time, ids as display names.

This module reads no file and no environment variable: the desk
(``desktop/translations.py``) and the server (``sync_server/core/translations.py``)
find the catalogue files, and hand their bytes to :func:`compiled_catalogue` or
:func:`source_catalogue` (a ``.po`` compiled in memory, so a fresh clone needs no
build step); :func:`render` takes the catalogue to translate with. Refreshing
the catalogue after adding a message: ``python translations/update.py``.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from scheduling.commands import Refused
from scheduling.refusals import N_

DOMAIN = "clinicdesk"

#: Words the domain puts into message parameters (statuses, record kinds, periods,
#: actions), translated like any other message so no English word lands in a
#: Spanish sentence.
TERMS: Mapping[str, str] = {
    # appointment statuses (scheduling.model.AppointmentStatus values)
    "pending": N_("pending approval"),
    "booked": N_("booked"),
    "message_left": N_("message left"),
    "confirmed": N_("confirmed"),
    "arrived": N_("arrived"),
    "ready": N_("ready"),
    "in_progress": N_("in progress"),
    "completed": N_("completed"),
    "cancelled": N_("cancelled"),
    "no_show": N_("no-show"),
    "entered_in_error": N_("entered in error"),
    # record kinds (UNKNOWN_RECORD)
    "appointment": N_("appointment"),
    "appointment type": N_("appointment type"),
    "patient": N_("patient"),
    "provider": N_("provider"),
    "clinic": N_("clinic"),
    "room": N_("room"),
    "equipment": N_("equipment"),
    # quota periods (scheduling.model.QuotaPeriod values)
    "day": N_("day"),
    "week": N_("week"),
    # actions (NOT_PERMITTED)
    "book appointments": N_("book appointments"),
    "move appointments": N_("move appointments"),
    "change appointments": N_("change appointments"),
    "cancel appointments": N_("cancel appointments"),
    "change the status": N_("change the status"),
    "undo status changes": N_("undo status changes"),
}


def catalogue_files(language: str) -> tuple[tuple[str, str], ...]:
    """The catalogue files for ``language`` (``es``, ``es_MX`` or ``es-MX``), best first, as
    (compiled ``.mo``, source ``.po``) paths relative to the catalogue folder.

    A regional language falls back to its base language; anything that is not a plain
    language code (e.g. ``../x``) gives nothing, so a caller never leaves the folder.
    """
    language = language.strip().replace("-", "_")
    candidates = [language]
    if "_" in language:
        candidates.append(language.split("_", 1)[0])
    return tuple(
        (f"{code}/LC_MESSAGES/{DOMAIN}.mo", f"{code}/LC_MESSAGES/{DOMAIN}.po")
        for code in candidates
        if code and "/" not in code and "\\" not in code and code not in (".", "..")
    )


def compiled_catalogue(data: bytes) -> gettext.NullTranslations:
    """The catalogue of a compiled ``.mo`` file's bytes."""
    return Translations(fp=BytesIO(data), domain=DOMAIN)


def source_catalogue(data: bytes) -> gettext.NullTranslations:
    """The catalogue of a ``.po`` file's bytes, compiled in memory."""
    catalog = read_po(BytesIO(data), domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as pybabel compile does
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def render(
    message_id: str,
    params: Mapping[str, object],
    *,
    catalogue: gettext.NullTranslations,
    locale: str,
    tz: str,
    names: Mapping[str, str] | None = None,
) -> str:
    """Translate ``message_id`` with ``catalogue`` and fill in ``params``.

    Aware datetimes are shown in ``tz`` (short date and time), dates as medium
    dates, numbers with the ``locale``'s separators, ids found in ``names`` as
    display names and known domain words (:data:`TERMS`) translated. A
    placeholder without a parameter stays visible as ``{name}``.
    """
    text = catalogue.gettext(message_id)
    zone = ZoneInfo(tz)
    shown = {
        key: _format(value, catalogue, locale, zone, names or {})
        for key, value in params.items()
    }
    for key, value in shown.items():
        if value.endswith("."):
            # "11:50 a.m." before the sentence's own full stop: one stop, not "a.m..".
            text = text.replace("{" + key + "}.", "{" + key + "}")
    try:
        return text.format_map(_KeepMissing(shown))
    except (ValueError, IndexError, AttributeError):
        # A malformed translation (stray brace, positional field) must not hide the message.
        return text


def render_refusal(
    refused: Refused,
    *,
    catalogue: gettext.NullTranslations,
    locale: str,
    tz: str,
    names: Mapping[str, str] | None = None,
) -> str:
    """The message of a refusal, rendered as :func:`render` does."""
    return render(refused.message_id, refused.params, catalogue=catalogue, locale=locale,
                  tz=tz, names=names)


# --------------------------------------------------------------------------- internals


class _KeepMissing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _format(
    value: object,
    catalogue: gettext.NullTranslations,
    locale: str,
    zone: ZoneInfo,
    names: Mapping[str, str],
) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # already wall-clock time; show it as it is
            return str(format_datetime(value, format="short", locale=locale))
        return str(format_datetime(value, format="short", tzinfo=zone, locale=locale))
    if isinstance(value, date):
        return str(format_date(value, format="medium", locale=locale))
    if isinstance(value, time):
        return str(format_time(value, format="short", locale=locale))
    if isinstance(value, timedelta):
        return str(format_timedelta(value, locale=locale))
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(format_decimal(value, locale=locale))
    if isinstance(value, str):
        if value in names:
            return names[value]
        if value in TERMS:
            return catalogue.gettext(TERMS[value])
        return value
    return str(value)
