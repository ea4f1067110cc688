"""iCalendar for appointments, built with ``icalendar`` (no text templates): the
server's calendar feeds and the desk's .ics export share it.

* :func:`vtimezone`: a VTIMEZONE whose observances are yearly RRULEs derived from
  the zone's real transitions (``zoneinfo``), one STANDARD and one DAYLIGHT
  observance where the rule is regular, separate dated observances where it is
  not. (icalendar's ``Timezone.from_tzid`` writes RDATE lists, which vobject
  0.9.9 reads one hour off after a DST change.)
* :func:`appointment_event`: one VEVENT for one appointment: UID from the
  appointment id (stable for its whole life), SEQUENCE = its version (it rises
  on every change), DTSTAMP/LAST-MODIFIED = its last change, STATUS, times in
  the clinic's zone.
* :func:`series_events`: a series as its master VEVENT (RRULE ending at the
  core's last occurrence, EXDATE for occurrences that are not in this feed)
  plus one RECURRENCE-ID override per occurrence that differs from the master.

What a VEVENT says about the patient is decided by the feed's privacy level
(:class:`Privacy`); below ``full`` no name, note or reason is ever written.
"""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vDuration

from scheduling.recurrence import Occurrence, parse_rrule
from scheduling.refusals import N_

PRODID = "-//ClinicDesk//Calendar feeds//EN"
UID_DOMAIN = "clinicdesk"


class Privacy(StrEnum):
    BUSY = "busy"
    INITIALS = "initials"
    FULL = "full"


#: Appointment status → iCalendar STATUS; ``None``: not in a feed at all.
ICAL_STATUS: dict[str, str | None] = {
    "pending": "TENTATIVE",
    "booked": "CONFIRMED",
    "message_left": "CONFIRMED",
    "confirmed": "CONFIRMED",
    "arrived": "CONFIRMED",
    "ready": "CONFIRMED",
    "in_progress": "CONFIRMED",
    "completed": "CONFIRMED",
    "no_show": "CONFIRMED",  # the time was held for the patient
    "cancelled": "CANCELLED",
    "entered_in_error": None,  # never existed
}


@dataclass(frozen=True, slots=True)
class FeedAppointment:
    """One appointment as a feed needs it (plain values; equal inputs render equally)."""

    id: str
    start: datetime
    end: datetime
    status: str
    version: int
    updated_at: datetime
    time_zone: str
    clinic_name: str
    room_name: str
    type_name: str
    given_name: str
    family_name: str
    notes: str
    patient_notes: str
    cancel_reason: str
    series_id: str | None
    original_start: datetime | None
    room_id: str | None
    #: A telemedicine visit's video link (given only to ``initials`` and ``full`` feeds).
    video_url: str = ""


@dataclass(frozen=True, slots=True)
class FeedSeries:
    """A series and the core's expansion of its rule (every occurrence, exceptions included)."""

    id: str
    version: int
    time_zone: str
    rrule: str
    duration: timedelta
    occurrences: tuple[Occurrence, ...]


Translate = Callable[[str], str]


# --------------------------------------------------------------------------- calendar


def calendar_head(name: str, refresh: timedelta, time_zones: Sequence[str],
                  years: tuple[int, int]) -> Calendar:
    """The VCALENDAR with its properties and VTIMEZONEs (events are added by the caller)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", vDuration(refresh), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(refresh))
    for tzid in sorted(set(time_zones)):
        cal.add_component(vtimezone(tzid, *years))
    return cal


# --------------------------------------------------------------------------- VTIMEZONE


@dataclass(frozen=True, slots=True)
class _Transition:
    local: datetime  # wall time just before the change, in the old offset
    before: timedelta
    after: timedelta
    dst: bool
    name: str


@lru_cache(maxsize=64)
def vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for ``tzid`` valid from ``first_year`` through ``last_year``
    (and, where the zone's rule is regular, beyond)."""
    zone = ZoneInfo(tzid)
    transitions = _transitions(zone, first_year, last_year)
    component = Timezone()
    component.add("tzid", tzid)
    if not transitions:
        moment = datetime(first_year, 1, 1, tzinfo=zone)
        offset = moment.utcoffset() or timedelta(0)
        component.add_component(_observance(
            TimezoneStandard, datetime(1970, 1, 1), offset, offset,  # noqa: DTZ001 - local wall time
            moment.tzname() or tzid, None))
        return component
    for kind in (False, True):
        group = [t for t in transitions if t.dst == kind]
        if not group:
            continue
        rule = _yearly_rule(group)
        observance = TimezoneDaylight if kind else TimezoneStandard
        if rule is not None and len({(t.before, t.after, t.name) for t in group}) == 1:
            first = group[0]
            component.add_component(_observance(observance, first.local, first.before,
                                                first.after, first.name, rule))
            continue
        for transition in group:  # irregular: one dated observance per change
            component.add_component(_observance(observance, transition.local,
                                                transition.before, transition.after,
                                                transition.name, None))
    return component


