"""Push and pull (DESIGN §3, modelled on Replicache).

Push: the mutations of one desk (``client_id``) are handled in order, in runs of
up to :data:`CHUNK` that share one transaction, each mutation in its own
savepoint (see :func:`push`); a run starts by locking the desk's
``client_mutations`` row (so two pushes of one desk never interleave):

* ``id <= last_mutation_id`` → already processed, skipped;
* ``id > last_mutation_id + 1`` → :class:`MutationGap` (409); nothing after it runs;
* otherwise the intent is decoded and applied through the same booking services
  as the REST API, and ``last_mutation_id`` moves to ``id`` in the same transaction
  (what came before a gap is committed before the 409).
  A refusal is recorded as a conflict (code, message id, parameters, alternatives)
  and still counts as processed. A mutation that cannot even be read (unknown
  name, bad or missing fields, naive datetimes …), or that the database refuses
  although the rules let it through, is recorded as an ``INVALID_MUTATION``
  conflict and counts as processed too: a poisoned outbox entry must never block
  every later change of a desk.

Re-sending any push gives the same state; client timestamps are never used. A push
answers after :data:`PUSH_SECONDS` of work with what it processed (the desk goes on
from ``last_mutation_id``); it fails (:class:`PushFailed`, 5xx) only when nothing of
it was committed.

Bookings, moves, resizes, cancels and status changes of a run take a fast path
(:func:`booking.prepare_run`): the run locks everything they may occupy, loads
one calendar state for them (kept for the push's next run when nothing else was
written meanwhile), judges each in memory with the same rules — refusals and their
alternatives included — keeps that state current, and writes the rows of new bookings,
moves, resizes and cancels many per statement before the run commits (or before any
other kind of mutation that reads appointments runs). A run prepares the next mutations
it is likely to reach in its time (:data:`MIN_RUN`), decoded on first use.
On PostgreSQL the exclusion constraint still guards those rows; if it ever refused
one, the run would be rolled back and the push go on one mutation per savepoint.

Pull: the changes after a version cursor (the latest state of each changed
record, tombstones for deletions), the desk's ``last_mutation_id`` and its
conflicts recorded after the cursor, a page at a time; a page never splits a
version, so the returned ``cursor`` is always a consistent checkpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from scheduling import intents
from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import Actor, BookAppointment, Command, Policy
from scheduling.errors import SchedulingInputError
from scheduling.refusals import RefusalCode, message_for
from scheduling.sync_protocol import (
    DUPLICATE_ID,
    DUPLICATE_ID_MESSAGE,
    INVALID_MUTATION,
    INVALID_MUTATION_MESSAGE,
    ChangeRecord,
    ConflictRecord,
    Mutation,
    MutationResult,
    PullResponse,
    PushRequest,
    PushResult,
    Tombstone,
)
from sync_server.db.models import (
    Appointment,
    ChangeLogEntry,
    ClientMutation,
    Conflict,
    OrgVersion,
    get_in_org,
)
from sync_server.services import accounts, audit, booking, changes, departments
from sync_server.services.booking import BookingResult, Caller, MutationRef
from sync_server.services.devices import DeskDevice
from sync_server.services.errors import PermissionDenied, ServiceError
from sync_server.services.unit_of_work import unit_of

#: What a desk may do through sync for a mutation that names no user (desks from before
#: mutations carried ``user_id``): the front desk's permissions (the receptionist role).
#: A mutation naming its user is judged with that user's permissions (roles and
#: overrides as the administrator set them; none when the account is gone or disabled)
#: and audited in that user's name as well as the device's.
DESK_PERMISSIONS = frozenset({
    "booking:view_calendar", "booking:create_appointment", "booking:modify_appointment",
    "booking:cancel_appointment",
    "booking:undo", "patient:view", "patient:edit",
})


log = logging.getLogger("sync_server.sync")


class MutationGap(ServiceError):
    status = 409
    code = "mutation_gap"

    def __init__(self, last_mutation_id: int, got: int) -> None:
        super().__init__(
            f"This push skips changes: the server has processed up to change "
            f"{last_mutation_id} and the next one sent was {got}. Send from change "
            f"{last_mutation_id + 1} on; nothing from {got} on was applied."
        )
        self.last_mutation_id = last_mutation_id


class CursorAhead(ServiceError):
    status = 409
    code = "cursor_ahead"


# =========================================================================== push


#: Mutations processed in one transaction at most (one client-row lock, one calendar
#: state for its plain bookings, one commit). A run's fixed cost (locking, loading the
#: state, committing) is most of a small run's time, so runs are as long as a push
#: allows; :data:`RUN_SECONDS` bounds how long one holds the organization's version row
#: and audit head (and on SQLite the database) while other writers wait.
CHUNK = 1000
#: A run that has worked this long commits after the mutation in hand; the rest of the
#: push goes on in a new run (measured: 1,000 plain bookings take about 0.4 s here).
RUN_SECONDS = 0.5
#: A run after one that ended on time prepares at least this many mutations.
MIN_RUN = 100
#: A push that has worked this long answers after the run in hand with what it
#: processed (``last_mutation_id``); the desk sends the rest in its next push. Well
#: under the desk's 10 s read timeout, so a slow backlog never makes the desk retry.
PUSH_SECONDS = 4.0
#: How pushed intents are judged: as REST, except that a refusal's alternatives are the
#: nearest free times within this many days (and other providers at the same time)
#: instead of two weeks. A desk's backlog after a day offline can hold hundreds of
#: refusals; searching two weeks for each would cost several bookings' time apiece.
PUSH_POLICY = replace(DEFAULT_POLICY, alternatives_horizon_days=2)


class PushFailed(ServiceError):
    """A push failed before any of its runs committed: nothing of it was applied.
    ``last_mutation_id``: the desk's processed position (``None`` when the database
    could not even tell)."""

    status = 500
    code = "internal_error"

    def __init__(self, last: int | None, *, unavailable: bool) -> None:
        where = ("" if last is None else
                 f" The server has processed this desk's changes up to change {last}.")
        if unavailable:
            self.status, self.code = 503, "database_unavailable"
            text = "The database cannot be reached right now; nothing of this push was applied."
        else:
            text = "Something went wrong on the server; nothing of this push was applied."
        super().__init__(text + where)
        self.last_mutation_id = last


def push(session: Session, device: DeskDevice, request: PushRequest, now: datetime) -> PushResult:
    """Apply ``request`` for ``device`` (see the module docstring).

    Runs of up to :data:`CHUNK` mutations share one transaction (each mutation in its own
    savepoint, so a refused or invalid one is still isolated); every mutation still gets
    its own version. The result is returned after the last run committed, or after
    :data:`PUSH_SECONDS` with what the runs so far processed.

    A run never waits for a lock while it holds what earlier mutations of the run took
    (the organization's version row, audit head, resource locks): when a later mutation's
    resources are locked by another transaction, the run commits before it and a new run
    starts with it (so a run cannot deadlock with a REST booking). If a run's transaction
    fails as a whole anyway (the database refused a row its fast path staged, the fast
    path failed), it is rolled back and the rest of the push is processed one mutation
    per savepoint, where a mutation the database refuses or the server fails on is an
    ``INVALID_MUTATION`` conflict.

    An unexpected failure after a run committed ends the push with what was processed
    (200); before any, it is :class:`PushFailed` (nothing of the push was applied).
    """
    if request.client_id != device.client_id:
        session.rollback()
        audit.append(session, device.organization_id, at=now,
                     actor=audit.Actor(device_id=device.id), intent="permission_denied",
                     outcome="refused", target_type="device", target_id=device.id,
                     reason="client_mismatch")
        session.commit()
        raise PermissionDenied("A desk can only push its own changes (client id mismatch).",
                               code="client_mismatch")
    results: list[MutationResult] = []
    last: int | None = None
    mutations = list(request.mutations)
    started = time.monotonic()
    actors, hidden = _actors(session, device, mutations)
    decoded = _Decoded(actors)
    # the previous run's state (see prepare_run), at first the desk's last push's
    kept = booking.take_kept_run(device.organization_id, device.client_id)
    fast = True
    first = 0
    size = CHUNK
    while first < len(mutations):
        chunk = mutations[first:first + size]
        try:
            last, done, kept = _push_run(session, device, chunk, decoded, actors, now,
                                         kept, batch=fast, hidden=hidden)
        except (MutationGap, PermissionDenied):
            raise
        except Exception as error:
            session.rollback()
            kept = None
            if fast and not _outage(error):
                fast = False  # the rest one mutation per savepoint (see above)
                continue
            if results:  # runs committed: answer what they processed
                log.error("push stopped after a committed run: %s", type(error).__name__,
                          exc_info=error)
                break
            raise _failed(session, device, error, last) from error
        results += done
        first += len(done)
        # The next run prepares about twice what this one got through in its time (see
        # RUN_SECONDS): preparing mutations a run never reaches is wasted work.
        size = CHUNK if len(done) == len(chunk) else min(CHUNK, max(MIN_RUN, 2 * len(done)))
        if time.monotonic() - started > PUSH_SECONDS:
            break  # answer now; the desk pushes the rest
    booking.keep_run(device.organization_id, device.client_id, kept)
    if last is None:
        last = last_mutation_id(session, device.client_id)
    return PushResult(last, tuple(results))


def _failed(
    session: Session, device: DeskDevice, error: Exception, last: int | None
) -> PushFailed:
    """:class:`PushFailed` for ``error``, with the desk's position read afresh if the
    database still answers."""
    log.error("push failed, nothing applied: %s", type(error).__name__, exc_info=error)
    unavailable = _outage(error)
    if last is None:
        try:
            last = last_mutation_id(session, device.client_id)
        except DBAPIError:  # the database is gone: the answer cannot say
            session.rollback()
    return PushFailed(last, unavailable=unavailable)


def _outage(error: Exception) -> bool:
    """Whether ``error`` says the database is unwell (not that it refused something)."""
    return isinstance(error, OperationalError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)


def _push_run(
    session: Session, device: DeskDevice, mutations: list[Mutation],
    decoded: _Decoded, actors: dict[str | None, Actor],
    now: datetime, kept: booking.PushRun | None, *, batch: bool,
    hidden: dict[str | None, frozenset[str]],
) -> tuple[int, list[MutationResult], booking.PushRun | None]:
    """Process ``mutations`` (or the first ones, see :func:`push`; ``decoded``: those
    that can be read, decoded on first use) in one transaction and commit; (last id,
    results of the mutations processed, the run's shared state for the next run)."""
    results: list[MutationResult] = []
    started = time.monotonic()
    session.expire_all()
    with booking.batch(session) if batch else nullcontext(unit_of(session)) as uow:
        try:
            last = _lock_client(session, device)
            if batch:
                booking.prepare_run(session, device.organization_id,
                                    decoded.requests(m for m in mutations if m.id > last),
                                    PUSH_POLICY, kept)
            for mutation in mutations:
                if mutation.id <= last:
                    results.append(MutationResult(mutation.id, "skipped"))
                    continue
                if mutation.id > last + 1:
                    _advance(session, device, last)
                    uow.flush()
                    session.commit()  # what came before the gap is applied
                    raise MutationGap(last, mutation.id)
                try:
                    status, code = _process(session, device, mutation, now,
                                            actors[mutation.user_id], decoded.get(mutation),
                                            hidden=hidden.get(mutation.user_id, frozenset()))
                except booking.LockBusy:
                    break  # commit what came before; a new run starts with this mutation
                last = mutation.id
                results.append(MutationResult(mutation.id, status, code))
                if batch:
                    booking.holding(session)
                if time.monotonic() - started > RUN_SECONDS:
                    break  # long enough: commit, a new run goes on with the next one
            _advance(session, device, last)
            uow.flush()  # staged bookings, change log, versions (one NOTIFY), audit
            kept = booking.finish_run(session, device.organization_id) if batch else None
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return last, results, kept


class _Decoded:
    """The push's mutations decoded on first use (a push's runs may not reach them all),
    by id; ``None`` for one that cannot be read."""

    def __init__(self, actors: dict[str | None, Actor]) -> None:
        self.actors = actors
        self.found: dict[int, intents.DecodedIntent | None] = {}

    def get(self, mutation: Mutation) -> intents.DecodedIntent | None:
        if mutation.id not in self.found:
            try:
                self.found[mutation.id] = intents.decode(mutation.name, mutation.args,
                                                         self.actors[mutation.user_id])
            except SchedulingInputError:
                self.found[mutation.id] = None
        return self.found[mutation.id]

    def requests(self, mutations: Iterable[Mutation]) -> list[object]:
        """The requests of those of ``mutations`` that can be read, in order."""
        return [found.request for found in map(self.get, mutations) if found is not None]


def _actors(
    session: Session, device: DeskDevice, mutations: list[Mutation]
) -> tuple[dict[str | None, Actor], dict[str | None, frozenset[str]]]:
    """Who each of ``mutations`` acts as, by the user it names (see
    :data:`DESK_PERMISSIONS`), and the resources of other departments each user may not
    name (a department-scoped user's permissions hold in their departments only)."""
    found: dict[str | None, Actor] = {None: Actor(device.id, device.id, DESK_PERMISSIONS)}
    hidden: dict[str | None, frozenset[str]] = {}
    for user_id in {m.user_id for m in mutations} - {None}:
        assert user_id is not None
        principal = accounts.load_principal(session, user_id, device.organization_id)
        if principal is None:
            found[user_id] = Actor(user_id, device.id, frozenset())
            continue
        found[user_id] = Actor(user_id, device.id, departments.granted(principal))
        hidden[user_id] = frozenset(departments.hidden_resources(session, principal))
    return found, hidden


#: Mutation arguments naming a resource, and the record kind a refusal names.
RESOURCE_ARGUMENTS = (("provider_id", "provider"), ("room_id", "room"),
                      ("equipment_ids", "equipment"))


def _outside_department(session: Session, org: str, args: dict[str, object],
                        hidden: frozenset[str]) -> str | None:
    """The kind of record (provider, room, equipment, appointment) a mutation names in
    another department than its user's; None when it names none."""
    if not hidden:
        return None
    for argument, kind in RESOURCE_ARGUMENTS:
        value = args.get(argument)
        named = set(value) if isinstance(value, list) else {value}
        if named & hidden:
            return kind
    appointment_id = args.get("appointment_id")
    if isinstance(appointment_id, str):
        row = get_in_org(session, Appointment, org, appointment_id)
        if row is not None and {row.provider_id, row.room_id,
                                *(row.equipment_ids or ())} & hidden:
            return "appointment"
    return None


def _audit_actor(device: DeskDevice, actor: Actor) -> audit.Actor:
    """The device, and the user when the mutation named one."""
    return audit.Actor(user_id=None if actor.user_id == device.id else actor.user_id,
                       device_id=device.id)


def _advance(session: Session, device: DeskDevice, last: int) -> None:
    row = session.get(ClientMutation, device.client_id)
    assert row is not None
    if row.last_mutation_id != last:
        row.last_mutation_id = last


def _lock_client(session: Session, device: DeskDevice) -> int:
    """Lock (creating it if needed) the desk's processed-mutation row; its current value."""
    table = ClientMutation
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_insert(table).values(
            client_id=device.client_id, organization_id=device.organization_id,
            last_mutation_id=0).on_conflict_do_nothing())
    elif session.get(table, device.client_id) is None:
        session.add(table(client_id=device.client_id, organization_id=device.organization_id,
                          last_mutation_id=0))
        session.flush()
    row = session.scalars(select(table).where(table.client_id == device.client_id)
                          .with_for_update().execution_options(populate_existing=True)).one()
    return int(row.last_mutation_id)


def _process(
    session: Session, device: DeskDevice, mutation: Mutation, now: datetime, actor: Actor,
    decoded: intents.DecodedIntent | None = None, *, hidden: frozenset[str] = frozenset(),
) -> tuple[str, str | None]:
    ref = MutationRef(device.client_id, mutation.id, mutation.name, dict(mutation.args))
    caller = Caller(device.organization_id, actor, _audit_actor(device, actor), ref)
    if hidden:  # the appointment's row is read: write what the run staged
        booking.settle_run(session)
    outside = _outside_department(session, device.organization_id, mutation.args, hidden)
    if outside is not None:
        # As the REST API: another department's records do not exist for this user.
        code = RefusalCode.UNKNOWN_RECORD.value
        _protocol_conflict(session, caller, code, message_for(RefusalCode.UNKNOWN_RECORD),
                           "", now, params={"kind": outside})
        return "refused", code
    try:
        if decoded is None:
            decoded = intents.decode(mutation.name, mutation.args, caller.actor)
    except SchedulingInputError as error:
        _protocol_conflict(session, caller, INVALID_MUTATION, INVALID_MUTATION_MESSAGE,
                           str(error), now)
        return "invalid", INVALID_MUTATION
    if type(decoded.request) is BookAppointment:
        result = booking.book_in_run(session, caller, decoded.request, now, PUSH_POLICY)
        if result is not None:
            return ("applied", None) if result.refused is None else \
                ("refused", result.refused.code.value)
    elif isinstance(decoded.request, booking.STAGED_CHANGES):
        result = booking.change_in_run(session, caller, decoded.request, now, PUSH_POLICY)
        if result is not None:
            return ("applied", None) if result.refused is None else \
                ("refused", result.refused.code.value)
        booking.before_other(session, decoded.request)
    else:
        booking.before_other(session, decoded.request)
    # A savepoint that rolls back forgets the versions, changes, audit entries and events
    # the unit of work kept of it.
    try:
        with unit_of(session).savepoint():
            result = apply_intent(session, caller, decoded, now, PUSH_POLICY)
    except booking.DuplicateId:
        _protocol_conflict(session, caller, DUPLICATE_ID, DUPLICATE_ID_MESSAGE, "", now)
        return "refused", DUPLICATE_ID
    except booking.LockBusy:
        raise
    except Exception as error:
        if _outage(error):
            raise  # the database is unwell, not this mutation: the desk sends it again
        # The database refused what the rules let through (a value its column cannot
        # hold, a constraint or trigger), or the server failed on this mutation alone:
        # sending it again would fail again, so it must not hold up the desk's others.
        if isinstance(error, SchedulingInputError):
            problem = str(error)
        elif isinstance(error, DBAPIError):
            problem = "the database refused it: it contradicts records on the server"
        else:
            log.error("mutation failed: %s", type(error).__name__, exc_info=error)
            problem = "the server failed on it"
        _protocol_conflict(session, caller, INVALID_MUTATION, INVALID_MUTATION_MESSAGE,
                           problem, now)
        return "invalid", INVALID_MUTATION
    booking.after_other(session, result)
    if result.refused is not None:
        return "refused", result.refused.code.value
    return "applied", None


def _protocol_conflict(
    session: Session, caller: Caller, code: str, message_id: str, problem: str, now: datetime,
    *, params: dict[str, str] | None = None,
) -> None:
    assert caller.mutation is not None
    version = changes.bump_version(session, caller.organization_id)
    booking.record_conflict(session, caller.organization_id, caller.mutation, code,
                            message_id, params or ({"problem": problem[:200]} if problem
                                                   else {}), [], version, now)
    name = caller.mutation.name
    audit.append(session, caller.organization_id, at=now, actor=caller.audit_actor,
                 intent=name[:64] if name in intents.ALL_INTENTS else "unknown_mutation",
                 outcome="refused", target_type="mutation",
                 target_id=f"{caller.mutation.mutation_id}", reason=code)


def apply_intent(
    session: Session, caller: Caller, decoded: intents.DecodedIntent, now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> BookingResult:
    """Run a decoded intent through its booking service (the caller commits)."""
    request = decoded.request
    match request:
        case BookAppointment():
            return booking.book(session, caller, request, now, policy)
        case intents.SeriesBooking():
            return booking.book_recurring(session, caller, request, now, policy)
        case intents.SeriesEdit():
            return booking.edit_recurring(session, caller, request, now, policy)
        case intents.WaitlistAdd():
            return booking.waitlist_add(session, caller, request, now)
        case intents.WaitlistRemove():
            return booking.waitlist_remove(session, caller, request, now)
        case intents.WaitlistBook():
            return booking.waitlist_book(session, caller, request, now, policy)
        case intents.PatientCreate():
            return booking.patient_create(session, caller, request, now)
        case intents.PatientUpdate():
            return booking.patient_update(session, caller, request, now)
        case intents.BlockoutCreate():
            return booking.blockout_create(session, caller, request, now)
        case intents.BlockoutDelete():
            return booking.blockout_delete(session, caller, request, now)
    command: Command = request
    # Intents are re-judged against the current calendar: a desk's stale base version
    # does not refuse them (the rules decide), unlike an explicit REST base_version.
    return booking.change(session, caller, command, now, policy)


def last_mutation_id(session: Session, client_id: str) -> int:
    value = session.scalar(select(ClientMutation.last_mutation_id)
                           .where(ClientMutation.client_id == client_id))
    return int(value or 0)


# =========================================================================== pull


def pull(session: Session, device: DeskDevice, cursor: int, limit: int) -> PullResponse:
    """One page of the organization's changes after ``cursor`` for ``device``."""
    org = device.organization_id
    head = int(session.scalar(select(OrgVersion.version)
                              .where(OrgVersion.organization_id == org)) or 0)
    if cursor > head:
        raise CursorAhead(
            f"This desk has seen version {cursor} but the server is at {head} (was the server "
            "restored from a backup?). Re-enroll the desk to download everything again.")
    log = ChangeLogEntry
    rows = list(session.scalars(
        select(log).where(log.organization_id == org, log.version > cursor,
                          log.version <= head)
        .order_by(log.version, log.id).limit(limit + 1)))
    end = head
    if len(rows) > limit:
        split = rows[limit].version
        rows = rows[:limit]
        earlier = [r for r in rows if r.version < split]
        if earlier:  # never split a version across pages
            rows = earlier
            end = rows[-1].version
        else:  # one version larger than a page: serve it whole
            rows = list(session.scalars(select(log).where(
                log.organization_id == org, log.version == split).order_by(log.id)))
            end = split
    latest = _latest_versions(session, org, rows, head)
    newest: dict[tuple[str, str], ChangeLogEntry] = {}
    for row in rows:
        if latest.get((row.entity, row.entity_id)) == row.version:
            newest[(row.entity, row.entity_id)] = row
    ordered = sorted(newest.values(), key=lambda r: (r.version, r.id))
    conflicts = session.scalars(select(Conflict).where(
        Conflict.organization_id == org, Conflict.client_id == device.client_id,
        Conflict.created_version > cursor, Conflict.created_version <= end,
    ).order_by(Conflict.mutation_id))
    return PullResponse(
        cursor=end,
        changes=tuple(ChangeRecord(r.entity, r.entity_id, r.version, dict(r.payload or {}))
                      for r in ordered if r.op == "upsert"),
        tombstones=tuple(Tombstone(r.entity, r.entity_id, r.version)
                         for r in ordered if r.op == "delete"),
        last_mutation_id=last_mutation_id(session, device.client_id),
        conflicts=tuple(ConflictRecord(c.mutation_id, c.name or "", c.code, c.message_id,
                                       dict(c.params or {}), tuple(c.alternatives or ()),
                                       c.args) for c in conflicts),
        has_more=end < head,
    )


def _latest_versions(
    session: Session, org: str, rows: list[ChangeLogEntry], head: int
) -> dict[tuple[str, str], int]:
    """The latest version (up to ``head``) of each record changed in ``rows``."""
    log = ChangeLogEntry
    latest: dict[tuple[str, str], int] = {}
    ids = sorted({r.entity_id for r in rows})
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for entity, entity_id, version in session.execute(
            select(log.entity, log.entity_id, func.max(log.version))
            .where(log.organization_id == org, log.entity_id.in_(chunk), log.version <= head)
            .group_by(log.entity, log.entity_id)
        ):
            latest[(entity, entity_id)] = int(version)
    return latest
