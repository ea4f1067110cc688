"""Fixtures for the sync client: a real sync server (uvicorn on a loopback port, SQLite)
and desks whose stores fill up from it.

One server runs per test module (the end-to-end suite's fixtures, imported); each test
gets its own freshly seeded organization on it (:func:`tests.e2e.server_side.seed_clinic`),
so tests never see each other's data. Desk stores are real SQLCipher files; the desk
user signs in against the real server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from desktop.config import DeskConfig
from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.services.session import SessionSettings, SignInService
from desktop.store.keys import create_store
from desktop.sync.client import RetryPolicy, SyncClient
from tests.desktop.services.conftest import FAST_HASHER
from tests.desktop.store.conftest import FAST_KDF, PASSPHRASE, MemoryKeyring
from tests.e2e.conftest import (  # noqa: F401 - fixtures shared with the end-to-end suite
    clinic,
    db,
    server,
    server_settings,
)
from tests.e2e.server_side import PASSWORD, Clinic, ServerThread
from tests.sync_server.conftest import sqlite_database_url  # noqa: F401 - a fixture

NO_WAIT = RetryPolicy(attempts=3, base_seconds=0.0, cap_seconds=0.0)


@pytest.fixture(scope="module")
def database_url(sqlite_database_url: str) -> str:  # noqa: F811 - the imported fixture
    """The client tests run over SQLite; the end-to-end suite covers PostgreSQL too."""
    return sqlite_database_url


class Traffic:
    """Every answer a desk's ``requests`` session received: (method, path, request JSON)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def hook(self, response: requests.Response, *_args: object, **_kwargs: object) -> None:
        request = response.request
        path = (request.path_url or "").split("?", 1)[0]
        body = request.body
        if isinstance(body, bytes) and body.startswith(b"{"):
            parsed: Any = json.loads(body)
        else:
            parsed = None
        self.calls.append((request.method or "", path, parsed))

    def count(self, path: str) -> int:
        return sum(1 for _m, p, _b in self.calls if p == path)

    def pushed_ids(self) -> list[list[int]]:
        return [[m["id"] for m in body["mutations"]] for _m, p, body in self.calls
                if p == "/api/v1/sync/push" and body is not None]


class Desk:
    """One desk: its SQLCipher store, key store, sync client and traffic log."""

    def __init__(self, directory: Path, seeded: Clinic, **client_options: Any) -> None:
        self.directory = directory
        self.clinic = seeded
        self.key_store = MemoryKeyring()
        self.store = create_store(directory / "desk.db", PASSPHRASE,
                                  keyring_backend=self.key_store, kdf=FAST_KDF)
        self.traffic = Traffic()
        self.sleeps: list[float] = []
        self.client = self.new_client(**client_options)
        self._ctx: DeskContext | None = None

    def new_client(self, config: DeskConfig | None = None, **options: Any) -> SyncClient:
        session = requests.Session()
        session.hooks["response"].append(self.traffic.hook)
        defaults: dict[str, Any] = {"retry": NO_WAIT, "sleep": self.sleeps.append,
                                    "keyring_backend": self.key_store}
        return SyncClient(self.store, config or DeskConfig(data_dir=self.directory), session,
                          **(defaults | options))

    def enroll(self, running: ServerThread, code: str,
               progress: Callable[[int, int], None] | None = None) -> str:
        return self.client.enroll(running.url, code, progress)

    @property
    def ctx(self) -> DeskContext:
        """The clinic's receptionist, signed in against the real server once."""
        if self._ctx is None:
            self._ctx = self.sign_in(self.clinic.user_email)
        return self._ctx

    def sign_in(self, email: str) -> DeskContext:
        """``email`` (password :data:`PASSWORD`) signed in online on this desk."""
        clock = lambda: datetime.now(UTC)  # noqa: E731 - the server judges in real time
        sessions = SignInService(self.store, clock, SessionSettings(), hasher=FAST_HASHER,
                                 device_id=self.directory.name)
        signed = sessions.sign_in_online(
            email, PASSWORD, None,
            lambda e, p, t: self.client.check_credentials(self.clinic.org_slug, e, p, t))
        assert signed.ok, signed.failure
        return DeskContext(self.store, sessions, clock)

    def book(self, slot: int, patient: int = 0, appointment_id: str | None = None) -> str:
        """Book the clinic's ``slot``-th free slot locally (pending); returns the id."""
        provider, start = self.clinic.slot(slot)
        result = booking.book(self.ctx, clinic_id=self.clinic.clinic_id,
                              patient_id=self.clinic.patient_ids[patient],
                              appointment_type_id=self.clinic.type_id, provider_id=provider,
                              start=start, appointment_id=appointment_id)
        assert result.ok, result.refusal
        return result.appointments[0].id

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def make_desk(tmp_path: Path, clinic: Clinic) -> Iterator[Callable[..., Desk]]:  # noqa: F811
    made: list[Desk] = []

    def make(name: str = "a", **client_options: Any) -> Desk:
        desk = Desk(tmp_path / name, clinic, **client_options)
        made.append(desk)
        return desk

    yield make
    for desk in made:
        desk.close()


@pytest.fixture
def desk(make_desk: Callable[..., Desk], server: ServerThread, clinic: Clinic) -> Desk:  # noqa: F811
    """An enrolled desk (the clinic's first code), small push batches and pull pages."""
    made = make_desk("a", push_batch=3, pull_limit=4)
    made.enroll(server, clinic.codes[0])
    return made


@pytest.fixture
def other_desk(make_desk: Callable[..., Desk], server: ServerThread,  # noqa: F811
               clinic: Clinic) -> Desk:  # noqa: F811
    """A second enrolled desk of the same clinic (the second code)."""
    made = make_desk("b")
    made.enroll(server, clinic.codes[1])
    return made
