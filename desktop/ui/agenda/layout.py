"""Where the agenda puts things: overlap lanes and the local-time axis. Pure Python, no Qt.

Overlapping appointments in one column share its width side by side, as KDE's
agenda view does: each overlap *cluster* (a maximal run of items linked by
overlaps) gets as many lanes as it needs, every item takes the first lane free
at its start, and an item is widened to the right over lanes nobody uses while
it runs. The column's x of an item is ``lane / lanes``, its width
``span / lanes``.

The vertical axis is a local day in the clinic's IANA zone, measured in real
elapsed time from local midnight, so a spring-forward day has 23 hour rows and
a fall-back day 25 (the labels repeat or skip the wall-clock hour that DST
adds or removes).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from scheduling.timeutil import day_bounds, zone


@dataclass(frozen=True, slots=True)
class Span:
    """One thing to lay out: an id, the column it sits in and its ``[start, end)``."""

    id: Hashable
    column: Hashable
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Lane:
    """Where a span goes across its column: lanes ``lane``..``lane + span - 1`` of ``lanes``."""

    lane: int
    lanes: int
    span: int = 1

    @property
    def x(self) -> float:
        """Left edge as a fraction of the column width."""
        return self.lane / self.lanes

    @property
    def width(self) -> float:
        return self.span / self.lanes


def lay_out(spans: Iterable[Span]) -> dict[Hashable, Lane]:
    """Give every span its lane; deterministic (ties broken by end, then id)."""
    by_column: dict[Hashable, list[Span]] = {}
    for item in spans:
        by_column.setdefault(item.column, []).append(item)
    placed: dict[Hashable, Lane] = {}
    for column_spans in by_column.values():
        column_spans.sort(key=lambda s: (s.start, -_seconds(s.end - s.start), repr(s.id)))
        cluster: list[Span] = []
        cluster_end: datetime | None = None
        for item in column_spans:
            if cluster_end is not None and item.start >= cluster_end:
                placed.update(_lay_out_cluster(cluster))
                cluster, cluster_end = [], None
            cluster.append(item)
            cluster_end = item.end if cluster_end is None else max(cluster_end, item.end)
        if cluster:
            placed.update(_lay_out_cluster(cluster))
    return placed


def _lay_out_cluster(cluster: list[Span]) -> dict[Hashable, Lane]:
    lane_ends: list[datetime] = []  # when each lane frees up
    lane_of: dict[Hashable, int] = {}
    for item in cluster:
        for index, free_at in enumerate(lane_ends):
            if free_at <= item.start:
                lane_ends[index] = item.end
                lane_of[item.id] = index
                break
        else:
            lane_of[item.id] = len(lane_ends)
            lane_ends.append(item.end)
    lanes = len(lane_ends)
    result: dict[Hashable, Lane] = {}
    for item in cluster:
        lane = lane_of[item.id]
        span = 1
        # Widen over the lanes to the right that nothing overlapping this item uses.
        while lane + span < lanes and not any(
            lane_of[other.id] == lane + span and other.start < item.end
            and item.start < other.end
            for other in cluster
        ):
            span += 1
        result[item.id] = Lane(lane, lanes, span)
    return result


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()


# --------------------------------------------------------------------------- the time axis


@dataclass(frozen=True, slots=True)
class DayAxis:
    """A local day of ``tz`` as a vertical axis: minutes since local midnight, in real time."""

    day: date
    tz: str
    start: datetime  # UTC instant of local midnight
    end: datetime  # UTC instant of the next local midnight

    @property
    def minutes(self) -> float:
        return _seconds(self.end - self.start) / 60

    @property
    def hours(self) -> int:
        """How many hour rows the day has: 23, 24 or 25 (rounded up for odd offsets)."""
        return math.ceil(self.minutes / 60)

    def minute_of(self, instant: datetime) -> float:
        """Minutes from local midnight to ``instant`` (may fall outside the day)."""
        return _seconds(instant - self.start) / 60

    def instant_at(self, minute: float) -> datetime:
        return self.start + timedelta(minutes=minute)

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    def snap(self, minute: float, step_minutes: int) -> float:
        """``minute`` rounded to the nearest step, kept inside the day."""
        snapped = round(minute / step_minutes) * step_minutes
        return min(max(snapped, 0.0), self.minutes)

    def hour_marks(self) -> list[tuple[float, datetime]]:
        """``(minute, instant)`` of every hour row's top, with the instant to label it."""
        return [(60.0 * row, self.instant_at(60.0 * row)) for row in range(self.hours)]


def day_axis(day: date, tz: str) -> DayAxis:
    """The axis of local ``day`` in IANA zone ``tz`` (23, 24 or 25 hours long)."""
    start, end = day_bounds(day, tz)
    return DayAxis(day, tz, start, end)


def local_hour(instant: datetime, tz: str) -> int:
    """The wall-clock hour ``instant`` shows in ``tz`` (for labels and tests)."""
    return instant.astimezone(zone(tz)).hour


@dataclass(frozen=True, slots=True)
class Scale:
    """Pixels of the agenda: ``y = top + minute * pixels_per_minute``."""

    top: float
    pixels_per_minute: float

    def y_of(self, axis: DayAxis, instant: datetime) -> float:
        return self.top + axis.minute_of(instant) * self.pixels_per_minute

    def instant_at(self, axis: DayAxis, y: float) -> datetime:
        return axis.instant_at((y - self.top) / self.pixels_per_minute)

    def minute_at(self, y: float) -> float:
        return (y - self.top) / self.pixels_per_minute


__all__ = ["DayAxis", "Lane", "Scale", "Span", "day_axis", "lay_out", "local_hour"]
