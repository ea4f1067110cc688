"""The no-show policy: after ``limit`` no-shows within ``months`` months, a patient's own
bookings (online, a reply link, a waitlist offer) are refused with ``NO_SHOW_LIMIT`` and a
booking by staff without ``booking:approve`` waits for approval (status pending); staff
with that permission book as usual.

Pure: the server reads the patient's no-show dates and passes the patients at the limit
to the rules in :attr:`scheduling.commands.Policy.no_show_limited`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduling.timeutil import require_aware

#: A month of the policy's window (the window is a count of days, not calendar months).
MONTH = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class NoShowPolicy:
    """``limit`` 0 switches the policy off."""

    limit: int = 3
    months: int = 12

    def recent(self, dates: Iterable[datetime], now: datetime) -> int:
        """How many of ``dates`` fall within the window ending at ``now``."""
        now = require_aware(now, "now")
        since = now - self.months * MONTH
        return sum(1 for moment in dates if since <= require_aware(moment, "date") <= now)

    def reached(self, dates: Iterable[datetime], now: datetime) -> int | None:
        """The recent count when it reaches the limit, else ``None``."""
        if self.limit <= 0:
            return None
        count = self.recent(dates, now)
        return count if count >= self.limit else None
