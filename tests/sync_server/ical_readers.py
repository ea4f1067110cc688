"""Three independent readings of an iCalendar feed, each giving its occurrence set
(start and end in UTC, STATUS) between two instants:

* ``icalendar`` parses; the RRULE/EXDATE/RECURRENCE-ID expansion is done here
  with ``dateutil`` (so this reading relies on icalendar's TZID handling);
* ``recurring-ical-events`` (on top of icalendar) expands by itself;
* ``vobject`` parses and expands with its own ``getrruleset``, reading the
  feed's VTIMEZONE components (the reading that catches a wrong VTIMEZONE).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar
import recurring_ical_events
import vobject
from dateutil import rrule as du

Occurrences = set[tuple[datetime, datetime, str]]


def _utc(value: date | datetime) -> datetime:
    assert isinstance(value, datetime) and value.tzinfo is not None, value
    return value.astimezone(UTC)


def with_icalendar(body: bytes, start: datetime, end: datetime) -> Occurrences:
    calendar = icalendar.Calendar.from_ical(body)
    masters: dict[str, Any] = {}
    overrides: dict[str, dict[datetime, Any]] = {}
    found: Occurrences = set()
    for event in calendar.walk("VEVENT"):
        uid = str(event["UID"])
        if "RECURRENCE-ID" in event:
            overrides.setdefault(uid, {})[_utc(event["RECURRENCE-ID"].dt)] = event
        elif "RRULE" in event:
            masters[uid] = event
        else:
            _keep(found, event, start, end)
    for uid, master in masters.items():
        first = master["DTSTART"].dt
        length = master["DTEND"].dt - first
        # An aware DTSTART: dateutil steps in wall time (same tzinfo) and compares UNTIL in UTC.
        rule = du.rrulestr(master["RRULE"].to_ical().decode(), dtstart=first)
        excluded = {_utc(d.dt) for prop in _list(master.get("EXDATE")) for d in prop.dts}
        moved = overrides.get(uid, {})
        for wall in rule:
            instance = _utc(wall)
            if instance in excluded:
                continue
            if instance in moved:
                _keep(found, moved[instance], start, end)
                continue
            if instance < end and instance + length > start:
                found.add((instance, instance + length, str(master.get("STATUS", "CONFIRMED"))))
    return found


def _keep(found: Occurrences, event: Any, start: datetime, end: datetime) -> None:
    begin, finish = _utc(event["DTSTART"].dt), _utc(event["DTEND"].dt)
    if begin < end and finish > start:
        found.add((begin, finish, str(event.get("STATUS", "CONFIRMED"))))


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def with_recurring_ical_events(body: bytes, start: datetime, end: datetime) -> Occurrences:
    calendar = icalendar.Calendar.from_ical(body)
    return {(_utc(e["DTSTART"].dt), _utc(e["DTEND"].dt), str(e.get("STATUS", "CONFIRMED")))
            for e in recurring_ical_events.of(calendar).between(start, end)}


def with_vobject(body: bytes, start: datetime, end: datetime) -> Occurrences:
    calendar = vobject.readOne(body.decode("utf-8"))
    overrides: dict[str, dict[datetime, Any]] = {}
    events = list(calendar.contents.get("vevent", []))
    for event in events:
        if "recurrence-id" in event.contents:
            overrides.setdefault(event.uid.value, {})[
                _utc(event.recurrence_id.value)] = event
    found: Occurrences = set()
    for event in events:
        if "recurrence-id" in event.contents:
            begin, finish = _utc(event.dtstart.value), _utc(event.dtend.value)
            if begin < end and finish > start:
                found.add((begin, finish, _status(event)))
            continue
        length: timedelta = event.dtend.value - event.dtstart.value
        if "rrule" not in event.contents:
            begin = _utc(event.dtstart.value)
            if begin < end and begin + length > start:
                found.add((begin, begin + length, _status(event)))
            continue
        moved = overrides.get(event.uid.value, {})
        for instance in event.getrruleset(addRDate=True):
            when = _utc(instance)
            if when in moved:
                continue  # the override itself was counted above
            if when < end and when + length > start:
                found.add((when, when + length, _status(event)))
    return found


def _status(event: Any) -> str:
    return str(event.status.value) if "status" in event.contents else "CONFIRMED"
