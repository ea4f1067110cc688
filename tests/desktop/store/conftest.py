"""Fixtures for the desk store: real SQLCipher files in tmp_path, an in-memory key store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend

from desktop.store.engine import Store
from desktop.store.keys import Argon2Params, create_store

PASSPHRASE = "correct horse battery staple"
# Cheap Argon2id so the suite stays fast; production uses Argon2Params() defaults.
FAST_KDF = Argon2Params(time_cost=1, memory_cost_kib=8, parallelism=1)


class MemoryKeyring(KeyringBackend):
    """An explicit, process-local key store; tests never touch the OS one."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def key_store() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "desk" / "desk.db"


@pytest.fixture
def store(db_path: Path, key_store: MemoryKeyring) -> Iterator[Store]:
    opened = create_store(db_path, PASSPHRASE, key_store, kdf=FAST_KDF)
    yield opened
    opened.close()
