"""Serving a feed cheaply: ETag/304, the last body kept, and incremental rebuilds.

The ETag is made of the feed's version (moved by :mod:`sync_server.feeds.versions`
in every transaction that changes an appointment of the feed's resource), the
organization's configuration counter (names of clinics, rooms, types) and the
day (the window and the cancelled visits' visibility move with it).

* ``If-None-Match`` equal to it → 304 after one indexed SELECT of the feed's columns
  (Core, no ORM objects) and the fetch's audit insert, committed together.
* Same ETag as the last build → the kept body.
* Otherwise, if only appointments changed since the last build (same day,
  configuration, privacy and language), only the appointments named by the
  change log after the build's organization version are read again, and only
  their VEVENTs are rendered again; every other fragment is reused as bytes.
* Anything else (a new day, a renamed room, a series or patient change, a
  first request): the whole feed is read, and still every VEVENT (or series)
  whose inputs did not change is reused as the bytes rendered last time.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, or_, select, text
from sqlalchemy.orm import Session

from scheduling.ical import (
    ICAL_STATUS,
    FeedAppointment,
    FeedSeries,
    Privacy,
    appointment_event,
    calendar_head,
    series_events,
    window_years,
)
from scheduling.recurrence import expand
from scheduling.refusals import N_
from scheduling.series import occurrence_id
from sync_server.core.translations import translations
from sync_server.db import models as db
from sync_server.feeds.models import CalendarFeed, CalendarFeedFetch
from sync_server.feeds.service import MEDIA_TYPE, Policy, hash_token, policy_of
from sync_server.telemedicine.rooms import video_urls

#: More changes than this since the last build: read the whole feed again.
MAX_INCREMENTAL_CHANGES = 500


@dataclass(frozen=True, slots=True)
class FeedAnswer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


NOT_FOUND = FeedAnswer(404, {"Cache-Control": "no-store"}, b"Not found\n")

Render = Callable[[Privacy, Callable[[str], str]], list[Any]]


@dataclass(slots=True)
class _Unit:
    """One appointment or one series: its place (first start), inputs and rendering."""

    start: datetime
    inputs: Any
    ical: bytes = b""


@dataclass(slots=True)
class _Built:
    """The last build of one feed."""

    etag: str = ""
    body: bytes = b""
    #: What the content depends on besides appointments: day, config counter, privacy,
    #: language, policy. Another basis means a full read.
    basis: tuple[Any, ...] = ()
    #: The organization's sync version read before the content's appointments.
    cursor: int = 0
    units: dict[str, _Unit] = field(default_factory=dict)
    #: (first start, key) of every unit, sorted: the order of the body.
    order: list[tuple[datetime, str]] = field(default_factory=list)
    #: Every unit's rendering in that order (kept beside it: a change inserts or removes
    #: one entry, and the body is one C-level join, not a walk over the units).
    parts: list[bytes] = field(default_factory=list)
    #: Names read for the content (kept while the basis, so the configuration, holds).
    names: _Names | None = None
    head: bytes = b""
    lock: threading.Lock = field(default_factory=threading.Lock)


class FeedServer:
    """Answers feed requests; keeps the last build of up to ``capacity`` feeds in memory.

    Several server instances each keep their own builds; the ETag comes from the
    database, so they all answer alike."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._built: OrderedDict[str, _Built] = OrderedDict()
        self._guard = threading.Lock()
        #: VEVENT groups rendered (not reused) since start; read by tests and the bench.
        self.rendered = 0

    def answer(self, session: Session, token: str, now: datetime, *,
               if_none_match: str | None = None, method: str = "GET",
               client_address: str = "") -> FeedAnswer:
        """The answer to one fetch. A refresh that changed nothing costs one indexed
        SELECT (the feed's columns and the configuration counter by the token's hash)
        and the fetch's audit row; appointments are read only for a new ETag."""
        found = session.execute(_FEED_BY_TOKEN, {"token_hash": hash_token(token)}).first()
        if found is None:
            return NOT_FOUND
        if found.revoked_at is not None or (found.expires_at is not None
                                            and _aware(found.expires_at) <= now):
            _audit(session, found, now, method, client_address, 404)
            return NOT_FOUND
        day = now.date()
        etag = f'"{found.id[:8]}-{found.version}-{found.config_version or 0}-{day:%Y%m%d}"'
        midnight = datetime.combine(day, time(), UTC)
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(max(_aware(found.changed_at), midnight),
                                             usegmt=True),
            "Cache-Control": "private, max-age=0, must-revalidate",
            "Content-Type": MEDIA_TYPE,
        }
        if if_none_match is not None and _matches(if_none_match, etag):
            _audit(session, found, now, method, client_address, 304)
            return FeedAnswer(304, headers)
        built = self._slot(found.id)
        with built.lock:
            if built.etag != etag:
                policy = policy_of(session, found.organization_id)
                basis = (day, found.config_version, found.privacy, found.language, policy)
                self._refresh(session, found, policy, day, built, basis)
                built.etag = etag
            body = built.body
        _audit(session, found, now, method, client_address, 200)
        headers["Content-Length"] = str(len(body))
        return FeedAnswer(200, headers, b"" if method == "HEAD" else body)

    def _slot(self, feed_id: str) -> _Built:
        with self._guard:
            built = self._built.get(feed_id)
            if built is None:
                built = self._built[feed_id] = _Built()
                while len(self._built) > self.capacity:
                    self._built.popitem(last=False)
            else:
                self._built.move_to_end(feed_id)
            return built

    def _refresh(self, session: Session, feed: Any, policy: Policy, day: date,
                 built: _Built, basis: tuple[Any, ...]) -> None:
        same_basis = built.basis == basis
        reader = _Reader(session, feed, policy, day, built.names if same_basis else None)
        cursor = reader.org_version()
        translate = translations(feed.language).gettext
        privacy = Privacy(feed.privacy)
        changed = reader.changed_units(built.cursor, built.units) if same_basis else None
        full = changed is None
        if changed is None:  # a full read; fragments with equal inputs are still reused
            reader.forget_names()
            changed = reader.all_units()
            if built.basis[2:4] != basis[2:4]:  # another privacy or language: other words
                built.units = {}
            for key in set(built.units) - set(changed):
                del built.units[key]
        for key, (start, inputs, render) in changed.items():
            kept = built.units.get(key)
            if kept is not None and not full:
                _unplace(built, (kept.start, key))
            if render is None:  # gone from the feed
                built.units.pop(key, None)
                continue
            if kept is not None and kept.inputs == inputs:
                kept.start = start
            else:
                ical = b"".join(event.to_ical() for event in render(privacy, translate))
                kept = built.units[key] = _Unit(start, inputs, ical)
                self.rendered += 1
            if not full:
                index = bisect.bisect_left(built.order, (start, key))
                built.order.insert(index, (start, key))
                built.parts.insert(index, kept.ical)
        if full:
            built.order = sorted((unit.start, key) for key, unit in built.units.items())
            built.parts = [built.units[key].ical for _start, key in built.order]
        if not same_basis:
            name = translate(N_("{resource} — appointments")).format(
                resource=reader.resource_name())
            built.head = calendar_head(
                name, timedelta(minutes=policy.refresh_minutes), reader.time_zones(),
                window_years(reader.start.date(), reader.end.date())).to_ical()
        built.basis, built.cursor, built.names = basis, cursor, reader.names
        end = b"END:VCALENDAR\r\n"
        built.body = b"".join([built.head[:-len(end)], *built.parts, end])


