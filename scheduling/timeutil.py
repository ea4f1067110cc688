"""Instants, intervals and wall-clock conversion.

Wall-clock policy (RFC 5545 §3.3.5, the same as ``zoneinfo`` with ``fold=0``):

* a local time that does not exist (spring-forward gap) is read with the
  offset *before* the gap, so 02:30 on a New York spring-forward day is
  03:30 EDT;
* a local time that occurs twice (fall-back fold) means its *first*
  occurrence (the daylight-saving one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduling.errors import InvalidIntervalError, NaiveDatetimeError, UnknownTimeZoneError


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` or raise :class:`UnknownTimeZoneError`."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise UnknownTimeZoneError(f"unknown time zone: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZoneError(f"unknown time zone: {name!r}") from exc


#: The geographic areas of the IANA database; names outside them (``localtime``, ``EST5EDT``,
#: ``US/Eastern``, ``Etc/GMT+5``, ``Cuba`` …) are legacy aliases or system-specific.
_AREAS = frozenset({"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic",
                    "Australia", "Europe", "Indian", "Pacific"})


@lru_cache(maxsize=1)
def canonical_zone_names() -> frozenset[str]:
    """The zone names a clinic may use: ``UTC`` and every ``Area/Location`` name the
    ``tzdata`` package carries, so a desk with only that package (Windows) reads them all."""
    listed = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(name for name in listed if name.split("/", 1)[0] in _AREAS) | {"UTC"}


def is_canonical_zone(name: str) -> bool:
    """True for a name of :func:`canonical_zone_names` (exact spelling)."""
    return name in canonical_zone_names()


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; refuse naive datetimes."""
    if not isinstance(value, datetime):
        raise NaiveDatetimeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetimeError(f"{what} must carry a time zone (got a naive datetime)")
    return value.astimezone(UTC)


def to_utc(wall: datetime, tz: str) -> datetime:
    """Convert a naive wall-clock time in ``tz`` to a UTC instant (gap/fold policy above)."""
    if wall.tzinfo is not None:
        raise ValueError("wall-clock time must be naive; it is interpreted in the clinic zone")
    return wall.replace(tzinfo=zone(tz), fold=0).astimezone(UTC)


def to_local(instant: datetime, tz: str) -> datetime:
    """Convert a UTC instant to a naive wall-clock time in ``tz``."""
    return require_aware(instant).astimezone(zone(tz)).replace(tzinfo=None)


def local_date(instant: datetime, tz: str) -> date:
    return to_local(instant, tz).date()


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """UTC instants of local midnight of ``day`` and of the next day (23, 24 or 25 h apart)."""
    return (
        to_utc(datetime.combine(day, time()), tz),
        to_utc(datetime.combine(day + timedelta(days=1), time()), tz),
    )


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """A half-open interval ``[start, end)`` of UTC instants."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", require_aware(self.start, "start"))
        object.__setattr__(self, "end", require_aware(self.end, "end"))
        if self.end <= self.start:
            raise InvalidIntervalError(
                f"an interval must end after it starts ({self.start.isoformat()} .. "
                f"{self.end.isoformat()})"
            )

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


def subtract(windows: list[Interval], holes: list[Interval]) -> list[Interval]:
    """Remove ``holes`` from sorted, disjoint ``windows``; returns sorted disjoint pieces."""
    if not holes:
        return list(windows)
    holes = sorted(holes)
    result: list[Interval] = []
    for window in windows:
        pieces = [window]
        for hole in holes:
            if hole.start >= window.end:
                break
            if hole.end <= window.start:
                continue
            next_pieces: list[Interval] = []
            for piece in pieces:
                if not piece.overlaps(hole):
                    next_pieces.append(piece)
                    continue
                if piece.start < hole.start:
                    next_pieces.append(Interval(piece.start, hole.start))
                if hole.end < piece.end:
                    next_pieces.append(Interval(hole.end, piece.end))
            pieces = next_pieces
        result.extend(pieces)
    return result


def union(intervals: list[Interval]) -> list[Interval]:
    """Merge overlapping or touching intervals into sorted disjoint ones."""
    merged: list[Interval] = []
    for interval in sorted(intervals):
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return merged
