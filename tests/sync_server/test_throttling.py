"""Abuse is throttled: sign-in rate limits (429 + Retry-After), bounded password hashing,
lockout per (account, client address) with an unlock command, and a body read timeout.

The flood and slow-body tests run against a real uvicorn on a loopback port; they
assert behaviour only (429s, answers, closed connections); the figures (memory,
``/health`` latency under a flood) are measured by ``bench/login_flood.py``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sync_server import cli
from sync_server.app import create_app
from sync_server.core import throttle
from sync_server.core.config import Settings
from sync_server.core.logging import configure_logging
from tests.e2e.server_side import ServerThread
from tests.sync_server.conftest import Clock, OrgUser, Tenants, make_settings, sign_in

LOGIN = "/api/v1/auth/login"


def _client(settings: Settings, clock: Clock, address: str) -> TestClient:
    return TestClient(create_app(settings, clock=clock), client=(address, 50000))


# --------------------------------------------------------------------------- rate limits


def test_too_many_sign_ins_from_one_client_are_answered_429_with_retry_after(
    database_url: str, tmp_path: Path, clock: Clock, tenants: Tenants,
) -> None:
    settings = make_settings(database_url, tmp_path, login_per_client_per_minute=3)
    who = tenants.organization()
    with _client(settings, clock, "198.51.100.7") as client:
        statuses = [client.post(LOGIN, json=who.login_body(
            email=f"guess{i}@clinic.example")).status_code for i in range(3)]
        throttled = client.post(LOGIN, json=who.login_body())
    assert statuses == [401, 401, 401]
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60


def test_too_many_sign_ins_for_one_account_are_throttled_from_any_address(
    database_url: str, tmp_path: Path, clock: Clock, tenants: Tenants,
) -> None:
    settings = make_settings(database_url, tmp_path, login_per_account_per_minute=2)
    who = tenants.organization()
    app = create_app(settings, clock=clock)
    answers = []
    for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        with TestClient(app, client=(address, 50000)) as client:
            answers.append(client.post(LOGIN, json=who.login_body(password="wrong-pass")))
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert "Retry-After" in answers[2].headers


# --------------------------------------------------------------------------- lockout


def test_wrong_passwords_from_one_address_do_not_lock_the_account_elsewhere(
    database_url: str, tmp_path: Path, clock: Clock, tenants: Tenants,
) -> None:
    settings = make_settings(database_url, tmp_path)
    admin = tenants.organization()
    app = create_app(settings, clock=clock)
    with TestClient(app, client=("192.0.2.66", 50000)) as attacker:
        for _ in range(settings.lockout_threshold):
            assert attacker.post(LOGIN, json=admin.login_body(password="not-it")
                                 ).status_code == 401
        assert attacker.post(LOGIN, json=admin.login_body()).status_code == 401  # paused
    with TestClient(app, client=("10.1.2.3", 50000)) as front_desk:
        assert front_desk.post(LOGIN, json=admin.login_body()).status_code == 200


def test_the_unlock_command_lifts_a_pause_at_once(
    database_url: str, tmp_path: Path, clock: Clock, tenants: Tenants,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(database_url, tmp_path)
    who = tenants.organization()
    with _client(settings, clock, "192.0.2.80") as client:
        for _ in range(settings.lockout_threshold):
            client.post(LOGIN, json=who.login_body(password="not-it"))
        assert client.post(LOGIN, json=who.login_body()).status_code == 401
        code = cli.main(["--database-url", database_url, "unlock-account", "--org",
                         who.org_slug, who.email, "--address", "192.0.2.80"])
        assert code == cli.EXIT_OK
        assert f"unlocked {who.email} from 192.0.2.80" in capsys.readouterr().out
        assert client.post(LOGIN, json=who.login_body()).status_code == 200


def test_the_unlock_command_names_an_unknown_account_clearly(
    database_url: str, tenants: Tenants, capsys: pytest.CaptureFixture[str],
) -> None:
    who = tenants.organization()
    code = cli.main(["--database-url", database_url, "unlock-account", "--org", who.org_slug,
                     "nobody@clinic.example"])
    assert code == cli.EXIT_FAILURE
    assert "No account with this e-mail" in capsys.readouterr().err


# --------------------------------------------------------------------------- hashing slots


def test_a_sign_in_that_gets_no_hashing_slot_in_time_is_told_to_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(throttle, "PASSWORD_SLOT_WAIT_SECONDS", 0.05)
    guard = throttle.LoginGuard(per_client=100, per_account=100, slots=1)
    release = asyncio.Event()
    outcomes: list[str] = []

    async def hold() -> None:
        async with guard.hashing_slot():
            outcomes.append("first hashes")
            await release.wait()

    async def scenario() -> None:
        holder = asyncio.create_task(hold())
        while not outcomes:
            await asyncio.sleep(0)
        with pytest.raises(throttle.Throttled) as busy:
            async with guard.hashing_slot():
                outcomes.append("second hashes")
        outcomes.append(f"second told to retry after {busy.value.retry_after}s")
        release.set()
        await holder
        async with guard.hashing_slot():
            outcomes.append("third hashes")

    asyncio.run(scenario())
    assert outcomes == ["first hashes", "second told to retry after 1s", "third hashes"]


def test_hashing_slots_fit_the_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(throttle, "memory_bytes", lambda: 1024 * 1024 * 1024)  # 1 GiB
    assert throttle.password_slots(64 * 1024) == 4  # a quarter: 256 MiB / 64 MiB
    monkeypatch.setattr(throttle, "memory_bytes", lambda: 100 * 1024 * 1024)
    assert throttle.password_slots(64 * 1024) == 1
    monkeypatch.setattr(throttle, "memory_bytes", lambda: 1 << 40)
    assert throttle.password_slots(64 * 1024) == 8  # never more than one per CPU
    assert throttle.password_slots(64 * 1024, configured=3) == 3


# --------------------------------------------------------------------------- real server


@pytest.fixture
def live(sqlite_database_url: str, tmp_path: Path) -> Iterator[ServerThread]:
    settings = make_settings(sqlite_database_url, tmp_path, argon2_memory_kib=8192,
                             argon2_time_cost=2, login_per_client_per_minute=20,
                             body_idle_seconds=2.0)
    server = ServerThread(settings)
    server.start()
    yield server
    server.stop()


def test_a_login_flood_is_throttled_and_health_keeps_answering(
    live: ServerThread, sqlite_database_url: str, tmp_path: Path,
) -> None:
    body = {"organization": "flood", "email": "admin@clinic.example", "password": "x" * 12}

    def attempt(_index: int) -> int:
        return httpx.post(f"{live.url}{LOGIN}", json=body, timeout=30).status_code

    with ThreadPoolExecutor(40) as pool:
        flood = [pool.submit(attempt, i) for i in range(120)]
        health = [httpx.get(f"{live.url}/api/v1/health", timeout=30).status_code
                  for _ in range(5)]
        statuses = [f.result() for f in flood]
    assert health == [200] * 5
    assert set(statuses) <= {401, 429}  # never a 5xx
    assert statuses.count(429) >= 100  # 20 a minute get through, the rest are throttled


def test_a_slow_body_is_answered_408_and_its_connection_closed(live: ServerThread) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as conn:
        conn.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"")
        answer = b""
        while chunk := conn.recv(65536):  # the server closes the connection after answering
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"request_timeout" in answer


# --------------------------------------------------------------------------- outages


def test_a_connection_lost_after_the_answer_logs_one_line_not_a_traceback(
    database_url: str, tmp_path: Path, clock: Clock, tenants: Tenants,
) -> None:
    app = create_app(make_settings(database_url, tmp_path), clock=clock)
    context = app.state.context
    who: OrgUser = tenants.organization()

    class LostOnClose(Session):
        def close(self) -> None:
            super().close()
            raise OperationalError("ROLLBACK", {}, Exception("server closed the connection"))

    stream = io.StringIO()
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate)
             for lg in (logging.getLogger(n) for n in ("", "sync_server", "uvicorn",
                                                      "uvicorn.error"))]
    configure_logging("INFO", stream)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            headers = sign_in(client, who)
            context.sessions = sessionmaker(context.engine, class_=LostOnClose,
                                            expire_on_commit=False)
            answer = client.get("/api/v1/auth/me", headers=headers)
    finally:
        for lg, handlers, level, propagate in saved:
            lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate
    logged = stream.getvalue()
    assert answer.status_code == 200
    assert "closing a database session failed after the answer" in logged
    assert "already started" not in logged and "Traceback" not in logged
