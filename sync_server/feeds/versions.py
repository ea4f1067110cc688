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

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from sync_server.feeds.models import CalendarFeed


def note_appointment_change(session: Session, organization_id: str,
                            resource_ids: Iterable[str]) -> None:
    """Move the versions of the live feeds of ``resource_ids`` (an appointment's provider
    and room before and after the change, as its domain event carries them)."""
    wanted = {resource for resource in resource_ids if resource}
    if not wanted:
        return
    bump_feeds(session, [feed_id for feed_id, resource, _privacy
                         in _live_feeds(session, organization_id) if resource in wanted])


def note_every_feed(session: Session, organization_id: str, *,
                    only_showing_names: bool = False) -> None:
    """Move the versions of all the organization's live feeds (a series rewrites many
    events; a patient's name shows in every feed above ``busy``)."""
    bump_feeds(session, [feed_id for feed_id, _resource, privacy
                         in _live_feeds(session, organization_id)
                         if not (only_showing_names and privacy == "busy")])


def bump_feeds(session: Session, feed_ids: list[str]) -> None:
    if feed_ids:
        session.execute(update(CalendarFeed).where(CalendarFeed.id.in_(feed_ids))
                        .values(version=CalendarFeed.version + 1,
                                changed_at=datetime.now(UTC)))


_FEEDS = "clinicdesk_live_feeds"
#: Built once (every appointment change runs it).
_LIVE_FEEDS = select(CalendarFeed.id, CalendarFeed.resource_id, CalendarFeed.privacy).where(
    CalendarFeed.organization_id == bindparam("org"), CalendarFeed.revoked_at.is_(None))


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
    feeds = [(row.id, row.resource_id, row.privacy)
             for row in session.execute(_LIVE_FEEDS, {"org": organization_id})]
    kept[1][organization_id] = feeds
    return feeds
