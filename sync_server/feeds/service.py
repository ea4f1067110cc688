"""Calendar feeds: creating, listing and revoking them, and serving them cheaply.

Tokens are 256 random bits (``secrets.token_urlsafe(32)``), shown once at
creation; the database keeps their SHA-256. A revoked, expired, unknown or
malformed token all answer the same bare 404.

Serving (:class:`FeedServer`): the ETag is made of the feed's version (moved by
:mod:`sync_server.feeds.versions` in every transaction that changes an
appointment of the feed's resource), the organization's configuration counter
(names of clinics, rooms, types) and the day (the window and the cancelled
visits' visibility move with it). ``If-None-Match`` equal to it → 304 after
reading the feed row only. Otherwise the last body built for that ETag is sent
again, or the feed is rebuilt: appointment rows are read, and every VEVENT (or
series) whose inputs did not change is reused as the bytes rendered last time,
so one change re-renders one VEVENT, not the whole calendar.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from scheduling.i18n import translations
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
from sync_server.db import models as db
from sync_server.feeds.models import CalendarFeed, CalendarFeedFetch, CalendarFeedPolicy
from sync_server.feeds.versions import bump_feeds

TOKEN_BYTES = 32
LANGUAGES = ("en", "es")
MEDIA_TYPE = "text/calendar; charset=utf-8"


class FeedError(Exception):
    """A request about feeds that cannot be done; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- tokens


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class Policy:
    allow_full: bool = False
    past_days: int = 30
    ahead_days: int = 365
    cancelled_visible_days: int = 14
    refresh_minutes: int = 15


def policy_of(session: Session, organization_id: str) -> Policy:
    row = session.get(CalendarFeedPolicy, organization_id)
    if row is None:
        return Policy()
    return Policy(row.allow_full, row.past_days, row.ahead_days, row.cancelled_visible_days,
                  row.refresh_minutes)


def set_policy(session: Session, organization_id: str, policy: Policy) -> Policy:
    """Store the organization's feed policy; every feed's version moves (its content may).
    Forbidding ``full`` turns existing ``full`` feeds into ``initials`` feeds."""
    row = session.get(CalendarFeedPolicy, organization_id)
    if row is None:
        row = CalendarFeedPolicy(organization_id=organization_id)
        session.add(row)
    row.allow_full = policy.allow_full
    row.past_days = policy.past_days
    row.ahead_days = policy.ahead_days
    row.cancelled_visible_days = policy.cancelled_visible_days
    row.refresh_minutes = policy.refresh_minutes
    feeds = session.scalars(select(CalendarFeed).where(
        CalendarFeed.organization_id == organization_id))
    ids = []
    for feed in feeds:
        if not policy.allow_full and feed.privacy == Privacy.FULL:
            feed.privacy = Privacy.INITIALS.value
        ids.append(feed.id)
    session.flush()
    bump_feeds(session, ids)
    return policy


