"""The poke stream ``GET /api/v1/sync/events`` on a real uvicorn server, both backends.

(The in-process TestClient cannot stream server-sent events reliably; these tests
read the stream with httpx from a server on a loopback port.)
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from scheduling.sync_protocol import DEVICE_TOKEN_HEADER
from sync_server.core.config import Settings
from sync_server.services import devices, pokes
from tests.e2e.server_side import PASSWORD, Clinic, seed_clinic
from tests.sync_server.conftest import make_settings, pg_admin_engine, terminate_backends
from tests.sync_server.event_stream import EventServer, EventStream


@pytest.fixture
def server_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, sse_heartbeat_seconds=0.3)


@pytest.fixture
def server(server_settings: Settings) -> Iterator[EventServer]:
    with EventServer(server_settings) as running:
        yield running


@pytest.fixture
def clinic(db: Session, server_settings: Settings) -> Clinic:
    return seed_clinic(db, server_settings)


def sign_in(server: EventServer, clinic: Clinic) -> dict[str, str]:
    body = {"organization": clinic.org_slug, "email": clinic.user_email, "password": PASSWORD}
    response = httpx.post(f"{server.url}/api/v1/auth/login", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def book(server: EventServer, clinic: Clinic, headers: dict[str, str], index: int) -> None:
    provider, start = clinic.slot(index)
    body = {"clinic_id": clinic.clinic_id, "patient_id": clinic.patient_ids[index],
            "appointment_type_id": clinic.type_id, "provider_id": provider,
            "start": start.isoformat()}
    response = httpx.post(f"{server.url}/api/v1/appointments", json=body, headers=headers,
                          timeout=10)
    assert response.status_code == 201, response.text


def test_a_stream_starts_with_the_current_version_and_is_poked_after_a_booking(
    server: EventServer, clinic: Clinic
) -> None:
    headers = sign_in(server, clinic)
    with EventStream(server.url, headers) as stream:
        assert stream.status_code == 200
        current = stream.next_poke().version
        assert current is not None and current > 0
        book(server, clinic, headers, 0)
        poked = stream.next_poke(after=current)
        assert poked.version == current + 1


def test_an_enrolled_desk_is_poked_only_for_its_own_organization(
    server: EventServer, db: Session, server_settings: Settings, clinic: Clinic
) -> None:
    other = seed_clinic(db, server_settings)
    enrollment = devices.enroll(db, clinic.codes[0], "Front desk", datetime.now(UTC))
    db.commit()
    with EventStream(server.url, {DEVICE_TOKEN_HEADER: enrollment.device_token}) as stream:
        current = stream.next_poke().version
        assert current is not None
        book(server, other, sign_in(server, other), 0)  # must not reach this desk
        book(server, clinic, sign_in(server, clinic), 0)
        assert stream.next_poke(after=-1).version == current + 1


def _open_streams(server: EventServer) -> float:
    """The server's count of open event streams, from ``GET /metrics`` (loopback)."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    [line] = [row for row in text.splitlines() if row.startswith("clinicdesk_sse_sessions ")]
    return float(line.split()[1])


def _until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)  # polling for the condition, not standing in for it
    return True


def test_a_desk_that_goes_away_leaves_its_organizations_other_streams_open(
    server: EventServer, clinic: Clinic
) -> None:
    headers = sign_in(server, clinic)
    with EventStream(server.url, headers) as staying:
        current = staying.next_poke().version
        assert current is not None
        with EventStream(server.url, headers) as leaving:
            leaving.next_poke()
            assert _until(lambda: _open_streams(server) == 2)
        # the server saw the second desk go (it cancels that stream's task) …
        assert _until(lambda: _open_streams(server) <= 1)
        book(server, clinic, headers, 0)
        # … and the first desk's stream, waiting on the same wake-up, is still there
        assert staying.next_poke(after=current).version == current + 1
        assert _open_streams(server) == 1


def _hold_streams(server: EventServer, authorization: str, count: int) -> subprocess.Popen[str]:
    port = server.url.rsplit(":", 1)[1]
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.sync_server.hold_streams", port, authorization,
         str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(10)


