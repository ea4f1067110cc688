"""Reminder times in the clinic's wall clock, on both DST transition days of two zones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling.reminders import after_quiet_hours, reminder_due

#: (zone, a transition day, elapsed hours of "24 h before" 10:30 that day)
TRANSITIONS = [
    ("America/New_York", datetime(2026, 3, 8), 23),   # spring forward
    ("America/New_York", datetime(2026, 11, 1), 25),  # fall back
    ("Europe/Madrid", datetime(2026, 3, 29), 23),     # spring forward
    ("Europe/Madrid", datetime(2026, 10, 25), 25),    # fall back
]


def local(zone: str, day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@pytest.mark.parametrize("zone,day,elapsed", TRANSITIONS)
def test_the_24_hour_reminder_keeps_the_wall_clock_time_across_dst(
        zone: str, day: datetime, elapsed: int) -> None:
    start = local(zone, day, 10, 30)
    due = reminder_due(start, 1440, zone)
    assert due.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == day.replace(
        hour=10, minute=30) - timedelta(days=1)
    assert start - due == timedelta(hours=elapsed)


@pytest.mark.parametrize("zone,day,elapsed", TRANSITIONS)
def test_the_2_hour_reminder_is_two_real_hours_before_even_over_the_change(
        zone: str, day: datetime, elapsed: int) -> None:
    del elapsed
    start = local(zone, day, 3, 30)  # two hours before crosses the transition
    assert start - reminder_due(start, 120, zone) == timedelta(hours=2)


def test_quiet_hours_move_a_message_to_their_end_in_local_time() -> None:
    quiet = (time(21, 0), time(8, 0))
    late = local("Europe/Madrid", datetime(2026, 3, 28), 22, 15)
    assert after_quiet_hours(late, quiet, "Europe/Madrid") == local(
        "Europe/Madrid", datetime(2026, 3, 29), 8, 0)  # the DST morning: 08:00 CEST
    noon = local("Europe/Madrid", datetime(2026, 3, 28), 12, 0)
    assert after_quiet_hours(noon, quiet, "Europe/Madrid") == noon
