"""The sync worker in its QThread against the real sync server: signals, pokes from the
server's event stream, fallback polling, a clean stop."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
import requests
from pytestqt.qtbot import QtBot
from sqlalchemy.orm import Session

from desktop.store.models import AppointmentRow
from desktop.sync.events import PokeListener, parse_events, poke_version
from desktop.sync.worker import SyncStatus, SyncThread, SyncWorker
from tests.desktop.sync.conftest import Desk
from tests.e2e.server_side import Clinic, appointment_ids, free_port

PULL = "/api/v1/sync/pull"


class SilentStream:
    """A loopback SSE endpoint that never sends an event (a stream gone quiet)."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        stream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(b": hello\n\n")
                self.wfile.flush()
                try:
                    while self.rfile.read(1):  # returns b"" when the desk hangs up
                        pass
                except OSError:
                    pass
                stream.closed.set()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def silent() -> Iterator[SilentStream]:
    events = SilentStream()
    yield events
    events.shutdown()


def confirmed(desk: Desk, appointment_id: str) -> bool:
    with desk.store.session() as session:
        found = session.get(AppointmentRow, appointment_id)
        return found is not None and found.pending_mutation_id is None


# --------------------------------------------------------------------------- parsing


def test_server_sent_events_are_parsed_and_only_pokes_carry_a_version() -> None:
    lines = [": heartbeat", "", "event: poke", 'data: {"version": 7}', "",
             "event: other", "data: x", "", "event: poke", "data: not json", ""]
    events = list(parse_events(lines))
    assert [poke_version(e) for e in events] == [7, None, 0]


# --------------------------------------------------------------------------- the worker


def test_a_requested_sync_reports_its_status_through_signals(
    desk: Desk, db: Session, clinic: Clinic, qtbot: QtBot
) -> None:
    mine = desk.book(0)
    worker = SyncWorker(desk.client)
    with qtbot.waitSignal(worker.stateChanged) as blocker:
        worker.requestSync()
    status = blocker.args[0]
    assert isinstance(status, SyncStatus)
    assert status.online and status.pending == 0 and status.error is None
    assert status.last_success is not None
    assert appointment_ids(db, clinic.org_id) == [mine]


def test_a_failed_sync_reports_offline_with_a_plain_message_and_the_pending_count(
    desk: Desk, qtbot: QtBot
) -> None:
    desk.book(0)
    nobody = replace(desk.client.config, server_url=f"http://127.0.0.1:{free_port()}")
    worker = SyncWorker(desk.new_client(nobody))
    with qtbot.waitSignal(worker.stateChanged) as blocker:
        worker.requestSync()
    status = blocker.args[0]
    assert not status.online and status.pending == 1
    assert status.error is not None and "cannot be reached" in status.error
    assert "Your changes are kept" in status.error


def test_new_conflicts_and_changed_data_are_signalled(
    desk: Desk, other_desk: Desk, qtbot: QtBot
) -> None:
    other_desk.book(0, patient=1)
    other_desk.client.sync_once()
    desk.book(0, patient=2)
    worker = SyncWorker(desk.client)
    conflicts: list[int] = []
    changed: list[bool] = []
    worker.conflictsArrived.connect(conflicts.append)
    worker.dataChanged.connect(lambda: changed.append(True))
    worker.requestSync()
    assert conflicts == [1]
    assert changed == [True]
    assert worker.status.pending == 0 and worker.status.error is None


def test_the_worker_syncs_in_its_own_thread_when_the_server_pokes_and_stops_cleanly(
    desk: Desk, other_desk: Desk, db: Session, clinic: Clinic, qtbot: QtBot
) -> None:
    threads: list[threading.Thread] = []
    original = desk.client.sync_once

    def recording_sync() -> object:
        threads.append(threading.current_thread())
        return original()

    desk.client.sync_once = recording_sync  # type: ignore[method-assign]
    stream_up = threading.Event()
    listeners: list[PokeListener] = []

    def listen(on_poke: Callable[[int], None],
               on_stream: Callable[[bool], None]) -> PokeListener | None:
        def stream_changed(up: bool) -> None:
            if up:
                stream_up.set()
            on_stream(up)

        made = desk.client.poke_listener(on_poke, stream_changed)
        assert made is not None
        listeners.append(made)
        return made

    worker = SyncWorker(desk.client, listener_factory=listen, poll_seconds=3600)
    owner = SyncThread(worker)
    statuses: list[SyncStatus] = []
    worker.stateChanged.connect(statuses.append)
    owner.start()
    try:
        qtbot.waitUntil(lambda: len(statuses) >= 1 and stream_up.is_set(), timeout=10_000)
        syncs_before = len(threads)
        mine = desk.book(0)
        other_desk.book(5, patient=5)
        other_desk.client.sync_once()  # the version moves: the server pokes this desk
        qtbot.waitUntil(lambda: confirmed(desk, mine), timeout=10_000)
        assert len(threads) > syncs_before
        assert threading.main_thread() not in threads
        assert mine in appointment_ids(db, clinic.org_id)
    finally:
        assert owner.shutdown()
    assert listeners and not listeners[0].running


def test_while_the_stream_is_down_the_worker_pulls_periodically(
    desk: Desk, qtbot: QtBot
) -> None:
    worker = SyncWorker(desk.client, poll_seconds=0.05)
    owner = SyncThread(worker)
    pulls_before = desk.traffic.count(PULL)
    owner.start()
    try:
        qtbot.waitUntil(lambda: desk.traffic.count(PULL) >= pulls_before + 3, timeout=10_000)
    finally:
        assert owner.shutdown()


def test_closing_the_listener_unblocks_a_silent_stream_at_once(silent: SilentStream) -> None:
    up = threading.Event()
    listener = PokeListener(requests.Session(), silent.url, lambda: "token", lambda _v: None,
                            lambda is_up: up.set() if is_up else None, read_timeout=60)
    listener.start()
    assert up.wait(10)  # connected, now blocked reading a silent stream
    listener.close(wait=10)
    assert not listener.running  # unblocked: the 60 s read timeout did not have to pass
    assert silent.closed.wait(10)  # the desk hung up
