"""The encrypted desk database: SQLAlchemy 2 on SQLCipher 4.

Every pooled connection is opened by :func:`open_connection`, which keys the
file before anything else, proves the key by reading ``sqlite_master`` and
only then runs the pragmas that may write (``journal_mode=WAL`` rewrites the
header). So a wrong key or a damaged file fails while the file is still
byte-for-byte as it was, and opening never creates a file that is not there.

The raw key is handed to SQLCipher as ``x'<hex>'`` (no passphrase KDF: the key
is already 256 random bits); it is never logged because it is executed on the
DB-API cursor, below SQLAlchemy's statement logging.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlcipher3.dbapi2 as sqlcipher
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from desktop.store import patient_names
from desktop.store.errors import (
    RECOVERY_STEPS,
    CorruptStoreError,
    StoreError,
    StoreExistsError,
    StoreNotFoundError,
    UnsupportedLocationError,
    WrongKeyError,
    environment_error,
)
from desktop.store.files import is_network_path

KEY_BYTES = 32
#: The mode of every file the desk creates (POSIX; Windows: the user profile's ACL).
OWNER_ONLY = 0o600
# SQLCipher 4's default page size; an encrypted file is always whole pages.
PAGE_SIZE = 4096
BUSY_TIMEOUT_SECONDS = 10.0
_BEGIN_OPTION = "clinicdesk_begin"
_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE"})


def _key_pragma(key: bytes) -> str:
    if len(key) != KEY_BYTES:
        raise ValueError("the database key must be 32 bytes")
    return f"PRAGMA key = \"x'{key.hex()}'\""


def _file_uri(path: Path, mode: str) -> str:
    if is_network_path(path.resolve()):
        raise UnsupportedLocationError(
            f"The desk's data folder {path.parent} is on a network share. ClinicDesk keeps its "
            "encrypted database on this computer's own disk: choose a local folder "
            "(CLINICDESK_DESK_DIR) and enroll the desk again."
        )
    # mode=rw never creates a file; as_uri() percent-encodes odd characters.
    return f"{path.resolve().as_uri()}?mode={mode}"


def open_connection(path: Path, key: bytes, *, create: bool = False) -> Any:
    """Open, key and verify one SQLCipher connection to ``path``.

    Raises :class:`StoreNotFoundError`, :class:`WrongKeyError` or
    :class:`CorruptStoreError`; in each case nothing has been written.
    """
    if not create and not path.exists():
        raise StoreNotFoundError(f"There is no desk database at {path}.")
    size = path.stat().st_size if path.exists() else 0
    if not create and (size < PAGE_SIZE or size % PAGE_SIZE):
        raise CorruptStoreError(
            f"The desk database {path} is damaged or truncated ({size} bytes is not a whole "
            f"number of pages). {RECOVERY_STEPS}"
        )
    try:
        connection = sqlcipher.connect(
            _file_uri(path, "rwc" if create else "rw"),
            uri=True,
            check_same_thread=False,  # the pool hands a connection to one thread at a time
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,  # transactions are begun explicitly, see _begin
        )
    except sqlcipher.Error as error:
        raise environment_error(error, path) or StoreNotFoundError(
            f"The desk database {path} cannot be opened: {error}") from error
    try:
        connection.execute(_key_pragma(key))
        # Pin SQLCipher 4's settings so a future library default cannot orphan the file.
        connection.execute("PRAGMA cipher_compatibility = 4")
        _verify_key(connection, path)
        connection.execute("PRAGMA journal_mode = WAL").fetchall()
        connection.execute("PRAGMA secure_delete = ON")
        connection.execute("PRAGMA temp_store = MEMORY")
        connection.execute("PRAGMA foreign_keys = ON")
    except sqlcipher.Error as error:
        connection.close()
        raise environment_error(error, path) or StoreError(
            f"The desk database {path} cannot be opened ({error}).") from error
    except BaseException:
        connection.close()
        raise
    return connection


def _verify_key(connection: Any, path: Path) -> None:
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlcipher.DatabaseError as error:
        message = str(error)
        environment = environment_error(error, path)
        if environment is not None:  # a full or read-only disk is not damage
            raise environment from error
        if "not a database" in message:
            raise WrongKeyError(
                f"The key does not open the desk database {path}: it was encrypted with a "
                "different key (for example a copy made before the key was changed), or its "
                "first page is damaged. The file was not changed."
            ) from error
        raise CorruptStoreError(
            f"The desk database {path} is damaged ({message}). {RECOVERY_STEPS}"
        ) from error


def check_integrity(path: Path, key: bytes) -> None:
    """Verify every page's HMAC (read-only); raise :class:`CorruptStoreError` on damage.

    Opening only proves page 1; this finds damage deeper in the file. It reads the whole
    file (0.3-0.4 s at 85 MiB), so it runs when the last session did not end cleanly
    (:func:`ended_cleanly`), on demand and in the background — never on every start.
    Only this check reports damage; a disk that is full or read-only raises its own
    :class:`StoreEnvironmentError`.
    """
    connection = open_connection(path, key)
    try:
        _raise_if_damaged(connection, path)
    finally:
        connection.close()


def _raise_if_damaged(connection: Any, path: Path) -> None:
    try:
        problems = connection.execute("PRAGMA cipher_integrity_check").fetchall()
    except sqlcipher.DatabaseError as error:
        environment = environment_error(error, path)
        if environment is not None:
            raise environment from error
        problems = [(str(error),)]
    if problems:
        raise CorruptStoreError(
            f"The desk database {path} is damaged ({len(problems)} damaged page(s)). "
            f"{RECOVERY_STEPS}"
        )


def in_use_marker(database_path: Path) -> Path:
    """The file that says a session has the store open (``desk.db`` → ``desk.db.in-use``).

    :meth:`Store.mark_in_use` writes it once the store is open and :meth:`Store.close`
    removes it; found at the next start, it means the desk crashed or was killed."""
    return database_path.with_name(database_path.name + ".in-use")


def ended_cleanly(database_path: Path) -> bool:
    """Whether the last session that opened the store closed it (see :func:`in_use_marker`)."""
    return not in_use_marker(database_path).exists()


def keyfile_path_for(database_path: Path) -> Path:
    """The keyfile that belongs to ``database_path`` (``desk.db`` → ``desk.db.keys.json``)."""
    return database_path.with_name(database_path.name + ".keys.json")


def create_database_file(path: Path, key: bytes) -> None:
    """Create a new, empty encrypted database file at ``path`` (must not exist)."""
    if path.exists():
        raise StoreExistsError(f"A desk database already exists at {path}; it was left as it is.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner only (0600) from the first byte; SQLite gives -wal/-shm the same mode.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY))
    except OSError as error:
        raise environment_error(error, path) or StoreError(
            f"The desk database {path} cannot be created ({error}).") from error
    connection = open_connection(path, key, create=True)
    connection.close()  # journal_mode=WAL has written the encrypted first page


def make_engine(path: Path, key: bytes) -> Engine:
    """A SQLAlchemy engine whose every connection comes from :func:`open_connection`."""
    return engine_with(lambda: open_connection(path, key))


def engine_with(creator: Callable[[], Any]) -> Engine:
    """The desk's engine over connections from ``creator`` (its pool and transaction
    discipline); :func:`make_engine` is the only production caller. ``bench/desk_store.py``
    passes unkeyed connections to measure what encryption alone costs."""
    # QueuePool (SQLAlchemy's choice for file databases): keyed connections are reused, so
    # the cipher context and page cache survive between units of work; check_same_thread
    # is off because the pool lends each connection to one thread at a time (UI, sync).
    engine = create_engine(
        "sqlite://",
        module=sqlcipher,  # exceptions are sqlcipher3's, so SQLAlchemy must wrap those
        creator=creator,
        hide_parameters=True,  # bound values (patient data) never reach a log or an error
        poolclass=QueuePool,
        pool_size=4,
        max_overflow=4,
    )

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # The driver is in autocommit mode; we begin ourselves so reads are inside the
        # transaction too. Write units of work ask for IMMEDIATE to take the write lock
        # up front (no SQLITE_BUSY_SNAPSHOT half-way through, gap-free outbox ids).
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        if mode not in _BEGIN_MODES:
            raise ValueError(f"unknown transaction mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


@dataclass
class Store:
    """An open desk store: its files, its id and its engine. Close it when done."""

    path: Path
    keyfile_path: Path
    store_id: str
    engine: Engine
    _read: sessionmaker[Session] = field(init=False, repr=False)
    _write: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._bind()

    def _bind(self) -> None:
        self._read = sessionmaker(self.engine)
        self._write = sessionmaker(self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"}))
        patient_names.watch(self._read)
        patient_names.watch(self._write)

    def replace_engine(self, engine: Engine) -> None:
        """Swap in a new engine (after a key change); the old one must be disposed."""
        self.engine = engine
        self._bind()

    def session(self) -> Session:
        """A session for reading (deferred transaction)."""
        return self._read()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write unit of work: ``BEGIN IMMEDIATE``, commit on success, roll back on error.

        A full disk or a read-only/forbidden file raises its :class:`StoreEnvironmentError`
        (the change was rolled back; the file is intact).
        """
        try:
            with self._write.begin() as session:
                yield session
        except DBAPIError as error:
            environment = environment_error(error, self.path)
            if environment is None:
                raise
            raise environment from error

    def check_integrity(self) -> None:
        """Verify every page (see :func:`check_integrity`); safe from any thread, while
        the desk works (a read transaction of its own)."""
        with self.engine.connect() as connection:
            _raise_if_damaged(connection.connection.dbapi_connection, self.path)

    def mark_in_use(self) -> None:
        """Note that a session has the store open (removed again by :meth:`close`)."""
        in_use_marker(self.path).touch()

    def close(self) -> None:
        self.engine.dispose()
        in_use_marker(self.path).unlink(missing_ok=True)
