"""Migrations run at start, after a backup of the file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, inspect, text

from desktop.store import migrate
from desktop.store.engine import Store, create_database_file, keyfile_path_for, make_engine
from desktop.store.models import Base


def test_a_new_store_is_at_the_head_revision(store: Store) -> None:
    assert migrate.current_revision(store.engine) == migrate.head_revision()
    assert not migrate.is_pending(store.engine)


def test_the_migrated_schema_matches_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_the_migrations_and_the_models_do_not_drift(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_a_pending_migration_backs_the_file_up_first(tmp_path: Path) -> None:
    path = tmp_path / "desk.db"
    key = os.urandom(32)
    create_database_file(path, key)
    keyfile_path_for(path).write_text("{}")
    engine = make_engine(path, key)
    with engine.begin() as connection:  # an older desk's data, before any revision
        connection.execute(text("CREATE TABLE legacy (note TEXT)"))
        connection.execute(text("INSERT INTO legacy VALUES ('kept')"))

    backup = migrate.upgrade(engine, path, now=datetime(2025, 3, 30, 1, 30, tzinfo=UTC))
    engine.dispose()

    assert backup == tmp_path / "desk.db.backup-20250330T013000000000Z"
    assert keyfile_path_for(backup).read_text() == "{}"
    old = make_engine(backup, key)
    try:
        with old.connect() as connection:
            names = set(inspect(connection).get_table_names())
            assert connection.execute(text("SELECT note FROM legacy")).scalar_one() == "kept"
    finally:
        old.dispose()
    assert names == {"legacy"}  # the copy was taken before the upgrade


def test_no_backup_when_nothing_is_pending(store: Store, db_path: Path) -> None:
    assert migrate.upgrade(store.engine, db_path) is None
    assert not any(".backup-" in name.name for name in db_path.parent.iterdir())


def test_a_brand_new_store_needs_no_backup(store: Store, db_path: Path) -> None:
    assert not any(".backup-" in name.name for name in db_path.parent.iterdir())


def test_the_sync_state_row_exists_after_migration(store: Store) -> None:
    with store.session() as session:
        row = session.execute(
            text("SELECT id, server_version, last_mutation_id FROM sync_state")
        ).one()
    assert tuple(row) == (1, 0, 0)


@contextmanager
def store_at(tmp_path: Path, revision: str) -> Iterator[tuple[Engine, Path]]:
    """A store file migrated only up to ``revision`` (an older desk's), and its path."""
    from alembic import command

    path = tmp_path / "desk.db"
    key = os.urandom(32)
    create_database_file(path, key)
    keyfile_path_for(path).write_text("{}")
    engine = make_engine(path, key)
    try:
        with engine.begin() as connection:
            command.upgrade(migrate.alembic_config(connection), revision)
        yield engine, path
    finally:
        engine.dispose()


def test_migration_0003_indexes_the_names_of_patients_already_stored(tmp_path: Path) -> None:
    with store_at(tmp_path, "0002") as (engine, path):
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO patients (id, organization_id, given_name, family_name, active, "
                "phone, email, preferred_language, server_version) VALUES ('p1', 'o', "
                "'Íñigo', 'Zúñiga Peña', 1, '+34 600-111', '', 'es', 1)"))
        migrate.upgrade(engine, path)
        with engine.connect() as connection:
            words = set(connection.execute(text(
                "SELECT word FROM patient_name_keys WHERE patient_id = 'p1'")).scalars())
            folded, digits = connection.execute(text(
                "SELECT folded_name, phone_digits FROM patients WHERE id = 'p1'")).one()
    assert words == {"inigo", "zuniga", "pena"}
    assert (folded, digits) == ("zuniga pena\tinigo", "34600111")


def test_migration_0004_gives_stored_patients_the_default_contact_preferences(
        tmp_path: Path) -> None:
    with store_at(tmp_path, "0003") as (engine, path):
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO patients (id, organization_id, given_name, family_name, active, "
                "phone, email, preferred_language, server_version, folded_name, phone_digits) "
                "VALUES ('p1', 'o', 'Ana', 'García', 1, '', '', 'es', 1, '', '')"))
        migrate.upgrade(engine, path)
        with engine.connect() as connection:
            stored = connection.execute(text(
                "SELECT contact_preference, reminders_opt_out FROM patients "
                "WHERE id = 'p1'")).one()
    assert tuple(stored) == ("email_then_sms", 0)
