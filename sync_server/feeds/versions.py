"""Feed versions: what makes a feed's ETag move.

Every feed row carries a ``version``; :func:`note_change` raises it, in the
writing transaction, for every live feed whose calendar the written record
touches: an appointment's provider and room *now and before* (a move to another
provider leaves the first provider's feed), every feed of the organization for
a series record (its rule or exceptions), and the feeds that show patient
names for a patient record. A feed nobody changed keeps its version, so its
304 answer needs no appointment read.

Called from one place of the write path today (``changes.record_change``, which
sees every synced record, the sync push batches included); it becomes a handler
of the appointment domain events (issue 11), where
:func:`note_appointment_change` (resources before and after) is the natural form.
Cost when the organization has no live feed: one small query per transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sync_server.db.models import ChangeLogEntry
from sync_server.feeds.models import CalendarFeed


def note_change(session: Session, organization_id: str, entity: str, op: str,
                payload: dict[str, Any] | None) -> None:
    """Move the versions of the feeds that show the written record (``entity`` and its
    wire ``payload``, as the change log gets them): appointments, series and patients
    matter, other records are ignored."""
    if entity not in _SHOWN:
        return
    feeds = _live_feeds(session, organization_id)
    if not feeds:
        return
    if entity == "series":
        bump_feeds(session, [feed_id for feed_id, _resource, _privacy in feeds])
        return
    if entity == "patient":
        bump_feeds(session, [feed_id for feed_id, _resource, privacy in feeds
                             if privacy != "busy"])
        return
    if op != "upsert" or not payload:
        return
    touched = {r for r in (payload.get("provider_id"), payload.get("room_id")) if r}
    if {resource for _feed, resource, _privacy in feeds} - touched \
            and int(payload.get("version") or 1) > 1:
        touched |= previous_resources(session, organization_id, [str(payload["id"])])
    bump_feeds(session, [feed_id for feed_id, resource, _privacy in feeds
                         if resource in touched])


def note_appointment_change(session: Session, organization_id: str,
                            resource_ids: Iterable[str]) -> None:
    """Move the versions of the live feeds of ``resource_ids`` (the event-handler form:
    the caller knows the appointment's resources before and after the change)."""
    wanted = set(resource_ids)
    if not wanted:
        return
    ids = session.scalars(select(CalendarFeed.id).where(
        CalendarFeed.organization_id == organization_id,
        CalendarFeed.resource_id.in_(wanted), CalendarFeed.revoked_at.is_(None))).all()
    bump_feeds(session, list(ids))


def bump_feeds(session: Session, feed_ids: list[str]) -> None:
    if feed_ids:
        session.execute(update(CalendarFeed).where(CalendarFeed.id.in_(feed_ids))
                        .values(version=CalendarFeed.version + 1,
                                changed_at=datetime.now(UTC)))


def previous_resources(session: Session, organization_id: str,
                       appointment_ids: list[str]) -> set[str]:
    """The provider and room each appointment had in its last logged change (the
    change log keeps every appointment's wire form; nothing prunes it)."""
    if not appointment_ids:
        return set()
    log = ChangeLogEntry
    latest = (select(log.entity_id, func.max(log.version).label("version"))
              .where(log.organization_id == organization_id, log.entity == "appointment",
                     log.entity_id.in_(appointment_ids))
              .group_by(log.entity_id).subquery())
    payloads = session.scalars(
        select(log.payload).join(latest, (log.entity_id == latest.c.entity_id)
                                 & (log.version == latest.c.version))
        .where(log.organization_id == organization_id, log.entity == "appointment"))
    found: set[str] = set()
    for payload in payloads:
        if payload:
            found.update(r for r in (payload.get("provider_id"), payload.get("room_id")) if r)
    return found


_SHOWN = frozenset({"appointment", "series", "patient"})
_FEEDS = "clinicdesk_live_feeds"


def _live_feeds(session: Session, organization_id: str) -> list[tuple[str, str, str]]:
    """The organization's live feeds (id, resource, privacy), read once per transaction:
    a sync push writes hundreds of records in one."""
    transaction = session.get_transaction()
    kept = session.info.get(_FEEDS)
    if kept is not None and kept[0] is transaction and organization_id in kept[1]:
        feeds: list[tuple[str, str, str]] = kept[1][organization_id]
        return feeds
    if kept is None or kept[0] is not transaction:
        kept = (transaction, dict[str, list[tuple[str, str, str]]]())
        session.info[_FEEDS] = kept
    feeds = [(row.id, row.resource_id, row.privacy) for row in session.execute(
        select(CalendarFeed.id, CalendarFeed.resource_id, CalendarFeed.privacy)
        .where(CalendarFeed.organization_id == organization_id,
               CalendarFeed.revoked_at.is_(None)))]
    kept[1][organization_id] = feeds
    return feeds
