"""Store errors say the truth: a full disk, a read-only file or drive are not damage.

Real SQLCipher files on a real, small tmpfs (the machine's root may mount one; CI
runs as root). Where mounting is not allowed the disk-full case fakes ENOSPC at
the OS call that writes the keyfile; the other cases then fail in CI
(``CLINICDESK_REQUIRE_ALL=1``) rather than skip silently.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from desktop.store.engine import Store, keyfile_path_for
from desktop.store.errors import (
    CorruptStoreError,
    DiskFullError,
    KeyfileError,
    ReadOnlyDriveError,
    ReadOnlyFileError,
    StoreEnvironmentError,
)
from desktop.store.keys import create_store, open_store, read_keyfile
from desktop.store.migrate import backup_database
from desktop.translations import translations
from tests.desktop.store.conftest import FAST_KDF, PASSPHRASE, MemoryKeyring

REQUIRE_ALL = os.environ.get("CLINICDESK_REQUIRE_ALL") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRE_ALL:
        pytest.fail(reason)
    pytest.skip(reason)


def _mount_tmpfs(mount_point: Path, size: str) -> bool:
    if shutil.which("mount") is None or os.name != "posix":
        return False
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(mount_point)], capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 4 MiB tmpfs of our own, or None when this machine does not allow mounting."""
    mount_point = tmp_path / "small-disk"
    if not _mount_tmpfs(mount_point, "4m"):
        yield None
        return
    try:
        yield mount_point
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(mount_point)], check=False)
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def mounted_disk(small_disk: Path | None) -> Path:
    """The small tmpfs; where mounting is not allowed, a skip (a failure in CI)."""
    if small_disk is None:
        _unavailable("cannot mount a tmpfs here (needs root)")
    assert small_disk is not None
    return small_disk