# --------------------------------------------------------------------------- management


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """A feed as its managers see it (never the token)."""

    id: str
    resource_id: str
    resource_name: str
    label: str
    privacy: str
    language: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_fetched_at: datetime | None
    fetches: int

    def to_json(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {"id": self.id, "resource_id": self.resource_id,
                "resource_name": self.resource_name, "label": self.label,
                "privacy": self.privacy, "language": self.language,
                "created_at": when(self.created_at), "expires_at": when(self.expires_at),
                "revoked_at": when(self.revoked_at), "last_fetched_at": when(self.last_fetched_at),
                "fetches": self.fetches}


@dataclass(frozen=True, slots=True)
class CreatedFeed:
    feed: FeedInfo
    token: str  # shown once: only its hash is kept

    def path(self) -> str:
        return feed_path(self.token)


def feed_path(token: str) -> str:
    return f"/feeds/{token}.ics"


def create_feed(session: Session, organization_id: str, resource_id: str, now: datetime, *,
                privacy: str = Privacy.BUSY.value, label: str = "", language: str = "en",
                expires_at: datetime | None = None,
                created_by_user_id: str | None = None) -> CreatedFeed:
    """A new feed for a provider or room of the organization, and its token (shown once)."""
    resource = session.get(db.Resource, resource_id)
    if resource is None or resource.organization_id != organization_id \
            or resource.kind not in ("provider", "room"):
        raise FeedError("unknown_resource", "There is no such provider or room.")
    if privacy not in {p.value for p in Privacy}:
        raise FeedError("bad_privacy", "The privacy level must be busy, initials or full.")
    if privacy == Privacy.FULL and not policy_of(session, organization_id).allow_full:
        raise FeedError("full_not_allowed",
                        "This organization does not allow feeds with patient names; "
                        "choose busy or initials, or ask an administrator to allow them.")
    if language not in LANGUAGES:
        raise FeedError("bad_language", "The language must be en or es.")
    if expires_at is not None and expires_at <= now:
        raise FeedError("bad_expiry", "The expiry must be in the future.")
    token = new_token()
    row = CalendarFeed(id=str(uuid.uuid4()), organization_id=organization_id,
                       resource_id=resource_id, label=label.strip()[:200],
                       token_hash=hash_token(token), privacy=privacy, language=language,
                       created_at=now, created_by_user_id=created_by_user_id,
                       expires_at=expires_at, version=1, changed_at=now)
    session.add(row)
    session.flush()
    return CreatedFeed(_info(row, resource.name, None, 0), token)


def list_feeds(session: Session, organization_id: str,
               resource_id: str | None = None) -> list[FeedInfo]:
    query = (select(CalendarFeed, db.Resource.name)
             .join(db.Resource, db.Resource.id == CalendarFeed.resource_id)
             .where(CalendarFeed.organization_id == organization_id)
             .order_by(CalendarFeed.created_at, CalendarFeed.id))
    if resource_id is not None:
        query = query.where(CalendarFeed.resource_id == resource_id)
    rows = session.execute(query).all()
    fetched = dict(session.execute(
        select(CalendarFeedFetch.feed_id,
               func.max(CalendarFeedFetch.at)).where(
            CalendarFeedFetch.organization_id == organization_id,
            CalendarFeedFetch.status.in_((200, 304)))
        .group_by(CalendarFeedFetch.feed_id)).tuples().all())
    counts = dict(session.execute(
        select(CalendarFeedFetch.feed_id, func.count()).where(
            CalendarFeedFetch.organization_id == organization_id)
        .group_by(CalendarFeedFetch.feed_id)).tuples().all())
    return [_info(feed, name, fetched.get(feed.id), counts.get(feed.id, 0))
            for feed, name in rows]


def revoke_feed(session: Session, organization_id: str, feed_id: str, now: datetime) -> FeedInfo:
    """Revoke a feed: its URL answers 404 from now on (revoking twice is harmless)."""
    row = session.get(CalendarFeed, feed_id)
    if row is None or row.organization_id != organization_id:
        raise FeedError("unknown_feed", "There is no such calendar feed.")
    if row.revoked_at is None:
        row.revoked_at = now
        row.version += 1
        row.changed_at = now
    session.flush()
    resource = session.get(db.Resource, row.resource_id)
    return _info(row, resource.name if resource else "", None, 0)


def _info(row: CalendarFeed, resource_name: str, last_fetched: datetime | None,
          fetches: int) -> FeedInfo:
    return FeedInfo(row.id, row.resource_id, resource_name, row.label, row.privacy,
                    row.language, row.created_at, row.expires_at, row.revoked_at,
                    last_fetched, fetches)


# --------------------------------------------------------------------------- serving


@dataclass(frozen=True, slots=True)
class FeedAnswer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


NOT_FOUND = FeedAnswer(404, {"Cache-Control": "no-store"}, b"Not found\n")


@dataclass(slots=True)
class _Built:
    """The last build of one feed: its ETag and body, and the per-event fragments."""

    etag: str = ""
    body: bytes = b""
    fragments: dict[str, tuple[Any, bytes]] = field(default_factory=dict)
    style: tuple[str, str] = ("", "")  # privacy and language the fragments were written in
    lock: threading.Lock = field(default_factory=threading.Lock)


class FeedServer:
    """Answers feed requests; keeps the last build of up to ``capacity`` feeds in memory.

    Several server instances each keep their own builds; the ETag comes from the
    database, so they all answer alike."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._built: OrderedDict[str, _Built] = OrderedDict()
        self._guard = threading.Lock()
        #: Number of VEVENT groups rendered (not reused) since start; read by tests/bench.
        self.rendered = 0

    def answer(self, session: Session, token: str, now: datetime, *,
               if_none_match: str | None = None, method: str = "GET",
               client_address: str = "") -> FeedAnswer:
        found = session.execute(
            select(CalendarFeed, db.ConfigVersion.version)
            .outerjoin(db.ConfigVersion,
                       db.ConfigVersion.organization_id == CalendarFeed.organization_id)
            .where(CalendarFeed.token_hash == hash_token(token))).first()
        if found is None:
            return NOT_FOUND
        feed, config_version = found
        if feed.revoked_at is not None or (feed.expires_at is not None
                                           and feed.expires_at <= now):
            _audit(session, feed, now, method, client_address, 404)
            return NOT_FOUND
        day = now.date()
        etag = f'"{feed.id[:8]}-{feed.version}-{config_version or 0}-{day:%Y%m%d}"'
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(max(feed.changed_at,
                                                 datetime.combine(day, time(), UTC)),
                                             usegmt=True),
            "Cache-Control": "private, max-age=0, must-revalidate",
            "Content-Type": MEDIA_TYPE,
        }
        if if_none_match is not None and _matches(if_none_match, etag):
            _audit(session, feed, now, method, client_address, 304)
            return FeedAnswer(304, headers)
        built = self._slot(feed.id)
        with built.lock:
            if built.etag != etag:
                policy = policy_of(session, feed.organization_id)
                built.body = self._build(session, feed, policy, day, built)
                built.etag = etag
            body = built.body
        _audit(session, feed, now, method, client_address, 200)
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

    def _build(self, session: Session, feed: CalendarFeed, policy: Policy, day: date,
               built: _Built) -> bytes:
        content = feed_content(session, feed, policy, day)
        translate = translations(feed.language).gettext
        privacy = Privacy(feed.privacy)
        fragments: dict[str, tuple[Any, bytes]] = {}
        if built.style != (privacy, feed.language):  # other words: nothing to reuse
            built.fragments, built.style = {}, (privacy, feed.language)
        ordered: list[tuple[datetime, str]] = []
        for key, (first_start, inputs, render) in content.units.items():
            kept = built.fragments.get(key)
            if kept is not None and kept[0] == inputs:
                fragments[key] = kept
            else:
                events = render(privacy, translate)
                fragments[key] = (inputs, b"".join(e.to_ical() for e in events))
                self.rendered += 1
            ordered.append((first_start, key))
        built.fragments = fragments
        name = translate(N_("{resource} — appointments")).format(resource=content.resource_name)
        head = calendar_head(name, timedelta(minutes=policy.refresh_minutes),
                             content.time_zones or ["UTC"],
                             window_years(content.start.date(), content.end.date())).to_ical()
        end = b"END:VCALENDAR\r\n"
        assert head.endswith(end)
        ordered.sort()
        return b"".join([head[:-len(end)], *(fragments[key][1] for _s, key in ordered), end])


def _matches(if_none_match: str, etag: str) -> bool:
    candidates = {part.strip() for part in if_none_match.split(",")}
    return "*" in candidates or etag in candidates or f"W/{etag}" in candidates


def _audit(session: Session, feed: CalendarFeed, now: datetime, method: str,
           client_address: str, status: int) -> None:
    """Every fetch is kept: which feed, when, from where, and the answer (never the token)."""
    session.add(CalendarFeedFetch(organization_id=feed.organization_id, feed_id=feed.id,
                                  at=now, client_address=client_address[:64],
                                  method=method[:8], status=status))
    session.commit()


# --------------------------------------------------------------------------- content


Render = Callable[[Privacy, Callable[[str], str]], list[Any]]


@dataclass(slots=True)
class FeedContent:
    """What one feed shows: groups of VEVENTs (a single appointment or a series), each
    with its first start (order), its inputs (equal inputs render equally) and a renderer."""

    resource_name: str
    start: datetime
    end: datetime
    time_zones: list[str]
    units: dict[str, tuple[datetime, Any, Render]]


_COLUMNS = (db.Appointment.id, db.Appointment.start_at, db.Appointment.end_at,
            db.Appointment.status, db.Appointment.version, db.Appointment.updated_at,
            db.Appointment.clinic_id, db.Appointment.room_id,
            db.Appointment.appointment_type_id, db.Appointment.patient_id,
            db.Appointment.notes, db.Appointment.patient_notes, db.Appointment.cancel_reason,
            db.Appointment.series_id, db.Appointment.original_start,
            db.Appointment.last_status_at, db.Appointment.provider_id)


def feed_content(session: Session, feed: CalendarFeed, policy: Policy, day: date) -> FeedContent:
    """Read what ``feed`` shows on ``day``: its resource's appointments from ``past_days``
    before to ``ahead_days`` after, cancelled ones while recently cancelled, whole series."""
    org, resource_id = feed.organization_id, feed.resource_id
    midnight = datetime.combine(day, time(), UTC)
    start = midnight - timedelta(days=policy.past_days)
    end = midnight + timedelta(days=policy.ahead_days + 1)
    cancelled_since = midnight - timedelta(days=policy.cancelled_visible_days)
    appointment = db.Appointment
    mine = or_(appointment.provider_id == resource_id, appointment.room_id == resource_id)
    rows: list[Any] = list(session.execute(select(*_COLUMNS).where(
        appointment.organization_id == org, mine, appointment.deleted.is_(False),
        appointment.start_at < end, appointment.end_at > start)))
    series_ids = {row.series_id for row in rows if row.series_id}
    if series_ids:  # whole series: occurrences outside the window are overrides or EXDATEs
        seen = {row.id for row in rows}
        rows += [row for row in session.execute(select(*_COLUMNS).where(
            appointment.organization_id == org, mine, appointment.deleted.is_(False),
            appointment.series_id.in_(series_ids))) if row.id not in seen]
    names = _Names(session, org, feed.privacy != Privacy.BUSY, rows)
    items: dict[str, FeedAppointment] = {}
    for row in rows:
        if ICAL_STATUS.get(row.status, "CONFIRMED") is None:
            continue
        if row.status == "cancelled" and (row.last_status_at or row.updated_at) < cancelled_since:
            continue
        items[row.id] = names.item(row)
    units: dict[str, tuple[datetime, Any, Render]] = {}
    by_series: dict[str, list[FeedAppointment]] = {}
    for item in items.values():
        if item.series_id:
            by_series.setdefault(item.series_id, []).append(item)
        elif item.start < end and item.end > start:
            units[item.id] = (item.start, item, _single(item))
    for series_id, members in by_series.items():
        series = session.get(db.Series, series_id)
        unit = _series_unit(series, members, names) if series is not None else None
        if unit is None:  # not expressible as a rule: every occurrence on its own
            for item in members:
                if item.start < end and item.end > start:
                    units[item.id] = (item.start, item, _single(item))
            continue
        if any(m.start < end and m.end > start for m in members):
            units[f"series:{series_id}"] = unit
    resource = session.get(db.Resource, resource_id)
    return FeedContent(resource.name if resource else "", start, end,
                       sorted(names.zones_used), units)


def _single(item: FeedAppointment) -> Render:
    return lambda privacy, translate: [appointment_event(item, privacy, translate)]


def _series_unit(series: db.Series, members: list[FeedAppointment],
                 names: _Names) -> tuple[datetime, Any, Render] | None:
    """The series as RRULE + EXDATE + overrides, or None when the rule cannot say it
    (an occurrence in a DST gap, members whose ids are not the rule's occurrences)."""
    zone = names.zone(series.clinic_id)
    occurrences = tuple(expand(series.rrule, series.first_local, zone, max_occurrences=10_000))
    if not occurrences or any(o.local_start != o.original_local for o in occurrences):
        return None
    by_id = {occurrence_id(series.id, o.original_local): o for o in occurrences}
    rows: dict[datetime, FeedAppointment] = {}
    for item in members:
        occurrence = by_id.get(item.id)
        if occurrence is None:
            return None
        rows[occurrence.start] = item
    shape = FeedSeries(series.id, series.version, zone, series.rrule,
                       timedelta(seconds=series.duration_seconds), occurrences)
    inputs = (shape, tuple(sorted(rows.items())))
    return (min(rows), inputs,
            lambda privacy, translate: series_events(shape, rows, privacy, translate))


class _Names:
    """Clinic, room, type and (when shown) patient names of the rows, read at once."""

    def __init__(self, session: Session, org: str, with_patients: bool, rows: list[Any]) -> None:
        self.clinics = {c.id: (c.name, c.time_zone) for c in session.execute(
            select(db.Clinic.id, db.Clinic.name, db.Clinic.time_zone)
            .where(db.Clinic.organization_id == org))}
        self.resources = dict(session.execute(
            select(db.Resource.id, db.Resource.name).where(
                db.Resource.organization_id == org, db.Resource.kind == "room")).tuples().all())
        self.types = dict(session.execute(
            select(db.AppointmentType.id, db.AppointmentType.name)
            .where(db.AppointmentType.organization_id == org)).tuples().all())
        self.patients: dict[str, tuple[str, str]] = {}
        if with_patients and rows:
            wanted = list({row.patient_id for row in rows})
            for index in range(0, len(wanted), 900):
                self.patients.update(
                    (p.id, (p.given_name, p.family_name)) for p in session.execute(
                        select(db.Patient.id, db.Patient.given_name, db.Patient.family_name)
                        .where(db.Patient.id.in_(wanted[index:index + 900]))))
        self.zones_used: set[str] = set()

    def zone(self, clinic_id: str) -> str:
        zone: str = self.clinics.get(clinic_id, ("", "UTC"))[1]
        self.zones_used.add(zone)
        return zone

    def item(self, row: Any) -> FeedAppointment:
        clinic_name, _zone = self.clinics.get(row.clinic_id, ("", "UTC"))
        given, family = self.patients.get(row.patient_id, ("", ""))
        return FeedAppointment(
            id=row.id, start=row.start_at, end=row.end_at, status=row.status,
            version=row.version, updated_at=row.updated_at, time_zone=self.zone(row.clinic_id),
            clinic_name=clinic_name, room_name=self.resources.get(row.room_id or "", ""),
            type_name=self.types.get(row.appointment_type_id, ""), given_name=given,
            family_name=family, notes=row.notes or "", patient_notes=row.patient_notes or "",
            cancel_reason=row.cancel_reason or "", series_id=row.series_id,
            original_start=row.original_start, room_id=row.room_id)
