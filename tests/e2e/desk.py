"""One desk, driven from the command line, so end-to-end tests run each desk in its own process.

    python -m tests.e2e.desk DIR create
    python -m tests.e2e.desk DIR enroll '{"url": ..., "code": ...}'
    python -m tests.e2e.desk DIR sign-in '{"organization": ..., "email": ..., "password": ...}'
    python -m tests.e2e.desk DIR book '{"email": ..., "password": ..., "bookings": [...]}'
    python -m tests.e2e.desk DIR sync ['{"push_batch": 20, "hang_after_pushes": 1}']
    python -m tests.e2e.desk DIR dump

``book`` signs in offline (from the verifier cached by ``sign-in``) and never
touches the network. ``sync`` runs ``SyncClient.sync_once``; with
``hang_after_pushes`` it blocks for good once the server has answered that many
pushes, before the desk reads the answer (the crash test kills it there).
Each command prints one JSON line on stdout; a sync error prints its class and
plain message and exits 3.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from argon2 import PasswordHasher
from keyring.backend import KeyringBackend
from requests.adapters import HTTPAdapter
from sqlalchemy import select

from desktop.config import load_config
from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.services.session import SessionSettings, SignInService
from desktop.store.engine import Store
from desktop.store.keys import Argon2Params, create_store, open_store
from desktop.store.models import (
    SYNC_STATE_ID,
    AppointmentRow,
    ConflictRow,
    OutboxEntry,
    SyncState,
)
from desktop.sync.client import RetryPolicy, SyncClient
from desktop.sync.errors import SyncError

PASSPHRASE = "correct horse battery staple"
FAST_KDF = Argon2Params(time_cost=1, memory_cost_kib=8, parallelism=1)
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
#: Fields compared between desks (everything but desk-local bookkeeping).
COMPARED = ("id", "organization_id", "clinic_id", "patient_id", "appointment_type_id",
            "provider_id", "start", "end", "status", "room_id", "equipment_ids", "source",
            "notes", "series_id", "deleted", "version", "pending_mutation_id", "server_version")


class FileKeyring(KeyringBackend):
    """A key store in a JSON file next to the desk, so it survives the desk's process."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def _load(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}|{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._load()
        entries[f"{service}|{username}"] = password
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._load()
        entries.pop(f"{service}|{username}", None)
        self.path.write_text(json.dumps(entries))


class HangingAdapter(HTTPAdapter):
    """Lets ``pushes`` push answers through, then blocks before the desk reads the next."""

    def __init__(self, pushes: int) -> None:
        super().__init__()
        self.left = pushes

    def send(self, request: requests.PreparedRequest, *args: Any,  # type: ignore[override]
             **kwargs: Any) -> requests.Response:
        response = super().send(request, *args, **kwargs)
        if (request.url or "").endswith("/sync/push"):
            if self.left == 0:
                print(json.dumps({"hanging": True}), flush=True)
                threading.Event().wait()  # until SIGKILL
            self.left -= 1
        return response


def _open(directory: Path) -> Store:
    return open_store(directory / "desk.db", keyring_backend=FileKeyring(directory / "keys.json"))


def _client(directory: Path, store: Store, options: dict[str, Any]) -> SyncClient:
    session = requests.Session()
    if "hang_after_pushes" in options:
        session.mount("http://", HangingAdapter(int(options["hang_after_pushes"])))
    config = load_config({"CLINICDESK_DESK_DIR": str(directory)})
    return SyncClient(store, config, session, keyring_backend=FileKeyring(directory / "keys.json"),
                      retry=RetryPolicy(attempts=2, base_seconds=0.1, cap_seconds=0.2),
                      push_batch=int(options.get("push_batch", 200)),
                      pull_limit=int(options.get("pull_limit", 1000)))


def _sessions(store: Store) -> SignInService:
    return SignInService(store, lambda: datetime.now(UTC), SessionSettings(),
                         hasher=FAST_HASHER, device_id="e2e-desk")


def run(directory: Path, command: str, options: dict[str, Any]) -> dict[str, Any]:
    if command == "create":
        create_store(directory / "desk.db", PASSPHRASE, FileKeyring(directory / "keys.json"),
                     kdf=FAST_KDF).close()
        return {"created": True}
    store = _open(directory)
    try:
        if command == "enroll":
            client = _client(directory, store, {})
            try:
                return {"client_id": client.enroll(options["url"], options["code"])}
            except SyncError as error:  # enrolled, but the first download failed
                with store.session() as session:
                    state = session.get(SyncState, SYNC_STATE_ID)
                    client_id = None if state is None else state.client_id
                if client_id is None:
                    raise
                return {"client_id": client_id, "download_error": type(error).__name__}
        if command == "sign-in":
            client = _client(directory, store, {})
            result = _sessions(store).sign_in_online(
                options["email"], options["password"], None,
                lambda e, p, t: client.check_credentials(options["organization"], e, p, t))
            return {"ok": result.ok, "failure": result.failure}
        if command == "book":
            return _book(store, options)
        if command == "sync":
            result = _client(directory, store, options).sync_once()
            return {"pending": result.pending, "conflicts": result.pull.new_conflicts,
                    "cursor": result.pull.cursor}
        if command == "dump":
            return dump(store)
        raise SystemExit(f"unknown command {command}")
    finally:
        store.close()


def _book(store: Store, options: dict[str, Any]) -> dict[str, Any]:
    sessions = _sessions(store)
    signed_in = sessions.sign_in_offline(options["email"], options["password"])
    assert signed_in.ok, signed_in.failure
    ctx = DeskContext(store, sessions, lambda: datetime.now(UTC))
    booked, refused = [], []
    for item in options["bookings"]:
        result = booking.book(ctx, clinic_id=item["clinic"], patient_id=item["patient"],
                              appointment_type_id=item["type"], provider_id=item["provider"],
                              start=datetime.fromisoformat(item["start"]),
                              appointment_id=item["id"])
        (booked if result.ok else refused).append(item["id"])
    return {"booked": booked, "refused": refused}


def dump(store: Store) -> dict[str, Any]:
    """The desk's appointments (compared fields), conflict inbox and outbox size."""
    with store.session() as session:
        appointments = {
            row.id: {name: _plain(getattr(row, name)) for name in COMPARED}
            for row in session.scalars(select(AppointmentRow))
        }
        conflicts = [
            {"mutation_id": c.mutation_id, "code": c.code, "message_id": c.message_id,
             "attempted": c.attempted, "alternatives": c.alternatives}
            for c in session.scalars(select(ConflictRow))
        ]
        pending = len(session.scalars(select(OutboxEntry.mutation_id)).all())
        integrity = session.connection().exec_driver_sql(
            "PRAGMA integrity_check").scalar_one()
        cipher = session.connection().exec_driver_sql(
            "PRAGMA cipher_integrity_check").fetchall()
    return {"appointments": appointments, "conflicts": conflicts, "pending": pending,
            "integrity": integrity, "cipher_problems": len(cipher)}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def main(argv: list[str]) -> int:
    directory, command = Path(argv[0]), argv[1]
    raw = argv[2] if len(argv) > 2 else "{}"
    options = json.loads(Path(raw[1:]).read_text() if raw.startswith("@") else raw)
    try:
        output = run(directory, command, options)
    except SyncError as error:
        print(json.dumps({"error": type(error).__name__, "message": error.plain()}), flush=True)
        return 3
    print(json.dumps(output), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
