"""The booking path: one function per intent, each ONE transaction the caller commits.

Every function (used by the REST API and by sync push alike):

1. takes the per-resource locks (:func:`~sync_server.db.session.lock_resources`:
   sorted advisory locks on PostgreSQL; SQLite is serialized by ``BEGIN IMMEDIATE``)
   — the appointment itself first when it changes one, then every resource the
   result could occupy (provider, the named room and equipment, or the type's
   candidate rooms and equipment when the rules pick them) and the patient. A single
   appointment's change locks those resources only for the UTC days its blocks cover
   (:func:`_lock_days`), and its clinic's weeks where the clinic has quotas; a series
   locks its resources whole. In a
   sync push batch (:func:`batch`) a mutation after the first only tries the
   locks and raises :class:`LockBusy` instead of waiting;
2. loads the calendar state the rules need (:mod:`sync_server.services.calendar`);
3. judges with :func:`scheduling.rules.check` (or the series functions) at the
   server's clock; a refusal with alternatives is judged again on a state that spans
   the alternatives' search horizon, so the alternatives offered are really free;
4. writes the appointment rows and their ``appointment_resources`` occupations
   (group members and the overridden flag as :mod:`sync_server.db.models` says).
   On PostgreSQL each occupation is ``INSERT … ON CONFLICT DO NOTHING``: zero rows
   inserted means the exclusion constraint saw an overlap the locks should have
   prevented, and the command is refused (never retried in a loop);
5. emits the change's events on the unit of work (:mod:`sync_server.services.events`):
   their handlers (:mod:`sync_server.services.handlers`) bump the organization version,
   record the changes and append the audit entry, in the same transaction.

Sync push runs (:func:`prepare_run`) judge their plain bookings on one shared state
and stage the rows (:func:`book_in_run`); every other path is the one above.

A refusal emits no event: it appends an audit entry; on the sync path
(``caller.mutation`` set) it also bumps the version and records a conflict for the
desk, in that order (version row before audit head, the lock order of every writer).

Where each part lives: :mod:`.appointments` (book, change), :mod:`.series` (recurring),
:mod:`.records` (waitlist, patients, blockouts), :mod:`.locks` (lock planning),
:mod:`.judging` (state and rules under the locks), :mod:`.occupancy` (rows, occupations
and the events of an accepted change), :mod:`.outcomes` (results, refusals, audit and
conflicts), :mod:`.push_run`, :mod:`.push_run_prepare` and :mod:`.push_run_changes` (the
sync push fast path).
"""

from __future__ import annotations

from sync_server.services.booking.appointments import (
    CHANGE_COMMANDS,
    book,
    change,
    change_type_and_notes,
)
from sync_server.services.booking.locks import MAX_DAY_LOCKS, LockBusy
from sync_server.services.booking.outcomes import (
    BookingResult,
    Caller,
    DuplicateId,
    MutationRef,
    alternative_json,
    json_params,
    placement_of,
    record_conflict,
)
from sync_server.services.booking.push_run import (
    PushRun,
    after_other,
    batch,
    before_other,
    book_in_run,
    drop_run,
    holding,
    settle_run,
)
from sync_server.services.booking.push_run_changes import STAGED_CHANGES, change_in_run
from sync_server.services.booking.push_run_prepare import (
    RUN_DAYS,
    finish_run,
    keep_run,
    prepare_run,
    take_kept_run,
)
from sync_server.services.booking.records import (
    blockout_create,
    blockout_delete,
    patient_create,
    patient_update,
    set_encounter,
    waitlist_add,
    waitlist_book,
    waitlist_remove,
)
from sync_server.services.booking.series import book_recurring, edit_recurring
from sync_server.services.booking.visits import (
    book_visit,
    cancel_visit,
    move_visit,
    visit_parts,
)

__all__ = [
    "CHANGE_COMMANDS",
    "MAX_DAY_LOCKS",
    "RUN_DAYS",
    "STAGED_CHANGES",
    "BookingResult",
    "Caller",
    "DuplicateId",
    "LockBusy",
    "MutationRef",
    "PushRun",
    "after_other",
    "alternative_json",
    "batch",
    "before_other",
    "blockout_create",
    "blockout_delete",
    "book",
    "book_in_run",
    "book_recurring",
    "book_visit",
    "cancel_visit",
    "change",
    "change_in_run",
    "change_type_and_notes",
    "drop_run",
    "edit_recurring",
    "finish_run",
    "holding",
    "json_params",
    "keep_run",
    "move_visit",
    "patient_create",
    "patient_update",
    "placement_of",
    "prepare_run",
    "record_conflict",
    "set_encounter",
    "settle_run",
    "take_kept_run",
    "visit_parts",
    "waitlist_add",
    "waitlist_book",
    "waitlist_remove",
]
