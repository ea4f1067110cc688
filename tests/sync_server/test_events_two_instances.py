"""Two server processes on one PostgreSQL: a poke crosses instances via LISTEN/NOTIFY.

Both instances are started the production way (``python -m sync_server.cli serve``)
on one fresh database with a shared secret key. A desk-style stream on instance 1
must get the poke for a booking made through instance 2 within 1 s of that booking's
commit (the clock starts at instance 2's answer, which follows the commit: how long
the booking itself takes on a loaded machine is bench/server_booking.py's business),
and stopping instance 1 with the stream still open must finish within a few seconds.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from tests.e2e.server_side import PASSWORD, Clinic, seed_clinic
from tests.sync_server.conftest import make_settings
from tests.sync_server.event_stream import EventStream
from tests.sync_server.server_process import Instance

ROOT = Path(__file__).resolve().parents[2]
POKE_DEADLINE_SECONDS = 1.0

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def settings(pg_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(pg_database_url, tmp_path_factory.mktemp("two-instances"))


@pytest.fixture
def instances(settings: Settings, tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    pair = (Instance(settings.resolved_database_url, tmp_path, "one"),
            Instance(settings.resolved_database_url, tmp_path, "two"))
    try:
        for instance in pair:
            instance.wait_ready()
        yield pair
    finally:
        for instance in pair:
            instance.stop()


@pytest.fixture
def clinic(settings: Settings) -> Iterator[Clinic]:
    from sync_server.db.session import make_engine, make_session_factory

    engine = make_engine(settings.resolved_database_url)
    session: Session
    with make_session_factory(engine)() as session:
        yield seed_clinic(session, settings)
    engine.dispose()


def sign_in(instance: Instance, clinic: Clinic) -> dict[str, str]:
    body = {"organization": clinic.org_slug, "email": clinic.user_email, "password": PASSWORD}
    response = httpx.post(f"{instance.url}/api/v1/auth/login", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_booking_through_instance_two_pokes_a_stream_on_instance_one_within_a_second(
    instances: tuple[Instance, Instance], clinic: Clinic
) -> None:
    one, two = instances
    headers = sign_in(one, clinic)  # one secret key: instance 2 accepts instance 1's token
    provider, start = clinic.slot(0)
    body = {"clinic_id": clinic.clinic_id, "patient_id": clinic.patient_ids[0],
            "appointment_type_id": clinic.type_id, "provider_id": provider,
            "start": start.isoformat()}
    with EventStream(one.url, headers) as stream:
        current = stream.next_poke().version
        assert current is not None
        sent = time.monotonic()
        response = httpx.post(f"{two.url}/api/v1/appointments", json=body, headers=headers,
                              timeout=10)
        answered = time.monotonic()
        assert response.status_code == 201, response.text
        poke = stream.next_poke(timeout=5.0, after=current)  # a 5 s deadline, never a sleep
        latency = poke.at - answered  # negative when the poke beat the answer
        assert poke.version == current + 1
        print(f"\ncross-instance poke latency: {latency * 1000:+.1f} ms from instance 2's "
              f"answer ({(poke.at - sent) * 1000:.1f} ms from sending the booking)")
        assert latency < POKE_DEADLINE_SECONDS

        took = one.stop()
        stream.wait_end(timeout=5)
    print(f"instance 1 stopped with an open event stream in {took:.2f} s")
    assert one.process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
    assert took < 4.0, "the open stream held the shutdown until uvicorn's graceful timeout"
