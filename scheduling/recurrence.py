"""Recurring appointments: an RFC 5545 RRULE subset expanded in clinic local time.

Supported rule parts (an optional leading ``RRULE:`` is accepted; names and
values are case-insensitive)::

    FREQ=DAILY|WEEKLY|MONTHLY   required
    INTERVAL=n                  n >= 1, default 1
    BYDAY=MO,WE,...             MONTHLY also takes ordinals: 2TU, -1FR (1..5, -1..-5)
    COUNT=n                     n >= 1
    UNTIL=...                   see below; never together with COUNT
    WKST=MO..SU                 default MO (never the process's ``calendar`` setting)

Anything else (other frequencies, BYMONTHDAY, BYSETPOS, BYHOUR, unknown parts,
malformed values) raises :class:`~scheduling.errors.RecurrenceError` naming the
offending part. The occurrences themselves are computed by ``dateutil.rrule``;
as there, a ``DTSTART`` that does not match the rule is not an occurrence, and
dates that do not exist (31 February) are skipped without being counted.

Wall-clock policy. The rule is expanded over naive *local* wall-clock times,
so 09:00 stays 09:00 across DST changes; each wall time then becomes a UTC
instant through :func:`scheduling.timeutil.to_utc`:

* a wall time in a spring-forward gap is read with the offset *before* the
  gap: 02:30 on 2026-03-08 in New York is 03:30 EDT (07:30 UTC), and 02:30 on
  2026-03-29 in Madrid is 03:30 CEST (01:30 UTC). The occurrence is kept
  (RFC 5545 §3.3.10 would drop it; a patient's appointment must not vanish),
  its ``local_start`` is the real wall time (03:30) and its
  ``original_local`` the one the rule asked for (02:30);
* a wall time in a fall-back fold means its *first* occurrence: 01:30 on
  2026-11-01 in New York is 01:30 EDT (05:30 UTC), 02:30 on 2026-10-25 in
  Madrid is 02:30 CEST (00:30 UTC).

``UNTIL`` is inclusive and comes in three forms:

* ``20260630T160000Z`` — a UTC instant, compared with each occurrence's UTC start;
* ``20260630T120000`` — a wall time in the clinic zone, compared with the
  wall time the rule asked for (``original_local``);
* ``20260630`` — a local date; every occurrence on that day is included.

A rule must be bounded (COUNT or UNTIL) and may yield at most
``max_occurrences`` occurrences (counted before ``exdates`` are removed);
otherwise the whole expansion is refused rather than silently truncated.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Final, Literal

from dateutil import rrule as du

from scheduling.errors import RecurrenceError, SchedulingInputError
from scheduling.timeutil import to_local, to_utc, zone

DEFAULT_MAX_OCCURRENCES: Final = 520

WEEKDAY_CODES: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

_FREQUENCIES: Final[dict[str, Literal[1, 2, 3]]] = {
    "DAILY": du.DAILY,
    "WEEKLY": du.WEEKLY,
    "MONTHLY": du.MONTHLY,
}
_OTHER_FREQUENCIES: Final = frozenset({"YEARLY", "HOURLY", "MINUTELY", "SECONDLY"})
_SUPPORTED_PARTS: Final = ("FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL", "WKST")
# Valid RFC 5545 / RFC 7529 parts that ClinicDesk deliberately does not support.
_UNSUPPORTED_PARTS: Final = frozenset(
    {"BYSECOND", "BYMINUTE", "BYHOUR", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH",
     "BYSETPOS", "RSCALE", "SKIP"}
)
_MAX_MONTHLY_ORDINAL: Final = 5

_INTEGER = re.compile(r"[0-9]+")
_BYDAY_ENTRY = re.compile(r"(?:([+-]?)([0-9]+))?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL_VALUE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})(?:T([0-9]{2})([0-9]{2})([0-9]{2})(Z?))?")

# Occurrences have whole seconds, so the last second of a date covers the whole day.
_END_OF_DAY: Final = time(23, 59, 59)
# A wall time and its UTC instant differ by less than this (UTC offsets stay within ±15 h).
_OFFSET_MARGIN: Final = timedelta(days=1)


# --------------------------------------------------------------------------- the rule


@dataclass(frozen=True, slots=True)
class RecurrenceRule:
    """A rule of the supported subset, validated on construction (also by ``replace``).

    ``byday`` is kept in canonical form: Monday first, ordinals without ``+``.
    ``until`` is the text as written (one of the three forms in the module docstring).
    """

    freq: str
    interval: int
    byday: tuple[str, ...]
    count: int | None
    until: str | None
    wkst: str = "MO"

    def __post_init__(self) -> None:
        if self.freq not in _FREQUENCIES:
            raise _frequency_error(self.freq)
        if not _is_whole_number(self.interval):
            raise RecurrenceError(f"INTERVAL must be a whole number, got {self.interval!r}")
        if self.interval < 1:
            raise RecurrenceError(f"INTERVAL must be at least 1, got {self.interval}")
        if self.count is not None:
            if not _is_whole_number(self.count):
                raise RecurrenceError(f"COUNT must be a whole number, got {self.count!r}")
            if self.count < 1:
                raise RecurrenceError(f"COUNT must be at least 1, got {self.count}")
        if self.count is not None and self.until is not None:
            raise RecurrenceError("COUNT and UNTIL cannot be used together (RFC 5545)")
        if self.until is not None:
            _until_bound(self.until)
        if self.wkst not in WEEKDAY_CODES:
            raise RecurrenceError(f"WKST must be one of {', '.join(WEEKDAY_CODES)}, "
                                  f"got {self.wkst!r}")
        object.__setattr__(self, "byday", _canonical_byday(self.byday, self.freq))

    def to_rrule(self) -> str:
        """Canonical text, e.g. ``FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE;COUNT=12``."""
        parts = [f"FREQ={self.freq}", f"INTERVAL={self.interval}"]
        if self.byday:
            parts.append(f"BYDAY={','.join(self.byday)}")
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.until is not None:
            parts.append(f"UNTIL={self.until}")
        if self.wkst != "MO":
            parts.append(f"WKST={self.wkst}")
        return ";".join(parts)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of a series.

    ``local_start`` is the naive wall time the clinic sees (after the gap
    adjustment, e.g. 03:30), ``start`` the aware UTC instant, and
    ``original_local`` the wall time the rule asked for (e.g. 02:30): the
    occurrence's identity, which ``exdates`` refer to.
    """

    local_start: datetime
    start: datetime
    original_local: datetime