def _unplace(built: _Built, entry: tuple[datetime, str]) -> None:
    index = bisect.bisect_left(built.order, entry)
    if index < len(built.order) and built.order[index] == entry:
        del built.order[index]
        del built.parts[index]


def _matches(if_none_match: str, etag: str) -> bool:
    candidates = {part.strip() for part in if_none_match.split(",")}
    return "*" in candidates or etag in candidates or f"W/{etag}" in candidates


#: A feed's columns the ETag needs, by its token's hash (unique index): the only read of
#: a 304. Core, not ORM: no identity map or unit of work on the path calendar apps poll.
_FEED_BY_TOKEN = (
    select(CalendarFeed.id, CalendarFeed.organization_id, CalendarFeed.version,
           CalendarFeed.changed_at, CalendarFeed.revoked_at, CalendarFeed.expires_at,
           CalendarFeed.resource_id, CalendarFeed.privacy, CalendarFeed.language,
           db.ConfigVersion.version.label("config_version"))
    .outerjoin(db.ConfigVersion,
               db.ConfigVersion.organization_id == CalendarFeed.organization_id)
    .where(CalendarFeed.token_hash == bindparam("token_hash")))

_FETCH = insert(cast(Table, CalendarFeedFetch.__table__))  # the table's: no ORM bulk path


