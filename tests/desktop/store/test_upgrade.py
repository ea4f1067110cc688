"""Upgrading a desk keeps every row: a store of the previous release opens in this one.

The fixture ``fixtures/previous_schema/`` is a real enrolled desk store at the
previous schema revision with one change still in its outbox (see
``fixtures/make_previous_schema_store.py``). The upgrade runs backup-first
(copy, migrate, verify, swap); a migration that fails leaves the original
file byte for byte as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from desktop.demo import RECOVERY_PASSPHRASE
from desktop.store import migrate
from desktop.store.errors import MigrationFailed
from desktop.store.keys import open_store
from tests.desktop.store.conftest import MemoryKeyring, sha256_of

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "previous_schema"
PREVIOUS_REVISION = "0001"

BROKEN_MIGRATION = '''"""A migration that fails half-way (for the upgrade test).

Revision ID: 9999
Revises: {head}
"""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("DELETE FROM outbox")
    {ending}


def downgrade() -> None:
    op.drop_table("half_done")
'''


@pytest.fixture
def previous_store(tmp_path: Path) -> Path:
    for name in ("desk.db", "desk.db.keys.json"):
        shutil.copy2(FIXTURE / name, tmp_path / name)
    return tmp_path / "desk.db"


def every_row(engine: Engine, columns_of: dict[str, list[str]] | None = None,
              ) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (only the columns named in ``columns_of``, when given)."""
    found = {}
    with engine.connect() as connection:
        tables = connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version'")).scalars().all()
        for table in tables:
            if columns_of is not None and table not in columns_of:
                continue
            columns = (columns_of or {}).get(table) or [
                row[1] for row in connection.execute(text(f'PRAGMA table_info("{table}")'))]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = connection.execute(text(f'SELECT {listed} FROM "{table}"')).all()
            found[table] = sorted((tuple(row) for row in rows), key=repr)
    return found


def columns(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as connection:
        tables = connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version'")).scalars().all()
        return {t: [r[1] for r in connection.execute(text(f'PRAGMA table_info("{t}")'))]
                for t in tables}


def test_a_store_of_the_previous_release_opens_with_every_row_intact(
    previous_store: Path,
) -> None:
    keyring = MemoryKeyring()
    old = open_store(previous_store, recovery_passphrase=RECOVERY_PASSPHRASE,
                     keyring_backend=keyring, run_migrations=False)
    assert migrate.current_revision(old.engine) == PREVIOUS_REVISION
    old_columns = columns(old.engine)
    before = every_row(old.engine)
    old.close()
    assert sum(len(rows) for rows in before.values()) > 1000  # a real desk's data
    assert before["outbox"], "the fixture keeps an unsent change"

    store = open_store(previous_store, keyring_backend=keyring)  # the key store works again
    try:
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        after = every_row(store.engine, old_columns)
        # Store revision 0012 sets the pull cursor back so the next pull brings the slot
        # templates made before it; nothing else changes.
        cursor = old_columns["sync_state"].index("server_version")
        assert [row[cursor] for row in after.pop("sync_state")] == [0]
        assert after == {k: v for k, v in before.items() if k != "sync_state"}
        with store.session() as session:
            pending = session.execute(text(
                "SELECT count(*) FROM patients WHERE family_name = 'Pending'")).scalar_one()
        assert pending == 1
    finally:
        store.close()
    backups = list(previous_store.parent.glob("desk.db.backup-*"))
    assert len([b for b in backups if not b.name.endswith(".json")]) == 1
    assert not list(previous_store.parent.glob("*.upgrading*"))


@pytest.mark.parametrize(("ending", "reason"), [
    ('raise RuntimeError("the new schema could not be built")', "RuntimeError"),
    ("pass  # finishes, but lost the outbox: the verification catches it", "row counts"),
], ids=["migration-raises", "migration-loses-rows"])
def test_a_failed_migration_leaves_the_original_file_byte_identical(
    previous_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    ending: str, reason: str,
) -> None:
    open_store(previous_store, recovery_passphrase=RECOVERY_PASSPHRASE,
               keyring_backend=MemoryKeyring(), run_migrations=False).close()
    migrations = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, migrations,
                    ignore=shutil.ignore_patterns("__pycache__"))
    head = migrate.head_revision()
    (migrations / "versions" / "9999_broken.py").write_text(BROKEN_MIGRATION.format(
        head=head, ending=ending))
    original = sha256_of(previous_store)

    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", migrations)
    with pytest.raises(MigrationFailed, match="left exactly as it was") as failed:
        open_store(previous_store, recovery_passphrase=RECOVERY_PASSPHRASE,
                   keyring_backend=MemoryKeyring())
    assert reason in str(failed.value)
    assert sha256_of(previous_store) == original
    assert not list(previous_store.parent.glob("*.upgrading*"))

    monkeypatch.undo()  # the release's own migrations still upgrade the untouched file
    store = open_store(previous_store, recovery_passphrase=RECOVERY_PASSPHRASE,
                       keyring_backend=MemoryKeyring())
    try:
        assert migrate.current_revision(store.engine) == head
        with store.session() as session:
            assert session.execute(text("SELECT count(*) FROM outbox")).scalar_one() >= 1
    finally:
        store.close()
