"""Virtual check-in for telemedicine visits: when the portal's "Check in" is open.

A patient may check in from ``opens_before`` before the start until ``closes_after``
after it (an organization's setting; 15 minutes either side by default). Pure: the
caller gives the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from scheduling.timeutil import require_aware

DEFAULT_OPENS_BEFORE = timedelta(minutes=15)
DEFAULT_CLOSES_AFTER = timedelta(minutes=15)
#: The widest window an organization may set, either side of the start.
MAX_WINDOW = timedelta(hours=4)


class WindowState(StrEnum):
    EARLY = "early"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class CheckInWindow:
    """How long before the start check-in opens and how long after it closes."""

    opens_before: timedelta = DEFAULT_OPENS_BEFORE
    closes_after: timedelta = DEFAULT_CLOSES_AFTER

    def __post_init__(self) -> None:
        for name in ("opens_before", "closes_after"):
            value = getattr(self, name)
            if not timedelta(0) <= value <= MAX_WINDOW:
                raise ValueError(f"{name} must be between 0 and {MAX_WINDOW}")

    def opens_at(self, start: datetime) -> datetime:
        return require_aware(start) - self.opens_before

    def closes_at(self, start: datetime) -> datetime:
        return require_aware(start) + self.closes_after

    def state(self, start: datetime, now: datetime) -> WindowState:
        """Whether check-in for an appointment starting at ``start`` is open at ``now``
        (the opening instant included, the closing one not)."""
        if require_aware(now) < self.opens_at(start):
            return WindowState.EARLY
        return WindowState.OPEN if now < self.closes_at(start) else WindowState.CLOSED