def _observance(kind: type[TimezoneStandard] | type[TimezoneDaylight], start: datetime,
                before: timedelta, after: timedelta, name: str,
                rule: dict[str, object] | None) -> TimezoneStandard | TimezoneDaylight:
    observance = kind()
    observance.add("dtstart", start)
    observance.add("tzoffsetfrom", before)
    observance.add("tzoffsetto", after)
    observance.add("tzname", name)
    if rule is not None:
        observance.add("rrule", rule)
    return observance


def _transitions(zone: ZoneInfo, first_year: int, last_year: int) -> list[_Transition]:
    """The zone's offset changes in those years, found 6 hours at a time, then to the second."""
    found: list[_Transition] = []
    moment = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=6)
    previous = moment.astimezone(zone).utcoffset()
    while moment < end:
        following = moment + step
        offset = following.astimezone(zone).utcoffset()
        if offset != previous:
            low, high_seconds = 0, int(step.total_seconds())  # seconds after ``moment``
            while high_seconds - low > 1:  # the change is at ``moment + high_seconds``
                middle = (low + high_seconds) // 2
                if (moment + timedelta(seconds=middle)).astimezone(zone).utcoffset() == previous:
                    low = middle
                else:
                    high_seconds = middle
            high = moment + timedelta(seconds=high_seconds)
            assert previous is not None and offset is not None
            after_local = high.astimezone(zone)
            found.append(_Transition(
                local=(high + previous).replace(tzinfo=None),
                before=previous, after=offset, dst=bool(after_local.dst()),
                name=after_local.tzname() or ""))
            previous = offset
        moment = following
    return found


