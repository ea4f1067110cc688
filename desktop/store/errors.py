"""Why the desk store could not be opened, in plain words.

Each message says what happened and what to do next; none contains a key,
a passphrase or patient data.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from scheduling.refusals import N_

RECOVERY_STEPS = (
    "Do not delete the file. Keep a copy of it, export the changes that were not yet sent "
    "to the server (the outbox) if the file can still be read, then re-download this "
    "desk's data from the server."
)


class StoreError(Exception):
    """Base class: the encrypted desk store cannot be used."""


class StoreNotFoundError(StoreError):
    """There is no database file where the desk expected one."""


class StoreExistsError(StoreError):
    """Creating a store would overwrite an existing database or keyfile."""


class WrongKeyError(StoreError):
    """The key does not open this database file (the file was left untouched)."""


class WrongPassphraseError(StoreError):
    """The recovery passphrase does not unlock this desk's key (nothing was changed)."""


class KeyStoreEntryMissing(StoreError):
    """The OS key store has no key for this desk: ask for the recovery passphrase."""


class NoKeyStoreError(StoreError):
    """No usable OS key store and no recovery passphrase: the desk refuses to run unencrypted."""


class KeyfileError(StoreError):
    """The keyfile next to the database is missing or unreadable."""


class CorruptStoreError(StoreError):
    """The database file is damaged or truncated; the message carries the recovery path."""


class UnsupportedLocationError(StoreError):
    """The data folder is on a network share, which SQLite cannot lock safely."""


class MigrationFailed(StoreError):
    """Updating the store's schema failed; the original file was put back unchanged."""


# --------------------------------------------------------------------------- the environment
# Full disks, read-only files or drives and missing permissions are not damage: the file
# is intact and staff must not be told to re-download anything. Each gets its own message
# (marked for the catalogue; :meth:`StoreEnvironmentError.localized` translates it).


class StoreEnvironmentError(StoreError):
    """The store's file is fine, but the computer does not let the desk use it."""

    template = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(self.template.format(path=path, folder=path.parent))

    def localized(self, gettext: Callable[[str], str]) -> str:
        """The message in the desk's current language (``gettext`` is the desk's ``_``)."""
        return gettext(self.template).format(path=self.path, folder=self.path.parent)


class DiskFullError(StoreEnvironmentError):
    template = N_(
        "The disk that holds the desk's data is full ({path}). The last change was not "
        "saved, and nothing else was lost. Free some space on that disk (empty the recycle "
        "bin, remove large downloads) or ask your IT person, then try again.")


class ReadOnlyFileError(StoreEnvironmentError):
    template = N_(
        "The desk's data file {path} is read-only, so changes cannot be saved. The file "
        "itself is fine. Ask your IT person to make it writable for your account, then "
        "restart ClinicDesk.")


class ReadOnlyFolderError(StoreEnvironmentError):
    template = N_(
        "The folder {folder} that holds the desk's data does not allow changes, so the desk "
        "cannot save. The data is fine. Ask your IT person to give your account write "
        "permission to that folder, then restart ClinicDesk.")


class ReadOnlyDriveError(StoreEnvironmentError):
    template = N_(
        "The drive that holds the desk's data ({path}) is read-only (for example a locked "
        "USB drive or a network share mounted read-only). The data is fine. Ask your IT "
        "person to make the drive writable, then restart ClinicDesk.")


class StorePermissionError(StoreEnvironmentError):
    template = N_(
        "ClinicDesk is not allowed to use {path} (permission denied). The file itself is "
        "fine. Ask your IT person to give your account access to the file and its folder, "
        "then restart ClinicDesk.")


_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_DENIED = frozenset({errno.EACCES, errno.EPERM})


def environment_error(error: BaseException, path: Path) -> StoreEnvironmentError | None:
    """The environment problem behind ``error`` (an ``OSError``, an SQLite/SQLCipher
    error, or SQLAlchemy's wrapper of one) on the store file ``path``, or None."""
    original = getattr(error, "orig", None) or error
    if isinstance(original, OSError):
        if original.errno in _FULL:
            return DiskFullError(path)
        if original.errno == errno.EROFS:
            return ReadOnlyDriveError(path)
        if original.errno in _DENIED:
            return _not_writable(path) or StorePermissionError(path)
        return None
    message = str(original).lower()
    if "database or disk is full" in message:
        return DiskFullError(path)
    if "readonly database" in message or "read-only" in message:
        return _not_writable(path) or ReadOnlyFileError(path)
    if "unable to open database file" in message or "disk i/o error" in message:
        if _free_bytes(path) == 0:
            return DiskFullError(path)
        refused = _not_writable(path)
        if refused is None and "unable to open" in message and path.exists() and not (
                os.access(path, os.R_OK)):
            refused = StorePermissionError(path)
        return refused
    return None


def _not_writable(path: Path) -> StoreEnvironmentError | None:
    """Which of the drive, the file and its folder refuses writing (None: all allow it)."""
    folder = path.parent
    try:
        if os.name == "posix" and os.statvfs(folder).f_flag & os.ST_RDONLY:
            return ReadOnlyDriveError(path)
    except OSError:
        return StorePermissionError(path)
    if path.exists() and not os.access(path, os.W_OK):
        return ReadOnlyFileError(path)
    if not os.access(folder, os.W_OK):
        return ReadOnlyFolderError(path)
    return None


def _free_bytes(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return None
