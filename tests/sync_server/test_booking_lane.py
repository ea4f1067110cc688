"""Booking writes let their caller in on their own thread, in a lane of their own
(``sync_server.api.deps.Gate``, ``CLINICDESK_BOOKING_THREADS``, docs/admin.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest
from anyio import CapacityLimiter
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from sync_server.api.deps import booking_lane, default_booking_threads
from sync_server.app import create_app
from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.services import booking
from tests.sync_server.booking_setup import Booked, seed_booked, slot
from tests.sync_server.conftest import Clock, Tenants, make_settings


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The functions sent from the event loop to a thread while the test runs."""
    sent: list[str] = []
    original = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(func, "__qualname__", repr(func)))
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    yield sent


def _lane(client: TestClient, settings: Settings) -> CapacityLimiter:
    async def lane() -> CapacityLimiter:
        return booking_lane(settings)

    assert client.portal is not None
    return client.portal.call(lane)


def test_a_booking_accepted_or_refused_takes_one_hop_to_a_thread(
    client: TestClient, booked: Booked, hops: list[str]
) -> None:
    body = booked.book_body(slot(0))
    accepted = client.post("/api/v1/appointments", json=body, headers=booked.reception)
    assert accepted.status_code == 201, accepted.text
    assert len(hops) == 1, hops  # the caller's principal was loaded on the booking's thread
    refused = client.post("/api/v1/appointments", json=booked.book_body(slot(0), patient=1),
                          headers=booked.reception)
    assert refused.status_code == 409
    appointment_id = accepted.json()["appointments"][0]["id"]
    moved = client.post(f"/api/v1/appointments/{appointment_id}/move",
                        json={"start": slot(2).isoformat()}, headers=booked.reception)
    assert moved.status_code == 200, moved.text
    assert len(hops) == 3, hops


def test_a_gate_still_refuses_a_disabled_account_and_a_bad_token(
    client: TestClient, booked: Booked, tenants: Tenants, db: Session
) -> None:
    body = booked.book_body(slot(1))
    forged = client.post("/api/v1/appointments", json=body,
                         headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "invalid_token"
    user = db.get(models.User, booked.admin_user.user_id)  # the account, switched off
    assert user is not None
    user.active = False
    db.commit()
    disabled = client.post("/api/v1/appointments", json=body, headers=booked.admin)
    assert disabled.status_code == 401
    assert disabled.json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("threads", [3, None])
def test_the_booking_lane_is_the_configured_size(
    sqlite_database_url: str, tmp_path: Path, threads: int | None
) -> None:
    settings = make_settings(sqlite_database_url, tmp_path, booking_threads=threads)
    with TestClient(create_app(settings)) as client:
        lane = _lane(client, settings)
        assert lane.total_tokens == (threads or default_booking_threads())
        assert lane is _lane(client, settings)  # one per event loop
    assert default_booking_threads() >= 2


def test_no_booking_threads_at_all_is_refused(sqlite_database_url: str,
                                              tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        make_settings(sqlite_database_url, tmp_path, booking_threads=0)


# PostgreSQL: SQLite's writes already take turns before the lane (sqlite_write_turn).
@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_booking_beyond_the_lane_waits_its_turn_without_a_thread(
    database_url: str, tmp_path: Path, clock: Clock, db: Session, tenants: Tenants,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(database_url, tmp_path, booking_threads=1)
    inside, release = threading.Event(), threading.Event()
    calls: list[str] = []
    original = booking.book

    def held_book(*args: Any, **kwargs: Any) -> Any:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            inside.set()
            assert release.wait(60), "the test never let the first booking go on"
        return original(*args, **kwargs)

    monkeypatch.setattr(booking, "book", held_book)
    answers: dict[int, httpx.Response] = {}
    with TestClient(create_app(settings, clock=clock)) as client:
        booked = seed_booked(client, db, settings, tenants)
        lane = _lane(client, settings)

        def post(index: int) -> None:
            answers[index] = client.post("/api/v1/appointments",
                                         json=booked.book_body(slot(index)),
                                         headers=booked.reception)

        first = threading.Thread(target=post, args=(0,))
        second = threading.Thread(target=post, args=(1,))
        first.start()
        try:
            assert inside.wait(60)
            second.start()
            deadline = time.monotonic() + 60
            while lane.statistics().tasks_waiting < 1 and time.monotonic() < deadline:
                time.sleep(0.01)  # polling for the condition below, not standing in for it
            statistics = lane.statistics()
            assert (statistics.borrowed_tokens, statistics.tasks_waiting) == (1, 1)
            assert len(calls) == 1  # the second booking has not started
        finally:
            release.set()
            first.join(60)
            if second.is_alive() or second.ident is not None:
                second.join(60)
    assert [answers[i].status_code for i in (0, 1)] == [201, 201]
    assert len(calls) == 2
