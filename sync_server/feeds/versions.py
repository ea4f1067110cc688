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
The live feeds are kept between requests while the organization's configuration
counter stays the same (migration 0024 counts feeds created, revoked or moved to
another resource or privacy; not the ``version`` moved here): a booking reads none.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from sync_server.feeds.models import CalendarFeed
from sync_server.services.calendar.config_cache import COUNTER_UNMOVED, kept_setting


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
    """Move the feeds' versions: not a change of the kept live feeds (the triggers of
    migration 0024 do not count it, nor does ``config_written``)."""
    if feed_ids:
        session.execute(update(CalendarFeed).where(CalendarFeed.id.in_(feed_ids))
                        .values(version=CalendarFeed.version + 1,
                                changed_at=datetime.now(UTC))
                        .execution_options(**{COUNTER_UNMOVED: True}))


#: Built once (every appointment change runs it when the kept feeds are older).
_LIVE_FEEDS = select(CalendarFeed.id, CalendarFeed.resource_id, CalendarFeed.privacy).where(
    CalendarFeed.organization_id == bindparam("org"), CalendarFeed.revoked_at.is_(None))


def _live_feeds(session: Session, organization_id: str) -> tuple[tuple[str, str, str], ...]:
    """The organization's live feeds (id, resource, privacy), kept between requests
    (:func:`kept_setting`): a booking, or a sync push writing hundreds of records,
    reads them only when a feed changed since they were kept."""
    def read() -> tuple[tuple[str, str, str], ...]:
        return tuple((row.id, row.resource_id, row.privacy)
                     for row in session.execute(_LIVE_FEEDS, {"org": organization_id}))

    return kept_setting(session, "live_feeds", organization_id, read)