# --------------------------------------------------------------------------- parsing and building


def parse_rrule(text: str) -> RecurrenceRule:
    """Parse an RRULE of the supported subset or raise :class:`RecurrenceError`."""
    if not isinstance(text, str):
        raise RecurrenceError(f"an RRULE must be text, got {type(text).__name__}")
    body = text.strip().upper()
    body = body.removeprefix("RRULE:")
    if not body:
        raise RecurrenceError("the RRULE is empty; it needs at least FREQ and COUNT or UNTIL")

    values: dict[str, str] = {}
    for part in body.split(";"):
        name, equals, value = part.partition("=")
        if not equals or not name or not value:
            raise RecurrenceError(f"malformed RRULE part {part!r}: expected NAME=VALUE")
        if name in _UNSUPPORTED_PARTS:
            raise RecurrenceError(f"{name} is not supported; supported parts are "
                                  f"{', '.join(_SUPPORTED_PARTS)}")
        if name not in _SUPPORTED_PARTS:
            raise RecurrenceError(f"unknown RRULE part {name!r}; supported parts are "
                                  f"{', '.join(_SUPPORTED_PARTS)}")
        if name in values:
            raise RecurrenceError(f"{name} appears more than once in the RRULE")
        values[name] = value

    if "FREQ" not in values:
        raise RecurrenceError("the RRULE has no FREQ part (DAILY, WEEKLY or MONTHLY)")
    byday = values.get("BYDAY")
    return RecurrenceRule(
        freq=values["FREQ"],
        interval=_whole_number("INTERVAL", values.get("INTERVAL", "1")),
        byday=tuple(byday.split(",")) if byday is not None else (),
        count=_whole_number("COUNT", values["COUNT"]) if "COUNT" in values else None,
        until=values.get("UNTIL"),
        wkst=values.get("WKST", "MO"),
    )


def build_rrule(
    freq: str,
    *,
    interval: int = 1,
    weekdays: Iterable[int] = (),
    count: int | None = None,
    until: date | None = None,
) -> str:
    """Canonical RRULE text from editor choices (``weekdays``: 0 = Monday .. 6 = Sunday).

    A ``date`` ``until`` includes that whole local day; a naive ``datetime`` is a
    local wall time and an aware one a UTC instant. Validated by :func:`parse_rrule`.
    """
    codes: list[str] = []
    for day in weekdays:
        if not _is_whole_number(day) or not 0 <= day <= 6:
            raise RecurrenceError(f"a weekday must be 0 (Monday) to 6 (Sunday), got {day!r}")
        codes.append(WEEKDAY_CODES[day])
    parts = [f"FREQ={freq}", f"INTERVAL={interval}"]
    if codes:
        parts.append(f"BYDAY={','.join(codes)}")
    if count is not None:
        parts.append(f"COUNT={count}")
    if until is not None:
        parts.append(f"UNTIL={_until_text(until)}")
    return parse_rrule(";".join(parts)).to_rrule()


