"""Follow-ups and recalls (seed 000: "follow-up appointments are prompted and missed
follow-ups tracked"): when one is due, and whether it is overdue, in the clinic's local
calendar days.

An appointment type may ask for a follow-up within ``follow_up_days`` of a completed
visit, and/or a recall ``recall_months`` later (a six-month check-up). Completing such
a visit opens one window per kind:

* follow-up: from the day after the visit to ``follow_up_days`` after it;
* recall: :data:`RECALL_GRACE_DAYS` either side of the same day ``recall_months``
  later (the last day of that month when it is shorter).

A window is *upcoming* before its first day, *due* from its first to its last day
and *overdue* (missed) from the day after its last — local days of the clinic's
zone, so a follow-up becomes overdue at the clinic's midnight whether the day
before lasted 23, 24 or 25 hours. Pure logic: the server stores the windows.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from scheduling.timeutil import local_date

Kind = Literal["follow_up", "recall"]
Standing = Literal["upcoming", "due", "overdue"]
KINDS: tuple[Kind, ...] = ("follow_up", "recall")
#: Days before and after the recall date in which a booking counts.
RECALL_GRACE_DAYS = 14
#: The longest follow-up and recall a type may ask for.
MAX_FOLLOW_UP_DAYS = 730
MAX_RECALL_MONTHS = 120


@dataclass(frozen=True, slots=True)
class Window:
    """The local days (inclusive) in which a matching booking satisfies a follow-up."""

    kind: Kind
    due_from: date
    due_until: date

    def covers(self, day: date) -> bool:
        return self.due_from <= day <= self.due_until

    def standing(self, today: date) -> Standing:
        """Where the window stands on the clinic's local ``today``."""
        if today > self.due_until:
            return "overdue"
        return "due" if today >= self.due_from else "upcoming"


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def windows_after(visit_day: date, follow_up_days: int | None,
                  recall_months: int | None) -> list[Window]:
    """The windows a completed visit on local ``visit_day`` opens (none, one or both)."""
    found: list[Window] = []
    if follow_up_days:
        found.append(Window("follow_up", visit_day + timedelta(days=1),
                            visit_day + timedelta(days=follow_up_days)))
    if recall_months:
        target = add_months(visit_day, recall_months)
        grace = timedelta(days=RECALL_GRACE_DAYS)
        found.append(Window("recall", max(target - grace, visit_day + timedelta(days=1)),
                            target + grace))
    return found


def local_today(now: datetime, time_zone: str) -> date:
    """The clinic's calendar day at ``now``."""
    return local_date(now, time_zone)


__all__ = ["KINDS", "MAX_FOLLOW_UP_DAYS", "MAX_RECALL_MONTHS", "RECALL_GRACE_DAYS", "Kind",
           "Standing", "Window", "add_months", "local_today", "windows_after"]
