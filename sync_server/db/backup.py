"""Back up and restore the server database: one file, either backend.

* **SQLite**: SQLite's online backup API copies a consistent snapshot while
  the server keeps running; restoring copies the snapshot back over the
  database file (stop the server first).
* **PostgreSQL**: ``pg_dump --format=custom`` and ``pg_restore --clean
  --single-transaction`` (the PostgreSQL client tools of the server's major
  version must be installed). The password travels in ``PGPASSWORD``, never
  on a command line.

Used by ``clinicdesk-server backup`` / ``restore``; see docs/deploy.md.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

SQLITE_HEADER = b"SQLite format 3\x00"
PG_DUMP_HEADER = b"PGDMP"


class BackupError(Exception):
    """A backup or restore could not be made; the message says what to do."""


def backup(database_url: str, target: Path) -> None:
    """Write a consistent backup of the database at ``database_url`` to ``target``."""
    url = make_url(database_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(sqlite3.connect(_sqlite_path(url)), partial)
    else:
        _pg_tool("pg_dump", url, "--format=custom", "--no-owner", f"--file={partial}")
    os.replace(partial, target)


def restore(database_url: str, source: Path) -> None:
    """Replace the whole content of the database at ``database_url`` with the backup ``source``."""
    url = make_url(database_url)
    if not source.is_file():
        raise BackupError(f"there is no backup file at {source}")
    header = source.read_bytes()[:16]
    if url.get_backend_name() == "sqlite":
        if header != SQLITE_HEADER:
            raise BackupError(f"{source} is not an SQLite backup made by "
                              "'clinicdesk-server backup'")
        path = Path(_sqlite_path(url))
        path.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True), path)
    else:
        if not header.startswith(PG_DUMP_HEADER):
            raise BackupError(f"{source} is not a PostgreSQL backup made by "
                              "'clinicdesk-server backup'")
        _pg_tool("pg_restore", url, "--clean", "--if-exists", "--no-owner",
                 "--single-transaction", "--exit-on-error", str(source))


def _sqlite_copy(source: sqlite3.Connection, target: Path) -> None:
    """Copy every page of ``source`` into the database file ``target`` (SQLite's backup API)."""
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


def _sqlite_path(url: URL) -> str:
    if url.database in (None, "", ":memory:"):
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return str(url.database)


def _pg_tool(tool: str, url: URL, *arguments: str) -> None:
    program = shutil.which(tool)
    if program is None:
        raise BackupError(f"'{tool}' was not found: install the PostgreSQL client tools of "
                          "the same major version as the server (e.g. postgresql-client-15)")
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    target = plain.render_as_string(hide_password=False)
    done = subprocess.run([program, *arguments, f"--dbname={target}"], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        problem = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackupError(f"{tool} failed (exit code {done.returncode}): {problem}")
