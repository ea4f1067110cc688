"""The product's one gettext catalogue, and domain messages rendered for a clinic.

Messages are English msgids with named placeholders (``{provider}``); the
catalogue ``clinicdesk`` in ``translations/<lang>/LC_MESSAGES/`` holds their
translations. A compiled ``clinicdesk.mo`` is used when it is present and not
older than its ``.po``; otherwise the ``.po`` is compiled in memory, so a fresh
clone needs no build step. Parameters are formatted with Babel in the clinic's
locale and time zone: instants as local wall-clock time, ids as display names.

The catalogue folder is ``scheduling/translations/`` where a build put it (wheel,
bundle), else ``translations/`` next to the ``scheduling`` package,
or ``$CLINICDESK_TRANSLATIONS_DIR``. Refreshing it after adding a message:
``python translations/update.py`` (see its docstring).
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from scheduling.commands import Refused
from scheduling.refusals import N_

DOMAIN = "clinicdesk"
TRANSLATIONS_ENV = "CLINICDESK_TRANSLATIONS_DIR"
#: A wheel or a desk bundle carries the compiled catalogue inside the package (built by
#: ``translations/compile.py``); a source checkout reads ``translations/`` at the root.
PACKAGED_TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
SOURCE_TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
DEFAULT_TRANSLATIONS_DIR = (PACKAGED_TRANSLATIONS_DIR if PACKAGED_TRANSLATIONS_DIR.is_dir()
                            else SOURCE_TRANSLATIONS_DIR)

#: Words the domain puts into message parameters (statuses, record kinds, periods,
#: actions), translated like any other message so no English word lands in a
#: Spanish sentence.
TERMS: Mapping[str, str] = {
    # appointment statuses (scheduling.model.AppointmentStatus values)
    "pending": N_("pending approval"),
    "booked": N_("booked"),
    "confirmed": N_("confirmed"),
    "arrived": N_("arrived"),
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


def translations_dir() -> Path:
    """Where the catalogue lives: ``$CLINICDESK_TRANSLATIONS_DIR`` or the repository's."""
    configured = os.environ.get(TRANSLATIONS_ENV)
    return Path(configured) if configured else DEFAULT_TRANSLATIONS_DIR


def translations(language: str) -> gettext.NullTranslations:
    """The catalogue for ``language`` (``es``, ``es_MX`` or ``es-MX`` → ``es``).

    An unknown language gets English: a :class:`gettext.NullTranslations`,
    which returns each msgid unchanged.
    """
    return _load(_normalize(language), str(translations_dir()))


def clear_cache() -> None:
    """Forget loaded catalogues (after editing a ``.po``, or in tests)."""
    _load.cache_clear()


def render(
    message_id: str,
    params: Mapping[str, object],
    *,
    language: str,
    locale: str,
    tz: str,
    names: Mapping[str, str] | None = None,
) -> str:
    """Translate ``message_id`` into ``language`` and fill in ``params``.

    Aware datetimes are shown in ``tz`` (short date and time), dates as medium
    dates, numbers with the ``locale``'s separators, ids found in ``names`` as
    display names and known domain words (:data:`TERMS`) translated. A
    placeholder without a parameter stays visible as ``{name}``.
    """
    catalogue = translations(language)
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
    language: str,
    locale: str,
    tz: str,
    names: Mapping[str, str] | None = None,
) -> str:
    """The message of a refusal, rendered as :func:`render` does."""
    return render(refused.message_id, refused.params, language=language, locale=locale, tz=tz,
                  names=names)


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


def _normalize(language: str) -> str:
    return language.strip().replace("-", "_")


@lru_cache(maxsize=32)
def _load(language: str, directory: str) -> gettext.NullTranslations:
    root = Path(directory)
    candidates = [language]
    if "_" in language:
        candidates.append(language.split("_", 1)[0])
    for candidate in candidates:
        if not candidate or candidate != Path(candidate).name:
            continue  # not a plain language code (e.g. "../x"): never leave the folder
        folder = root / candidate / "LC_MESSAGES"
        compiled, source = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
        if compiled.is_file() and (
            not source.is_file() or compiled.stat().st_mtime >= source.stat().st_mtime
        ):
            with compiled.open("rb") as stream:
                return Translations(fp=stream, domain=DOMAIN)
        if source.is_file():
            return _compile_in_memory(source)
    return gettext.NullTranslations()


def _compile_in_memory(source: Path) -> Translations:
    with source.open("rb") as stream:
        catalog = read_po(stream, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as pybabel compile does
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)