def _aware(value: datetime) -> datetime:
    """A stored UTC time (SQLite gives it back naive to Core reads)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _audit(session: Session, feed: Any, now: datetime, method: str,
           client_address: str, status: int) -> None:
    """Every fetch is kept: which feed, when, from where, and the answer (never the token)."""
    session.execute(_FETCH, {"organization_id": feed.organization_id, "feed_id": feed.id,
                             "at": now, "client_address": client_address[:64],
                             "method": method[:8], "status": status})
    if session.get_bind().dialect.name == "postgresql":
        # A fetch record may be lost in a crash's last instant; a calendar app polling
        # must not wait for a WAL flush (bookings keep the default, durable commit).
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    session.commit()


# --------------------------------------------------------------------------- reading


_COLUMNS = (db.Appointment.id, db.Appointment.start_at, db.Appointment.end_at,
            db.Appointment.status, db.Appointment.version, db.Appointment.updated_at,
            db.Appointment.clinic_id, db.Appointment.room_id,
            db.Appointment.appointment_type_id, db.Appointment.patient_id,
            db.Appointment.notes, db.Appointment.patient_notes, db.Appointment.cancel_reason,
            db.Appointment.series_id, db.Appointment.original_start,
            db.Appointment.last_status_at, db.Appointment.provider_id,
            db.Appointment.deleted)

# Statements of the incremental path, built once (no expression building or cache-key
# work per request).
_ORG_VERSION = select(db.OrgVersion.version).where(
    db.OrgVersion.organization_id == bindparam("org"))
_CHANGES = (select(db.ChangeLogEntry.entity, db.ChangeLogEntry.entity_id)
            .where(db.ChangeLogEntry.organization_id == bindparam("org"),
                   db.ChangeLogEntry.version > bindparam("cursor"),
                   db.ChangeLogEntry.entity.in_(("appointment", "series", "patient")))
            .limit(MAX_INCREMENTAL_CHANGES + 1))
_ROWS_BY_ID = select(*_COLUMNS).where(
    db.Appointment.organization_id == bindparam("org"), db.Appointment.deleted.is_(False),
    db.Appointment.id.in_(bindparam("ids", expanding=True)))

#: A unit's key → (first start, inputs, renderer); renderer None: the unit is gone.
Units = dict[str, tuple[datetime, Any, Render | None]]


class _Reader:
    """Reads what one feed shows on one day: its resource's appointments from
    ``past_days`` before to ``ahead_days`` after, cancelled ones while recently
    cancelled, and whole series (occurrences outside the window are overrides or
    EXDATEs of the rule)."""

    def __init__(self, session: Session, feed: Any, policy: Policy,
                 day: date, names: _Names | None = None) -> None:
        self.session, self.feed = session, feed
        self.org, self.resource_id = feed.organization_id, feed.resource_id
        midnight = datetime.combine(day, time(), UTC)
        self.start = midnight - timedelta(days=policy.past_days)
        self.end = midnight + timedelta(days=policy.ahead_days + 1)
        self.cancelled_since = midnight - timedelta(days=policy.cancelled_visible_days)
        self.names: _Names | None = names

    def org_version(self) -> int:
        version = self.session.connection().scalar(_ORG_VERSION, {"org": self.org})
        return int(version or 0)

    def resource_name(self) -> str:
        resource = self.session.get(db.Resource, self.resource_id)
        return resource.name if resource else ""

    def time_zones(self) -> list[str]:
        """Every zone of the organization's clinics (a VTIMEZONE each; config changes
        move the ETag's basis, so the head is rebuilt with them)."""
        return sorted({zone for _name, zone in self._names_of([]).clinics.values()}) or ["UTC"]

    def all_units(self) -> Units:
        rows = self._rows(self._mine(), db.Appointment.start_at < self.end,
                          db.Appointment.end_at > self.start)
        series_ids = {row.series_id for row in rows if row.series_id}
        if series_ids:
            seen = {row.id for row in rows}
            rows += [row for row in self._rows(self._mine(),
                                               db.Appointment.series_id.in_(series_ids))
                     if row.id not in seen]
        names = self._names_of(rows)
        units: Units = {}
        by_series: dict[str, list[FeedAppointment]] = {}
        for row in rows:
            if not self._visible(row):
                continue
            item = names.item(row)
            if item.series_id:
                by_series.setdefault(item.series_id, []).append(item)
            elif self._in_window(item):
                units[item.id] = (item.start, item, _single(item))
        for series_id, members in by_series.items():
            units.update(self._series(series_id, members, names))
        return units

    def changed_units(self, cursor: int, kept: dict[str, _Unit]) -> Units | None:
        """The units the change log names after ``cursor``, read again; None when a full
        read is needed (too many changes, a series or a patient changed)."""
        connection = self.session.connection()
        changes = connection.execute(_CHANGES, {"org": self.org, "cursor": cursor}).all()
        if len(changes) > MAX_INCREMENTAL_CHANGES \
                or any(entity != "appointment" for entity, _id in changes):
            return None
        ids = list({entity_id for _entity, entity_id in changes})
        if not ids:
            return {}
        if any(f"series:{i.split('@')[0]}" in kept for i in ids):  # an occurrence
            return None
        rows = list(connection.execute(_ROWS_BY_ID, {"org": self.org, "ids": ids}))
        if any(row.series_id for row in rows):
            return None
        names = self._names_of(rows)
        units: Units = {appointment_id: (self.start, None, None) for appointment_id in ids}
        for row in rows:
            mine = self.resource_id in (row.provider_id, row.room_id)
            if mine and not row.deleted and self._visible(row):
                item = names.item(row)
                if self._in_window(item):
                    units[item.id] = (item.start, item, _single(item))
        return units

    # ---------------------------------------------------------------- internals

    def _mine(self) -> Any:
        appointment = db.Appointment
        return or_(appointment.provider_id == self.resource_id,
                   appointment.room_id == self.resource_id)

    def _rows(self, *conditions: Any) -> list[Any]:
        return list(self.session.connection().execute(select(*_COLUMNS).where(
            db.Appointment.organization_id == self.org, db.Appointment.deleted.is_(False),
            *conditions)))

    def _visible(self, row: Any) -> bool:
        if ICAL_STATUS.get(row.status, "CONFIRMED") is None:
            return False
        cancelled_at: datetime = row.last_status_at or row.updated_at
        return row.status != "cancelled" or cancelled_at >= self.cancelled_since

    def _in_window(self, item: FeedAppointment) -> bool:
        return item.start < self.end and item.end > self.start

    def forget_names(self) -> None:
        """Read names afresh (a full read: a patient may have been renamed)."""
        self.names = None

    def _names_of(self, rows: list[Any]) -> _Names:
        if self.names is None:
            self.names = _Names(self.session, self.org, self.feed.privacy != Privacy.BUSY)
        self.names.add_patients(self.session, rows)
        return self.names

    def _series(self, series_id: str, members: list[FeedAppointment], names: _Names) -> Units:
        series = db.get_in_org(self.session, db.Series, self.org, series_id)
        found = _series_unit(series, members, names) if series is not None else None
        if found is None:  # not expressible as a rule: every occurrence on its own
            return self._singles(members)
        unit, strays = found
        units = self._singles(strays)
        if unit is not None and any(self._in_window(item) for item in members
                                    if item not in strays):
            units[f"series:{series_id}"] = unit
        return units

    def _singles(self, items: list[FeedAppointment]) -> Units:
        return {item.id: (item.start, item, _single(item)) for item in items
                if self._in_window(item)}


