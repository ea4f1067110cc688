"""End-to-end fixtures: a real sync server (SQLite and PostgreSQL) and desks in subprocesses.

The databases come from the server suite's fixtures (a fresh PostgreSQL database
per module, dropped afterwards; a missing PostgreSQL fails under
``CLINICDESK_REQUIRE_ALL=1``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db.session import make_engine, make_session_factory
from tests.e2e.server_side import PASSWORD, Clinic, ServerThread, seed_clinic
from tests.sync_server.conftest import (  # noqa: F401 - fixtures shared with the server suite
    make_settings,
    pg_database_url,
    sqlite_database_url,
)

ROOT = Path(__file__).resolve().parents[2]
DESK_TIMEOUT = 120


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_database_url" if request.param == "sqlite" else "pg_database_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(scope="module")
def server_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(database_url, tmp_path_factory.mktemp("server"))


@pytest.fixture(scope="module")
def server(server_settings: Settings) -> Iterator[ServerThread]:
    running = ServerThread(server_settings)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def clinic(db: Session, server_settings: Settings) -> Clinic:
    return seed_clinic(db, server_settings)


class Desk:
    """A desk whose every command runs in a new process (``python -m tests.e2e.desk``)."""

    def __init__(self, directory: Path, clinic: Clinic) -> None:
        self.directory = directory
        self.clinic = clinic

    def command(self, name: str, options: dict[str, Any] | None = None,
                env: dict[str, str] | None = None) -> dict[str, Any]:
        args = [sys.executable, "-m", "tests.e2e.desk", str(self.directory), name]
        if options is not None:
            args.append(self._options_file(options))
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                              timeout=DESK_TIMEOUT, env=env, check=False)
        assert done.returncode in (0, 3), done.stderr[-3000:]
        output: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return output

    def popen(self, name: str, options: dict[str, Any]) -> subprocess.Popen[str]:
        args = [sys.executable, "-m", "tests.e2e.desk", str(self.directory), name,
                self._options_file(options)]
        return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def _options_file(self, options: dict[str, Any]) -> str:
        """Options travel in a file: 500 bookings exceed the command line's length limit."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"options-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(options))
        return f"@{path}"

    def booking(self, index: int, appointment_id: str, patient: int = 0) -> dict[str, str]:
        provider, start = self.clinic.slot(index)
        return {"id": appointment_id, "clinic": self.clinic.clinic_id,
                "patient": self.clinic.patient_ids[patient % len(self.clinic.patient_ids)],
                "type": self.clinic.type_id, "provider": provider, "start": start.isoformat()}

    def book(self, bookings: list[dict[str, str]]) -> dict[str, Any]:
        return self.command("book", {"email": self.clinic.user_email, "password": PASSWORD,
                                     "bookings": bookings})

    def sync(self, **options: Any) -> dict[str, Any]:
        return self.command("sync", options)

    def dump(self) -> dict[str, Any]:
        return self.command("dump")


@pytest.fixture
def desks(tmp_path: Path, clinic: Clinic, server: ServerThread) -> Callable[[str], Desk]:
    """Make an enrolled desk with the receptionist signed in once online."""
    codes = iter(clinic.codes)

    def make(name: str) -> Desk:
        desk = Desk(tmp_path / name, clinic)
        desk.command("create")
        enrolled = desk.command("enroll", {"url": server.url, "code": next(codes)})
        assert "client_id" in enrolled, enrolled
        desk.client_id = enrolled["client_id"]  # type: ignore[attr-defined]
        signed = desk.command("sign-in", {"organization": clinic.org_slug,
                                          "email": clinic.user_email, "password": PASSWORD})
        assert signed["ok"], signed
        return desk

    return make


def iso(value: datetime) -> str:
    return value.isoformat()
