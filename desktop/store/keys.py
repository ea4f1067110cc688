"""The desk database key: 256 random bits, never stored in the clear.

The key is wrapped twice with AES-256-GCM (random 96-bit nonce, associated
data naming the store and the slot) and the wrapped copies live in a small
JSON *keyfile* next to the database:

* the **key-store slot**, wrapped by a 256-bit key-encryption key kept in the
  OS key store (``keyring``: service ``ClinicDesk``, username = store id);
* the **recovery slot**, wrapped by a key derived with Argon2id from the
  administrator's recovery passphrase (salt and cost parameters in the keyfile).

Opening uses the key store; if its entry is missing the desk must ask for the
recovery passphrase, and after a successful passphrase opening the key store
entry is restored. There is no plaintext fallback anywhere.

A key change (:func:`rekey`) first writes the new key's wrapped copies to the
keyfile as the *next* slots, then re-encrypts the database, then promotes them.
If the desk dies in between, :func:`open_store` tries the current and the next
key and finishes (or forgets) the change, so a crash never strands the data.

Public API::

    create_store(path, recovery_passphrase, keyring_backend=None, *, kdf=Argon2Params()) -> Store
    open_store(path, *, recovery_passphrase=None, keyring_backend=None) -> Store
    rekey(store, recovery_passphrase, *, new_recovery_passphrase=None,
          keyring_backend=None, kdf=None) -> None
    keyfile_path_for(database_path) -> Path
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keyring
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringError

from desktop.store import migrate
from desktop.store.engine import (
    KEY_BYTES,
    OWNER_ONLY,
    Store,
    check_integrity,
    create_database_file,
    ended_cleanly,
    keyfile_path_for,
    make_engine,
    open_connection,
)
from desktop.store.errors import (
    KeyfileError,
    KeyStoreEntryMissing,
    NoKeyStoreError,
    StoreError,
    StoreExistsError,
    StoreNotFoundError,
    WrongKeyError,
    WrongPassphraseError,
    environment_error,
)
from desktop.store.files import replace_file

KEYRING_SERVICE = "ClinicDesk"
KEYFILE_FORMAT = 1
#: A keyfile holds two sets of wrapped keys: a few KiB. Anything far larger is not one.
MAX_KEYFILE_BYTES = 64 * 1024
NONCE_BYTES = 12
SALT_BYTES = 16
MIN_PASSPHRASE_LENGTH = 10
_SLOT_KEY_STORE = "key-store"
_SLOT_RECOVERY = "recovery"


# --------------------------------------------------------------------------- keyfile model


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """Argon2id cost. The defaults take a fraction of a second on a reception PC."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 2

    def derive(self, passphrase: str, salt: bytes) -> bytes:
        secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
        return hash_secret_raw(
            secret,
            salt,
            time_cost=self.time_cost,
            memory_cost=self.memory_cost_kib,
            parallelism=self.parallelism,
            hash_len=KEY_BYTES,
            type=Type.ID,
        )


@dataclass(frozen=True, slots=True)
class WrappedKey:
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class RecoverySlot:
    salt: bytes
    kdf: Argon2Params
    wrapped: WrappedKey


@dataclass(frozen=True, slots=True)
class KeySlots:
    """One database key, wrapped for the key store (if there was one) and for recovery."""

    key_store: WrappedKey | None
    recovery: RecoverySlot


