"""When a reminder is due, in the clinic's wall-clock time (pure; no clock inside).

An offset that is a whole number of days ("24 h", "48 h") is counted in *calendar
days on the clinic's wall clock*: the reminder for a 10:30 appointment goes at 10:30
the day before, also when a DST change lies between (then "24 h before" is 23 or 25
elapsed hours). The rest of an offset ("2 h", "1 day 3 h") is *elapsed time* before
that: a 2-hour reminder is 120 real minutes before the start. A wall time that does
not exist (the hour skipped in spring) is read as the time just after the gap; an
ambiguous one (autumn) as its first occurrence (:func:`scheduling.timeutil.to_utc`).

Quiet hours ("21:00"-"08:00", local) push a message to their end, unless that would
be at or after the appointment itself.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from scheduling.timeutil import to_local, to_utc

MINUTES_PER_DAY = 24 * 60


def reminder_due(start: datetime, offset_minutes: int, tz: str) -> datetime:
    """The instant a reminder ``offset_minutes`` before ``start`` goes, in zone ``tz``."""
    days, rest = divmod(offset_minutes, MINUTES_PER_DAY)
    wall = to_local(start, tz) - timedelta(days=days)
    return to_utc(wall, tz) - timedelta(minutes=rest)


def parse_clock(value: str) -> time:
    """``"21:00"`` → 21:00 (``ValueError`` for anything else)."""
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(instant: datetime, quiet: tuple[time, time] | None, tz: str) -> bool:
    if quiet is None:
        return False
    start, end = quiet
    local = to_local(instant, tz).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def after_quiet_hours(instant: datetime, quiet: tuple[time, time] | None, tz: str) -> datetime:
    """``instant``, or the end of the quiet hours it falls in (local wall time)."""
    if not in_quiet_hours(instant, quiet, tz):
        return instant
    assert quiet is not None
    local = to_local(instant, tz)
    end = datetime.combine(local.date(), quiet[1])
    if end <= local:
        end += timedelta(days=1)
    return to_utc(end, tz)
