"""The unit of work: one object per request transaction or sync push run.

It owns what a transaction of the booking path carries besides its rows (the shape
of cosmicpython's unit of work, chapter 6):

* the ``session``;
* batch mode (:meth:`UnitOfWork.run_batch`, sync push): the kept configuration rows
  and lookups (``known``), whether the run already holds locks (``holding``), and
  the push run's shared calendar state (``run``);
* the buffers of a batch: versions counted in memory, change-log and conflict rows and
  audit chains, written by the one :meth:`UnitOfWork.flush` before the commit;
* whether the transaction wrote configuration (then the kept configuration is not
  used);
* the versions bumped (for the poke after commit) and the events emitted
  (:meth:`UnitOfWork.emit`: each one's handlers, from
  :data:`sync_server.services.handlers.HANDLERS`, run at once, in the transaction);
* the codes of the intents refused in the transaction (:meth:`UnitOfWork.note_refusal`;
  a refusal emits no event), for the metrics counted at commit;
* one savepoint helper (:meth:`UnitOfWork.savepoint`) that forgets what a rolled back
  savepoint had put in those buffers.

A session has at most one unit of work (:func:`unit_of`); nothing else keeps state in
``session.info``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import event, text, update
from sqlalchemy.orm import Session, SessionTransaction

from sync_server.db.bulk import insert_rows
from sync_server.db.models import AuditEntry, AuditHead, ChangeLogEntry, Conflict, OrgVersion

if TYPE_CHECKING:
    from scheduling.model import Patient
    from sync_server.services.events import Event

#: PostgreSQL channel of the version notifications (payload ``'<org>:<version>'``).
NOTIFY_CHANNEL = "clinicdesk_version"
_KEY = "clinicdesk_unit_of_work"


class StagedRun(Protocol):
    """A push run's shared state (:class:`sync_server.services.booking.PushRun`)."""

    def flush(self, session: Session) -> None: ...

    def patient(self, patient_id: str) -> Patient | None:
        """The patient as it stands, when the run's state holds it (the run holds its
        lock: event handlers read it here instead of from the database)."""


@dataclass(slots=True)
class AuditChain:
    """An audit chain being appended to in a batch: its locked head, where it is, and the
    entries not inserted yet."""

    head: AuditHead
    seq: int
    hash: str
    pending: list[dict[str, object]]


@dataclass(frozen=True, slots=True)
class _Mark:
    """Where the buffers stood when a savepoint began."""

    versions: dict[str, list[int]] | None
    changes: int
    conflicts: int
    chains: dict[str, tuple[int, str, int]] | None
    events: int
    refusals: int
    deferred: int


