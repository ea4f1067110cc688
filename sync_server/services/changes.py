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

Services do not call these for an accepted intent: they emit a
:class:`~sync_server.services.events.ChangeAccepted` on the unit of work, whose
handlers (:mod:`sync_server.services.handlers`) do steps 2 and 3.

Batches (a sync push run, :meth:`UnitOfWork.run_batch
<sync_server.services.unit_of_work.UnitOfWork.run_batch>`): the first
``bump_version`` of an organization does the ``UPDATE`` (which row-locks it);
later ones only count on in memory, every change still gets its own version.
``record_change`` keeps the entries in memory; the unit of work's ``flush``
(before the commit) inserts them in one statement, writes the last version with
one ``UPDATE`` and sends one ``NOTIFY``.

Pokes (:mod:`sync_server.services.pokes`): ``bump_version`` notes the bumped
version on the unit of work (read after commit by the poke hook of this process)
and, on PostgreSQL, sends ``NOTIFY clinicdesk_version, '<org>:<version>'`` in the
same transaction, so the other server instances hear of it exactly when it commits.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import update
from sqlalchemy.orm import Session

from sync_server.db.models import ChangeLogEntry, OrgVersion
from sync_server.services.unit_of_work import NOTIFY_CHANNEL, unit_of

__all__ = ["NOTIFY_CHANNEL", "bump_version", "record_change"]


def bump_version(session: Session, organization_id: str) -> int:
    """Increment and return the organization's version (row-locked until commit)."""
    uow = unit_of(session)
    if uow.deferred is not None:  # the classic order from here on
        from sync_server.services import bookkeeping

        bookkeeping.flush(uow)
    batch = uow.batch_versions
    if batch is not None and organization_id in batch:
        batch[organization_id][1] += 1
        version: int = batch[organization_id][1]
    else:
        version = int(session.execute(
            update(OrgVersion)
            .where(OrgVersion.organization_id == organization_id)
            .values(version=OrgVersion.version + 1)
            .returning(OrgVersion.version)
        ).scalar_one())
        if batch is not None:
            batch[organization_id] = [version, version]
        else:
            uow.note_version(organization_id, version)
    uow.versions[organization_id] = version
    return version


def record_change(
    session: Session,
    organization_id: str,
    version: int,
    entity: str,
    entity_id: str,
    op: Literal["upsert", "delete"],
    payload: dict[str, Any] | None = None,
) -> None:
    values = {"organization_id": organization_id, "version": version, "entity": entity,
              "entity_id": entity_id, "op": op,
              "payload": payload if op == "upsert" else None}
    pending = unit_of(session).change_rows
    if pending is not None:
        pending.append(values)
        return
    session.add(ChangeLogEntry(**values))
