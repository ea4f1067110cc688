"""One chaos desk in its own process: ``python -m tests.chaos.desk_agent DIR COMMAND @OPTIONS``.

Commands (each prints one JSON line on stdout):

* ``setup``: create the store, enroll and sign in (see :func:`setup`).
* ``run``: work through ``operations`` random operations on the contested slots
  and patients (book, move, cancel, edit a patient's phone or e-mail), syncing now
  and then and going offline for a while now and then. Every operation the store
  accepted and every push the server answered is appended to ``DIR/journal.jsonl``
  (flushed line by line, so a ``kill -9`` loses at most the line being written); a
  restarted agent goes on from the operations already in the journal.
* ``sync``: one push and pull (the settling rounds after the last fault).
* ``dump``: the desk's appointments, patients, conflict inbox, outbox size and the
  store's integrity checks.

The desk is a real one: an enrolled SQLCipher store (see ``tests.e2e.desk``), the
desk's services, and its :class:`~desktop.sync.client.SyncClient` over ``requests``.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from desktop.config import load_config
from desktop.services import booking, patients
from desktop.services.context import DeskContext
from desktop.store.engine import Store
from desktop.store.models import AppointmentRow, ConflictRow, PatientRow
from desktop.sync.client import RetryPolicy, SyncClient
from desktop.sync.errors import SyncError
from tests.e2e import desk as e2e_desk
from tests.e2e.desk import FileKeyring, _open, _sessions, dump

EDITED_FIELDS = ("phone", "email")
#: Chances per operation (the rest books).
MOVE, CANCEL, EDIT = 0.15, 0.2, 0.25
SYNC_CHANCE = 0.3
OFFLINE_CHANCE = 0.03
ACTIVE = ("booked", "confirmed")


def client_for(directory: Path, store: Store, read_timeout: float = 10.0) -> SyncClient:
    config = load_config({"CLINICDESK_DESK_DIR": str(directory)})
    return SyncClient(store, config, requests.Session(),
                      keyring_backend=FileKeyring(directory / "keys.json"),
                      retry=RetryPolicy(attempts=3, base_seconds=0.05, cap_seconds=0.3),
                      timeout=(2.0, read_timeout))


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = sum(1 for line in read_journal(path) if "op" in line)
        self._file = path.open("a")

    def write(self, **entry: Any) -> None:
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()  # in the kernel: a kill -9 of this process cannot lose it
        if "op" in entry:
            self.done += 1


def read_journal(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:  # the line being written when the process was killed
            continue
    return entries


def run(directory: Path, store: Store, options: dict[str, Any]) -> dict[str, Any]:
    journal = Journal(directory / "journal.jsonl")
    sessions = _sessions(store)
    signed_in = sessions.sign_in_offline(options["email"], options["password"])
    assert signed_in.ok, signed_in.failure
    ctx = DeskContext(store, sessions, lambda: datetime.now(UTC))
    client = client_for(directory, store)
    offline_until = journal.done
    desk = int(options["desk"])
    while journal.done < int(options["operations"]):
        index = journal.done
        pick = random.Random(f"{options['seed']}:{desk}:{index}")  # reproducible schedule
        journal.write(**operate(ctx, pick, options, desk, index))
        if index >= offline_until and pick.random() < OFFLINE_CHANCE:
            offline_until = index + pick.randint(5, 25)
        if index >= offline_until and pick.random() < SYNC_CHANCE:
            sync(client, journal)
    return {"done": journal.done}


def operate(ctx: DeskContext, pick: random.Random, options: dict[str, Any], desk: int,
            index: int) -> dict[str, Any]:
    roll = pick.random()
    provider, start = pick.choice(options["slots"])
    at = datetime.fromisoformat(start)
    if roll < EDIT:
        patient_id = pick.choice(options["edited_patients"])
        name = pick.choice(EDITED_FIELDS)
        value = (f"+34 6{desk:02d} {index:07d}" if name == "phone"
                 else f"desk{desk}-{index}@chaos.example")
        with ctx.store.session() as session:
            row = session.get(PatientRow, patient_id)
            base = None if row is None else getattr(row, name)
        edited = patients.update(ctx, patient_id, **{name: value})
        return {"op": index, "kind": "edit", "ok": edited.ok, "mutation": edited.mutation_id,
                "target": patient_id, "field": name, "value": value, "base": base}
    live = _live(ctx)
    if roll < EDIT + CANCEL and live:
        target = pick.choice(live)
        result = booking.cancel(ctx, target, "chaos")
        kind = "cancel"
    elif roll < EDIT + CANCEL + MOVE and live:
        target = pick.choice(live)
        result = booking.move(ctx, target, at, provider_id=provider)
        kind = "move"
    else:
        target = str(uuid.UUID(int=pick.getrandbits(128), version=4))
        result = booking.book(ctx, clinic_id=options["clinic"],
                              patient_id=pick.choice(options["patients"]),
                              appointment_type_id=options["type"], provider_id=provider,
                              start=at, appointment_id=target)
        kind = "book"
    return {"op": index, "kind": kind, "ok": result.ok, "mutation": result.mutation_id,
            "target": target}


def _live(ctx: DeskContext) -> list[str]:
    with ctx.store.session() as session:
        return sorted(session.scalars(select(AppointmentRow.id).where(
            AppointmentRow.status.in_(ACTIVE), AppointmentRow.deleted.is_(False))))


def sync(client: SyncClient, journal: Journal) -> str | None:
    """Push (the server's answer is an acknowledgement), then pull; the error's name, if any
    (journaled too)."""
    try:
        pushed = client.push()
        if pushed.server_last_mutation_id is not None:
            journal.write(ack=pushed.server_last_mutation_id)
        client.pull()
    except SyncError as error:
        journal.write(sync_error=type(error).__name__)
        return type(error).__name__
    return None


def full_dump(store: Store) -> dict[str, Any]:
    """What ``tests.e2e.desk.dump`` gives, with patients and the conflicts' parameters."""
    state = dump(store)
    with store.session() as session:
        state["patients"] = {
            row.id: {"phone": row.phone, "email": row.email,
                     "pending": row.pending_mutation_id}
            for row in session.scalars(select(PatientRow))
        }
        state["conflict_params"] = {
            str(c.mutation_id): c.params for c in session.scalars(select(ConflictRow))}
    return state


def setup(directory: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Create the store, enroll (through the proxy) and sign in once online: the three
    ``tests.e2e.desk`` commands in one process."""
    e2e_desk.run(directory, "create", {})
    enrolled = e2e_desk.run(directory, "enroll", {"url": options["url"], "code": options["code"]})
    signed = e2e_desk.run(directory, "sign-in", {
        "organization": options["organization"], "email": options["email"],
        "password": options["password"]})
    return {"client_id": enrolled["client_id"], "signed_in": signed["ok"]}


def main(argv: list[str]) -> int:
    directory, command = Path(argv[0]), argv[1]
    raw = argv[2] if len(argv) > 2 else "{}"
    options = json.loads(Path(raw[1:]).read_text() if raw.startswith("@") else raw)
    if command == "setup":
        print(json.dumps(setup(directory, options)), flush=True)
        return 0
    store = _open(directory)
    try:
        if command == "run":
            output = run(directory, store, options)
        elif command == "sync":
            # After the last fault: a slow answer (a long backlog on a loaded machine) is
            # not a fault to report, so the settling syncs wait longer than the desk's 10 s.
            client = client_for(directory, store, read_timeout=120.0)
            error = sync(client, Journal(directory / "journal.jsonl"))
            output = {"error": error} if error else {"pending": client.pending_count()}
        elif command == "dump":
            output = full_dump(store)
        else:
            raise SystemExit(f"unknown command {command}")
    finally:
        store.close()
    print(json.dumps(output), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
