"""A real sync server (uvicorn on a loopback port, SQLite) with a seeded clinic, and the
desk's :class:`FeedsService` talking to it as the clinic's administrator."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import update

from desktop.services.feeds import FeedResource, FeedsService
from sync_server.core.security import Passwords, password_hasher
from sync_server.db import models as db
from sync_server.db.migrate import upgrade
from sync_server.db.session import make_engine, make_session_factory
from sync_server.services import accounts
from tests.e2e.server_side import PASSWORD, Clinic, ServerThread, seed_clinic
from tests.sync_server.conftest import make_settings


@dataclass
class LiveFeeds:
    url: str
    clinic: Clinic
    service: FeedsService
    resources: list[FeedResource]
    http: requests.Session
    #: A user with the provider role (``schedule:own``), linked to provider 0.
    provider_email: str = ""

    def provider_service(self) -> FeedsService:
        """The desk's service as the provider's own user (signed in on its own session)."""
        http = requests.Session()
        token = http.post(f"{self.url}/api/v1/auth/login", timeout=10, json={
            "organization": self.clinic.org_slug, "email": self.provider_email,
            "password": PASSWORD}).json()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        return FeedsService(_caller(http, self.url))

    def set_full_allowed(self, allowed: bool) -> None:
        policy = self.http.get(f"{self.url}/api/v1/feeds/policy", timeout=10).json()
        answer = self.http.put(f"{self.url}/api/v1/feeds/policy", timeout=10,
                               json={**policy, "allow_full": allowed})
        answer.raise_for_status()


class Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class SeededServer:
    """A running server, its seeded clinic, and an HTTP session signed in as its
    administrator (``admin_email``)."""

    url: str
    clinic: Clinic
    admin_email: str
    http: requests.Session
    provider_email: str


@contextmanager
def seeded_server(folder: Path) -> Iterator[SeededServer]:
    database = f"sqlite:///{folder / 'server.db'}"
    upgrade(database)
    settings = make_settings(database, folder)
    engine = make_engine(database)
    with make_session_factory(engine)() as session:
        clinic = seed_clinic(session, settings)
        email = f"admin-{uuid.uuid4().hex[:6]}@clinic.example"
        passwords = Passwords(password_hasher(settings))
        accounts.create_user(session, passwords, clinic.org_id,
                             email, PASSWORD, ["administrator"], datetime.now(UTC))
        provider_email = f"doctor-{uuid.uuid4().hex[:6]}@clinic.example"
        doctor = accounts.create_user(session, passwords, clinic.org_id, provider_email,
                                      PASSWORD, ["provider"], datetime.now(UTC))
        session.execute(update(db.Resource).where(db.Resource.id == clinic.provider_ids[0])
                        .values(user_id=doctor.id))
        session.commit()
    engine.dispose()
    server = ServerThread(settings)
    server.start()
    http = requests.Session()
    try:
        token = http.post(f"{server.url}/api/v1/auth/login", timeout=10, json={
            "organization": clinic.org_slug, "email": email, "password": PASSWORD}).json()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield SeededServer(server.url, clinic, email, http, provider_email)
    finally:
        http.close()
        server.stop()


@contextmanager
def live_feeds(folder: Path) -> Iterator[LiveFeeds]:
    with seeded_server(folder) as running:
        server, clinic, http = running, running.clinic, running.http

        resources = [FeedResource(r, f"provider {n}", "provider")
                     for n, r in enumerate(clinic.provider_ids)]
        resources += [FeedResource(r, f"room {n + 2}", "room")
                      for n, r in enumerate(clinic.room_ids)]
        yield LiveFeeds(server.url, clinic, FeedsService(_caller(http, server.url)), resources,
                        http, running.provider_email)


def _caller(http: requests.Session, url: str) -> Callable[..., Any]:
    def call(method: str, path: str, **kwargs: Any) -> Any:
        answer = http.request(method, url + path, timeout=10, **kwargs)
        if answer.status_code >= 400:
            raise Refused(answer.json()["error"]["message"])
        return answer.json()

    return call
