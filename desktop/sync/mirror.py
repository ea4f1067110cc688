"""Applying a pull checkpoint to the desk's mirror tables, and the rebase that follows.

One page is applied in ONE write transaction (:func:`apply_page`): confirmed
records are upserted from the server's wire form, tombstones deleted, the
cursor stored, new conflicts put in the inbox and the outbox acknowledged up
to the server's ``last_mutation_id``.

Rebase rule (the "simplest correct approach" of DESIGN §3): a mirror row
whose ``pending_mutation_id`` is above the acknowledged id still shows the
desk's optimistic change, so server data for it is not applied yet (the
server will send the record again once it has judged that mutation). A row
pending on an acknowledged mutation takes the server's data and becomes
confirmed. When the server acknowledged a mutation but sent no data for a row
it made pending, the server refused it (or it was a no-op): such an
*orphan* is dropped if the server never had the record (``server_version``
0), otherwise the record is fetched again (:func:`orphans`, :func:`restore`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.services.changes import NOTHING, ChangeCollector, DataChanges
from desktop.store import outbox, row_mapping
from desktop.store.models import (
    SYNC_STATE_ID,
    AppointmentRow,
    AppointmentTypeRow,
    BlockoutRow,
    ClinicRow,
    ConflictRow,
    DeskEditable,
    HolidayRow,
    OutageRow,
    OutboxEntry,
    PatientRow,
    QuotaRow,
    ResourceRow,
    ScheduleExceptionRow,
    SeriesRow,
    SlotTemplateRow,
    SyncState,
    WaitlistEntryRow,
    WeeklyScheduleRow,
)
from desktop.sync.errors import OtherOrganization
from scheduling import intents
from scheduling.sync_protocol import ChangeRecord, ConflictRecord, PullResponse, Tombstone
from scheduling.wire import from_wire

Writer = Callable[[Any, Any], None]

#: Wire entity → (mirror table, writer). Organizations and departments have no mirror.
TABLES: dict[str, tuple[type[Any], Writer]] = {
    "clinic": (ClinicRow, row_mapping.write_clinic),
    "resource": (ResourceRow, row_mapping.write_resource),
    "appointment_type": (AppointmentTypeRow, row_mapping.write_appointment_type),
    "weekly_schedule": (WeeklyScheduleRow, row_mapping.write_weekly_schedule),
    "slot_template": (SlotTemplateRow, row_mapping.write_slot_template),
    "schedule_exception": (ScheduleExceptionRow, row_mapping.write_schedule_exception),
    "holiday": (HolidayRow, row_mapping.write_holiday),
    "blockout": (BlockoutRow, row_mapping.write_blockout),
    "outage": (OutageRow, row_mapping.write_outage),
    "quota": (QuotaRow, row_mapping.write_quota),
    "patient": (PatientRow, row_mapping.write_patient),
    "appointment": (AppointmentRow, row_mapping.write_pulled_appointment),
    "waitlist_entry": (WaitlistEntryRow, row_mapping.write_waitlist_entry),
}
SERIES = "series"
EDITABLE: tuple[tuple[str, type[Any]], ...] = (
    ("appointment", AppointmentRow), ("patient", PatientRow), ("blockout", BlockoutRow),
    ("waitlist_entry", WaitlistEntryRow), (SERIES, SeriesRow),
)
_TABLE_OF_EDITABLE = dict(EDITABLE)


def _table(entity: str) -> type[Any] | None:
    if entity == SERIES:
        return SeriesRow
    found = TABLES.get(entity)
    return None if found is None else found[0]


# --------------------------------------------------------------------------- applying a page


@dataclass(frozen=True, slots=True)
class Orphan:
    entity: str
    id: str


@dataclass
class PageResult:
    changed: int = 0
    new_conflicts: int = 0
    orphans: list[Orphan] = field(default_factory=list)
    changes: DataChanges = NOTHING


def still_pending(row: Any, acknowledged: int) -> bool:
    """The row shows an optimistic change the server has not judged yet."""
    pending = getattr(row, "pending_mutation_id", None)
    return pending is not None and pending > acknowledged


def _write(session: Session, change: ChangeRecord, row: Any | None) -> Any:
    table = _table(change.entity)
    assert table is not None
    record = from_wire(change.entity, dict(change.data))
    if row is None:
        row = table()
        row.id = change.id
        session.add(row)
    if change.entity == SERIES:
        row_mapping.write_series(row, record, session)
    else:
        TABLES[change.entity][1](row, record)
    row.server_version = change.version
    if isinstance(row, DeskEditable):
        row.pending_mutation_id = None
    return row


def _preload(session: Session, table: type[Any], ids: Iterable[str]) -> dict[str, Any]:
    """The rows of ``table`` with these ids, loaded with one query per 500 ids."""
    wanted = sorted(set(ids))
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), _PRELOAD_CHUNK):
        chunk = wanted[start:start + _PRELOAD_CHUNK]
        found.update((row.id, row) for row in session.scalars(
            select(table).where(table.id.in_(chunk))))
    return found


_PRELOAD_CHUNK = 500


def apply_changes(
    session: Session,
    changes: Iterable[ChangeRecord],
    tombstones: Iterable[Tombstone],
    acknowledged: int,
    only: set[Orphan] | None = None,
    report: ChangeCollector | None = None,
) -> int:
    """Upsert ``changes`` and delete ``tombstones``, sparing rows still pending.

    ``only`` restricts the work to those records (used when restoring orphans);
    ``report`` hears where every changed appointment was and is, and which other
    records changed (see :mod:`desktop.services.changes`).
    Returns how many rows changed. The rows a page touches are loaded up front, a few
    queries per entity rather than one per record, and flushed once at the end.
    """
    changed = 0
    latest: dict[tuple[str, str], ChangeRecord] = {}
    for change in changes:  # a page may hold several versions of one record: keep the last
        known = latest.get((change.entity, change.id))
        if known is None or change.version >= known.version:
            latest[(change.entity, change.id)] = change
    tombstones = list(tombstones)
    wanted: dict[type[Any], set[str]] = {}
    for entity, record_id in [*latest, *((t.entity, t.id) for t in tombstones)]:
        table = _table(entity)
        if table is not None and (only is None or Orphan(entity, record_id) in only):
            wanted.setdefault(table, set()).add(record_id)
    with session.no_autoflush:
        rows = {table: _preload(session, table, ids) for table, ids in wanted.items()}
        # Series last: a new series row borrows its template from one of its occurrences.
        ordered = sorted(latest.values(), key=lambda c: c.entity == SERIES)
        for change in ordered:
            table = _table(change.entity)
            if table is None or (
                only is not None and Orphan(change.entity, change.id) not in only
            ):
                continue
            if change.entity == SERIES:
                session.flush()  # its occurrences, written above, must be queryable
            row = rows[table].get(change.id)
            if row is not None and still_pending(row, acknowledged):
                continue
            if report is not None and row is not None:
                _report(report, change.entity, row)
            rows[table][change.id] = written = _write(session, change, row)
            if report is not None:
                _report(report, change.entity, written)
            changed += 1
        for tombstone in tombstones:
            table = _table(tombstone.entity)
            newer = latest.get((tombstone.entity, tombstone.id))
            if newer is not None and newer.version > tombstone.version:
                continue  # deleted, then made again within this page
            if table is None or (
                only is not None and Orphan(tombstone.entity, tombstone.id) not in only
            ):
                continue
            row = rows[table].pop(tombstone.id, None)
            if row is not None and not still_pending(row, acknowledged):
                if report is not None:
                    _report(report, tombstone.entity, row)
                session.delete(row)
                changed += 1
    session.flush()
    return changed


def _report(report: ChangeCollector, entity: str, row: Any) -> None:
    if isinstance(row, AppointmentRow):
        report.appointment(row.clinic_id, row.start, row.end, (row.provider_id, row.room_id))
    else:
        report.entity(entity, row.id)


def add_conflicts(session: Session, notes: Iterable[ConflictRecord], now: datetime) -> int:
    """Put new refusals in the conflict inbox (once per mutation); returns how many."""
    added = 0
    for note in notes:
        known = session.scalar(select(ConflictRow.id).where(
            ConflictRow.mutation_id == note.mutation_id).limit(1))
        if known is not None:
            continue
        attempted = _attempted(session, note)
        session.add(ConflictRow(
            mutation_id=note.mutation_id, attempted=attempted, code=note.code,
            message_id=note.message_id, params=dict(note.params),
            alternatives=[dict(a) for a in note.alternatives], received_at=now,
        ))
        added += 1
    session.flush()
    return added


def _attempted(session: Session, note: ConflictRecord) -> dict[str, Any]:
    """What the refused mutation asked for: the answer's words, else this desk's outbox."""
    if note.args is not None:
        return {"name": note.name, "args": dict(note.args)}
    entry = session.get(OutboxEntry, note.mutation_id)
    return {} if entry is None else {"name": entry.name, "args": dict(entry.args)}


def orphans(session: Session, acknowledged: int) -> list[Orphan]:
    """Rows pending on an acknowledged mutation that no server data confirmed."""
    found: list[Orphan] = []
    for entity, table in EDITABLE:
        rows = session.scalars(select(table).where(
            table.pending_mutation_id.is_not(None), table.pending_mutation_id <= acknowledged))
        found.extend(Orphan(entity, row.id) for row in rows)
    return found


def drop_unconfirmed(session: Session, found: Iterable[Orphan]) -> list[Orphan]:
    """Delete orphans the server never had; return those that need fetching again."""
    to_fetch = []
    for orphan in found:
        row = session.get(_TABLE_OF_EDITABLE[orphan.entity], orphan.id)
        if row is None:
            continue
        if row.server_version == 0:
            session.delete(row)
        else:
            to_fetch.append(orphan)
    session.flush()
    return to_fetch


def check_organization(state: SyncState, changes: Iterable[ChangeRecord]) -> None:
    """Refuse records of another organization than the desk's (a desk enrolled before
    the desk remembered its organization learns it here, from the first record naming one)."""
    for change in changes:
        theirs = change.data.get("organization_id")
        if not isinstance(theirs, str) or not theirs:
            continue
        if state.organization_id is None:
            state.organization_id = theirs
        elif theirs != state.organization_id:
            raise OtherOrganization(f"a {change.entity} record of another organization")


def refused_lifts(session: Session, notes: Iterable[ConflictRecord]) -> list[Orphan]:
    """Blockouts whose lift the server refused and that are no longer on the desk.

    A lifted blockout may already be gone from the mirror (older desks deleted it at
    once); the server sends no data for a refused change, so it must be fetched again.
    Only new conflicts count: one already in the inbox was handled when it arrived.
    """
    found = []
    for note in notes:
        if session.scalar(select(ConflictRow.id).where(
                ConflictRow.mutation_id == note.mutation_id).limit(1)) is not None:
            continue
        attempted = _attempted(session, note)
        if attempted.get("name") != intents.BLOCKOUT_DELETE:
            continue
        blockout_id = (attempted.get("args") or {}).get("blockout_id")
        if isinstance(blockout_id, str) and session.get(BlockoutRow, blockout_id) is None:
            found.append(Orphan("blockout", blockout_id))
    return found


def apply_page(session: Session, page: PullResponse, now: datetime) -> PageResult:
    """One pull page in the caller's write transaction (see the module docstring).

    Raises :class:`OtherOrganization` (the transaction then rolls back, nothing applied)
    when the page holds another organization's records.
    """
    state = session.get(SyncState, SYNC_STATE_ID)
    assert state is not None, "the desk schema always has its sync_state row"
    check_organization(state, page.changes)
    acknowledged = max(page.last_mutation_id, state.last_mutation_id)
    result = PageResult()
    report = ChangeCollector()
    result.changed = apply_changes(session, page.changes, page.tombstones, acknowledged,
                                   report=report)
    result.changes = report.result()
    lifts = refused_lifts(session, page.conflicts)
    # Before acknowledging: a conflict's "what was tried" comes from its outbox entry.
    result.new_conflicts = add_conflicts(session, page.conflicts, now)
    outbox.acknowledge(session, page.last_mutation_id)
    state.server_version = max(state.server_version, page.cursor)
    result.orphans = lifts
    if not page.has_more:
        result.orphans += drop_unconfirmed(session, orphans(session, acknowledged))
        state.last_sync_at = now
    return result


__all__ = [
    "EDITABLE",
    "TABLES",
    "Orphan",
    "PageResult",
    "add_conflicts",
    "apply_changes",
    "apply_page",
    "check_organization",
    "drop_unconfirmed",
    "orphans",
    "refused_lifts",
    "still_pending",
]
