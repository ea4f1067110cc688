"""Back up, wipe, restore: the server serves the same state (every row's checksum), both backends.

Runs ``clinicdesk-server backup`` and ``restore`` (the commands of docs/deploy.md)
against a database holding the demo organization, then signs in over HTTP to
the restored database.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from sync_server.app import create_app
from sync_server.cli import main as server_cli
from sync_server.core.security import Passwords, password_hasher
from sync_server.db.models import Base
from sync_server.db.session import make_engine, make_session_factory
from sync_server.services.demo import DEMO_PASSWORD, DEMO_SLUG, seed_demo
from tests.sync_server.conftest import make_settings, pg_admin_engine, terminate_backends


def checksums(url: str) -> dict[str, tuple[int, str]]:
    """Per table: the row count and a SHA-256 over every row in primary-key order."""
    engine = make_engine(url)
    found = {}
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            for table in Base.metadata.sorted_tables:
                assert table.name in tables, f"{table.name} is missing"
                order = list(table.primary_key.columns) or list(table.columns)
                digest = hashlib.sha256()
                count = 0
                for row in connection.execute(select(table).order_by(*order)):
                    digest.update(repr(tuple(row)).encode())
                    count += 1
                found[table.name] = (count, digest.hexdigest())
            found["alembic_version"] = (1, connection.execute(
                text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        engine.dispose()
    return found


def wipe(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(str(parsed.database)).unlink()
        return
    admin = pg_admin_engine()
    try:
        terminate_backends(admin, str(parsed.database))
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{parsed.database}"'))
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def test_back_up_wipe_restore_and_the_server_serves_the_same_state(
    database_url: str, tmp_path: Path,
) -> None:
    settings = make_settings(database_url, tmp_path / "data")
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        seed_demo(session, Passwords(password_hasher(settings)), datetime.now(UTC))
    engine.dispose()
    before = checksums(database_url)
    assert before["appointments"][0] > 1000
    backup_file = tmp_path / "backups" / "clinicdesk.backup"

    assert server_cli(["--database-url", database_url, "backup", str(backup_file)]) == 0
    wipe(database_url)
    assert server_cli(["--database-url", database_url, "restore", str(backup_file)]) == 0

    assert checksums(database_url) == before
    with TestClient(create_app(settings)) as client:
        answer = client.post("/api/v1/auth/login", json={
            "organization": DEMO_SLUG, "email": "reception@demo.clinicdesk.example",
            "password": DEMO_PASSWORD})
    assert answer.status_code == 200, answer.text


def test_restore_refuses_to_replace_data_without_yes(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    backup_file = tmp_path / "clinicdesk.backup"
    assert server_cli(["--database-url", database_url, "backup", str(backup_file)]) == 0
    before = checksums(database_url)
    assert server_cli(["--database-url", database_url, "restore", str(backup_file)]) == 1
    assert "--yes" in capsys.readouterr().err
    assert checksums(database_url) == before


def test_a_file_that_is_not_a_backup_is_refused(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a backup")
    assert server_cli(["--database-url", database_url, "restore", "--yes", str(bogus)]) == 1
    assert "not a" in capsys.readouterr().err
