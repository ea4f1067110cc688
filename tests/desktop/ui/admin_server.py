"""A real sync server (uvicorn on a loopback port, SQLite) with a seeded clinic, and the
desk's administration services talking to it as the clinic's administrator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from desktop.services.admin import AdminService, TwoStepService
from desktop.ui.admin.kinds import lookup_lists
from tests.desktop.ui.feeds_server import seeded_server
from tests.e2e.server_side import PASSWORD, Clinic


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
        paths = ("clinics", "resources", "appointment-types", "users", "roles", "departments")
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
    with seeded_server(folder) as running:
        live = LiveAdmin(running.url, running.clinic, running.admin_email,
                         AdminService(lambda *a, **k: None), running.http)
        live.service = AdminService(live.call)
        yield live
