"""Deferred bookkeeping: a single request's version bump, change log and audit entry in
ONE statement just before its commit (issue 11 item 6).

The organization's ``org_versions`` row and its ``audit_heads`` row serialize every
writer of the organization: whoever holds them holds them until commit. On the classic
path (:mod:`sync_server.services.changes`, :func:`sync_server.services.audit.append`)
they are taken when the change is emitted and stay held while the other handlers
(notifications, feeds, follow-ups …) and the answer's reads run. A request that
:func:`defer`\\ s keeps the :class:`~sync_server.services.events.ChangeAccepted`
bookkeeping and its audit entries in the unit of work instead; :func:`flush` (run by the
unit of work before the commit) writes them with one data-modifying CTE on PostgreSQL —
version bump (the row lock, first), change-log rows, ``NOTIFY``, audit head
(``FOR UPDATE``, second: the lock order of every writer), the chained audit entry with its
SHA-256 computed by PostgreSQL over the same canonical JSON as
:func:`sync_server.services.audit.entry_hash`, and the head moved on — so both rows are
held for that statement and the commit only.

Anything the fast statement does not cover (more than one audit entry or accepted
change, a second organization) is replayed through the classic handlers, in order, at
the same moment. A direct :func:`sync_server.services.changes.bump_version` while
deferring first writes what is pending and ends deferral for the transaction (the
classic order of statements). SQLite never defers (it serializes writers anyway).
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction

from scheduling.wire import entity_of, to_wire
from sync_server.services.events import ChangeAccepted
from sync_server.services.unit_of_work import NOTIFY_CHANNEL, UnitOfWork, unit_of


def _canonical(value: Any) -> str:
    """JSON as :func:`sync_server.services.audit.entry_hash` writes it."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


_AUDIT = """
head AS (
  SELECT audit_heads.seq, audit_heads.hash FROM audit_heads{after_version}
   WHERE audit_heads.organization_id = :org FOR UPDATE OF audit_heads),
entry AS (
  INSERT INTO audit_log (organization_id, seq, at, actor_user_id, actor_device_id, intent,
                         target_type, target_id, outcome, reason, prev_hash, hash)
  SELECT :org, head.seq + 1, :at, :actor_user_id, :actor_device_id, :intent, :target_type,
         :target_id, :outcome, :reason, head.hash,
         encode(sha256(convert_to(:before_prev || head.hash || :before_seq
                                  || CAST(head.seq + 1 AS text) || :after_seq, 'UTF8')), 'hex')
    FROM head
  RETURNING seq, hash),
moved AS (
  UPDATE audit_heads SET seq = entry.seq, hash = entry.hash FROM entry
   WHERE audit_heads.organization_id = :org)"""

#: Version bump, change log, NOTIFY, then the audit entry (an accepted change).
ACCEPTED_SQL = ("""
WITH version AS (
  UPDATE org_versions SET version = version + 1 WHERE organization_id = :org
  RETURNING version),
logged AS (
  INSERT INTO change_log (organization_id, version, entity, entity_id, op, payload)
  SELECT :org, version.version, c.entity, c.entity_id, c.op, c.payload
    FROM version, ROWS FROM (json_to_recordset(CAST(:changes AS json))
                             AS (entity text, entity_id text, op text, payload json))
         WITH ORDINALITY AS c(entity, entity_id, op, payload, n)
   ORDER BY c.n),""" + _AUDIT.format(after_version=", version") + """
SELECT version.version, pg_notify(:channel, :org || ':' || CAST(version.version AS text))
  FROM version""")

#: The audit entry alone (a refusal).
AUDIT_SQL = "WITH" + _AUDIT.format(after_version="") + "\nSELECT seq FROM entry"


def defer(session: Session) -> None:
    """Defer this transaction's bookkeeping to :func:`flush` (PostgreSQL only; a batch
    keeps its own buffers)."""
    uow = unit_of(session)
    if uow.batch or uow.deferred is not None \
            or session.get_bind().dialect.name != "postgresql":
        return
    uow.deferred = []
    if not uow.deferring_hooked:
        uow.deferring_hooked = True
        event.listen(session, "before_commit", _before_commit)
        event.listen(session, "after_transaction_end", _after_transaction_end)


