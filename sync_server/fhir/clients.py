"""Hand-off / FHIR API clients: registering them, their allowed return URLs, their secrets.

An allowed return URL is either exact (``https://app.example/return``) or a prefix
ending in ``*`` (``https://app.example/booking/*``): a return URL matches a prefix
when its scheme and host (with port) are the same and its path starts with the
prefix's path. Only ``https`` is accepted, except ``http`` to ``127.0.0.1`` or
``localhost`` (an app under test on the same machine). A URL with user info or a
fragment is never allowed. The client secret is 256 random bits shown once; the
database keeps its SHA-256 (like device and refresh tokens).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.core.security import token_digest
from sync_server.fhir.models import MAX_URL_LENGTH, FhirClient

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
#: SMART-style scopes a client may be given; ``handoff`` = may send patients to the portal.
SCOPES = ("handoff", "system/Appointment.read", "system/Slot.read", "system/Schedule.read",
          "system/Location.read", "system/Practitioner.read")
DEFAULT_SCOPES = SCOPES
MAX_RETURN_URLS = 20


class ClientError(Exception):
    """A client registration that cannot be done; ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class NewClient:
    """A registered client and its secret (the only time the secret is seen)."""

    client: FhirClient
    secret: str


def parse_return_url(url: str) -> SplitResult | None:
    """The URL's parts when it may be a return URL at all (scheme, host, no user info,
    no fragment, printable, not too long); otherwise None."""
    if not url or len(url) > MAX_URL_LENGTH or not url.isprintable() or " " in url:
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        return None
    if "#" in url or "\\" in url:
        return None
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        return parts
    return None


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def allows(pattern: str, url: str) -> bool:
    """Whether the allow-list entry ``pattern`` admits ``url`` (module doc)."""
    wanted = parse_return_url(url)
    if wanted is None:
        return False
    if not pattern.endswith("*"):
        return parse_return_url(pattern) is not None and pattern == url
    allowed = parse_return_url(pattern[:-1])
    if allowed is None or allowed.query or _origin(allowed) != _origin(wanted):
        return False
    prefix = allowed.path or "/"
    path = wanted.path or "/"
    return path.startswith(prefix) and "/../" not in path + "/" and "/./" not in path + "/"


def check_pattern(pattern: str) -> str:
    """An allow-list entry as stored, or ClientError ``return-url-invalid``."""
    pattern = pattern.strip()
    bare = pattern[:-1] if pattern.endswith("*") else pattern
    parts = parse_return_url(bare)
    if parts is None or "*" in bare or (pattern.endswith("*") and parts.query):
        raise ClientError("return-url-invalid",
                          "A return URL must be https (http only to 127.0.0.1 or localhost), "
                          "without user info or fragment; '*' only at the end.")
    return pattern


def check_patterns(patterns: list[str]) -> list[str]:
    if len(patterns) > MAX_RETURN_URLS:
        raise ClientError("too-many-return-urls",
                          f"At most {MAX_RETURN_URLS} return URLs per client.")
    return list(dict.fromkeys(check_pattern(p) for p in patterns))


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ClientError("scope-unknown", "Unknown scope: " + ", ".join(unknown)[:200])
    return [s for s in SCOPES if s in scopes]


def register(session: Session, organization_id: str, *, name: str, return_urls: list[str],
             scopes: list[str] | None = None, now: datetime,
             created_by_user_id: str | None = None) -> NewClient:
    """Add a client (flushed; the caller commits) and return it with its secret."""
    name = name.strip()
    if not name or len(name) > 200 or not name.isprintable():
        raise ClientError("name-invalid", "A client needs a name of 1 to 200 characters.")
    secret = secrets.token_urlsafe(32)
    client = FhirClient(
        id=str(uuid.uuid4()), organization_id=organization_id, name=name,
        client_id="cd-" + secrets.token_hex(12), secret_hash=token_digest(secret),
        return_urls=check_patterns(return_urls),
        scopes=check_scopes(list(DEFAULT_SCOPES if scopes is None else scopes)),
        active=True, created_at=now, created_by_user_id=created_by_user_id, updated_at=now)
    session.add(client)
    session.flush()
    return NewClient(client, secret)


def authenticate(session: Session, client_id: str, secret: str) -> FhirClient | None:
    """The active client with these credentials, or None."""
    if not client_id.isascii() or not client_id.isprintable() or len(client_id) > 64:
        return None
    client = session.scalars(select(FhirClient).where(FhirClient.client_id == client_id)).first()
    if client is None or not client.active:
        return None
    if not secrets.compare_digest(client.secret_hash, token_digest(secret)):
        return None
    return client


def active_clients(session: Session, organization_id: str) -> list[FhirClient]:
    return list(session.scalars(
        select(FhirClient)
        .where(FhirClient.organization_id == organization_id, FhirClient.active.is_(True))
        .order_by(FhirClient.created_at, FhirClient.id)))


def client_for_return_url(session: Session, organization_id: str,
                          return_url: str) -> FhirClient | None:
    """The first active ``handoff`` client of the organization whose allow-list admits the
    URL (by registration date), or None."""
    for client in active_clients(session, organization_id):
        if "handoff" in client.scopes and any(allows(p, return_url)
                                              for p in client.return_urls):
            return client
    return None


def to_json(client: FhirClient) -> dict[str, Any]:
    """What the admin API and the desk show of a client (never its secret)."""
    return {"id": client.id, "name": client.name, "client_id": client.client_id,
            "return_urls": list(client.return_urls), "scopes": list(client.scopes),
            "active": client.active, "created_at": client.created_at.isoformat(),
            "updated_at": client.updated_at.isoformat()}


def list_clients(session: Session, organization_id: str) -> list[FhirClient]:
    return list(session.scalars(select(FhirClient).where(
        FhirClient.organization_id == organization_id).order_by(FhirClient.name,
                                                                FhirClient.id)))


def client_of(session: Session, organization_id: str, client_row_id: str) -> FhirClient:
    client = session.get(FhirClient, client_row_id) if client_row_id.isprintable() else None
    if client is None or client.organization_id != organization_id:
        raise ClientError("unknown-client", "No hand-off client with this id.")
    return client


def update(session: Session, organization_id: str, client_row_id: str, *, now: datetime,
           name: str | None = None, return_urls: list[str] | None = None,
           scopes: list[str] | None = None, active: bool | None = None) -> FhirClient:
    """Change a client's name, allowed return URLs, scopes or whether it is active (an
    inactive client gets no hand-offs, tokens or reads; its tokens stop working at once).
    The caller commits."""
    client = client_of(session, organization_id, client_row_id)
    if name is not None:
        name = name.strip()
        if not name or len(name) > 200 or not name.isprintable():
            raise ClientError("name-invalid", "A client needs a name of 1 to 200 characters.")
        client.name = name
    if return_urls is not None:
        client.return_urls = check_patterns(return_urls)
    if scopes is not None:
        client.scopes = check_scopes(scopes)
    if active is not None:
        client.active = active
    client.updated_at = now
    session.flush()
    return client
