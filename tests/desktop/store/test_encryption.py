"""The database file is encrypted, and failures to open it leave it untouched."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlcipher3.dbapi2 as sqlcipher
from pytestqt.qtbot import QtBot
from sqlalchemy import text

import desktop.app
from desktop.config import DeskConfig
from desktop.store.engine import PAGE_SIZE, Store, in_use_marker, make_engine, open_connection
from desktop.store.errors import CorruptStoreError, WrongKeyError, WrongPassphraseError
from desktop.store.keys import keyfile_path_for, open_store
from desktop.store.models import PatientRow
from tests.desktop.store.conftest import PASSPHRASE, MemoryKeyring, sha256_of


def _add_patient(store: Store, given_name: str = "Ana") -> None:
    with store.write() as session:
        session.add(
            PatientRow(id="p1", organization_id="org", given_name=given_name, family_name="Ruiz")
        )


def _close_for_hashing(store: Store) -> None:
    # Fold the WAL into the file so later hashes compare the whole database.
    with store.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    store.close()


def test_the_file_has_no_plain_sqlite_header(store: Store, db_path: Path) -> None:
    _add_patient(store)
    _close_for_hashing(store)
    assert not db_path.read_bytes().startswith(b"SQLite format 3\x00")


def test_plain_sqlite_cannot_read_the_file(store: Store, db_path: Path) -> None:
    _add_patient(store)
    _close_for_hashing(store)
    plain = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.DatabaseError):
            plain.execute("SELECT count(*) FROM sqlite_master").fetchall()
    finally:
        plain.close()


def test_patient_names_do_not_appear_in_the_file(store: Store, db_path: Path) -> None:
    _add_patient(store, given_name="Zacarias-Unique-Name")
    _close_for_hashing(store)
    assert b"Zacarias-Unique-Name" not in db_path.read_bytes()


def test_reopening_with_the_key_store_reads_the_data(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patient(store)
    store.close()
    reopened = open_store(db_path, keyring_backend=key_store)
    try:
        with reopened.session() as session:
            assert session.get(PatientRow, "p1") is not None
    finally:
        reopened.close()


def test_a_wrong_raw_key_is_refused_and_the_file_is_unchanged(store: Store, db_path: Path) -> None:
    _add_patient(store)
    _close_for_hashing(store)
    before = sha256_of(db_path)
    with pytest.raises(WrongKeyError, match="was not changed"):
        open_connection(db_path, b"\x01" * 32)
    assert sha256_of(db_path) == before
    assert not db_path.with_name(db_path.name + "-wal").exists()


def test_a_wrong_key_in_the_key_store_is_refused_and_nothing_changes(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patient(store)
    _close_for_hashing(store)
    keyfile = keyfile_path_for(db_path)
    before = (sha256_of(db_path), sha256_of(keyfile))
    (entry,) = key_store.entries
    key_store.entries[entry] = "A" * 43 + "="  # a well-formed but different 32-byte key
    with pytest.raises(WrongKeyError, match="recovery passphrase"):
        open_store(db_path, keyring_backend=key_store)
    assert (sha256_of(db_path), sha256_of(keyfile)) == before


def test_a_wrong_passphrase_is_refused_and_nothing_changes(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patient(store)
    _close_for_hashing(store)
    keyfile = keyfile_path_for(db_path)
    before = (sha256_of(db_path), sha256_of(keyfile))
    with pytest.raises(WrongPassphraseError, match="not correct"):
        open_store(db_path, recovery_passphrase="not the passphrase", keyring_backend=key_store)
    assert (sha256_of(db_path), sha256_of(keyfile)) == before


def test_opening_a_missing_file_never_creates_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    with pytest.raises(Exception, match="no desk database"):
        open_connection(missing, b"\x01" * 32)
    assert not missing.exists()


def test_a_truncated_file_is_reported_as_corrupt_with_the_recovery_path(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patient(store)
    _close_for_hashing(store)
    data = db_path.read_bytes()
    db_path.write_bytes(data[: PAGE_SIZE + 100])
    with pytest.raises(CorruptStoreError) as raised:
        open_store(db_path, keyring_backend=key_store)
    message = str(raised.value)
    assert "Do not delete the file" in message
    assert "outbox" in message
    assert "re-download" in message
    assert db_path.read_bytes() == data[: PAGE_SIZE + 100]


def test_an_empty_file_is_reported_as_corrupt(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _close_for_hashing(store)
    db_path.write_bytes(b"")
    with pytest.raises(CorruptStoreError, match="re-download"):
        open_store(db_path, keyring_backend=key_store)


def _damage_page_3(db_path: Path) -> None:
    data = bytearray(db_path.read_bytes())
    assert len(data) > 2 * PAGE_SIZE
    data[2 * PAGE_SIZE + 200 : 2 * PAGE_SIZE + 264] = b"\x00" * 64  # inside page 3
    db_path.write_bytes(bytes(data))


def test_after_a_crash_a_damaged_inner_page_is_reported_at_open(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patient(store)
    _close_for_hashing(store)
    in_use_marker(db_path).touch()  # the last session never closed the store: a crash
    _damage_page_3(db_path)
    with pytest.raises(CorruptStoreError, match="outbox"):
        open_store(db_path, keyring_backend=key_store)


def test_after_a_clean_close_opening_skips_the_whole_file_check_and_it_runs_on_demand(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patient(store)
    _close_for_hashing(store)
    assert not in_use_marker(db_path).exists()
    _damage_page_3(db_path)
    reopened = open_store(db_path, keyring_backend=key_store)
    try:
        assert in_use_marker(db_path).exists()
        with pytest.raises(CorruptStoreError, match="outbox"):
            reopened.check_integrity()
    finally:
        reopened.close()
    assert not in_use_marker(db_path).exists()


def test_the_pragmas_are_in_effect_on_every_connection(store: Store) -> None:
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA secure_delete")).scalar_one() == 1
        assert connection.execute(text("PRAGMA temp_store")).scalar_one() == 2
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_sqlcipher_4_defaults_are_kept(store: Store) -> None:
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA cipher_page_size")).scalar_one() == "4096"
        assert connection.execute(text("PRAGMA cipher_hmac_algorithm")).scalar_one() == (
            "HMAC_SHA512"
        )


def test_errors_from_the_engine_are_wrapped_by_sqlalchemy(store: Store) -> None:
    # The engine uses sqlcipher3 as its DB-API module, so its errors map to SQLAlchemy's.
    from sqlalchemy.exc import OperationalError

    with store.engine.connect() as connection, pytest.raises(OperationalError):
        connection.execute(text("SELECT * FROM no_such_table"))
    assert issubclass(sqlcipher.OperationalError, sqlcipher.Error)


def test_a_second_engine_with_the_wrong_key_fails_on_first_use(store: Store, db_path: Path) -> None:
    other = make_engine(db_path, b"\x02" * 32)
    try:
        with pytest.raises(WrongKeyError):
            other.connect()
    finally:
        other.dispose()


def test_the_recovery_passphrase_opens_the_store(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patient(store)
    store.close()
    reopened = open_store(db_path, recovery_passphrase=PASSPHRASE, keyring_backend=key_store)
    try:
        with reopened.session() as session:
            assert session.get(PatientRow, "p1") is not None
    finally:
        reopened.close()


def test_a_file_cut_at_a_page_boundary_is_reported_as_corrupt(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patient(store)
    _close_for_hashing(store)
    data = db_path.read_bytes()
    db_path.write_bytes(data[: 3 * PAGE_SIZE])
    with pytest.raises(CorruptStoreError, match="re-download"):
        open_store(db_path, keyring_backend=key_store)


def test_damage_found_by_the_background_check_is_said_on_the_ui_thread(
    store: Store, db_path: Path, key_store: MemoryKeyring, tmp_path: Path, qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _add_patient(store)
    _close_for_hashing(store)
    _damage_page_3(db_path)
    reopened = open_store(db_path, keyring_backend=key_store)
    said: list[tuple[str, threading.Thread]] = []

    def critical(_parent: object, _title: str, text: str) -> None:
        said.append((text, threading.current_thread()))

    monkeypatch.setattr(desktop.app.QMessageBox, "critical", critical)
    start = desktop.app.DeskStart(DeskConfig(data_dir=tmp_path / "other"))
    try:
        start._check_in_background(reopened)
        qtbot.waitUntil(lambda: bool(said), timeout=20_000)
    finally:
        reopened.close()
    ((text, thread),) = said
    assert text.startswith("The desk's data is damaged: ") and "outbox" in text
    assert thread is threading.main_thread()
