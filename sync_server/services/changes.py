"""The per-organization version and the change log that pull serves.

Write path contract (for every service that changes synced records):

1. make the change;
2. ``version = bump_version(session, org)`` — an ``UPDATE … RETURNING`` of the
   organization's ``org_versions`` row, which also row-locks it until commit;
3. ``record_change(session, org, version, entity, id, op, payload)`` for each
   changed record (payload = the record's wire form, no payload for deletes);
4. commit.

Because the version row stays locked from step 2 to commit, transactions of
one organization commit in version order, so a desk that pulled "everything
after version N" can never miss a change committed later with a smaller
version. Bump as late as possible in the transaction to keep the lock short.

Batches (sync push): between :func:`begin_batch` and :func:`finish_batch` the
first ``bump_version`` of an organization does the ``UPDATE`` (which row-locks
it); later ones only count on in memory, every change still gets its own
version. ``record_change`` keeps the entries in memory. :func:`finish_batch`
(before the commit) inserts them in one statement, writes the last version with
one ``UPDATE`` and sends one ``NOTIFY``. Around a savepoint that may roll back,
:func:`mark` before and :func:`restore` after the rollback.

Pokes (:mod:`sync_server.services.pokes`): ``bump_version`` notes the bumped
version on the session (read after commit by the poke hook of this process) and,
on PostgreSQL, sends ``NOTIFY clinicdesk_version, '<org>:<version>'`` in the same
transaction, so the other server instances hear of it exactly when it commits.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from sync_server.db.bulk import insert_rows
from sync_server.db.models import ChangeLogEntry, OrgVersion
from sync_server.feeds import versions as feed_versions

#: PostgreSQL channel of the version notifications (payload ``'<org>:<version>'``).
NOTIFY_CHANNEL = "clinicdesk_version"
_BUMPED = "clinicdesk_bumped_versions"
_BATCH = "clinicdesk_batch_versions"


_PENDING = "clinicdesk_batch_changes"

#: The batch's versions and number of pending changes when a savepoint began.
Mark = tuple[dict[str, list[int]], int] | None


def begin_batch(session: Session) -> None:
    """Count versions in memory after the first bump until :func:`finish_batch`."""
    session.info[_BATCH] = {}
    session.info[_PENDING] = []


def finish_batch(session: Session) -> None:
    """Write the batch's changes and last versions, and notify (call before committing)."""
    batch: dict[str, list[int]] | None = session.info.get(_BATCH)
    pending: list[dict[str, Any]] = session.info.get(_PENDING, [])
    if pending:
        insert_rows(session, ChangeLogEntry, pending)
        pending.clear()
    if not batch:
        return
    for organization_id, (first, last) in batch.items():
        if last != first:
            session.execute(update(OrgVersion)
                            .where(OrgVersion.organization_id == organization_id)
                            .values(version=last))
        _note(session, organization_id, last)
    batch.clear()


def end_batch(session: Session) -> None:
    session.info.pop(_BATCH, None)
    session.info.pop(_PENDING, None)


def mark(session: Session) -> Mark:
    """Where the batch stands now (before a savepoint), for :func:`restore`."""
    batch: dict[str, list[int]] | None = session.info.get(_BATCH)
    if batch is None:
        return None
    return {org: list(pair) for org, pair in batch.items()}, len(session.info[_PENDING])


def restore(session: Session, marked: Mark) -> None:
    """The savepoint begun at ``marked`` was rolled back: forget its versions (a first
    bump in it was undone, and its row lock released) and its changes."""
    batch: dict[str, list[int]] | None = session.info.get(_BATCH)
    if batch is None or marked is None:
        return
    versions, pending = marked
    batch.clear()
    batch.update(versions)
    del session.info[_PENDING][pending:]


def _note(session: Session, organization_id: str, version: int) -> None:
    bumped: dict[str, int] = session.info.setdefault(_BUMPED, {})
    bumped[organization_id] = version
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": NOTIFY_CHANNEL, "payload": f"{organization_id}:{version}"},
        )


def bump_version(session: Session, organization_id: str) -> int:
    """Increment and return the organization's version (row-locked until commit)."""
    batch: dict[str, list[int]] | None = session.info.get(_BATCH)
    if batch is not None and organization_id in batch:
        batch[organization_id][1] += 1
        return batch[organization_id][1]
    version = int(session.execute(
        update(OrgVersion)
        .where(OrgVersion.organization_id == organization_id)
        .values(version=OrgVersion.version + 1)
        .returning(OrgVersion.version)
    ).scalar_one())
    if batch is not None:
        batch[organization_id] = [version, version]
    else:
        _note(session, organization_id, version)
    return version


def take_bumped_versions(session: Session) -> dict[str, int]:
    """The versions bumped in the session's transaction so far (and forget them)."""
    bumped: dict[str, int] = session.info.pop(_BUMPED, {})
    return bumped


def record_change(
    session: Session,
    organization_id: str,
    version: int,
    entity: str,
    entity_id: str,
    op: Literal["upsert", "delete"],
    payload: dict[str, Any] | None = None,
) -> None:
    # feed versions: becomes an event handler (issue 11)
    feed_versions.note_change(session, organization_id, entity, op, payload)
    values = {"organization_id": organization_id, "version": version, "entity": entity,
              "entity_id": entity_id, "op": op,
              "payload": payload if op == "upsert" else None}
    pending: list[dict[str, Any]] | None = session.info.get(_PENDING)
    if pending is not None:
        pending.append(values)
        return
    session.add(ChangeLogEntry(**values))
