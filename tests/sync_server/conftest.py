"""Server test fixtures: every database test runs on SQLite *and* PostgreSQL.

PostgreSQL comes from ``CLINICDESK_TEST_PG_URL`` (default the local server);
each test module gets its own freshly migrated database, dropped afterwards.
A missing PostgreSQL skips those tests, or fails them when
``CLINICDESK_REQUIRE_ALL=1`` (CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sync_server.app import create_app
from sync_server.core.config import Settings
from sync_server.core.security import Passwords, password_hasher
from sync_server.db.migrate import upgrade
from sync_server.db.session import make_engine, make_session_factory
from sync_server.services import accounts, organizations, sync
from tests.support.notify_servers import SmsGateway, SmtpSink

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/"
REQUIRE_ALL = os.environ.get("CLINICDESK_REQUIRE_ALL") == "1"
PASSWORD = "correct horse battery staple"
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def pg_server_url() -> URL:
    url = make_url(os.environ.get("CLINICDESK_TEST_PG_URL") or DEFAULT_PG_URL)
    return url.set(drivername="postgresql+psycopg")


def pg_admin_engine() -> Engine:
    return create_engine(
        pg_server_url().set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )


def _pg_unavailable(reason: str) -> None:
    message = f"PostgreSQL is not reachable at {pg_server_url().render_as_string()}: {reason}"
    if REQUIRE_ALL:
        pytest.fail(message)
    pytest.skip(message)


def terminate_backends(admin: Engine, database: str) -> None:
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": database},
        )


@pytest.fixture(scope="module")
def pg_database_url() -> Iterator[str]:
    """A new, migrated PostgreSQL database for this test module."""
    admin = pg_admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        admin.dispose()
        _pg_unavailable(str(exc.orig).splitlines()[0])
    name = f"clinicdesk_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_server_url().set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        terminate_backends(admin, name)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="module")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('server-db') / 'server.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, to migrate step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'steps.db'}"
        return
    request.getfixturevalue("pg_database_url")  # skips (or fails in CI) without PostgreSQL
    admin = pg_admin_engine()
    name = f"clinicdesk_steps_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_server_url().set(database=name).render_as_string(hide_password=False)
    finally:
        terminate_backends(admin, name)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest) -> str:
    """Each server test runs once per backend."""
    name = "sqlite_database_url" if request.param == "sqlite" else "pg_database_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(autouse=True)
def whole_pushes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A push answers every mutation it was sent: on a busy machine the few seconds of
    ``sync.PUSH_SECONDS`` could otherwise cut a test's push short (tests of that budget
    set it themselves)."""
    monkeypatch.setattr(sync, "PUSH_SECONDS", 3600.0)


@pytest.fixture
def backend(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


class Clock:
    """A settable UTC clock so expiry and lockout are tested without waiting."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "secret_key": "test-signing-key-not-for-production",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> FastAPI:
    return create_app(settings, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    """A session on the test database, for arranging data and inspecting results."""
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@dataclass(frozen=True)
class OrgUser:
    org_id: str
    org_slug: str
    user_id: str
    email: str
    password: str = PASSWORD

    def login_body(self, **extra: object) -> dict[str, object]:
        return {
            "organization": self.org_slug,
            "email": self.email,
            "password": self.password,
            **extra,
        }


class Tenants:
    """Creates organizations and users through the real services."""

    def __init__(self, session: Session, settings: Settings, clock: Clock) -> None:
        self.session = session
        self.passwords = Passwords(password_hasher(settings))
        self.clock = clock

    def organization(self, role: str = "administrator", **user: object) -> OrgUser:
        slug = f"org-{uuid.uuid4().hex[:10]}"
        org = organizations.create_organization(self.session, f"Clinic {slug}", self.clock(), slug)
        self.session.commit()
        return self.user(org.id, slug, role, **user)

    def user(
        self, org_id: str, slug: str, role: str = "administrator", totp_secret: str | None = None
    ) -> OrgUser:
        email = f"{uuid.uuid4().hex[:8]}@clinic.example"
        user = accounts.create_user(
            self.session,
            self.passwords,
            org_id,
            email,
            PASSWORD,
            [role],
            self.clock(),
            totp_secret=totp_secret,
        )
        self.session.commit()
        return OrgUser(org_id, slug, user.id, email)


@pytest.fixture
def tenants(db: Session, settings: Settings, clock: Clock) -> Tenants:
    return Tenants(db, settings, clock)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client: TestClient, who: OrgUser) -> dict[str, str]:
    """Log ``who`` in and return the Authorization header."""
    response = client.post("/api/v1/auth/login", json=who.login_body())
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    """A real HTTP SMS gateway on loopback speaking Twilio's Messages API shape."""
    server = SmsGateway().start()
    yield server
    server.stop()