@dataclass(frozen=True, slots=True)
class DeskKeys:
    """The keyfile's content: the store id and the wrapped copies of its key."""

    store_id: str
    current: KeySlots
    next: KeySlots | None = None  # only between the two steps of a key change

    def to_json(self) -> str:
        payload: dict[str, Any] = {
            "format": KEYFILE_FORMAT,
            "store_id": self.store_id,
            "cipher": "AES-256-GCM",
            "kdf": "argon2id",
            "current": _slots_to_dict(self.current),
        }
        if self.next is not None:
            payload["next"] = _slots_to_dict(self.next)
        return json.dumps(payload, indent=2)

    @classmethod
    def from_json(cls, text: str) -> DeskKeys:
        data = json.loads(text)
        if data.get("format") != KEYFILE_FORMAT:
            raise ValueError(f"unsupported keyfile format {data.get('format')!r}")
        return cls(
            store_id=str(data["store_id"]),
            current=_slots_from_dict(data["current"]),
            next=_slots_from_dict(data["next"]) if data.get("next") else None,
        )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _wrapped_to_dict(wrapped: WrappedKey) -> dict[str, str]:
    return {"nonce": _b64(wrapped.nonce), "ciphertext": _b64(wrapped.ciphertext)}


def _wrapped_from_dict(data: dict[str, str]) -> WrappedKey:
    return WrappedKey(nonce=_unb64(data["nonce"]), ciphertext=_unb64(data["ciphertext"]))


def _slots_to_dict(slots: KeySlots) -> dict[str, Any]:
    recovery = slots.recovery
    return {
        "key_store": _wrapped_to_dict(slots.key_store) if slots.key_store else None,
        "recovery": {
            "salt": _b64(recovery.salt),
            "time_cost": recovery.kdf.time_cost,
            "memory_cost_kib": recovery.kdf.memory_cost_kib,
            "parallelism": recovery.kdf.parallelism,
            **_wrapped_to_dict(recovery.wrapped),
        },
    }


def _slots_from_dict(data: dict[str, Any]) -> KeySlots:
    recovery = data["recovery"]
    return KeySlots(
        key_store=_wrapped_from_dict(data["key_store"]) if data.get("key_store") else None,
        recovery=RecoverySlot(
            salt=_unb64(recovery["salt"]),
            kdf=Argon2Params(
                time_cost=int(recovery["time_cost"]),
                memory_cost_kib=int(recovery["memory_cost_kib"]),
                parallelism=int(recovery["parallelism"]),
            ),
            wrapped=_wrapped_from_dict(recovery),
        ),
    )