def weekly_for_weeks(weekdays: Iterable[int], weeks: int) -> str:
    """The editor's "Mon/Wed for 6 weeks": ``FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE;COUNT=12``.

    The count is weekdays × weeks, so a series starting mid-week ends mid-week too.
    """
    days = sorted(set(weekdays))
    if not days:
        raise RecurrenceError("choose at least one weekday")
    if not _is_whole_number(weeks) or weeks < 1:
        raise RecurrenceError(f"the number of weeks must be at least 1, got {weeks!r}")
    return build_rrule("WEEKLY", weekdays=days, count=len(days) * weeks)


# --------------------------------------------------------------------------- expansion


def expand(
    rrule: str,
    first_local: datetime,
    tz: str,
    *,
    max_occurrences: int = DEFAULT_MAX_OCCURRENCES,
    exdates: Collection[datetime] = (),
) -> list[Occurrence]:
    """Occurrences of ``rrule`` from ``first_local`` (naive wall time in ``tz``), in order.

    ``exdates`` are ``original_local`` wall times of cancelled occurrences to skip.
    Raises :class:`RecurrenceError` for an unsupported, unbounded or too long rule,
    :class:`~scheduling.errors.UnknownTimeZoneError` for an unknown zone and
    ``ValueError`` for an aware or sub-second ``first_local`` or an aware exdate.
    """
    rule = parse_rrule(rrule)
    zone(tz)
    _require_wall_time(first_local, "first_local")
    if first_local.microsecond:
        raise SchedulingInputError("first_local must be a whole second (RRULE times have "
                                   "no fractions)")
    skipped = frozenset(_require_wall_time(day, "an exdate") for day in exdates)
    if not _is_whole_number(max_occurrences) or max_occurrences < 1:
        raise SchedulingInputError(f"max_occurrences must be at least 1, got {max_occurrences!r}")
    if rule.count is None and rule.until is None:
        raise RecurrenceError("the RRULE needs COUNT or UNTIL; an endless series cannot be "
                              "booked")
    if rule.count is not None and rule.count > max_occurrences:
        raise RecurrenceError(f"COUNT={rule.count} is more than the {max_occurrences} "
                              "occurrences a series may have")

    walls = list(islice(_rule_wall_times(rule, first_local, tz), max_occurrences + 1))
    if len(walls) > max_occurrences:
        raise RecurrenceError(f"UNTIL={rule.until} yields more than the {max_occurrences} "
                              "occurrences a series may have")
    if rule.count is not None and len(walls) < rule.count:
        raise RecurrenceError(f"the rule reaches the end of the calendar after {len(walls)} "
                              f"of its COUNT={rule.count} occurrences")

    occurrences: list[Occurrence] = []
    for wall in walls:
        if wall in skipped:
            continue
        start = _instant(wall, tz)
        occurrences.append(Occurrence(to_local(start, tz), start, wall))
    return occurrences


def _rule_wall_times(rule: RecurrenceRule, first_local: datetime, tz: str) -> Iterator[datetime]:
    """The rule's wall times in order, UNTIL applied (COUNT is applied by dateutil)."""
    wall_bound: datetime | None = None
    instant_bound: datetime | None = None
    if rule.until is not None:
        bound, is_utc = _until_bound(rule.until)
        if is_utc:
            instant_bound = bound.replace(tzinfo=UTC)
            # A loose wall-time bound so dateutil stops even if no occurrence matches.
            wall_bound = _plus(bound, _OFFSET_MARGIN)
        else:
            wall_bound = bound
    recurrence = du.rrule(
        _FREQUENCIES[rule.freq],
        dtstart=first_local,
        interval=rule.interval,
        wkst=WEEKDAY_CODES.index(rule.wkst),
        count=rule.count,
        until=wall_bound,
        byweekday=[_weekday(code) for code in rule.byday] or None,
    )
    for wall in recurrence:
        # Wall times at least a day apart have non-decreasing instants: stop at the first past.
        if instant_bound is not None and _instant(wall, tz) > instant_bound:
            return
        yield wall


# --------------------------------------------------------------------------- helpers


