"""Issue 17's "Done when": a patient's virtual check-in in the portal reaches a running desk
within 1 s, on SQLite and PostgreSQL.

A real uvicorn server on loopback, sign-in codes through a real aiosmtpd server, and a
real desk: an encrypted store and its sync worker on its own thread listening to the
server's event stream (fallback poll 30 s, so anything under it travelled by poke →
pull). The patient signs in and posts "Check in" over HTTP; the clock runs from the
server's answer to that POST (the check-in is committed by then; the POST's own time on a
loaded machine is not the relay's) until the desk's store shows the appointment arrived,
virtually, and the desk's agenda shows it so. The measured time is printed and recorded
as a test property (``virtual_checkin_ms``); docs/performance.md keeps the figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session

from desktop.config import DeskConfig
from desktop.services import agenda
from desktop.services.context import DeskContext
from desktop.services.session import SessionSettings, SignInService
from desktop.store.engine import Store
from desktop.store.keys import create_store
from desktop.store.models import AppointmentRow, ClinicRow
from desktop.sync.client import SyncClient
from desktop.sync.worker import SyncThread, SyncWorker
from scheduling.timeutil import local_date
from sync_server.core.config import Settings
from tests.e2e.desk import FAST_HASHER, FAST_KDF, PASSPHRASE, FileKeyring
from tests.e2e.server_side import PASSWORD, ServerThread
from tests.e2e.telemedicine_setup import book_soon, csrf, portal_session, seed_telemedicine
from tests.support.notify_servers import SmtpSink
from tests.sync_server.portal_setup import PortalClinic

#: The issue's goal: the desk shows the check-in within this many seconds of the POST.
GOAL_SECONDS = 1.0


@dataclass
class LiveDesk:
    store: Store
    context: DeskContext
    thread: SyncThread


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def place(db: Session, server_settings: Settings, smtp: SmtpSink) -> PortalClinic:
    return seed_telemedicine(db, server_settings, smtp, codes=1)


@pytest.fixture
def desk(tmp_path: Path, place: PortalClinic, server: ServerThread) -> Iterator[LiveDesk]:
    """An enrolled desk, its receptionist signed in, its sync worker running."""
    keyring = FileKeyring(tmp_path / "keys.json")
    store = create_store(tmp_path / "desk.db", PASSPHRASE, keyring, kdf=FAST_KDF)
    client = SyncClient(store, DeskConfig(data_dir=tmp_path), requests.Session(),
                        keyring_backend=keyring)
    client.enroll(server.url, place.clinic.codes[0], name="desk")
    clock = lambda: datetime.now(UTC)  # noqa: E731 - the desk's wall clock
    sessions = SignInService(store, clock, SessionSettings(), hasher=FAST_HASHER,
                             device_id="e2e-desk")
    signed = sessions.sign_in_online(
        place.clinic.user_email, PASSWORD, None,
        lambda e, p, t: client.check_credentials(place.clinic.org_slug, e, p, t))
    assert signed.ok, signed.failure
    thread = SyncThread(SyncWorker(client, listener_factory=client.poke_listener))
    thread.start()
    try:
        yield LiveDesk(store, DeskContext(store, sessions, clock), thread)
    finally:
        thread.shutdown()
        store.close()


def stored(desk: LiveDesk, appointment_id: str) -> tuple[str, datetime | None] | None:
    with desk.store.session() as session:
        row = session.get(AppointmentRow, appointment_id)
        return None if row is None else (row.status, row.virtual_checkin_at)


def test_a_virtual_check_in_reaches_the_running_desk_within_a_second(
        qtbot: QtBot, desk: LiveDesk, place: PortalClinic, server: ServerThread,
        smtp: SmtpSink, record_property: Any) -> None:
    qtbot.waitUntil(lambda: desk.thread.worker.status.online, timeout=30_000)
    appointment_id, start = book_soon(server.url, place)
    qtbot.waitUntil(lambda: stored(desk, appointment_id) == ("booked", None), timeout=10_000)
    patient = portal_session(server.url, place, smtp)
    page_url = f"{server.url}{place.base}/appointments/{appointment_id}"
    token = csrf(patient.get(page_url, timeout=10).text)

    seen: list[float] = []

    def arrived_virtually() -> bool:
        found = stored(desk, appointment_id)
        if found is not None and found[0] == "arrived" and found[1] is not None:
            seen.append(time.perf_counter())
            return True
        return False

    answer = patient.post(f"{page_url}/checkin", data={"csrf": token}, timeout=10,
                          allow_redirects=False)
    began = time.perf_counter()
    assert answer.status_code == 303, answer.text
    qtbot.waitUntil(arrived_virtually, timeout=10_000)
    elapsed = seen[0] - began
    record_property("virtual_checkin_ms", round(elapsed * 1000))
    print(f"\nvirtual check-in: portal answer → desk store in {elapsed * 1000:.0f} ms "
          f"(goal {GOAL_SECONDS * 1000:.0f} ms)")
    assert elapsed <= GOAL_SECONDS  # the Done-when, measured here

    view = agenda.day_view(desk.context, place.clinic.clinic_id,
                           local_date(start, _zone(desk, place)))
    [item] = [i for i in view.items if i.appointment_id == appointment_id]
    assert item.status == "arrived" and item.virtual and not item.pending


def _zone(desk: LiveDesk, place: PortalClinic) -> str:
    with desk.store.session() as session:
        clinic = session.get(ClinicRow, place.clinic.clinic_id)
        assert clinic is not None
        return clinic.time_zone
