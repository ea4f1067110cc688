"""Busy-time import: a provider's external calendar (an .ics URL, read only) becomes
blockouts of that provider, so availability and the rules engine avoid those times.

Only *when* is imported, never what: each busy time becomes a blockout with the
reason "External calendar". A refresh replaces the source's blockouts by the
busy times it reads now (from yesterday to ``HORIZON_DAYS`` ahead; events that
are TRANSPARENT or CANCELLED are free time). The blockouts travel to the desks
like any other (change log).

A source that fails (unreachable, times out, answers an error, is not
iCalendar, is larger than ``MAX_BYTES``) keeps its last busy times and records
the error, which the feeds API lists with the source: never silently ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import recurring_ical_events
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from scheduling import model
from scheduling.wire import to_wire
from sync_server.db import models as db
from sync_server.feeds.models import BusyBlock, BusyCalendar
from sync_server.services import audit, changes

MAX_BYTES = 5 * 1024 * 1024
TIMEOUT_SECONDS = 10.0
HORIZON_DAYS = 180
REASON = "External calendar"

log = logging.getLogger("sync_server.feeds.busy")


class BusyCalendarError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class SourceState:
    id: str
    provider_id: str
    clinic_id: str
    url: str
    ok: bool
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    error: str
    busy_count: int

    def to_json(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {"id": self.id, "provider_id": self.provider_id, "clinic_id": self.clinic_id,
                "url": self.url, "ok": self.ok, "error": self.error,
                "last_attempt_at": when(self.last_attempt_at),
                "last_success_at": when(self.last_success_at), "busy_count": self.busy_count}


def add_source(session: Session, organization_id: str, provider_id: str, clinic_id: str,
               url: str, now: datetime) -> BusyCalendar:
    provider = session.get(db.Resource, provider_id)
    if provider is None or provider.organization_id != organization_id \
            or provider.kind != "provider":
        raise BusyCalendarError("unknown_provider", "There is no such provider.")
    clinic = session.get(db.Clinic, clinic_id)
    if clinic is None or clinic.organization_id != organization_id:
        raise BusyCalendarError("unknown_clinic", "There is no such clinic.")
    if not url.lower().startswith(("https://", "http://")):
        raise BusyCalendarError("bad_url", "The busy calendar's address must start with "
                                "https:// (or http://); webcal:// addresses work with https://.")
    row = BusyCalendar(id=str(uuid.uuid4()), organization_id=organization_id,
                       provider_id=provider_id, clinic_id=clinic_id, url=url, active=True,
                       created_at=now, last_error="", busy_count=0)
    session.add(row)
    session.flush()
    return row


def source_of(session: Session, organization_id: str, source_id: str) -> BusyCalendar | None:
    row = session.get(BusyCalendar, source_id)
    return row if row is not None and row.organization_id == organization_id else None


def list_sources(session: Session, organization_id: str,
                 provider_id: str | None = None) -> list[SourceState]:
    query = select(BusyCalendar).where(BusyCalendar.organization_id == organization_id)
    if provider_id is not None:
        query = query.where(BusyCalendar.provider_id == provider_id)
    return [_state(row) for row in session.scalars(query.order_by(BusyCalendar.created_at))]


def refresh(session: Session, source_id: str, now: datetime,
            client: httpx.Client | None = None) -> SourceState:
    """Read the source once and replace its blockouts (committed), or record why not."""
    row = session.get(BusyCalendar, source_id)
    if row is None:
        raise BusyCalendarError("unknown_busy_calendar", "There is no such busy calendar.")
    url, zone_name = row.url, _zone(session, row.clinic_id)
    session.commit()  # hold no write lock while the network answers
    try:
        busy = read_busy_times(url, now, zone_name, client)
    except BusyCalendarError as error:
        row = session.get(BusyCalendar, source_id)
        assert row is not None
        row.last_attempt_at = now
        row.last_error = error.message[:500]
        session.commit()
        return _state(row)
    row = session.get(BusyCalendar, source_id)
    assert row is not None
    _replace_blocks(session, row, busy, now)
    row.last_attempt_at = row.last_success_at = now
    row.last_error = ""
    row.busy_count = len(busy)
    session.commit()
    return _state(row)


def refresh_due(session: Session, now: datetime, every: timedelta = timedelta(minutes=30),
                client: httpx.Client | None = None) -> list[SourceState]:
    """Refresh every active source not tried within ``every`` (for a scheduler or cron)."""
    due = [row.id for row in session.scalars(select(BusyCalendar).where(
        BusyCalendar.active.is_(True)))
        if row.last_attempt_at is None or row.last_attempt_at <= now - every]
    return [refresh(session, source_id, now, client) for source_id in due]


@contextlib.asynccontextmanager
async def refreshing(sessions: sessionmaker[Session], clock: Callable[[], datetime],
                     every: timedelta) -> AsyncIterator[None]:
    """Refresh due busy calendars every ``every`` while the server runs (app lifespan)."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every.total_seconds())
            try:
                await asyncio.to_thread(_refresh_due_now, sessions, clock, every)
            except Exception:  # a bad round must not end the schedule
                log.exception("busy calendar refresh failed")

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _refresh_due_now(sessions: sessionmaker[Session], clock: Callable[[], datetime],
                     every: timedelta) -> None:
    with sessions() as session:
        for state in refresh_due(session, clock(), every):
            if not state.ok:  # ids only: the address may hold a secret
                log.warning("busy calendar %s failed: %s", state.id, state.error)


