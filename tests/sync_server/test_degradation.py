"""An unreachable PostgreSQL gives fast 503s, and the server recovers by itself."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from sync_server.app import create_app
from sync_server.core.security import Passwords, password_hasher
from sync_server.db.session import make_engine, make_session_factory
from sync_server.services import accounts, organizations
from tests.sync_server.conftest import PASSWORD, make_settings, pg_admin_engine, terminate_backends

pytestmark = pytest.mark.postgres


class TcpProxy:
    """A loopback TCP relay to PostgreSQL that can be cut and restored (a 'network outage')."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            if self._listener is not None:
                # shutdown() wakes the blocked accept() and stops listening at once (Linux).
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def login_body(pg_database_url: str) -> dict[str, str]:
    """An organization with one administrator in the module's PostgreSQL database."""
    engine = make_engine(pg_database_url)
    slug = f"deg-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    with make_session_factory(engine)() as session:
        org = organizations.create_organization(session, "Degradation", now, slug)
        passwords = Passwords(
            password_hasher(make_settings(pg_database_url, Path("."), argon2_memory_kib=1024))
        )
        accounts.create_user(
            session, passwords, org.id, "admin@clinic.example", PASSWORD, ["administrator"], now
        )
        session.commit()
    engine.dispose()
    return {"organization": slug, "email": "admin@clinic.example", "password": PASSWORD}


@pytest.fixture
def proxy(pg_database_url: str) -> Iterator[TcpProxy]:
    url = make_url(pg_database_url)
    relay = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    relay.start()
    yield relay
    relay.stop()


def test_an_unreachable_database_answers_503_quickly(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/nowhere"
    with TestClient(create_app(make_settings(url, tmp_path))) as client:
        started = time.monotonic()
        response = client.post(
            "/api/v1/auth/login", json={"organization": "x", "email": "a@b.c", "password": "p"}
        )
        elapsed = time.monotonic() - started
        health = client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert elapsed < 5
    assert health.status_code == 503 and health.json()["database"] == "unreachable"


def test_the_server_recovers_after_its_database_connections_are_killed(
    pg_database_url: str, tmp_path: Path
) -> None:
    body = login_body(pg_database_url)
    with TestClient(create_app(make_settings(pg_database_url, tmp_path))) as client:
        assert client.post("/api/v1/auth/login", json=body).status_code == 200
        admin = pg_admin_engine()
        terminate_backends(admin, make_url(pg_database_url).database or "")
        admin.dispose()
        assert client.post("/api/v1/auth/login", json=body).status_code == 200


def test_a_database_outage_gives_503_and_service_resumes_without_restart(
    pg_database_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    body = login_body(pg_database_url)
    via_proxy = make_url(pg_database_url).set(host="127.0.0.1", port=proxy.port)
    settings = make_settings(via_proxy.render_as_string(hide_password=False), tmp_path)
    with TestClient(create_app(settings)) as client:
        assert client.post("/api/v1/auth/login", json=body).status_code == 200
        proxy.stop()
        down = client.post("/api/v1/auth/login", json=body)
        assert down.status_code == 503
        assert "database" in down.json()["error"]["message"]
        proxy.start()
        assert client.post("/api/v1/auth/login", json=body).status_code == 200
