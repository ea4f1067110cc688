"""A real sync server (uvicorn on a loopback port, SQLite) with a seeded clinic, and the
desk's administration services talking to it as the clinic's administrator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from desktop.services.admin import AdminService, TwoStepService
from desktop.ui.admin.kinds import lookup_lists
from sync_server.core.security import Passwords, password_hasher
from sync_server.db.migrate import upgrade
from sync_server.db.session import make_engine, make_session_factory
from sync_server.services import accounts
from tests.e2e.server_side import PASSWORD, Clinic, ServerThread, seed_clinic
from tests.sync_server.conftest import make_settings


class Refused(Exception):
    """A 4xx answer, with the server's words as the desk's sync client gives them."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.server_message = status, message


@dataclass
class LiveAdmin:
    url: str
    clinic: Clinic
    admin_email: str
    service: AdminService
    http: requests.Session

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, self.url + path, timeout=20, **kwargs)
        if answer.status_code >= 400:
            raise Refused(answer.status_code, answer.json()["error"]["message"])
        return None if answer.status_code == 204 else answer.json()

    def lookups(self) -> dict[str, list[tuple[str, str]]]:
        paths = ("clinics", "resources", "appointment-types", "users", "roles")
        records: dict[str, Any] = {p: self.service.records(f"/api/v1/admin/{p}") for p in paths}
        records["permissions"] = self.service.permissions()
        return lookup_lists(records)

    def two_step(self) -> TwoStepService:
        return TwoStepService(self.call, self.clinic.org_slug)

    def sign_in(self, email: str, **extra: Any) -> requests.Response:
        return requests.post(f"{self.url}/api/v1/auth/login", timeout=20, json={
            "organization": self.clinic.org_slug, "email": email, "password": PASSWORD,
            **extra})


@contextmanager
def live_admin(folder: Path) -> Iterator[LiveAdmin]:
    database = f"sqlite:///{folder / 'server.db'}"
    upgrade(database)
    settings = make_settings(database, folder)
    engine = make_engine(database)
    with make_session_factory(engine)() as session:
        clinic = seed_clinic(session, settings)
        email = f"admin-{uuid.uuid4().hex[:6]}@clinic.example"
        accounts.create_user(session, Passwords(password_hasher(settings)), clinic.org_id,
                             email, PASSWORD, ["administrator"], datetime.now(UTC))
        session.commit()
    engine.dispose()
    server = ServerThread(settings)
    server.start()
    http = requests.Session()
    try:
        token = http.post(f"{server.url}/api/v1/auth/login", timeout=20, json={
            "organization": clinic.org_slug, "email": email, "password": PASSWORD}).json()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        live = LiveAdmin(server.url, clinic, email, AdminService(lambda *a, **k: None), http)
        live.service = AdminService(live.call)
        yield live
    finally:
        http.close()
        server.stop()
