"""``clinicdesk demo``: an embedded sync server with the demo organization and enrolled desks.

The server runs as its own process (``python -m sync_server.cli``, or
``<bundle> --sync-server`` inside a desk bundle) on a loopback port with an
SQLite database in a temporary folder, so the desk never imports server code.
What the server child prints goes to ``server.log`` in that folder and is
quoted when it fails. Migrating, seeding, enrolling and the first download
take seconds, so the first demo of the day (per version) keeps a snapshot of
the prepared folder in the user cache folder (``CLINICDESK_DEMO_CACHE``
overrides it); a demo started later that day copies it, starts the server,
points the desks at its port and signs them in.

Each desk gets its own encrypted store in that folder, enrolled with a
one-time code from ``seed-demo`` and signed in as the demo receptionist. The
desks' key store is a file in the demo folder: acceptable for throw-away demo
data, never for a real desk (which refuses to run without the OS key store).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from keyring.backend import KeyringBackend

from desktop.config import DeskConfig, save_config, with_server_url
from desktop.demo_server import (
    BUNDLE_SERVER_FLAG,
    DEMO_CACHE_ENV,
    READY_MARK,
    DemoServerError,
    ServerLaunch,
    demo_cache_dir,
    launch,
    server_command,
    wait_for,
)
from desktop.services.context import DeskContext
from desktop.services.session import SessionSettings, SignInService
from desktop.store.engine import Store
from desktop.store.keys import Argon2Params, create_store, open_store
from desktop.sync.client import SyncClient

DEMO_PASSWORD = "demo-password-2026"
RECEPTIONIST = "reception@demo.clinicdesk.example"
RECOVERY_PASSPHRASE = "demo recovery passphrase"
# The light half (launching the server child) lives in desktop.demo_server; re-exported.
__all__ = ["BUNDLE_SERVER_FLAG", "DEMO_CACHE_ENV", "DemoServerError", "connect",
           "demo_cache_dir", "launch", "server_command", "start"]

#: Throw-away demo stores use a light key derivation (a real desk keeps the default).
DEMO_KDF = Argon2Params(time_cost=1, memory_cost_kib=8 * 1024, parallelism=1)
#: A demo is looked at, not guarded: the idle lock waits a working day, not 5 minutes.
DEMO_IDLE_LOCK = timedelta(hours=8)


class DemoKeyring(KeyringBackend):
    """A key store in a JSON file of the demo folder (demo data only)."""

    priority = 1

    def __init__(self, path: Path) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.path = path

    def _entries(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}|{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._entries()
        entries[f"{service}|{username}"] = password
        self.path.write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        entries.pop(f"{service}|{username}", None)
        self.path.write_text(json.dumps(entries))


@dataclass
class DemoDesk:
    name: str
    store: Store
    context: DeskContext
    client: SyncClient


@dataclass
class DemoEnvironment:
    folder: Path
    server_url: str
    server: subprocess.Popen[bytes]
    desks: list[DemoDesk] = field(default_factory=list)

    def close(self) -> None:
        for desk in self.desks:
            desk.store.close()
        self.server.terminate()
        try:
            self.server.wait(10)
        except subprocess.TimeoutExpired:
            self.server.kill()


def start(folder: Path, desks: int = 1, progress: Callable[[str], None] = print,
          ) -> DemoEnvironment:
    """Start the server, seed the demo, enroll ``desks`` desks and sign each in."""
    return connect(launch(folder, desks, progress), progress)


def connect(launched: ServerLaunch, progress: Callable[[str], None] = print,
            ) -> DemoEnvironment:
    """Wait for the launched server, then enroll (or reopen) the desks and sign each in.

    The first demo of the day (per version and number of desks) enrolls and keeps a
    snapshot of the result; later ones reopen the copied desks, pointed at this port.
    """
    environment = DemoEnvironment(launched.folder, launched.url, launched.process)
    try:
        wait_for(launched)
        for index in range(launched.desks):
            desk_folder = launched.folder / f"desk-{index + 1}"
            if launched.prepared:
                environment.desks.append(_reopened_desk(desk_folder, launched.url))
            else:
                progress(f"Enrolling demo desk {index + 1} and downloading the calendar …")
                environment.desks.append(
                    _desk(desk_folder, launched.url, launched.codes[index]))
        if not launched.prepared:
            _keep_snapshot(environment, launched.snapshot)
    except BaseException:
        environment.close()
        raise
    return environment


_DESK_FILES = ("desk.db", "desk.db.keys.json", "desk.json", "demo-keyring.json")


def _keep_snapshot(environment: DemoEnvironment, snapshot: Path) -> None:
    """Copy the freshly enrolled demo (server database, desk stores, key files) to ``snapshot``.

    Runs before any window or sync worker exists, so nothing writes meanwhile; the server
    database is copied with SQLite's online backup all the same.
    """
    partial = snapshot.with_name(f"{snapshot.name}.{os.getpid()}.partial")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        source = sqlite3.connect(environment.folder / "server.db")
        copy = sqlite3.connect(partial / "server.db")
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        for desk in environment.desks:
            raw = desk.store.engine.raw_connection()
            try:
                driver = raw.driver_connection
                assert driver is not None
                driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                (partial / desk.name).mkdir()
                for name in _DESK_FILES:
                    shutil.copyfile(environment.folder / desk.name / name,
                                    partial / desk.name / name)
            finally:
                raw.close()
        (partial / READY_MARK).write_text("ok", encoding="utf-8")
        os.replace(partial, snapshot)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)  # no cache: the next demo prepares again


def _desk(folder: Path, url: str, code: str) -> DemoDesk:
    folder.mkdir(parents=True, exist_ok=True)
    keyring = DemoKeyring(folder / "demo-keyring.json")
    store = create_store(folder / "desk.db", RECOVERY_PASSPHRASE, keyring_backend=keyring,
                         kdf=DEMO_KDF)
    config = DeskConfig(data_dir=folder)
    client = SyncClient(store, config, requests.Session(), keyring_backend=keyring)
    client.enroll(url, code, name=folder.name)
    return _signed_in(folder.name, store, client)


def _reopened_desk(folder: Path, url: str) -> DemoDesk:
    """A desk of the prepared snapshot, pointed at this demo's server port."""
    keyring = DemoKeyring(folder / "demo-keyring.json")
    store = open_store(folder / "desk.db", keyring_backend=keyring)
    config = with_server_url(DeskConfig(data_dir=folder), url)
    save_config(config)
    client = SyncClient(store, config, requests.Session(), keyring_backend=keyring)
    return _signed_in(folder.name, store, client)


def _signed_in(name: str, store: Store, client: SyncClient) -> DemoDesk:
    clock = lambda: datetime.now(UTC)  # noqa: E731 - the desk's wall clock
    sessions = SignInService(store, clock, SessionSettings(idle_lock_after=DEMO_IDLE_LOCK))
    result = sessions.sign_in_online(
        RECEPTIONIST, DEMO_PASSWORD, None,
        lambda email, password, totp: client.check_credentials("demo", email, password, totp),
    )
    if not result.ok:
        raise RuntimeError("the demo receptionist could not sign in")
    return DemoDesk(name, store, DeskContext(store, sessions, clock), client)
