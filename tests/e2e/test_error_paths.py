"""What a desk says when the server is down, broken, too new or has revoked it; nothing is lost."""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy.orm import Session

from desktop.config import load_config
from desktop.store import outbox
from desktop.store.engine import Store
from desktop.sync.client import RetryPolicy, SyncClient
from desktop.sync.errors import (
    BadResponse,
    DeviceRevoked,
    ServerFailure,
    ServerUnreachable,
    SyncError,
    UpdateRequired,
)
from scheduling import intents
from sync_server.services import audit, devices
from tests.e2e.conftest import Desk
from tests.e2e.desk import FileKeyring, _open
from tests.e2e.server_side import ServerThread, free_port, needs_sync

QUICK = RetryPolicy(attempts=2, base_seconds=0.0, cap_seconds=0.0)


@pytest.fixture
def desk(desks: Callable[[str], Desk]) -> Desk:
    """An enrolled desk with three booking intents waiting in its outbox."""
    made = desks("a")
    store = _open(made.directory)
    try:
        with store.write() as session:
            for index in range(3):
                args = made.booking(index, str(uuid.uuid4()))
                outbox.append(session, intents.APPOINTMENT_BOOK, {
                    "appointment_id": args["id"], "clinic_id": args["clinic"],
                    "patient_id": args["patient"], "appointment_type_id": args["type"],
                    "provider_id": args["provider"], "start": args["start"], "end": None,
                    "room_id": None})
    finally:
        store.close()
    return made


@pytest.fixture
def store(desk: Desk) -> Iterator[Store]:
    opened = _open(desk.directory)
    yield opened
    opened.close()


def client_for(desk: Desk, store: Store, url: str | None = None, **options: object) -> SyncClient:
    config = load_config({"CLINICDESK_DESK_DIR": str(desk.directory)})
    if url is not None:
        config = replace(config, server_url=url)
    return SyncClient(store, config, requests.Session(),
                      keyring_backend=FileKeyring(desk.directory / "keys.json"), retry=QUICK,
                      sleep=lambda _s: None, **options)  # type: ignore[arg-type]


class BrokenServer:
    """A loopback HTTP server answering every request with ``status`` and ``body``."""

    def __init__(self, status: int, body: bytes) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def assert_kept(error: SyncError, desk: Desk) -> None:
    assert "Your changes are kept" in error.plain()
    assert desk.dump()["pending"] == 3


def test_a_server_that_is_down_gives_a_clear_message_and_the_outbox_is_intact(
    desk: Desk, store: Store
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServerUnreachable, match="cannot be reached") as raised:
        client_for(desk, store, nobody).sync_once()
    store.close()
    assert_kept(raised.value, desk)


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (502, b"<html>Bad gateway</html>", ServerFailure, "error 502"),
        (200, b"<html>Please sign in to the hotel wifi</html>", BadResponse,
         "does not understand"),
    ],
)
def test_a_broken_server_gives_a_clear_message_and_the_outbox_is_intact(
    desk: Desk, store: Store, status: int, body: bytes, error: type[SyncError], words: str
) -> None:
    broken = BrokenServer(status, body)
    try:
        with pytest.raises(error, match=words) as raised:
            client_for(desk, store, broken.url).sync_once()
    finally:
        broken.close()
    store.close()
    assert_kept(raised.value, desk)


def test_a_desk_too_old_for_the_server_is_told_to_update_and_keeps_its_outbox(
    desk: Desk, store: Store
) -> None:
    with pytest.raises(UpdateRequired, match="install the new version") as raised:
        client_for(desk, store, protocol_version=0).sync_once()
    store.close()
    assert_kept(raised.value, desk)


@needs_sync
def test_a_revoked_desk_is_told_to_ask_for_re_enrollment_and_keeps_its_outbox(
    desk: Desk, store: Store, db: Session, server: ServerThread
) -> None:
    client = client_for(desk, store)
    client_id: str = desk.client_id  # type: ignore[attr-defined]
    device = devices.find_device_by_client_id(db, desk.clinic.org_id, client_id)
    devices.revoke_device(db, desk.clinic.org_id, device, datetime.now(UTC), audit.Actor())
    with pytest.raises(DeviceRevoked, match="enroll it again") as raised:
        client.sync_once()
    store.close()
    assert_kept(raised.value, desk)