def _is_whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _frequency_error(freq: str) -> RecurrenceError:
    if freq in _OTHER_FREQUENCIES:
        return RecurrenceError(f"FREQ={freq} is not supported; use DAILY, WEEKLY or MONTHLY")
    return RecurrenceError(f"FREQ={freq} is not a frequency; use DAILY, WEEKLY or MONTHLY")


def _whole_number(name: str, value: str) -> int:
    if not _INTEGER.fullmatch(value):
        raise RecurrenceError(f"{name} must be a whole number, got {value!r}")
    if len(value) > 9:
        raise RecurrenceError(f"{name}={value} is too large")
    return int(value)


def _parse_byday(entry: str, freq: str) -> tuple[int, int | None]:
    """``"2TU"`` → (1, 2); ``"MO"`` → (0, None)."""
    match = _BYDAY_ENTRY.fullmatch(entry) if isinstance(entry, str) else None
    if match is None:
        raise RecurrenceError(f"BYDAY entry {entry!r} is not a weekday such as MO or 2TU")
    sign, digits, code = match.groups()
    if digits is None:
        return WEEKDAY_CODES.index(code), None
    if freq != "MONTHLY":
        raise RecurrenceError(f"BYDAY={entry} has an ordinal, which only a MONTHLY rule may use")
    ordinal = int(digits)
    if not 1 <= ordinal <= _MAX_MONTHLY_ORDINAL:
        raise RecurrenceError(f"BYDAY={entry}: the ordinal must be 1..5 or -1..-5 in a month")
    return WEEKDAY_CODES.index(code), -ordinal if sign == "-" else ordinal


def _canonical_byday(entries: tuple[str, ...], freq: str) -> tuple[str, ...]:
    if isinstance(entries, str):
        raise RecurrenceError(f"byday must be a tuple of day codes, got the text {entries!r}")
    parsed = [_parse_byday(entry, freq) for entry in entries]
    if len(set(parsed)) != len(parsed):
        raise RecurrenceError(f"BYDAY={','.join(entries)} lists a day twice")
    # Monday first; within a day plain before ordinals, 1..5 before -5..-1.
    parsed.sort(key=lambda day: (day[0], day[1] is not None, (day[1] or 0) < 0, day[1] or 0))
    return tuple(
        WEEKDAY_CODES[weekday] if ordinal is None else f"{ordinal}{WEEKDAY_CODES[weekday]}"
        for weekday, ordinal in parsed
    )


def _weekday(code: str) -> du.weekday:
    weekday, ordinal = _parse_byday(code, "MONTHLY")
    return du.weekday(weekday, ordinal)


def _until_bound(until: str) -> tuple[datetime, bool]:
    """The inclusive bound of an UNTIL value as a naive datetime, and whether it is UTC."""
    match = _UNTIL_VALUE.fullmatch(until) if isinstance(until, str) else None
    if match is None:
        raise RecurrenceError(f"UNTIL={until} is not YYYYMMDD, YYYYMMDDTHHMMSS or "
                              "YYYYMMDDTHHMMSSZ")
    year, month, day, hour, minute, second, utc = match.groups()
    try:
        day_value = date(int(year), int(month), int(day))
        if hour is None:
            return datetime.combine(day_value, _END_OF_DAY), False
        moment = time(int(hour), int(minute), int(second))
    except ValueError as exc:
        raise RecurrenceError(f"UNTIL={until} is not a valid date and time ({exc})") from exc
    return datetime.combine(day_value, moment), utc == "Z"


def _until_text(until: date) -> str:
    if not isinstance(until, datetime):
        return until.strftime("%Y%m%d")
    if until.tzinfo is None:
        return until.strftime("%Y%m%dT%H%M%S")
    return until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _require_wall_time(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise SchedulingInputError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is not None:
        raise SchedulingInputError(f"{what} must be a naive wall-clock time in the clinic "
                                   f"zone, got {value.isoformat()}")
    return value


def _instant(wall: datetime, tz: str) -> datetime:
    try:
        return to_utc(wall, tz)
    except OverflowError as exc:
        raise RecurrenceError(f"the occurrence at {wall.isoformat()} is beyond the end of "
                              "the calendar") from exc


def _plus(moment: datetime, delta: timedelta) -> datetime | None:
    """``moment + delta``, or None (no bound) past the end of the calendar."""
    try:
        return moment + delta
    except OverflowError:
        return None


__all__ = [
    "DEFAULT_MAX_OCCURRENCES",
    "WEEKDAY_CODES",
    "Occurrence",
    "RecurrenceRule",
    "build_rrule",
    "expand",
    "parse_rrule",
    "weekly_for_weeks",
]
