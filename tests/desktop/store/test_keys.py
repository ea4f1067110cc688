"""How the database key is kept, recovered and rotated."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
from keyring.backends import fail, null
from keyring.errors import KeyringError

from desktop.store.engine import Store, open_connection
from desktop.store.errors import (
    KeyfileError,
    KeyStoreEntryMissing,
    NoKeyStoreError,
    StoreExistsError,
    WrongKeyError,
    WrongPassphraseError,
)
from desktop.store.keys import (
    KEYRING_SERVICE,
    DeskKeys,
    _unwrap_recovery,
    _wrap_slots,
    create_store,
    keyfile_path_for,
    open_store,
    read_keyfile,
    rekey,
    usable_key_store,
    write_keyfile,
)
from desktop.store.models import PatientRow
from tests.desktop.store.conftest import FAST_KDF, PASSPHRASE, MemoryKeyring, sha256_of

NEW_PASSPHRASE = "a brand new recovery phrase"


def _database_key(db_path: Path, passphrase: str = PASSPHRASE) -> bytes:
    keys = read_keyfile(keyfile_path_for(db_path))
    return _unwrap_recovery(keys.current, keys.store_id, passphrase)


def _add_patients(store: Store, count: int) -> None:
    with store.write() as session:
        for number in range(count):
            session.add(
                PatientRow(
                    id=f"p{number}", organization_id="org", given_name="Ana", family_name="Ruiz"
                )
            )


def _patient_count(store: Store) -> int:
    with store.session() as session:
        return session.query(PatientRow).count()


def test_the_key_store_holds_a_key_encryption_key_under_the_store_id(
    store: Store, key_store: MemoryKeyring
) -> None:
    assert list(key_store.entries) == [(KEYRING_SERVICE, store.store_id)]
    assert len(base64.b64decode(key_store.entries[(KEYRING_SERVICE, store.store_id)])) == 32


def test_the_keyfile_never_contains_the_raw_database_key(store: Store, db_path: Path) -> None:
    key = _database_key(db_path)
    keyfile_text = keyfile_path_for(db_path).read_text()
    assert key.hex() not in keyfile_text.lower()
    assert base64.b64encode(key).decode() not in keyfile_text
    assert json.loads(keyfile_text)["store_id"] == store.store_id


def test_a_missing_key_store_entry_asks_for_the_recovery_passphrase(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    store.close()
    key_store.entries.clear()
    with pytest.raises(KeyStoreEntryMissing, match="recovery passphrase"):
        open_store(db_path, keyring_backend=key_store)


def test_the_passphrase_path_opens_the_store_and_restores_the_key_store_entry(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patients(store, 3)
    store.close()
    key_store.entries.clear()

    by_passphrase = open_store(db_path, recovery_passphrase=PASSPHRASE, keyring_backend=key_store)
    assert _patient_count(by_passphrase) == 3
    by_passphrase.close()

    assert (KEYRING_SERVICE, by_passphrase.store_id) in key_store.entries
    by_key_store = open_store(db_path, keyring_backend=key_store)
    assert _patient_count(by_key_store) == 3
    by_key_store.close()


def test_no_key_store_and_no_passphrase_refuses_to_open(store: Store, db_path: Path) -> None:
    store.close()
    with pytest.raises(NoKeyStoreError, match="no usable secure key store"):
        open_store(db_path, keyring_backend=fail.Keyring())


def test_no_key_store_still_opens_with_the_recovery_passphrase(store: Store, db_path: Path) -> None:
    _add_patients(store, 1)
    store.close()
    reopened = open_store(db_path, recovery_passphrase=PASSPHRASE, keyring_backend=fail.Keyring())
    assert _patient_count(reopened) == 1
    reopened.close()


def test_creating_a_store_without_a_key_store_is_refused_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "desk.db"
    with pytest.raises(NoKeyStoreError):
        create_store(path, PASSPHRASE, fail.Keyring(), kdf=FAST_KDF)
    assert list(tmp_path.iterdir()) == []


def test_the_fail_and_null_backends_do_not_count_as_key_stores() -> None:
    assert usable_key_store(fail.Keyring()) is None
    assert usable_key_store(null.Keyring()) is None
    assert usable_key_store(MemoryKeyring()) is not None


def test_creating_over_an_existing_store_is_refused(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    before = sha256_of(keyfile_path_for(db_path))
    with pytest.raises(StoreExistsError):
        create_store(db_path, PASSPHRASE, key_store, kdf=FAST_KDF)
    assert sha256_of(keyfile_path_for(db_path)) == before


def test_a_short_recovery_passphrase_is_refused(tmp_path: Path, key_store: MemoryKeyring) -> None:
    with pytest.raises(ValueError, match="at least"):
        create_store(tmp_path / "desk.db", "short", key_store, kdf=FAST_KDF)


def test_a_missing_keyfile_is_a_clear_error(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    store.close()
    keyfile_path_for(db_path).unlink()
    with pytest.raises(KeyfileError, match="missing"):
        open_store(db_path, keyring_backend=key_store)


def test_a_wrapped_key_copied_to_another_store_id_does_not_unwrap(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    store.close()
    keyfile = keyfile_path_for(db_path)
    keys = read_keyfile(keyfile)
    key_store.entries[(KEYRING_SERVICE, "another-store")] = key_store.entries[
        (KEYRING_SERVICE, keys.store_id)
    ]
    write_keyfile(keyfile, DeskKeys(store_id="another-store", current=keys.current))
    with pytest.raises(WrongKeyError):
        open_store(db_path, keyring_backend=key_store)


def test_rekey_keeps_every_row(store: Store, key_store: MemoryKeyring) -> None:
    _add_patients(store, 25)
    rekey(store, PASSPHRASE, keyring_backend=key_store)
    assert _patient_count(store) == 25


def test_after_rekey_the_old_key_no_longer_opens_the_file(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patients(store, 2)
    old_key = _database_key(db_path)
    rekey(store, PASSPHRASE, keyring_backend=key_store)
    store.close()
    assert _database_key(db_path) != old_key
    with pytest.raises(WrongKeyError):
        open_connection(db_path, old_key)


def test_after_rekey_both_the_key_store_and_the_passphrase_open_the_store(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patients(store, 2)
    rekey(store, PASSPHRASE, keyring_backend=key_store)
    store.close()
    for reopened in (
        open_store(db_path, keyring_backend=key_store),
        open_store(db_path, recovery_passphrase=PASSPHRASE, keyring_backend=key_store),
    ):
        assert _patient_count(reopened) == 2
        reopened.close()


def test_rekey_can_change_the_recovery_passphrase(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    rekey(store, PASSPHRASE, new_recovery_passphrase=NEW_PASSPHRASE, keyring_backend=key_store)
    store.close()
    with pytest.raises(WrongPassphraseError):
        open_store(db_path, recovery_passphrase=PASSPHRASE, keyring_backend=key_store)
    open_store(db_path, recovery_passphrase=NEW_PASSPHRASE, keyring_backend=key_store).close()


def test_rekey_with_a_wrong_passphrase_changes_nothing(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patients(store, 1)
    with store.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    before = (sha256_of(db_path), sha256_of(keyfile_path_for(db_path)))
    with pytest.raises(WrongPassphraseError):
        rekey(store, "not the passphrase", keyring_backend=key_store)
    assert (sha256_of(db_path), sha256_of(keyfile_path_for(db_path))) == before


def test_rekey_rewrites_the_keyfile_atomically(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    rekey(store, PASSPHRASE, keyring_backend=key_store)
    keyfile = keyfile_path_for(db_path)
    assert read_keyfile(keyfile).next is None
    assert not keyfile.with_name(keyfile.name + ".tmp").exists()


def test_a_key_change_interrupted_after_reencrypting_is_finished_on_open(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patients(store, 4)
    keyfile = keyfile_path_for(db_path)
    old_keys = read_keyfile(keyfile)
    rekey(store, PASSPHRASE, keyring_backend=key_store)
    store.close()
    new_keys = read_keyfile(keyfile)
    # The desk died after PRAGMA rekey but before the keyfile promoted the new key.
    write_keyfile(
        keyfile, DeskKeys(old_keys.store_id, current=old_keys.current, next=new_keys.current)
    )

    reopened = open_store(db_path, keyring_backend=key_store)
    assert _patient_count(reopened) == 4
    reopened.close()
    assert read_keyfile(keyfile).current == new_keys.current
    assert read_keyfile(keyfile).next is None


def test_a_key_change_interrupted_before_reencrypting_is_forgotten_on_open(
    store: Store, db_path: Path, key_store: MemoryKeyring
) -> None:
    _add_patients(store, 4)
    store.close()
    keyfile = keyfile_path_for(db_path)
    keys = read_keyfile(keyfile)
    kek = base64.b64decode(key_store.entries[(KEYRING_SERVICE, keys.store_id)])
    # The desk died after writing the next key's copies but before PRAGMA rekey.
    never_used = _wrap_slots(secrets.token_bytes(32), keys.store_id, kek, PASSPHRASE, FAST_KDF)
    write_keyfile(keyfile, DeskKeys(keys.store_id, current=keys.current, next=never_used))

    reopened = open_store(db_path, keyring_backend=key_store)
    assert _patient_count(reopened) == 4
    reopened.close()
    assert read_keyfile(keyfile) == DeskKeys(keys.store_id, current=keys.current)


class LockedKeyring(MemoryKeyring):
    """A key store that exists but refuses access (a locked keychain)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError("the keychain is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError("the keychain is locked")


def test_a_locked_key_store_asks_for_the_recovery_passphrase(store: Store, db_path: Path) -> None:
    store.close()
    with pytest.raises(KeyStoreEntryMissing, match="could not be read"):
        open_store(db_path, keyring_backend=LockedKeyring())


def test_a_locked_key_store_does_not_stop_the_passphrase_path(store: Store, db_path: Path) -> None:
    _add_patients(store, 1)
    store.close()
    reopened = open_store(db_path, recovery_passphrase=PASSPHRASE, keyring_backend=LockedKeyring())
    assert _patient_count(reopened) == 1
    reopened.close()


def test_a_failed_creation_leaves_nothing_behind(
    tmp_path: Path, key_store: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_upgrade(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("desktop.store.keys.migrate.upgrade", failing_upgrade)
    with pytest.raises(OSError, match="disk full"):
        create_store(tmp_path / "desk.db", PASSPHRASE, key_store, kdf=FAST_KDF)
    assert list(tmp_path.iterdir()) == []
    assert key_store.entries == {}