def _yearly_rule(group: list[_Transition]) -> dict[str, object] | None:
    """``FREQ=YEARLY;BYMONTH=m;BYDAY=nSU`` (or ``-1SU``) if every change of the group
    follows it at the same wall time, one per year in a row; else None."""
    if len({t.local.year for t in group}) != len(group):
        return None
    years = [t.local.year for t in group]
    if years != list(range(years[0], years[0] + len(years))):
        return None
    keys = set()
    last_keys = set()
    for t in group:
        day = t.local.date()
        days_in_month = month_calendar.monthrange(day.year, day.month)[1]
        keys.add((day.month, day.weekday(), (day.day - 1) // 7 + 1, t.local.time()))
        last_keys.add((day.month, day.weekday(), -1 if day.day + 7 > days_in_month else 0,
                       t.local.time()))
    for candidate in (keys, last_keys):
        if len(candidate) == 1:
            month, weekday, ordinal, _clock = next(iter(candidate))
            if ordinal == 0:
                continue
            code = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[weekday]
            return {"freq": "YEARLY", "bymonth": month, "byday": f"{ordinal}{code}"}
    return None


# --------------------------------------------------------------------------- events


def uid(record_id: str) -> str:
    return f"{record_id}@{UID_DOMAIN}"


def series_uid(series_id: str) -> str:
    return f"series-{series_id}@{UID_DOMAIN}"


def appointment_event(item: FeedAppointment, privacy: Privacy, translate: Translate) -> Event:
    """The VEVENT of a single (non-series) appointment."""
    event = Event()
    event.add("uid", uid(item.id))
    _fill(event, item, privacy, translate)
    return event


def series_events(series: FeedSeries, rows: dict[datetime, FeedAppointment],
                  privacy: Privacy, translate: Translate) -> list[Event]:
    """The master VEVENT and its overrides. ``rows``: this feed's visible occurrences by
    original UTC start; occurrences without a row are EXDATEs. Returns [] when no
    occurrence is visible."""
    if not rows:
        return []
    zone = ZoneInfo(series.time_zone)
    template = rows[min(rows)]
    first = series.occurrences[0]
    rule = parse_rrule(series.rrule)
    recur: dict[str, object] = {"freq": rule.freq, "interval": rule.interval,
                                "until": series.occurrences[-1].start.astimezone(UTC)}
    if rule.byday:
        recur["byday"] = list(rule.byday)
    if rule.wkst != "MO":
        recur["wkst"] = rule.wkst
    master = Event()
    master.add("uid", series_uid(series.id))
    _fill(master, template, privacy, translate, status="CONFIRMED",
          start=first.start, end=first.start + series.duration, sequence=series.version)
    master.add("rrule", recur)
    excluded = [o.start.astimezone(zone) for o in series.occurrences if o.start not in rows]
    if excluded:
        master.add("exdate", excluded)
    events = [master]
    for occurrence in series.occurrences:
        row = rows.get(occurrence.start)
        if row is None or _plain_instance(row, template, occurrence, series.duration):
            continue
        override = Event()
        override.add("uid", series_uid(series.id))
        override.add("recurrence-id", occurrence.start.astimezone(zone))
        _fill(override, row, privacy, translate)
        events.append(override)
    return events


def _plain_instance(row: FeedAppointment, template: FeedAppointment, occurrence: Occurrence,
                    duration: timedelta) -> bool:
    """Whether the master's expansion already says everything about this occurrence."""
    return (row.start == occurrence.start and row.end == occurrence.start + duration
            and ICAL_STATUS[row.status] == "CONFIRMED" and row.room_name == template.room_name
            and row.clinic_name == template.clinic_name and row.type_name == template.type_name
            and (row.notes, row.patient_notes) == (template.notes, template.patient_notes)
            and row.video_url == template.video_url)


def _fill(event: Event, item: FeedAppointment, privacy: Privacy, translate: Translate, *,
          status: str | None = None, start: datetime | None = None,
          end: datetime | None = None, sequence: int | None = None) -> None:
    zone = ZoneInfo(item.time_zone)
    status = status or ICAL_STATUS[item.status] or "CANCELLED"
    event.add("dtstamp", item.updated_at.astimezone(UTC))
    event.add("last-modified", item.updated_at.astimezone(UTC))
    event.add("sequence", item.version if sequence is None else sequence)
    event.add("dtstart", (start or item.start).astimezone(zone))
    event.add("dtend", (end or item.end).astimezone(zone))
    event.add("status", status)
    event.add("transp", "OPAQUE")
    summary = _summary(item, privacy, translate)
    if status == "CANCELLED":
        # Some clients ignore STATUS in subscriptions: say it in the title too.
        summary = translate(N_("Cancelled: {title}")).format(title=summary)
    event.add("summary", summary)
    location = ", ".join(part for part in (item.clinic_name, item.room_name) if part)
    if location:
        event.add("location", location)
    video = ""
    if privacy is not Privacy.BUSY and item.video_url and status != "CANCELLED":
        event.add("url", item.video_url)
        video = translate(N_("Video visit: {url}")).format(url=item.video_url)
    if privacy is Privacy.FULL:
        notes = [text for text in (video, item.notes, item.patient_notes,
                                   item.cancel_reason or "") if text]
        if notes:
            event.add("description", "\n\n".join(notes))
        event.add("class", "CONFIDENTIAL")
    else:
        if video:
            event.add("description", video)
        event.add("class", "PRIVATE")


def _summary(item: FeedAppointment, privacy: Privacy, translate: Translate) -> str:
    if privacy is Privacy.BUSY:
        return translate(N_("Busy"))
    if privacy is Privacy.INITIALS:
        return translate(N_("{type} ({initials})")).format(
            type=item.type_name, initials=initials(item.given_name, item.family_name))
    name = f"{item.given_name} {item.family_name}".strip()
    return translate(N_("{type}: {patient}")).format(type=item.type_name, patient=name)


def initials(given_name: str, family_name: str) -> str:
    """"José María" "García-Núñez" → "J. M. G."; hyphens split family names no further."""
    letters = [word[0].upper() for word in f"{given_name} {family_name}".split() if word]
    return " ".join(f"{letter}." for letter in letters)


def window_years(start: date, end: date) -> tuple[int, int]:
    return start.year - 1, end.year + 1
