"""The server's SQLite files and its generated secret are readable by their owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from sync_server.core.config import SECRET_FILE_NAME, Settings
from sync_server.db.migrate import upgrade
from sync_server.db.session import make_engine

pytestmark = pytest.mark.skipif(os.name != "posix",
                                reason="POSIX modes; Windows relies on the profile's ACL")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "data" / "server.db"
    old_umask = os.umask(0o022)  # the usual default: new files would be 0644
    try:
        upgrade(f"sqlite:///{database}")
        engine = make_engine(f"sqlite:///{database}")
        with engine.begin() as connection:  # WAL: -wal and -shm exist while connected
            connection.execute(text("SELECT count(*) FROM organizations"))
            modes = {p.name: _mode(p) for p in database.parent.iterdir()}
        engine.dispose()
    finally:
        os.umask(old_umask)
    assert {"server.db", "server.db-wal", "server.db-shm"} <= set(modes)
    assert modes == {name: 0o600 for name in modes}


def test_an_existing_world_readable_database_is_tightened_at_start(tmp_path: Path) -> None:
    database = tmp_path / "server.db"
    upgrade(f"sqlite:///{database}")
    database.chmod(0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert _mode(database) == 0o600


def test_the_generated_signing_secret_is_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 's.db'}")
    settings.signing_key()
    assert _mode(tmp_path / SECRET_FILE_NAME) == 0o600