def _fill(disk: Path) -> None:
    """Write a filler file until the disk is full."""
    with (disk / "filler").open("wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "filler")


def test_creating_a_store_on_a_full_disk_says_the_disk_is_full_and_leaves_nothing(
    small_disk: Path | None, tmp_path: Path, key_store: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if small_disk is None:  # fake ENOSPC where the OS would report it
        folder = tmp_path / "desk"

        def no_space(_fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr("desktop.store.keys.os.fsync", no_space)
    else:
        folder = small_disk / "desk"
        _fill(small_disk)
    with pytest.raises(DiskFullError) as caught:
        create_store(folder / "desk.db", PASSPHRASE, key_store, kdf=FAST_KDF)
    assert "full" in str(caught.value) and "damaged" not in str(caught.value)
    assert not folder.exists() or _leftovers(folder) == []
    assert key_store.entries == {}


def test_a_change_on_a_full_disk_says_disk_full_and_the_store_opens_intact_after(
    mounted_disk: Path, key_store: MemoryKeyring,
) -> None:
    small_disk = mounted_disk
    path = small_disk / "desk.db"
    store = create_store(path, PASSPHRASE, key_store, kdf=FAST_KDF)
    with store.write() as session:
        session.execute(text("CREATE TABLE notes (body TEXT)"))
        session.execute(text("INSERT INTO notes VALUES ('kept')"))
    _fill(small_disk)
    with pytest.raises(DiskFullError), store.write() as session:
        session.execute(text("INSERT INTO notes VALUES (:body)"), {"body": "x" * 2_000_000})
    store.close()
    (small_disk / "filler").unlink()
    reopened = open_store(path, keyring_backend=key_store)  # integrity check included
    with reopened.session() as session:
        assert session.execute(text("SELECT body FROM notes")).scalars().all() == ["kept"]
    reopened.close()


def test_a_read_only_drive_is_reported_as_read_only_not_as_damage(
    mounted_disk: Path, key_store: MemoryKeyring,
) -> None:
    small_disk = mounted_disk
    path = small_disk / "desk.db"
    create_store(path, PASSPHRASE, key_store, kdf=FAST_KDF).close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        store = open_store(path, keyring_backend=key_store)
    except StoreEnvironmentError as error:  # SQLite may refuse WAL on a read-only drive
        assert isinstance(error, ReadOnlyDriveError)
        return
    with pytest.raises(ReadOnlyDriveError) as caught, store.write() as session:
        session.execute(text("CREATE TABLE t (x)"))
    store.close()
    assert "read-only" in str(caught.value) and "damaged" not in str(caught.value)


def test_a_read_only_file_is_reported_as_read_only_not_as_damage(
    db_path: Path, key_store: MemoryKeyring,
) -> None:
    create_store(db_path, PASSPHRASE, key_store, kdf=FAST_KDF).close()
    store = open_store(db_path, keyring_backend=key_store)
    store.close()
    if os.geteuid() == 0:  # root writes anything but an immutable file
        made = subprocess.run(["chattr", "+i", str(db_path)], capture_output=True, check=False)
        if made.returncode != 0:
            _unavailable("chattr +i is not supported on this file system")
            return
        undo = ["chattr", "-i", str(db_path)]
    else:
        db_path.chmod(0o400)
        undo = ["chmod", "600", str(db_path)]
    try:
        try:
            store = open_store(db_path, keyring_backend=key_store)
        except StoreEnvironmentError as error:
            assert isinstance(error, ReadOnlyFileError)
            return
        with pytest.raises(ReadOnlyFileError) as caught, store.write() as session:
            session.execute(text("CREATE TABLE t (x)"))
        store.close()
        assert str(db_path) in str(caught.value)
    finally:
        subprocess.run(undo, check=True)


def test_environment_messages_are_translated_with_the_path_kept() -> None:
    error = DiskFullError(Path("/data/desk.db"))
    spanish = error.localized(translations("es").gettext)
    assert spanish != str(error) and "/data/desk.db" in spanish
    assert "damaged" not in str(error)


def test_a_deeply_nested_keyfile_is_a_clear_keyfile_error_not_a_recursion_error(
    store: Store,
) -> None:
    keyfile = keyfile_path_for(store.path)
    store.close()
    keyfile.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(KeyfileError) as caught:
        read_keyfile(keyfile)
    assert "damaged" in str(caught.value)


def test_a_huge_keyfile_is_refused_without_reading_it_all(store: Store) -> None:
    keyfile = keyfile_path_for(store.path)
    store.close()
    keyfile.write_text(json.dumps({"padding": "x" * 1_000_000}))
    with pytest.raises(KeyfileError):
        read_keyfile(keyfile)


def test_damage_is_reported_only_when_the_integrity_check_finds_it(
    store: Store, key_store: MemoryKeyring,
) -> None:
    with store.write() as session:
        session.execute(text("CREATE TABLE notes (body TEXT)"))
        session.execute(text("INSERT INTO notes VALUES (:b)"), {"b": "y" * 20_000})
    store.close()
    data = bytearray(store.path.read_bytes())
    data[4096 * 2 + 100] ^= 0xFF  # one byte inside page 3
    store.path.write_bytes(bytes(data))
    # A clean close: opening does not read every page (issue 21); the check says it.
    reopened = open_store(store.path, keyring_backend=key_store)
    try:
        with pytest.raises(CorruptStoreError):
            reopened.check_integrity()
    finally:
        reopened.close()


# --------------------------------------------------------------------------- file modes


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes; Windows relies on the profile ACL")
def test_the_store_its_keyfile_wal_and_backups_are_owner_only(
    db_path: Path, key_store: MemoryKeyring,
) -> None:
    old_umask = os.umask(0o022)  # the usual default: files would be 0644
    try:
        store = create_store(db_path, PASSPHRASE, key_store, kdf=FAST_KDF)
        with store.write() as session:
            session.execute(text("CREATE TABLE t (x)"))
        backup = backup_database(store.engine, db_path)
        files = [db_path, keyfile_path_for(db_path), backup, keyfile_path_for(backup),
                 *db_path.parent.glob("desk.db-*")]
        modes = {f.name: _mode(f) for f in files}
        store.close()
    finally:
        os.umask(old_umask)
    assert "desk.db-wal" in modes
    assert modes == {name: 0o600 for name in modes}
