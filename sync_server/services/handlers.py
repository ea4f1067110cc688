"""Who reacts to each event: the one list of handlers.

A handler is ``handler(uow, event)``. It runs inside the change's transaction, at the
moment the event is emitted (:meth:`UnitOfWork.emit
<sync_server.services.unit_of_work.UnitOfWork.emit>`), before the commit: it writes
through ``uow.session`` (or the unit of work's buffers) and so commits or rolls back
with the change. A handler that raises aborts the whole change. Work outside the
database (a poke to connected desks) happens after the commit, from what the unit of
work noted.

An event is handled by the handlers of its class and of every base class, most
specific first: a handler registered for
:class:`~sync_server.services.events.AppointmentChanged` hears of every booking, move,
cancellation and status change. A later feature adds its reaction with one line in
:data:`HANDLERS` below, e.g. ``AppointmentChanged: [bump_feed_version]`` (or
:func:`register` at import time of the feature's module).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from scheduling.wire import entity_of, to_wire
from sync_server.feeds import versions as feed_versions
from sync_server.followups.service import track_follow_ups
from sync_server.notifications.outbox import queue_notifications
from sync_server.services import audit, changes, financials
from sync_server.services.events import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentMoved,
    BlockoutChanged,
    ChangeAccepted,
    ConfigurationChanged,
    Event,
    PatientChanged,
    SeriesChanged,
    StatusChanged,
    WaitlistChanged,
)
from sync_server.services.unit_of_work import UnitOfWork
from sync_server.telemedicine.rooms import open_video_room
from sync_server.waitlist.new_hours import note_new_hours
from sync_server.waitlist.no_shows import record_no_show
from sync_server.waitlist.offers import note_freed_slot

E = TypeVar("E", bound=Event)
Handler = Callable[[UnitOfWork, Any], None]


# --------------------------------------------------------------------------- bookkeeping


def bump_version(uow: UnitOfWork, change: ChangeAccepted) -> None:
    """The organization's next version (its row stays locked until commit; the version is
    noted for the poke after commit and ``NOTIFY``-ed on PostgreSQL). A request that
    defers its bookkeeping (:mod:`sync_server.services.bookkeeping`) keeps the change for
    the one statement before its commit; the two handlers below then do nothing."""
    if uow.deferred is not None:
        uow.deferred.append(change)
        return
    changes.bump_version(uow.session, change.organization_id)


def write_change_log(uow: UnitOfWork, change: ChangeAccepted) -> None:
    """One change-log entry per written or deleted record, at the change's version
    (what pull serves)."""
    if uow.deferred is not None:
        return
    org = change.organization_id
    version = uow.versions[org]
    for record in change.records:
        changes.record_change(uow.session, org, version, entity_of(record), record.id,
                              "upsert", to_wire(record))
    for entity, record_id in change.deleted:
        changes.record_change(uow.session, org, version, entity, record_id, "delete")


def append_audit(uow: UnitOfWork, change: ChangeAccepted) -> None:
    """The change's entry in the organization's hash-chained audit log (after the version:
    the version row is locked before the audit head, the lock order of every writer)."""
    if uow.deferred is not None:
        return
    audit.append(uow.session, change.organization_id, at=change.at,
                 actor=audit.Actor(change.actor_user_id, change.actor_device_id),
                 intent=change.intent[:64], outcome=change.outcome[:32],
                 target_type=change.target_type, target_id=change.target_id[:64],
                 reason=change.reason[:200] or None)


def move_feed_versions(uow: UnitOfWork, change: AppointmentChanged) -> None:
    """The calendar feeds of the appointment's provider and room, before and after."""
    placements = [placement for placement in (change.before, change.after) if placement]
    feed_versions.note_appointment_change(
        uow.session, change.organization_id,
        [resource for placement in placements
         for resource in (placement.provider_id, placement.room_id) if resource])


def move_feed_versions_of_series(uow: UnitOfWork, change: SeriesChanged) -> None:
    feed_versions.note_every_feed(uow.session, change.organization_id)


def move_feed_versions_of_patient(uow: UnitOfWork, change: PatientChanged) -> None:
    feed_versions.note_every_feed(uow.session, change.organization_id,
                                  only_showing_names=True)


#: The handlers of each event type, in the order they run. Bookkeeping first: every
#: accepted change bumps the version, logs its records and appends its audit entry.
HANDLERS: dict[type[Event], list[Handler]] = {
    ChangeAccepted: [bump_version, write_change_log, append_audit],
    AppointmentChanged: [move_feed_versions, queue_notifications, track_follow_ups,
                         note_freed_slot],
    AppointmentBooked: [open_video_room],
    AppointmentMoved: [],
    AppointmentCancelled: [financials.post_late_cancellation_fee],
    StatusChanged: [financials.take_back_late_cancellation_fee, record_no_show],
    SeriesChanged: [move_feed_versions_of_series],
    PatientChanged: [move_feed_versions_of_patient],
    WaitlistChanged: [],
    BlockoutChanged: [],
    ConfigurationChanged: [note_new_hours],
}


def register(kind: type[E], handler: Callable[[UnitOfWork, E], None]) -> None:
    """Add ``handler`` for events of ``kind`` (and its subclasses), after those listed."""
    HANDLERS.setdefault(kind, []).append(handler)


def dispatch(uow: UnitOfWork, event: Event) -> None:
    """Run the handlers of ``event``: its class's, then its base classes'."""
    for kind in type(event).__mro__:
        for handler in HANDLERS.get(kind, ()):
            handler(uow, event)