def read_busy_times(url: str, now: datetime, zone_name: str,
                    client: httpx.Client | None = None) -> list[tuple[datetime, datetime]]:
    """The busy intervals (UTC, merged) an external calendar shows from yesterday on."""
    body = _download(url, client)
    if not body.lstrip().upper().startswith(b"BEGIN:VCALENDAR"):
        raise BusyCalendarError("not_icalendar", "The address did not answer with a calendar "
                                "(.ics); check that it is the calendar's secret iCal address.")
    try:
        calendar = icalendar.Calendar.from_ical(body)
        start = now - timedelta(days=1)
        events = recurring_ical_events.of(calendar).between(start,
                                                            now + timedelta(days=HORIZON_DAYS))
    except Exception as error:  # noqa: BLE001 - any parser failure means "not readable"
        raise BusyCalendarError("not_icalendar", "The calendar could not be read "
                                f"({type(error).__name__}).") from None
    zone = ZoneInfo(zone_name)
    found: list[tuple[datetime, datetime]] = []
    for event in events:
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        begin = _instant(event.get("DTSTART").dt, zone)
        end_value = event.get("DTEND")
        finish = _instant(end_value.dt, zone) if end_value is not None else begin
        if finish > begin:
            found.append((begin, finish))
    return _merged(found)


def _download(url: str, client: httpx.Client | None) -> bytes:
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=True)
    try:
        with http.stream("GET", url, headers={"Accept": "text/calendar"}) as response:
            if response.status_code != 200:
                raise BusyCalendarError("source_failed", "The calendar's address answered "
                                        f"HTTP {response.status_code}.")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise BusyCalendarError("too_large", "The calendar is larger than "
                                            f"{MAX_BYTES // (1024 * 1024)} MB; not read.")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TimeoutException:
        raise BusyCalendarError("timeout", "The calendar's address did not answer in "
                                f"{TIMEOUT_SECONDS:g} seconds.") from None
    except httpx.HTTPError as error:
        raise BusyCalendarError("unreachable", "The calendar's address could not be reached "
                                f"({type(error).__name__}).") from None
    finally:
        if own:
            http.close()


def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):  # all-day: the clinic's whole day
        return datetime.combine(value, time(), zone).astimezone(UTC)
    if value.tzinfo is None:  # floating: read in the clinic's zone
        return value.replace(tzinfo=zone).astimezone(UTC)
    return value.astimezone(UTC)


def _merged(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _zone(session: Session, clinic_id: str) -> str:
    clinic = session.get(db.Clinic, clinic_id)
    return clinic.time_zone if clinic is not None else "UTC"


def _replace_blocks(session: Session, row: BusyCalendar, busy: list[tuple[datetime, datetime]],
                    now: datetime) -> None:
    """Make the source's blockouts exactly ``busy``: keep equal ones, delete the rest, add
    the new (logged for the desks' pull, audited)."""
    org = row.organization_id
    kept = {(b.start_at, b.end_at): b.blockout_id for b in session.scalars(
        select(BusyBlock).where(BusyBlock.busy_calendar_id == row.id))}
    wanted = set(busy)
    gone = [blockout_id for span, blockout_id in kept.items() if span not in wanted]
    new = [span for span in busy if span not in kept]
    if not gone and not new:
        return
    version = changes.bump_version(session, org)
    if gone:
        session.execute(delete(db.Blockout).where(db.Blockout.id.in_(gone),
                                                  db.Blockout.organization_id == org))
        for blockout_id in gone:
            changes.record_change(session, org, version, "blockout", blockout_id, "delete")
    for start, end in new:
        record = model.Blockout(str(uuid.uuid4()), row.clinic_id, start, end,
                                resource_id=row.provider_id, reason=REASON)
        session.add(db.Blockout(id=record.id, organization_id=org, clinic_id=record.clinic_id,
                                resource_id=record.resource_id, start_at=start, end_at=end,
                                reason=REASON))
        session.flush()
        session.add(BusyBlock(blockout_id=record.id, busy_calendar_id=row.id,
                              organization_id=org, start_at=start, end_at=end))
        changes.record_change(session, org, version, "blockout", record.id, "upsert",
                              to_wire(record))
    audit.append(session, org, at=now, actor=audit.Actor(), intent="busy_calendar.refresh",
                 outcome="accepted", target_type="busy_calendar", target_id=row.id,
                 reason=f"{len(new)} added, {len(gone)} removed")


def _state(row: BusyCalendar) -> SourceState:
    return SourceState(row.id, row.provider_id, row.clinic_id, row.url, not row.last_error,
                       row.last_attempt_at, row.last_success_at, row.last_error,
                       row.busy_count)
