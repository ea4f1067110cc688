"""Why the desk store could not be opened, in plain words.

Each message says what happened and what to do next; none contains a key,
a passphrase or patient data.
"""

from __future__ import annotations

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
