"""Engines and sessions for SQLite (embedded) and PostgreSQL (production).

SQLite: WAL, foreign keys on, and every transaction starts with
``BEGIN IMMEDIATE`` so writers are serialized by the database file lock (the
pysqlite recipe from the SQLAlchemy docs: the driver's own transaction
handling is switched off and we emit BEGIN on the engine's ``begin`` event).
A connection opened with the execution option ``read_only=True`` starts a
plain deferred ``BEGIN`` instead, so long reads do not block writers.

PostgreSQL: ``pool_pre_ping`` so connections broken by a database restart are
replaced transparently, and a short ``connect_timeout`` so an unreachable
database fails the request fast (503) instead of hanging.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def make_engine(url: str, *, connect_timeout: int = 2, pool_size: int = 10) -> Engine:
    """Create the engine for ``url`` with the backend-specific setup described above."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database not in (None, "", ":memory:"):
            owner_only_file(Path(parsed.database))
        engine = create_engine(
            parsed,
            hide_parameters=True,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        return create_engine(
            parsed,
            hide_parameters=True,  # bound values (patient data) never reach a log or an error
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=connect_timeout + 3,
            connect_args={"connect_timeout": connect_timeout, "application_name": "clinicdesk"},
        )
    raise ValueError(f"unsupported database backend {backend!r}: use sqlite or postgresql+psycopg")


def owner_only_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600), or tighten an existing one.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode, so they
    follow. On Windows the mode is ignored: the data directory's ACL (the service
    account's profile) protects the file, see docs/admin.md.
    """
    if os.name != "posix":
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop pysqlite from issuing its own BEGIN; we issue BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get("read_only"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def lock_resources(session: Session, resource_ids: Iterable[str],
                   shared: Iterable[str] = (), *, wait: bool = True) -> bool:
    """Serialize writers that touch the same resources until the transaction ends.

    PostgreSQL: ``pg_advisory_xact_lock`` per key, all taken in one sorted order (by
    name) so two writers sharing keys cannot deadlock; ``shared`` keys are taken in
    shared mode (``pg_advisory_xact_lock_shared``; a key in both sets is taken
    exclusively). A single booking locks each resource's days exclusively and the
    resource itself shared, so bookings of other days go ahead while a writer that
    locks the whole resource exclusively (a series, a sync push run) still excludes
    them all. ``wait=False``: only try (``pg_try_…``) and answer whether every lock
    was granted. SQLite: nothing to do, ``BEGIN IMMEDIATE`` already serializes every
    write transaction.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    wanted = {name for name in resource_ids if name}
    modes = {name: False for name in wanted} | {
        name: True for name in set(shared) - wanted if name}
    names = sorted(modes)
    if not names:
        return True
    # one round trip: unnest yields the keys in array (that is, sorted) order
    got = session.execute(_LOCK_ALL if wait else _TRY_LOCK_ALL, {
        "keys": [advisory_key("resource", n) for n in names],
        "shared": [modes[n] for n in names]}).scalar()
    return bool(got)


_LOCK_ALL = text(
    "SELECT count(CASE WHEN s THEN pg_advisory_xact_lock_shared(k) "
    "ELSE pg_advisory_xact_lock(k) END) "
    "FROM unnest(CAST(:keys AS bigint[]), CAST(:shared AS boolean[])) AS t(k, s)")
_TRY_LOCK_ALL = text(
    "SELECT bool_and(CASE WHEN s THEN pg_try_advisory_xact_lock_shared(k) "
    "ELSE pg_try_advisory_xact_lock(k) END) "
    "FROM unnest(CAST(:keys AS bigint[]), CAST(:shared AS boolean[])) AS t(k, s)")


def advisory_key(namespace: str, value: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``."""
    digest = hashlib.sha256(f"clinicdesk:{namespace}:{value}".encode()).digest()
    key: int = struct.unpack(">q", digest[:8])[0]
    return key