def _single(item: FeedAppointment) -> Render:
    return lambda privacy, translate: [appointment_event(item, privacy, translate)]


def _series_unit(series: db.Series, members: list[FeedAppointment], names: _Names
                 ) -> tuple[tuple[datetime, Any, Render] | None, list[FeedAppointment]] | None:
    """The series as RRULE + EXDATE + overrides, and the members the rule does not
    generate (strays: a split-off tail keeps its first series' occurrence ids, an
    occurrence cancelled after the split point stays in the first series), which are
    served as single events. None when the rule cannot say it at all (an occurrence
    in a DST gap)."""
    zone = names.zone(series.clinic_id)
    occurrences = tuple(expand(series.rrule, series.first_local, zone, max_occurrences=10_000))
    if not occurrences or any(o.local_start != o.original_local for o in occurrences):
        return None
    by_id = {occurrence_id(series.id, o.original_local): o for o in occurrences}
    rows: dict[datetime, FeedAppointment] = {}
    strays: list[FeedAppointment] = []
    for item in members:
        occurrence = by_id.get(item.id)
        if occurrence is None:
            strays.append(item)
        else:
            rows[occurrence.start] = item
    if not rows:
        return None, strays
    shape = FeedSeries(series.id, series.version, zone, series.rrule,
                       timedelta(seconds=series.duration_seconds), occurrences)
    inputs = (shape, tuple(sorted(rows.items())))
    return (min(rows), inputs,
            lambda privacy, translate: series_events(shape, rows, privacy, translate)), strays


