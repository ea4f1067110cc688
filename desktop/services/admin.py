"""Administration from the desk: the server's admin API and two-step sign-in enrolment.

Configuration records (clinics, providers, appointment types, schedules, time off,
holidays, blockouts, quotas) and users and roles live on the server; the desk reads
and writes them there, as itself (device token) naming the signed-in user, and the
server checks that user's permissions. A saved change reaches every desk, this one
included, by the normal poke and pull. Refusals come back as
:class:`~desktop.sync.errors.RequestRefused` with the server's words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from desktop.services.context import DeskContext
from desktop.services.session import SessionLocked
from desktop.store.models import ClinicRow, ResourceRow

#: ``call(method, path, json=..., params=...)`` → decoded JSON; raises on refusal.
ServerCall = Callable[..., Any]

CONFIGURE = "admin:config"
USERS = "admin:users"
OWN_SCHEDULE = "schedule:own"

Record = dict[str, Any]


class AdminService:
    """List, create, change and remove the records behind one admin API path."""

    def __init__(self, call: ServerCall) -> None:
        self._call = call

    def records(self, path: str) -> list[Record]:
        answer = self._call("GET", path, params={"limit": 500})
        return list(answer) if isinstance(answer, list) else []

    def create(self, path: str, values: Record) -> Record:
        return dict(self._call("POST", path, json=values))

    def update(self, path: str, record_id: str, values: Record) -> Record:
        return dict(self._call("PATCH", f"{path}/{record_id}", json=values))

    def remove(self, path: str, record_id: str) -> None:
        self._call("DELETE", f"{path}/{record_id}")

    def permissions(self) -> list[str]:
        return [str(p) for p in self._call("GET", "/api/v1/admin/permissions")]


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    otpauth_uri: str


class TwoStepService:
    """Enrol an authenticator app: the password again (and the current code when one is
    enrolled), a new secret shown as a QR code, confirmed with a code from it."""

    def __init__(self, call: ServerCall, organization: str) -> None:
        self._call, self._organization = call, organization

    def _credentials(self, email: str, password: str, current_code: str) -> Record:
        return {"organization": self._organization, "email": email, "password": password,
                "totp": current_code.strip() or None}

    def start(self, email: str, password: str, current_code: str = "") -> Enrolment:
        answer = self._call("POST", "/api/v1/auth/mfa/start",
                            json=self._credentials(email, password, current_code))
        return Enrolment(str(answer["secret"]), str(answer["otpauth_uri"]))

    def confirm(self, email: str, password: str, code: str, current_code: str = "") -> list[str]:
        answer = self._call("POST", "/api/v1/auth/mfa/confirm", json={
            **self._credentials(email, password, current_code), "code": code.strip()})
        return [str(c) for c in answer["recovery_codes"]]


def permissions(ctx: DeskContext) -> frozenset[str]:
    """The signed-in user's permissions (none while the desk is locked)."""
    try:
        return ctx.user().permissions
    except SessionLocked:
        return frozenset()


def local_records(ctx: DeskContext, what: str) -> list[Record]:
    """This desk's copy of the clinics (``what == "clinics"``) or of all resources, as the
    lookup lists of an admin form want them when the server's lists cannot be read."""
    with ctx.store.session() as session:
        if what == "clinics":
            return [{"id": c.id, "name": c.name} for c in session.scalars(select(ClinicRow))]
        return [{"id": r.id, "name": r.name, "kind": r.kind}
                for r in session.scalars(select(ResourceRow))]


def refusal_text(error: Exception) -> str:
    """The server's words for a refusal, else the desk's own message for the failure."""
    return str(getattr(error, "server_message", "") or error)