@pytest.mark.only_backend("postgresql")
def test_an_open_stream_holds_few_objects_for_the_garbage_collector(
    server: EventServer, clinic: Clinic
) -> None:
    """Every full collection walks every object an open stream keeps: served through the
    routing layer and FastAPI's request handling a stream kept ~140 (docs/performance.md,
    item 9). Counted over a second batch of streams, after the first use of every path."""
    authorization = sign_in(server, clinic)["Authorization"]
    count = 300
    first = _hold_streams(server, authorization, count)
    try:
        assert _until(lambda: _open_streams(server) == count)
        gc.collect()
        before = len(gc.get_objects())
        second = _hold_streams(server, authorization, count)
        try:
            assert _until(lambda: _open_streams(server) == 2 * count)
            gc.collect()
            per_stream = (len(gc.get_objects()) - before) / count
        finally:
            _release(second)
    finally:
        _release(first)
    print(f"\nobjects tracked by the garbage collector per open stream: {per_stream:.1f}")
    assert per_stream <= 100


def test_the_stream_answers_with_the_request_id_and_only_to_get(
    server: EventServer, clinic: Clinic
) -> None:
    headers = {**sign_in(server, clinic), "X-Request-ID": "stream-check-1"}
    with httpx.stream("GET", f"{server.url}/api/v1/sync/events", headers=headers,
                      timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache, no-transform"
        assert response.headers["x-request-id"] == "stream-check-1"
    refused = httpx.post(f"{server.url}/api/v1/sync/events", headers=headers, timeout=10)
    assert refused.status_code == 405
    assert refused.json()["error"]["code"] == "method_not_allowed"


def test_an_idle_stream_gets_heartbeats(server: EventServer, clinic: Clinic) -> None:
    with EventStream(server.url, sign_in(server, clinic)) as stream:
        stream.next_poke()
        first, second = stream.next(timeout=5), stream.next(timeout=5)
    assert (first.kind, first.data) == ("comment", "heartbeat")
    assert (second.kind, second.data) == ("comment", "heartbeat")


def test_the_stream_needs_a_device_token_or_a_sign_in(server: EventServer) -> None:
    for headers in ({}, {DEVICE_TOKEN_HEADER: "not-a-token"}, {"Authorization": "Bearer nope"}):
        response = httpx.get(f"{server.url}/api/v1/sync/events", headers=headers, timeout=10)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] in {"not_authenticated", "unknown_device",
                                                   "invalid_token"}


def test_shutdown_ends_open_streams_at_once(
    server_settings: Settings, db: Session
) -> None:
    clinic = seed_clinic(db, server_settings)
    running = EventServer(server_settings, graceful_seconds=30)
    with running, EventStream(running.url, sign_in(running, clinic)) as stream:
        stream.next_poke()
        took = running.stop()
        stream.wait_end(timeout=5)
        assert not running.thread.is_alive()
    print(f"\nshutdown with an open event stream took {took:.2f} s")
    assert took < 3, "the open stream held the shutdown until uvicorn's graceful timeout"


@pytest.mark.only_backend("postgresql")
def test_pokes_resume_after_the_database_drops_the_listener(
    server: EventServer, clinic: Clinic, database_url: str
) -> None:
    headers = sign_in(server, clinic)
    with EventStream(server.url, headers) as stream:
        current = stream.next_poke().version
        assert current is not None
        admin = pg_admin_engine()
        try:
            terminate_backends(admin, database_url.rsplit("/", 1)[-1])
        finally:
            admin.dispose()
        book(server, clinic, headers, 1)
        assert stream.next_poke(timeout=15, after=current).version == current + 1


# --------------------------------------------------------------------------- broker


async def _turns(count: int = 3) -> None:
    """Let the event loop run what is ready (the woken waits, whatever turn they take)."""
    for _ in range(count):
        await asyncio.sleep(0)


def test_a_slow_stream_is_given_only_the_latest_poke() -> None:
    async def scenario() -> list[int]:
        broker = pokes.PokeBroker()
        broker.bind(asyncio.get_running_loop())
        subscription = broker.subscribe("org")
        for version in range(1, 13):
            broker.publish("org", version)
        got = []
        while (version := await subscription.next_version(0.01)) is not None:
            got.append(version)
        return got

    assert asyncio.run(scenario()) == [12]


