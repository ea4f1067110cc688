"""The desk's user-visible text: one gettext catalogue, the current language, Babel formats.

``_()`` translates now into the current language; ``N_()`` only marks a message
that is translated later (a table of labels); ``ngettext()`` picks a plural.
:func:`set_language` switches the language of the whole desk and emits
``languageChanged`` on :func:`language_notifier`, to which every open screen
connects its ``retranslate()`` slot, so a switch re-translates live.

Dates, times and numbers are formatted by Babel in the clinic's time zone and in
a locale that speaks the UI language with the clinic's regional conventions
(UI ``en`` at an ``es_ES`` clinic → ``en_ES``).
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.dates import format_skeleton, format_timedelta, get_date_format, get_time_format
from babel.dates import format_time as _babel_time
from babel.numbers import format_decimal, format_percent
from PySide6.QtCore import QObject, Signal

from desktop.services.display_language import set_display_language
from desktop.translations import translations
from scheduling.i18n import render
from scheduling.refusals import N_

LANGUAGES: tuple[str, ...] = ("en", "es")


class LanguageNotifier(QObject):
    """Emits ``languageChanged(language)`` after :func:`set_language` switched it."""

    languageChanged = Signal(str)


_state: dict[str, object] = {"language": "en", "catalogue": translations("en")}
_notifier: list[LanguageNotifier] = []


def language_notifier() -> LanguageNotifier:
    """The one notifier of the process (created on first use, in the UI thread)."""
    if not _notifier:
        _notifier.append(LanguageNotifier())
    return _notifier[0]


def current_language() -> str:
    return str(_state["language"])


def set_language(language: str) -> None:
    """Switch the desk to ``language`` (``en``/``es``) and tell every open screen."""
    if language == current_language():
        return
    _state["language"] = language
    _state["catalogue"] = translations(language)
    set_display_language(language)  # records named per language (appointment types)
    language_notifier().languageChanged.emit(language)


def _catalogue() -> gettext.NullTranslations:
    catalogue = _state["catalogue"]
    assert isinstance(catalogue, gettext.NullTranslations)
    return catalogue


def _(message: str) -> str:
    """``message`` in the current language."""
    return _catalogue().gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return _catalogue().ngettext(singular, plural, count)


# --------------------------------------------------------------------------- formats


def display_locale(clinic_locale: str) -> str:
    """The clinic's locale spoken in the UI language (``es_ES`` + ``en`` → ``en_ES``)."""
    language = current_language()
    try:
        clinic = Locale.parse(clinic_locale)
    except (ValueError, UnknownLocaleError):
        return language
    if clinic.language == language:
        return str(clinic)
    if clinic.territory:
        try:
            return str(Locale.parse(f"{language}_{clinic.territory}"))
        except (ValueError, UnknownLocaleError):
            pass
    return language


def format_when(moment: datetime, tz: str, clinic_locale: str) -> str:
    """An instant as the clinic's local date and time (``Tue, 4 Mar 2025, 10:00``)."""
    locale = display_locale(clinic_locale)
    day = format_skeleton("yMMMEd", moment, tzinfo=ZoneInfo(tz), locale=locale)
    return f"{day}, {format_clock(moment, tz, clinic_locale)}"


def format_clock(moment: datetime, tz: str, clinic_locale: str) -> str:
    """The clinic's local wall-clock time of an instant (``10:00``)."""
    return str(_babel_time(moment, "short", tzinfo=ZoneInfo(tz),
                           locale=display_locale(clinic_locale)))


def date_edit_format(clinic_locale: str) -> str:
    """A ``QDateEdit`` display format: the locale's short numeric date, four-digit year."""
    pattern = get_date_format("short", locale=display_locale(clinic_locale)).pattern
    return re.sub(r"y+", "yyyy", pattern)


def time_edit_format(clinic_locale: str) -> str:
    """A ``QTimeEdit`` display format: 12-hour with AM/PM where the locale says so
    (``h:mm AP`` in English for the US), else 24-hour (``HH:mm``)."""
    pattern = str(get_time_format("short", locale=display_locale(clinic_locale)).pattern)
    if "h" in pattern or "K" in pattern:
        return "h:mm AP"
    return "HH:mm"


def format_day(day: date, clinic_locale: str) -> str:
    return str(_babel_date(day, "full", locale=display_locale(clinic_locale)))


def format_date(day: date, clinic_locale: str) -> str:
    """A date in the locale's medium form (``4 Mar 1985``, ``4 mar 1985``)."""
    return str(_babel_date(day, "medium", locale=display_locale(clinic_locale)))


def format_duration(delta: timedelta, clinic_locale: str) -> str:
    """A wait or a length in words (``12 min``, ``2 h``)."""
    return str(format_timedelta(delta, format="short", threshold=1.5,
                                locale=display_locale(clinic_locale)))


def format_number(value: float, clinic_locale: str) -> str:
    return str(format_decimal(round(value, 1), locale=display_locale(clinic_locale)))


def format_ratio(value: float | None, clinic_locale: str) -> str:
    """A fraction as a percentage, or a dash when it is unknown."""
    if value is None:
        return "—"
    return str(format_percent(value, locale=display_locale(clinic_locale)))


def one_full_stop(text: str) -> str:
    """``text`` with one full stop at its end where a sentence ends in an abbreviation's
    (Spanish times end in "a.m." / "p.m.": "…, 10:30 a.m.." reads as a typo)."""
    return text[:-1] if text.endswith("..") and not text.endswith("...") else text


def render_message(
    message_id: str,
    params: Mapping[str, object],
    *,
    tz: str,
    clinic_locale: str,
    names: Mapping[str, str] | None = None,
) -> str:
    """A domain message (a refusal) in the current language, as the clinic shows it."""
    return render(message_id, params, catalogue=translations(current_language()),
                  locale=display_locale(clinic_locale), tz=tz, names=names)


__all__ = [
    "LANGUAGES",
    "N_",
    "LanguageNotifier",
    "_",
    "current_language",
    "date_edit_format",
    "display_locale",
    "format_clock",
    "format_date",
    "format_day",
    "format_duration",
    "format_number",
    "format_ratio",
    "format_when",
    "language_notifier",
    "ngettext",
    "one_full_stop",
    "render_message",
    "set_language",
    "time_edit_format",
]
