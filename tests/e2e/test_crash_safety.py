"""A desk killed with SIGKILL in the middle of a push: every mutation reaches the server once."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from tests.e2e.conftest import Desk
from tests.e2e.server_side import Clinic, appointment_ids, last_mutation_id, needs_sync

pytestmark = needs_sync

BATCH = 20
DEADLINE_SECONDS = 60


def test_a_desk_killed_mid_push_restarts_intact_and_each_mutation_lands_exactly_once(
    desks: Callable[[str], Desk], clinic: Clinic, db: Session
) -> None:
    desk = desks("a")
    ids = [str(uuid.uuid4()) for _ in range(200)]
    assert len(desk.book([desk.booking(i, ids[i], patient=i) for i in range(200)])["booked"]) == 200

    # The desk pushes batch 1 and reads the answer; the server then applies batch 2, but the
    # desk is killed before it reads that answer (it never learns batch 2 went through).
    process = desk.popen("sync", {"push_batch": BATCH, "hang_after_pushes": 1})
    client_id: str = desk.client_id  # type: ignore[attr-defined]
    deadline = time.monotonic() + DEADLINE_SECONDS
    while last_mutation_id(db, client_id) < 2 * BATCH:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the server never saw the second batch"
        time.sleep(0.05)  # polling the server's database, bounded by the deadline
    assert process.stdout is not None
    assert json.loads(process.stdout.readline()) == {"hanging": True}
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert process.returncode == -signal.SIGKILL
    assert last_mutation_id(db, client_id) == 2 * BATCH  # killed mid-push, not after it

    assert desk.sync()["pending"] == 0  # restarted: the whole outbox is pushed again
    on_server = appointment_ids(db, clinic.org_id)
    assert len(on_server) == len(set(on_server)) == 200
    assert set(on_server) == set(ids)
    state = desk.dump()
    assert state["integrity"] == "ok" and state["cipher_problems"] == 0
    assert state["pending"] == 0
    assert all(a["pending_mutation_id"] is None for a in state["appointments"].values())
