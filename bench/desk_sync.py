"""Desk sync benchmark: N offline mutations pushed and pulled end to end (goal: 10,000 in ≤ 5 s).

A real sync server (uvicorn over SQLite in a temporary directory, in its own
process as ``clinicdesk-server serve`` runs it) listens on a loopback port with
a seeded clinic; one encrypted desk store is enrolled, then N bookings are
queued offline (outbox entries plus their optimistic rows, as the booking
service writes them). The timed part is what ``SyncClient.sync_once`` does:
push every mutation, pull every resulting change, acknowledge the outbox, with
the desk's own batch sizes unless given. The push and the pull are also timed
apart: the push is nearly all server time (the rules judge each booking), the
pull mostly the desk applying records.

Python's cyclic collector runs as in the desk: never automatically (the desk
collects from a UI-thread timer, :mod:`desktop.ui.gc_pump`, at most one
generation every half second); the collection after the timed part is printed
apart.

    python bench/desk_sync.py [--count 10000] [--push-batch N] [--pull-limit N]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._server import ServerProcess, database, seeded_clinic  # noqa: E402
from desktop.config import DeskConfig  # noqa: E402
from desktop.store import outbox, row_mapping  # noqa: E402
from desktop.store.engine import Store  # noqa: E402
from desktop.store.keys import create_store  # noqa: E402
from desktop.store.models import AppointmentRow  # noqa: E402
from desktop.sync.client import PULL_LIMIT, PUSH_BATCH, SyncClient  # noqa: E402
from scheduling import intents  # noqa: E402
from scheduling.commands import Actor, BookAppointment, Permission  # noqa: E402
from scheduling.model import Appointment  # noqa: E402
from tests.e2e.desk import FAST_KDF, PASSPHRASE, FileKeyring  # noqa: E402
from tests.e2e.server_side import Clinic  # noqa: E402

GOAL_SECONDS = 5.0
SLOTS_PER_PROVIDER_WEEK = 70


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--push-batch", type=int, default=PUSH_BATCH)
    parser.add_argument("--pull-limit", type=int, default=PULL_LIMIT)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="clinicdesk-bench-") as temporary:
        work = Path(temporary)
        with database("sqlite", work) as url:
            weeks = 8
            providers = max(1, -(-args.count // (SLOTS_PER_PROVIDER_WEEK * weeks)))
            clinic = seeded_clinic(url, work, providers=providers, rooms=providers,
                                   patients=200, codes=1)
            with ServerProcess(url, work) as server:
                keys = FileKeyring(work / "desk" / "keys.json")
                store = create_store(work / "desk" / "desk.db", PASSPHRASE, keys, kdf=FAST_KDF)
                client = SyncClient(store, DeskConfig(data_dir=work / "desk"),
                                    requests.Session(), keyring_backend=keys,
                                    push_batch=args.push_batch, pull_limit=args.pull_limit)
                client.enroll(server.url, clinic.codes[0])
                queue_bookings(store, clinic, args.count)

                gc.collect()
                gc.disable()
                try:
                    started = time.perf_counter()
                    pushed = client.push()
                    halfway = time.perf_counter()
                    pulled = client.pull()
                    seconds = time.perf_counter() - started
                finally:
                    gc.enable()
                collecting = time.perf_counter()
                gc.collect()
                collect_seconds = time.perf_counter() - collecting
                pending = client.pending_count()
                store.close()

    push_seconds, pull_seconds = halfway - started, seconds - (halfway - started)
    print(f"desk sync: {args.count} offline mutations pushed and pulled in {seconds:.2f} s "
          f"({pushed.batches} pushes of <= {args.push_batch}, {pulled.pages} pull pages of "
          f"<= {args.pull_limit}, {pulled.changed} records, {pending} left pending)")
    print(f"  push {push_seconds:.2f} s ({1000 * push_seconds / args.count:.2f} ms/mutation), "
          f"pull {pull_seconds:.2f} s ({1000 * pull_seconds / args.count:.2f} ms/record); "
          f"the desk's garbage collection afterwards {collect_seconds:.2f} s")
    print(f"ratio to the {GOAL_SECONDS:.0f} s goal: {seconds / GOAL_SECONDS:.2f} "
          f"({'within' if seconds <= GOAL_SECONDS else 'over'} budget)")
    return 0 if pending == 0 else 1


def queue_bookings(store: Store, clinic: Clinic, count: int) -> None:
    """What the booking service writes for ``count`` offline bookings, without judging each."""
    actor = Actor("bench", "bench-desk", frozenset(p.value for p in Permission))
    length = timedelta(minutes=30)
    with store.write() as session:
        for index in range(count):
            provider, start = clinic.slot(index)
            room = clinic.room_ids[clinic.provider_ids.index(provider)]
            patient = clinic.patient_ids[index % len(clinic.patient_ids)]
            command = BookAppointment(actor, str(uuid.uuid4()), clinic.clinic_id, patient,
                                      clinic.type_id, provider, start, start + length, room)
            mutation_id = outbox.append(session, intents.APPOINTMENT_BOOK, intents.book(command))
            record = Appointment(command.appointment_id, clinic.org_id, clinic.clinic_id,
                                 patient, clinic.type_id, provider, start, start + length,
                                 room_id=room)
            row = AppointmentRow()
            row_mapping.write_appointment(row, record, mutation_id)
            session.add(row)


if __name__ == "__main__":
    sys.exit(main())