def test_one_poke_wakes_every_stream_of_the_organization_with_one_shared_message() -> None:
    async def scenario() -> tuple[list[bytes | None], list[bool]]:
        broker = pokes.PokeBroker()
        broker.bind(asyncio.get_running_loop())
        streams = [broker.subscribe("org") for _ in range(50)]
        other = broker.subscribe("other-org")
        waiting = [asyncio.create_task(s.wait()) for s in [*streams, other]]
        await asyncio.sleep(0)
        broker.publish("org", 7)
        await _turns()
        woken = [task.done() for task in waiting]
        for task in waiting:
            task.cancel()
        return [s.take() for s in [*streams, other]], woken

    messages, woken = asyncio.run(scenario())
    assert messages[:-1] == [b'event: poke\ndata: {"version": 7}\n\n'] * 50
    assert len({id(m) for m in messages[:-1]}) == 1  # encoded once, shared
    assert messages[-1] is None
    assert woken == [True] * 50 + [False]


def test_a_stream_that_goes_away_leaves_the_others_waiting_on_the_same_wake_up() -> None:
    async def scenario() -> tuple[bool, bytes | None]:
        broker = pokes.PokeBroker()
        broker.bind(asyncio.get_running_loop())
        leaving, staying = broker.subscribe("org"), broker.subscribe("org")
        gone = asyncio.create_task(leaving.wait())
        waiting = asyncio.create_task(staying.wait())
        await asyncio.sleep(0)  # both wait on the organization's one future
        gone.cancel()  # its desk disconnected: the server cancels that stream's task
        await asyncio.gather(gone, return_exceptions=True)
        still_waiting = not waiting.done()
        broker.publish("org", 5)
        await waiting  # woken by the poke, not cancelled with the other stream
        return still_waiting, staying.take()

    still_waiting, message = asyncio.run(scenario())
    assert still_waiting
    assert message == pokes.poke_message(5)


def test_the_heartbeat_tick_wakes_only_streams_with_nothing_sent_since_the_last() -> None:
    async def scenario() -> tuple[bool, bool, bytes | None]:
        broker = pokes.PokeBroker()
        broker.bind(asyncio.get_running_loop())  # ticks driven by hand below
        poked, idle = broker.subscribe("poked"), broker.subscribe("idle")
        broker.publish("poked", 3)
        sent = poked.take()
        waiting = [asyncio.create_task(s.wait()) for s in (poked, idle)]
        await asyncio.sleep(0)
        broker._tick(60.0)  # one heartbeat interval: "poked" had a poke within it
        await _turns()
        woken = (waiting[0].done(), waiting[1].done())
        for task in waiting:
            task.cancel()
        return *woken, sent

    poked_woken, idle_woken, sent = asyncio.run(scenario())
    assert sent == b'event: poke\ndata: {"version": 3}\n\n'
    assert (poked_woken, idle_woken) == (False, True)


def test_closing_the_broker_ends_waiting_and_later_streams() -> None:
    async def scenario() -> tuple[int | None, bool, float]:
        broker = pokes.PokeBroker()
        broker.bind(asyncio.get_running_loop())
        subscription = broker.subscribe("org")
        started = time.monotonic()
        waiting = asyncio.create_task(subscription.next_version(30))
        await asyncio.sleep(0)  # let the stream start waiting
        broker.close()
        result = await waiting
        return result, broker.subscribe("org").closed, time.monotonic() - started

    result, later_closed, took = asyncio.run(scenario())
    assert result is None and later_closed and took < 1


def test_other_organizations_streams_are_not_poked() -> None:
    async def scenario() -> int | None:
        broker = pokes.PokeBroker()
        broker.bind(asyncio.get_running_loop())
        subscription = broker.subscribe("org-a")
        broker.publish("org-b", 7)
        return await subscription.next_version(0.05)

    assert asyncio.run(scenario()) is None


@pytest.mark.parametrize(("payload", "parsed"), [
    ("8c1b-org:12", ("8c1b-org", 12)), ("a:b:3", ("a:b", 3)), ("org:", None), (":4", None),
    ("org:-1", None), ("garbage", None),
])
def test_notification_payloads_are_read_strictly(
    payload: str, parsed: tuple[str, int] | None
) -> None:
    assert pokes.parse_notification(payload) == parsed