class _Names:
    """Clinic, room, type and (when shown) patient names, read once per build."""

    def __init__(self, session: Session, org: str, with_patients: bool) -> None:
        self.with_patients = with_patients  # kept between requests: holds no session
        self.org = org
        self.clinics: dict[str, tuple[str, str]] = {
            c.id: (c.name, c.time_zone) for c in session.execute(
                select(db.Clinic.id, db.Clinic.name, db.Clinic.time_zone)
                .where(db.Clinic.organization_id == org))}
        self.rooms = dict(session.execute(
            select(db.Resource.id, db.Resource.name).where(
                db.Resource.organization_id == org, db.Resource.kind == "room")).all())
        self.types = dict(session.execute(
            select(db.AppointmentType.id, db.AppointmentType.name)
            .where(db.AppointmentType.organization_id == org)).all())
        self.patients: dict[str, tuple[str, str]] = {}
        #: Telemedicine visits' video links (never read for a ``busy`` feed).
        self.video_urls: dict[str, str] = {}

    def add_patients(self, session: Session, rows: list[Any]) -> None:
        if not self.with_patients:
            return
        self.video_urls.update(video_urls(session, self.org, rows))
        wanted = list({row.patient_id for row in rows} - set(self.patients))
        for index in range(0, len(wanted), 900):
            self.patients.update(
                (p.id, (p.given_name, p.family_name)) for p in session.execute(
                    select(db.Patient.id, db.Patient.given_name, db.Patient.family_name)
                    .where(db.Patient.id.in_(wanted[index:index + 900]),
                           db.Patient.organization_id == self.org)))

    def zone(self, clinic_id: str) -> str:
        return self.clinics.get(clinic_id, ("", "UTC"))[1]

    def item(self, row: Any) -> FeedAppointment:
        clinic_name, zone = self.clinics.get(row.clinic_id, ("", "UTC"))
        given, family = self.patients.get(row.patient_id, ("", ""))
        return FeedAppointment(
            id=row.id, start=row.start_at, end=row.end_at, status=row.status,
            version=row.version, updated_at=row.updated_at, time_zone=zone,
            clinic_name=clinic_name, room_name=self.rooms.get(row.room_id or "", ""),
            type_name=self.types.get(row.appointment_type_id, ""), given_name=given,
            family_name=family, notes=row.notes or "", patient_notes=row.patient_notes or "",
            cancel_reason=row.cancel_reason or "", series_id=row.series_id,
            original_start=row.original_start, room_id=row.room_id,
            video_url=self.video_urls.get(row.id, ""))
