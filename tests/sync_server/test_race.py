"""Race test: a real uvicorn server, 50 concurrent clients, 2,000 attempts on 20 slots.

Half the clients book over REST, half push the same intents from their own enrolled
desk. Afterwards no resource has two overlapping active exclusive occupations, and
every booking the server acknowledged (201, or a push result ``applied``) exists.
Runs over SQLite and PostgreSQL; well under a minute per backend.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from scheduling import intents
from scheduling.sync_protocol import DEVICE_TOKEN_HEADER
from sync_server.db import models
from sync_server.db.session import make_engine, make_session_factory
from sync_server.services import audit, devices
from tests.e2e.server_side import PASSWORD, Clinic, seed_clinic
from tests.sync_server.booking_setup import active_overlaps
from tests.sync_server.conftest import make_settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 50
ATTEMPTS = int(os.environ.get("RACE_ATTEMPTS", "2000"))
SLOTS = 20
PUSH_BATCH = 4


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture
def clinic(database_url: str, tmp_path: Path) -> Iterator[tuple[Clinic, list[str]]]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        seeded = seed_clinic(session, make_settings(database_url, tmp_path), patients=SLOTS)
        now = datetime.now(UTC)
        tokens = []
        for _ in range(CLIENTS // 2):
            code, _ = devices.create_enrollment_code(session, seeded.org_id, now,
                                                     timedelta(hours=1), audit.Actor())
            session.commit()
            tokens.append(devices.enroll(session, code, "race desk", now).device_token)
    engine.dispose()
    yield seeded, tokens


@dataclass
class Tally:
    acknowledged: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1


def contested(seeded: Clinic) -> list[tuple[str, str]]:
    """20 (provider, start) slots: both providers at ten half hours; two rooms for all."""
    times = [seeded.slot(i)[1] for i in range(SLOTS // 2)]
    return [(provider, start.isoformat()) for start in times for provider in seeded.provider_ids]


def booking_args(seeded: Clinic, pick: random.Random,
                 slots: list[tuple[str, str]]) -> dict[str, Any]:
    provider, start = pick.choice(slots)
    return {"appointment_id": str(uuid.uuid4()), "clinic_id": seeded.clinic_id,
            "patient_id": pick.choice(seeded.patient_ids),
            "appointment_type_id": seeded.type_id, "provider_id": provider, "start": start}


def rest_client(server: Server, headers: dict[str, str], seeded: Clinic, seed: int,
                attempts: int, tally: Tally) -> None:
    pick, slots = random.Random(seed), contested(seeded)
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        for _ in range(attempts):
            body = booking_args(seeded, pick, slots)
            answer = http.post("/api/v1/appointments", json=body)
            tally.count(answer.status_code)
            if answer.status_code == 201:
                with tally.lock:
                    tally.acknowledged.add(answer.json()["appointments"][0]["id"])


def desk_client(server: Server, token: str, client_id: str, seeded: Clinic, seed: int,
                attempts: int, tally: Tally) -> None:
    pick, slots = random.Random(seed), contested(seeded)
    next_id = 1
    with httpx.Client(base_url=server.url, headers={DEVICE_TOKEN_HEADER: token},
                      timeout=60) as http:
        for first in range(0, attempts, PUSH_BATCH):
            batch = []
            for _ in range(min(PUSH_BATCH, attempts - first)):
                batch.append({"id": next_id, "name": intents.APPOINTMENT_BOOK,
                              "args": booking_args(seeded, pick, slots),
                              "client_time": datetime.now(UTC).isoformat()})
                next_id += 1
            by_id = {m["id"]: m["args"]["appointment_id"] for m in batch}
            while batch:  # as a desk does: a push may answer for its first part only
                answer = http.post("/api/v1/sync/push",
                                   json={"client_id": client_id, "mutations": batch})
                tally.count(answer.status_code)
                assert answer.status_code == 200, answer.text
                body = answer.json()
                for result in body["results"]:
                    if result["status"] == "applied":
                        with tally.lock:
                            tally.acknowledged.add(by_id[result["id"]])
                done = body["last_mutation_id"]
                assert any(m["id"] <= done for m in batch), "a push processed nothing"
                batch = [m for m in batch if m["id"] > done]


def test_concurrent_bookings_never_overlap_and_every_acknowledged_one_exists(
    database_url: str, tmp_path: Path, clinic: tuple[Clinic, list[str]]
) -> None:
    seeded, tokens = clinic
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    port = listener.getsockname()[1]
    env = os.environ | {
        "CLINICDESK_DATABASE_URL": database_url,
        "CLINICDESK_DATA_DIR": str(tmp_path),
        "CLINICDESK_SECRET_KEY": "race-test-signing-key-not-for-production",
        "CLINICDESK_ARGON2_TIME_COST": "1", "CLINICDESK_ARGON2_MEMORY_KIB": "1024",
        "CLINICDESK_ARGON2_PARALLELISM": "1", "CLINICDESK_DB_POOL_SIZE": "30",
        "CLINICDESK_DB_CONNECT_TIMEOUT_SECONDS": "10",
    }
    # PostgreSQL serves in parallel (one process per core); SQLite writes one at a time.
    workers = "1" if database_url.startswith("sqlite") else str(min(os.cpu_count() or 1, 4))
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sync_server.race_server", str(listener.fileno()), workers],
        cwd=ROOT, env=env, pass_fds=(listener.fileno(),))
    listener.close()
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        _race(server, seeded, tokens, database_url)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _race(server: Server, seeded: Clinic, tokens: list[str], database_url: str) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        login = http.post("/api/v1/auth/login", json={
            "organization": seeded.org_slug, "email": seeded.user_email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        client_ids = [http.get("/api/v1/devices/me", headers={DEVICE_TOKEN_HEADER: t})
                      .json()["client_id"] for t in tokens]
    tally = Tally()
    per_client = ATTEMPTS // CLIENTS
    threads = []
    for index in range(CLIENTS):
        if index % 2:
            desk = index // 2
            target: Any = desk_client
            args: tuple[Any, ...] = (server, tokens[desk], client_ids[desk], seeded, index,
                                     per_client, tally)
        else:
            target, args = rest_client, (server, headers, seeded, index, per_client, tally)
        threads.append(threading.Thread(target=target, args=args, daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive(), "a client hung"

    assert not {s for s in tally.statuses if s >= 500}, tally.statuses
    assert set(tally.statuses) <= {200, 201, 409}, tally.statuses
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        assert active_overlaps(session) == 0
        active = set(session.scalars(select(models.Appointment.id).where(
            models.Appointment.organization_id == seeded.org_id,
            models.Appointment.active.is_(True))))
        session.rollback()
        assert tally.acknowledged <= active, "an acknowledged booking is missing"
        assert active == tally.acknowledged  # and nothing unacknowledged was kept
        assert 0 < len(active) <= SLOTS
        processed = session.scalars(select(models.ClientMutation.last_mutation_id).where(
            models.ClientMutation.organization_id == seeded.org_id)).all()
        session.rollback()
        assert processed == [per_client] * len(tokens)  # every desk fully processed
    engine.dispose()
