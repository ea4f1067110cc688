"""Bring the desk store's schema up to date, backing the file up first.

:func:`upgrade` is called at every start. When a migration is pending on a
store that already holds tables, it checkpoints the WAL and copies the
database (and its keyfile, so the copy stays openable) to a timestamped
backup next to it before running Alembic. A brand-new, empty store needs no
backup.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from desktop.store.engine import OWNER_ONLY, keyfile_path_for

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
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