def read_keyfile(path: Path) -> DeskKeys:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_KEYFILE_BYTES + 1)
    except FileNotFoundError as error:
        raise KeyfileError(
            f"The keyfile {path} is missing, so the desk database cannot be unlocked. Restore it "
            "from a backup (it is copied next to every database backup), or re-download this "
            "desk's data from the server."
        ) from error
    except OSError as error:
        raise environment_error(error, path) or KeyfileError(
            f"The keyfile {path} cannot be read: {error}") from error
    try:
        if len(raw) > MAX_KEYFILE_BYTES:
            raise ValueError("far larger than a keyfile")
        return DeskKeys.from_json(raw.decode("utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error,
            RecursionError) as error:
        # RecursionError: JSON nested thousands deep is not a keyfile either.
        raise KeyfileError(
            f"The keyfile {path} is damaged ({type(error).__name__}). Restore it from a "
            "backup, or re-download this desk's data from the server."
        ) from None


def write_keyfile(path: Path, keys: DeskKeys) -> None:
    """Replace the keyfile atomically: write a temporary file (0600), flush it, rename.

    On any failure the temporary file is removed and the old keyfile stays as it was;
    a full or read-only disk raises its :class:`StoreEnvironmentError`.
    """
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.unlink(missing_ok=True)  # a leftover would keep its old mode
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(keys.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        replace_file(temporary, path)
        _fsync_directory(path.parent)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        environment = environment_error(error, path) if isinstance(error, OSError) else None
        if environment is None:
            raise
        raise environment from error


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":  # Windows cannot open a directory for fsync; MoveFileEx is durable
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --------------------------------------------------------------------------- wrapping


def _associated_data(store_id: str, slot: str) -> bytes:
    # Binds a wrapped key to its store and slot: a blob copied elsewhere will not unwrap.
    return f"clinicdesk desk key v1|{store_id}|{slot}".encode()


def _wrap(key: bytes, wrapping_key: bytes, store_id: str, slot: str) -> WrappedKey:
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(wrapping_key).encrypt(nonce, key, _associated_data(store_id, slot))
    return WrappedKey(nonce=nonce, ciphertext=ciphertext)


def _unwrap(wrapped: WrappedKey, wrapping_key: bytes, store_id: str, slot: str) -> bytes:
    """Raises :class:`cryptography.exceptions.InvalidTag` for a wrong wrapping key."""
    return AESGCM(wrapping_key).decrypt(
        wrapped.nonce, wrapped.ciphertext, _associated_data(store_id, slot)
    )


def _wrap_slots(
    key: bytes, store_id: str, kek: bytes | None, passphrase: str, kdf: Argon2Params
) -> KeySlots:
    salt = secrets.token_bytes(SALT_BYTES)
    return KeySlots(
        key_store=_wrap(key, kek, store_id, _SLOT_KEY_STORE) if kek else None,
        recovery=RecoverySlot(
            salt=salt,
            kdf=kdf,
            wrapped=_wrap(key, kdf.derive(passphrase, salt), store_id, _SLOT_RECOVERY),
        ),
    )


def _unwrap_recovery(slots: KeySlots, store_id: str, passphrase: str) -> bytes:
    recovery = slots.recovery
    derived = recovery.kdf.derive(passphrase, recovery.salt)
    return _unwrap(recovery.wrapped, derived, store_id, _SLOT_RECOVERY)


# --------------------------------------------------------------------------- OS key store


def usable_key_store(backend: KeyringBackend | None = None) -> KeyringBackend | None:
    """``backend`` (or the OS default) if it can really keep a secret, else None."""
    candidate = backend if backend is not None else keyring.get_keyring()
    if isinstance(candidate, fail.Keyring | null.Keyring):
        return None
    if isinstance(candidate, chainer.ChainerBackend) and not candidate.backends:
        return None
    return candidate


def _no_key_store_error() -> NoKeyStoreError:
    return NoKeyStoreError(
        "This computer has no usable secure key store (such as Windows Credential Manager "
        "or the macOS Keychain), so ClinicDesk cannot keep its database key safely. Set one "
        "up, or have an administrator unlock the desk with the recovery passphrase."
    )


def _read_kek(key_store: KeyringBackend, store_id: str) -> bytes | None:
    try:
        stored = key_store.get_password(KEYRING_SERVICE, store_id)
    except KeyringError as error:
        raise KeyStoreEntryMissing(
            f"This computer's key store could not be read ({error}). Unlock it (for example "
            "by signing in to the computer again), or ask an administrator to unlock the desk "
            "with the recovery passphrase."
        ) from error
    if not stored:
        return None
    try:
        kek = _unb64(stored)
    except (ValueError, binascii.Error):
        return None
    return kek if len(kek) == KEY_BYTES else None


def _new_kek(key_store: KeyringBackend, store_id: str) -> bytes:
    kek = secrets.token_bytes(KEY_BYTES)
    key_store.set_password(KEYRING_SERVICE, store_id, _b64(kek))
    return kek


# --------------------------------------------------------------------------- create / open / rekey


def _check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ValueError(
            f"The recovery passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters."
        )


def create_store(
    path: Path,
    recovery_passphrase: str,
    keyring_backend: KeyringBackend | None = None,
    *,
    kdf: Argon2Params | None = None,
) -> Store:
    """Create a new encrypted store at ``path`` with a fresh key, its keyfile and its schema.

    Needs a usable OS key store (else :class:`NoKeyStoreError`); refuses to
    overwrite an existing database or keyfile (:class:`StoreExistsError`).
    """
    _check_passphrase(recovery_passphrase)
    key_store = usable_key_store(keyring_backend)
    if key_store is None:
        raise _no_key_store_error()
    keyfile = keyfile_path_for(path)
    if path.exists() or keyfile.exists():
        raise StoreExistsError(
            f"A desk database or keyfile already exists at {path}; it was left as it is."
        )
    store_id = str(uuid.uuid4())
    key = secrets.token_bytes(KEY_BYTES)
    kek = _new_kek(key_store, store_id)
    slots = _wrap_slots(key, store_id, kek, recovery_passphrase, kdf or Argon2Params())
    engine = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_keyfile(keyfile, DeskKeys(store_id=store_id, current=slots))
        create_database_file(path, key)
        engine = make_engine(path, key)
        migrate.upgrade(engine, path)
    except BaseException as error:
        # A half-made store holds nothing yet: remove it so creation can simply be retried.
        if engine is not None:
            engine.dispose()
        for leftover in (path, keyfile, *(path.with_name(path.name + s)
                                          for s in ("-wal", "-shm", "-journal"))):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
        with contextlib.suppress(KeyringError):
            key_store.delete_password(KEYRING_SERVICE, store_id)
        if isinstance(error, StoreError):
            raise
        environment = environment_error(error, path)
        if environment is None:
            raise
        raise environment from error
    store = Store(path=path, keyfile_path=keyfile, store_id=store_id, engine=engine)
    store.mark_in_use()
    return store


def open_store(
    path: Path,
    *,
    recovery_passphrase: str | None = None,
    keyring_backend: KeyringBackend | None = None,
    run_migrations: bool = True,
) -> Store:
    """Open an existing store with the OS key store, or with the recovery passphrase.

    Raises :class:`StoreNotFoundError`, :class:`KeyfileError`, :class:`NoKeyStoreError`,
    :class:`KeyStoreEntryMissing`, :class:`WrongPassphraseError`, :class:`WrongKeyError`
    or :class:`CorruptStoreError`. Except for finishing an interrupted key change
    and restoring the key store entry, opening changes nothing on a failure path.
    Pending migrations run (after a backup) unless ``run_migrations`` is False.
    """
    if not path.exists():
        raise StoreNotFoundError(f"There is no desk database at {path}.")
    keyfile = keyfile_path_for(path)
    keys = read_keyfile(keyfile)
    key_store = usable_key_store(keyring_backend)
    if recovery_passphrase is not None:
        candidates = _candidates_by_passphrase(keys, recovery_passphrase)
    elif key_store is None:
        raise _no_key_store_error()
    else:
        candidates = _candidates_by_key_store(keys, key_store)

    key, slots = _first_key_that_opens(path, candidates)
    if not ended_cleanly(path):
        check_integrity(path, key)  # the last session crashed: look at every page first
    if keys.next is not None:
        # Finish (or forget) a key change that was interrupted.
        keys = DeskKeys(store_id=keys.store_id, current=slots)
        write_keyfile(keyfile, keys)
    if recovery_passphrase is not None and key_store is not None:
        # Best effort: the passphrase worked, so the desk opens; next start asks again.
        with contextlib.suppress(KeyringError, KeyStoreEntryMissing):
            _restore_key_store_entry(keyfile, keys, key, key_store)

    if run_migrations:
        migrate.upgrade_file(path, key)
    store = Store(
        path=path, keyfile_path=keyfile, store_id=keys.store_id, engine=make_engine(path, key)
    )
    store.mark_in_use()
    return store


def _candidates_by_passphrase(keys: DeskKeys, passphrase: str) -> list[tuple[bytes, KeySlots]]:
    found = []
    for slots in (keys.current, keys.next):
        if slots is None:
            continue
        try:
            found.append((_unwrap_recovery(slots, keys.store_id, passphrase), slots))
        except InvalidTag:
            continue
    if not found:
        raise WrongPassphraseError(
            "The recovery passphrase is not correct for this desk. Nothing was changed; "
            "check it with the administrator who set it and try again."
        )
    return found


def _candidates_by_key_store(
    keys: DeskKeys, key_store: KeyringBackend
) -> list[tuple[bytes, KeySlots]]:
    kek = _read_kek(key_store, keys.store_id)
    if kek is None:
        raise KeyStoreEntryMissing(
            "This computer's key store has no key for this desk (it may have been cleared or "
            "the desk moved to another computer). Ask an administrator to unlock the desk "
            "with the recovery passphrase."
        )
    found = []
    for slots in (keys.current, keys.next):
        if slots is None or slots.key_store is None:
            continue
        try:
            found.append((_unwrap(slots.key_store, kek, keys.store_id, _SLOT_KEY_STORE), slots))
        except InvalidTag:
            continue
    if not found:
        raise WrongKeyError(
            "The key in this computer's key store does not unlock this desk's database. "
            "Nothing was changed; ask an administrator to unlock the desk with the recovery "
            "passphrase."
        )
    return found


def _first_key_that_opens(
    path: Path, candidates: list[tuple[bytes, KeySlots]]
) -> tuple[bytes, KeySlots]:
    first_error: StoreError | None = None
    for key, slots in candidates:
        try:
            open_connection(path, key).close()
        except WrongKeyError as error:
            first_error = first_error or error
            continue
        return key, slots
    assert first_error is not None
    raise first_error


def _restore_key_store_entry(
    keyfile: Path, keys: DeskKeys, key: bytes, key_store: KeyringBackend
) -> None:
    kek = _read_kek(key_store, keys.store_id)
    current = keys.current
    if kek is not None and current.key_store is not None:
        try:
            _unwrap(current.key_store, kek, keys.store_id, _SLOT_KEY_STORE)
            return  # the entry is there and right
        except InvalidTag:
            pass
    kek = _new_kek(key_store, keys.store_id)
    wrapped = _wrap(key, kek, keys.store_id, _SLOT_KEY_STORE)
    write_keyfile(keyfile, replace(keys, current=replace(current, key_store=wrapped)))


def rekey(
    store: Store,
    recovery_passphrase: str,
    *,
    new_recovery_passphrase: str | None = None,
    keyring_backend: KeyringBackend | None = None,
    kdf: Argon2Params | None = None,
) -> None:
    """Re-encrypt the database under a fresh random key and re-wrap both copies.

    The current recovery passphrase is required: it proves an administrator is
    present and is needed to re-wrap the recovery copy (pass
    ``new_recovery_passphrase`` to change it at the same time). All sessions must
    be closed. Database backups made before the change stay under the old key
    (their keyfile copies still open them).
    """
    if new_recovery_passphrase is not None:
        _check_passphrase(new_recovery_passphrase)
    keys = read_keyfile(store.keyfile_path)
    old_key = _unwrap_current_recovery(keys, recovery_passphrase)
    if store.engine.pool.checkedout():  # type: ignore[attr-defined]
        raise StoreError("Close every open session before changing the database key.")

    key_store = usable_key_store(keyring_backend)
    kek: bytes | None = None
    if key_store is not None:
        kek = _read_kek(key_store, keys.store_id) or _new_kek(key_store, keys.store_id)
    new_key = secrets.token_bytes(KEY_BYTES)
    next_slots = _wrap_slots(
        new_key,
        keys.store_id,
        kek,
        new_recovery_passphrase or recovery_passphrase,
        kdf or keys.current.recovery.kdf,
    )
    write_keyfile(store.keyfile_path, replace(keys, next=next_slots))

    store.engine.dispose()
    connection = open_connection(store.path, old_key)
    try:
        connection.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"").fetchall()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        connection.close()

    write_keyfile(store.keyfile_path, DeskKeys(store_id=keys.store_id, current=next_slots))
    store.replace_engine(make_engine(store.path, new_key))


def _unwrap_current_recovery(keys: DeskKeys, passphrase: str) -> bytes:
    try:
        return _unwrap_recovery(keys.current, keys.store_id, passphrase)
    except InvalidTag as error:
        raise WrongPassphraseError(
            "The recovery passphrase is not correct for this desk; the key was not changed."
        ) from error