def finish(session: Session, version: int | None) -> int | None:
    """Write the pending bookkeeping now (before the caller commits); the version of the
    change: ``version`` when known already, else the one the statement bumped to."""
    uow = unit_of(session)
    flush(uow)
    if version is None and len(uow.versions) == 1:
        version = next(iter(uow.versions.values()))
    return version


def _before_commit(session: Session) -> None:
    if not session.in_nested_transaction():
        flush(unit_of(session))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed (flushed before) or rolled back
        unit_of(session).deferred = None


def flush(uow: UnitOfWork) -> None:
    """Write the pending bookkeeping and stop deferring (see the module docstring)."""
    pending, uow.deferred = uow.deferred, None
    if not pending:
        return
    changes = [item for item in pending if isinstance(item, ChangeAccepted)]
    audits = [item for item in pending if not isinstance(item, ChangeAccepted)]
    orgs = {item.organization_id if isinstance(item, ChangeAccepted) else item["organization_id"]
            for item in pending}
    if len(orgs) == 1 and len(pending) == 1:
        if changes:
            _accepted(uow, changes[0])
        else:
            _audit_only(uow, audits[0])
        return
    _replay(uow, pending)


def _replay(uow: UnitOfWork, pending: list[Any]) -> None:
    """The classic path, in the order things happened."""
    from sync_server.services import audit
    from sync_server.services.handlers import append_audit, bump_version, write_change_log

    for item in pending:
        if isinstance(item, ChangeAccepted):
            for handler in (bump_version, write_change_log, append_audit):
                handler(uow, item)
        else:
            values = dict(item)
            org = values.pop("organization_id")
            audit.append(uow.session, org, actor=audit.Actor(values.pop("actor_user_id"),
                                                            values.pop("actor_device_id")),
                         **values)


def audit_values(change: ChangeAccepted) -> dict[str, Any]:
    """The audit entry of an accepted change (as the ``append_audit`` handler writes it)."""
    return {"organization_id": change.organization_id, "at": change.at,
            "actor_user_id": change.actor_user_id, "actor_device_id": change.actor_device_id,
            "intent": change.intent[:64], "outcome": change.outcome[:32],
            "target_type": change.target_type, "target_id": change.target_id[:64],
            "reason": change.reason[:200] or None}


def _audit_params(values: dict[str, Any]) -> dict[str, Any]:
    """The entry's columns, and its canonical JSON cut around ``prev_hash`` and ``seq``
    (which only the locked head knows): sorted keys put ``prev_hash``, ``reason`` and
    ``seq`` in that order between the others."""
    at = values["at"].astimezone(UTC)
    fields = {name: values[name] for name in (
        "actor_device_id", "actor_user_id", "intent", "organization_id", "outcome")}
    fields["at"] = at.isoformat(timespec="microseconds")
    before = _canonical(fields)
    after = _canonical({"target_id": values["target_id"],
                        "target_type": values["target_type"]})
    return {
        "org": values["organization_id"], "at": at, "actor_user_id": values["actor_user_id"],
        "actor_device_id": values["actor_device_id"], "intent": values["intent"],
        "target_type": values["target_type"], "target_id": values["target_id"],
        "outcome": values["outcome"], "reason": values["reason"],
        "before_prev": before[:-1] + ',"prev_hash":"',
        "before_seq": '","reason":' + _canonical(values["reason"]) + ',"seq":',
        "after_seq": "," + after[1:],
    }


def _accepted(uow: UnitOfWork, change: ChangeAccepted) -> None:
    rows = [{"entity": entity_of(record), "entity_id": record.id, "op": "upsert",
             "payload": to_wire(record)} for record in change.records]
    rows += [{"entity": entity, "entity_id": record_id, "op": "delete", "payload": None}
             for entity, record_id in change.deleted]
    params = _audit_params(audit_values(change))
    params.update(changes=json.dumps(rows), channel=NOTIFY_CHANNEL)
    version = int(uow.session.execute(_ACCEPTED_STATEMENT, params).scalar_one())
    org = change.organization_id
    uow.versions[org] = uow.bumped[org] = version


def _audit_only(uow: UnitOfWork, values: dict[str, Any]) -> None:
    uow.session.execute(_AUDIT_STATEMENT, _audit_params(values)).scalar_one()


# Built once: a ``text()`` parses its SQL for bind parameters each time it is made.
_ACCEPTED_STATEMENT = text(ACCEPTED_SQL)
_AUDIT_STATEMENT = text(AUDIT_SQL)
