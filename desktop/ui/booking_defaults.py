"""Where a new booking starts when the receptionist has not said: the next quarter hour
inside the provider's working hours (never "now + 1 h, 16:47, after closing")."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

#: New bookings start on this grid.
STEP = timedelta(minutes=15)


def round_up(moment: datetime, step: timedelta = STEP) -> datetime:
    """``moment`` rounded up to the next multiple of ``step`` (unchanged when on it)."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    over = (moment - epoch) % step
    return moment if not over else moment + (step - over)


def default_start(now: datetime, working: Iterable[tuple[datetime, datetime]],
                  step: timedelta = STEP) -> datetime:
    """The first ``step``-rounded instant from ``now`` inside one of the ``working``
    periods (UTC pairs); the rounded ``now`` when there is none."""
    rounded = round_up(now, step)
    for start, end in sorted(working):
        candidate = max(round_up(start, step), rounded)
        if candidate + step <= end:
            return candidate
    return rounded


__all__ = ["STEP", "default_start", "round_up"]
