"""Bring the desk store's schema up to date, backing the file up first.

:func:`upgrade_file` runs at every start (``open_store``), before the desk
uses the store. When a migration is pending on a store that holds data it
works *backup first*: checkpoint the WAL and copy the database and its
keyfile to a timestamped backup (kept), copy it once more to a work file,
migrate the work file, verify it (revision, every table's row count, foreign
keys, every page's HMAC), and only then swap it in with one rename. If any
step fails the work file is deleted and :class:`MigrationFailed` says so: the
original file was never written, byte for byte as it was.

:func:`upgrade` migrates an open engine in place (after a backup); it is used
for a brand-new store, which has no data to protect.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import sqlcipher3.dbapi2 as sqlcipher
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from desktop.store.engine import OWNER_ONLY, check_integrity, keyfile_path_for, make_engine
from desktop.store.errors import MigrationFailed, StoreError
from desktop.store.files import replace_file

WORK_SUFFIX = ".upgrading"
_SIDE_FILES = ("-wal", "-shm")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision this build's migrations know."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_pending(engine: Engine) -> bool:
    return current_revision(engine) != head_revision()


def upgrade(engine: Engine, db_path: Path, *, now: datetime | None = None) -> Path | None:
    """Migrate to the newest revision; returns the backup made first (None if none was needed)."""
    if not is_pending(engine):
        return None
    backup = None
    if _has_tables(engine):
        backup = backup_database(engine, db_path, now=now)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    return backup


def _has_tables(engine: Engine) -> bool:
    with engine.connect() as connection:
        return bool(connection.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one())


def backup_database(engine: Engine, db_path: Path, *, now: datetime | None = None) -> Path:
    """Copy the (still encrypted) database, its WAL and its keyfile to ``<name>.backup-<UTC>``."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    backup = db_path.with_name(f"{db_path.name}.backup-{stamp}")
    pooled = engine.raw_connection()
    try:
        # The DB-API connection is in autocommit mode: no SQLAlchemy transaction around this.
        driver = pooled.driver_connection
        assert driver is not None
        driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        # Hold the write lock while copying so no writer changes the files under us.
        driver.execute("BEGIN IMMEDIATE")
        copies = [(db_path, backup)]
        wal = db_path.with_name(db_path.name + "-wal")
        if wal.exists() and wal.stat().st_size:
            copies.append((wal, backup.with_name(backup.name + "-wal")))
        keyfile = keyfile_path_for(db_path)
        if keyfile.exists():
            copies.append((keyfile, keyfile_path_for(backup)))
        try:
            for source, target in copies:
                _private_copy(source, target)
        except BaseException:
            for _source, target in copies:  # a backup is whole or not there
                target.unlink(missing_ok=True)
            raise
        finally:
            driver.execute("ROLLBACK")
    finally:
        pooled.close()
    return backup


def upgrade_file(db_path: Path, key: bytes, *, now: datetime | None = None) -> Path | None:
    """Migrate the closed store ``db_path`` backup-first; returns the backup (None: none needed).

    Raises :class:`MigrationFailed` (the original file untouched) when migrating or
    verifying the copy fails.
    """
    engine = make_engine(db_path, key)
    try:
        if not is_pending(engine):
            return None
        before = _row_counts(engine)
        if not before:  # an empty file: nothing to protect, migrate in place
            upgrade(engine, db_path, now=now)
            return None
        backup = backup_database(engine, db_path, now=now)
    finally:
        engine.dispose()
    wal = _side(db_path, "-wal")
    if wal.exists() and wal.stat().st_size:
        raise MigrationFailed(
            f"The desk database {db_path} changed while it was being updated (another program "
            "has it open). Nothing was changed: close the other program and start the desk again."
        )
    work = db_path.with_name(db_path.name + WORK_SUFFIX)
    _remove(work)
    try:
        shutil.copy2(backup, work)
        _migrate_and_verify(work, key, before)
    except (SQLAlchemyError, sqlcipher.Error, StoreError, OSError, RuntimeError) as error:
        _remove(work)
        raise MigrationFailed(
            f"Updating the desk database {db_path} to this version failed "
            f"({type(error).__name__}: {_first_line(error)}). The data was left exactly as it "
            f"was before the update, and a copy is kept at {backup.name}. Start the previous "
            "version of ClinicDesk, or contact support with the desk's log file."
        ) from error
    for suffix in _SIDE_FILES:  # the original's (empty) WAL index must not meet the new file
        _side(db_path, suffix).unlink(missing_ok=True)
    replace_file(work, db_path)
    return backup


def _migrate_and_verify(work: Path, key: bytes, before: dict[str, int]) -> None:
    engine = make_engine(work, key)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
        revision = current_revision(engine)
        if revision != head_revision():
            raise RuntimeError(f"the copy is at revision {revision}, not {head_revision()}")
        after = _row_counts(engine)
        lost = {name: (count, after.get(name)) for name, count in before.items()
                if name != "alembic_version" and name in after and after[name] != count}
        if lost:
            raise RuntimeError(f"row counts changed: {sorted(lost)}")
        with engine.connect() as connection:
            if connection.execute(text("PRAGMA foreign_key_check")).first() is not None:
                raise RuntimeError("foreign keys no longer match")
        pooled = engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            pooled.close()
    finally:
        engine.dispose()
    for suffix in _SIDE_FILES:
        _side(work, suffix).unlink(missing_ok=True)
    check_integrity(work, key)
    for suffix in _SIDE_FILES:
        _side(work, suffix).unlink(missing_ok=True)


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        names = connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )).scalars().all()
        return {name: int(connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
                for name in names}


def _side(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _remove(path: Path) -> None:
    for candidate in (path, *(_side(path, suffix) for suffix in _SIDE_FILES)):
        candidate.unlink(missing_ok=True)


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [""])[0][:200]


def _private_copy(source: Path, target: Path) -> None:
    """Copy ``source`` to a new file only its owner can read (0600 on POSIX)."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    try:
        with os.fdopen(descriptor, "wb") as out, open(source, "rb") as data:
            shutil.copyfileobj(data, out)
        shutil.copystat(source, target)
    except BaseException:
        target.unlink(missing_ok=True)  # no half backup left behind (a full disk)
        raise