@dataclass(slots=True, eq=False)
class UnitOfWork:
    """See the module docstring. Created by :func:`unit_of`."""

    session: Session
    #: Batch mode (a sync push run): the buffers below are not ``None``.
    batch: bool = False
    #: The run holds locks already: a busy resource raises instead of being waited for.
    holding: bool = False
    #: Configuration lookups of the batch (appointment types, whether a clinic has quotas).
    known: dict[tuple[str, ...], Any] = field(default_factory=dict)
    #: Configuration rows kept alive for the batch (the identity map holds them weakly).
    kept_rows: list[Any] = field(default_factory=list)
    #: The push run's shared calendar state, while it lasts.
    run: StagedRun | None = None
    #: This transaction wrote a configuration table (its kept copy must not be used).
    config_written: bool = False
    #: Batch: each organization's first and last version of this transaction.
    batch_versions: dict[str, list[int]] | None = None
    #: Batch: change-log rows not inserted yet.
    change_rows: list[dict[str, Any]] | None = None
    #: Batch: refused mutations' conflict rows not inserted yet (only pull reads them).
    conflict_rows: list[dict[str, Any]] | None = None
    #: Batch: the audit chains appended to.
    audit_chains: dict[str, AuditChain] | None = None
    #: The version of each organization's latest change in this transaction.
    versions: dict[str, int] = field(default_factory=dict)
    #: The transaction and what is kept for it (:meth:`per_transaction`).
    _per_transaction: tuple[Any, dict[Any, Any]] | None = None
    #: The last version bumped per organization (for the poke after commit).
    bumped: dict[str, int] = field(default_factory=dict)
    #: The events emitted in this transaction, in order.
    events: list[Event] = field(default_factory=list)
    #: The refusal codes of the intents refused in this transaction, in order.
    refusals: list[str] = field(default_factory=list)
    #: Deferred bookkeeping (:mod:`sync_server.services.bookkeeping`): the accepted
    #: changes and audit entries waiting for the one statement before the commit.
    deferred: list[Any] | None = None
    deferring_hooked: bool = False
    _listener: Callable[[Session, Any], None] | None = None

    # ------------------------------------------------------------------ events

    def emit(self, *events: Event) -> None:
        """Record ``events`` and run their handlers now, in this transaction (a handler
        that raises aborts the change: the caller rolls back)."""
        from sync_server.services.handlers import dispatch  # handlers use this module

        for item in events:
            self.events.append(item)
            dispatch(self, item)

    def note_refusal(self, code: str) -> None:
        """An intent was refused with ``code`` (counted if the transaction commits)."""
        self.refusals.append(code)

    def take_outcomes(self) -> tuple[list[Event], list[str]]:
        """The events and refusal codes noted since the last call, and forget them (at
        the end of a transaction: :func:`sync_server.services.metrics.install_counting`;
        SQLAlchemy's commit events fire for savepoints too, so nothing else clears them)."""
        events, refusals = self.events, self.refusals
        self.events, self.refusals = [], []
        return events, refusals

    # ------------------------------------------------------------------ batch mode

    @contextmanager
    def run_batch(self, keep: tuple[type[Any], ...]) -> Iterator[UnitOfWork]:
        """Batch mode for a sync push run: versions, change log and audit entries are
        kept in memory until :meth:`flush`; configuration rows of the ``keep`` tables
        loaded meanwhile stay in the session."""
        self.batch, self.holding, self.run = True, False, None
        self.known, self.kept_rows = {}, []
        self.batch_versions, self.change_rows, self.audit_chains = {}, [], {}
        self.conflict_rows = []

        def keep_row(_session: Session, instance: Any) -> None:
            if isinstance(instance, keep):
                self.kept_rows.append(instance)

        self._listener = keep_row
        event.listen(self.session, "loaded_as_persistent", keep_row)
        try:
            yield self
        finally:
            event.remove(self.session, "loaded_as_persistent", keep_row)
            self._listener = None
            self.batch, self.holding, self.run = False, False, None
            self.known, self.kept_rows = {}, []
            self.batch_versions = self.change_rows = self.audit_chains = None
            self.conflict_rows = None

    def drop_run(self) -> None:
        """Write what the push run staged and forget its shared state."""
        run, self.run = self.run, None
        if run is not None:
            run.flush(self.session)

    def flush(self) -> None:
        """Write what the batch kept in memory (call before committing): the push run's
        staged bookings, the change log, each organization's last version (one ``UPDATE``
        and one ``NOTIFY``), the audit entries and heads."""
        if self.run is not None:
            self.run.flush(self.session)
        if self.change_rows:
            insert_rows(self.session, ChangeLogEntry, self.change_rows)
            self.change_rows.clear()
        if self.conflict_rows:
            insert_rows(self.session, Conflict, self.conflict_rows)
            self.conflict_rows.clear()
        if self.batch_versions:
            for organization_id, (first, last) in self.batch_versions.items():
                if last != first:
                    self.session.execute(update(OrgVersion)
                                         .where(OrgVersion.organization_id == organization_id)
                                         .values(version=last))
                self.note_version(organization_id, last)
            self.batch_versions.clear()
        if self.audit_chains:
            rows = [entry for chain in self.audit_chains.values() for entry in chain.pending]
            if rows:
                insert_rows(self.session, AuditEntry, rows)
            for organization_id, chain in self.audit_chains.items():
                if chain.pending:
                    self.session.execute(
                        update(AuditHead).where(AuditHead.organization_id == organization_id)
                        .values(seq=chain.seq, hash=chain.hash))
            self.audit_chains.clear()

    # ------------------------------------------------------------------ versions and pokes

    def note_version(self, organization_id: str, version: int) -> None:
        """``version`` of the organization will be final at commit: note it for the poke
        of this process and, on PostgreSQL, ``NOTIFY`` the other server instances in the
        same transaction (they hear of it exactly when it commits)."""
        self.bumped[organization_id] = version
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": NOTIFY_CHANNEL, "payload": f"{organization_id}:{version}"},
            )

    def committed(self) -> dict[str, int]:
        """The transaction committed: the versions to poke (and forget them)."""
        bumped, self.bumped = self.bumped, {}
        self.versions.clear()
        return bumped

    def rolled_back(self) -> None:
        """The transaction rolled back: its versions never happened."""
        self.bumped = {}
        self.versions.clear()

    def per_transaction(self) -> dict[Any, Any]:
        """A dict that lives as long as the session's current transaction (empty in the
        next one); an empty throw-away one outside a transaction."""
        root = self.session.get_transaction()
        if root is None:
            return {}
        if self._per_transaction is None or self._per_transaction[0] is not root:
            self._per_transaction = (root, {})
        return self._per_transaction[1]

    def config_version(self, organization_id: str, read: Callable[[], int]) -> int:
        """The organization's configuration counter as this transaction first read it
        (``read()``): a later read could only be newer, and what was read then holds."""
        seen = self.per_transaction()
        key = ("config_version", organization_id)
        if key not in seen:
            seen[key] = read()
        return int(seen[key])

    def hold(self, rows: Iterable[Any]) -> None:
        """Keep ORM ``rows`` in the session's identity map (it holds them weakly) until the
        transaction ends: a handler's ``session.get`` of one then costs no statement."""
        self.per_transaction().setdefault("held", []).extend(rows)

    # ------------------------------------------------------------------ savepoints

    @contextmanager
    def savepoint(self) -> Iterator[SessionTransaction]:
        """A savepoint (``SAVEPOINT``) around part of the transaction. When it rolls back
        (an exception leaves the block, or the block rolled it back itself), the
        buffers forget what was put in them inside it, and the push run's shared state
        is dropped (it may hold what was undone)."""
        marked = self._mark()
        nested = self.session.begin_nested()
        try:
            yield nested
            if nested.is_active:
                nested.commit()  # flushes: the database may refuse a row only here
                return
        except BaseException:
            # A failed flush leaves the savepoint inactive but not yet rolled back.
            if nested.is_active or nested._rollback_can_be_called():
                nested.rollback()
            self._restore(marked)
            raise
        self._restore(marked)

    def _mark(self) -> _Mark:
        chains = None
        if self.audit_chains is not None:
            chains = {org: (c.seq, c.hash, len(c.pending)) for org, c in self.audit_chains.items()}
        versions = None
        if self.batch_versions is not None:
            versions = {org: list(pair) for org, pair in self.batch_versions.items()}
        return _Mark(versions, len(self.change_rows or ()), len(self.conflict_rows or ()),
                     chains, len(self.events), len(self.refusals), len(self.deferred or ()))

    def _restore(self, marked: _Mark) -> None:
        # A first version bump or audit head lock inside the savepoint was undone (and
        # its row lock released): the next one must take it again.
        if self.batch_versions is not None and marked.versions is not None:
            self.batch_versions.clear()
            self.batch_versions.update(marked.versions)
        if self.change_rows is not None:
            del self.change_rows[marked.changes:]
        if self.conflict_rows is not None:
            del self.conflict_rows[marked.conflicts:]
        if self.audit_chains is not None and marked.chains is not None:
            for org in list(self.audit_chains):
                if org not in marked.chains:
                    del self.audit_chains[org]
                    continue
                chain = self.audit_chains[org]
                chain.seq, chain.hash, pending = marked.chains[org]
                del chain.pending[pending:]
        del self.events[marked.events:]
        del self.refusals[marked.refusals:]
        if self.deferred is not None:
            del self.deferred[marked.deferred:]
        self.drop_run()


def unit_of(session: Session) -> UnitOfWork:
    """The session's unit of work (created on first use)."""
    uow: UnitOfWork | None = session.info.get(_KEY)
    if uow is None:
        uow = session.info[_KEY] = UnitOfWork(session)
    return uow
