"""``clinicdesk demo``: an embedded sync server with the demo organization and enrolled desks.

The server runs as its own process (``python -m sync_server.cli``) on a
loopback port with an SQLite database in a temporary folder, so the desk never
imports server code. Each desk gets its own encrypted store in that folder,
enrolled with a one-time code from ``seed-demo`` and signed in as the demo
receptionist. The desks' key store is a file in the demo folder: acceptable
for throw-away demo data, never for a real desk (which refuses to run without
the OS key store).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from keyring.backend import KeyringBackend

from desktop.config import DeskConfig
from desktop.services.context import DeskContext
from desktop.services.session import SessionSettings, SignInService
from desktop.store.engine import Store
from desktop.store.keys import create_store
from desktop.sync.client import SyncClient

DEMO_PASSWORD = "demo-password-2026"
RECEPTIONIST = "reception@demo.clinicdesk.example"
RECOVERY_PASSPHRASE = "demo recovery passphrase"
#: A demo is looked at, not guarded: the idle lock waits a working day, not 5 minutes.
DEMO_IDLE_LOCK = timedelta(hours=8)


class DemoKeyring(KeyringBackend):
    """A key store in a JSON file of the demo folder (demo data only)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, path: Path) -> None:
        super().__init__()
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sync_server.cli", *args]


def start(folder: Path, desks: int = 1, progress: Callable[[str], None] = print,
          ) -> DemoEnvironment:
    """Start the server, seed the demo, enroll ``desks`` desks and sign each in."""
    env = dict(os.environ)
    env["CLINICDESK_DATABASE_URL"] = f"sqlite:///{folder / 'server.db'}"
    env["CLINICDESK_DATA_DIR"] = str(folder / "server")
    (folder / "server").mkdir(parents=True, exist_ok=True)
    progress("Preparing the demo sync server …")
    subprocess.run(_server_command("migrate"), env=env, check=True, capture_output=True)
    seeded = subprocess.run(_server_command("seed-demo"), env=env, check=True,
                            capture_output=True, text=True).stdout
    codes = [line.split()[-1] for line in seeded.splitlines() if "enrollment code" in line]
    port = _free_port()
    server = subprocess.Popen(
        _server_command("serve", "--host", "127.0.0.1", "--port", str(port)), env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    environment = DemoEnvironment(folder, url, server)
    try:
        _wait_for(url)
        for index in range(desks):
            progress(f"Enrolling demo desk {index + 1} and downloading the calendar …")
            environment.desks.append(_desk(folder / f"desk-{index + 1}", url, codes[index]))
    except BaseException:
        environment.close()
        raise
    return environment


def _wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/api/v1/health", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)  # polling the server's health with a deadline
    raise RuntimeError("the demo sync server did not start within 30 seconds")


def _desk(folder: Path, url: str, code: str) -> DemoDesk:
    folder.mkdir(parents=True, exist_ok=True)
    keyring = DemoKeyring(folder / "demo-keyring.json")
    store = create_store(folder / "desk.db", RECOVERY_PASSPHRASE, keyring_backend=keyring)
    config = DeskConfig(data_dir=folder)
    client = SyncClient(store, config, requests.Session(), keyring_backend=keyring)
    client.enroll(url, code, name=folder.name)
    clock = lambda: datetime.now(UTC)  # noqa: E731 - the desk's wall clock
    sessions = SignInService(store, clock, SessionSettings(idle_lock_after=DEMO_IDLE_LOCK))
    result = sessions.sign_in_online(
        RECEPTIONIST, DEMO_PASSWORD, None,
        lambda email, password, totp: client.check_credentials("demo", email, password, totp),
    )
    if not result.ok:
        raise RuntimeError("the demo receptionist could not sign in")
    return DemoDesk(folder.name, store, DeskContext(store, sessions, clock), client)
