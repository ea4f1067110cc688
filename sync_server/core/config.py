"""Server settings: one home, read once from ``CLINICDESK_*`` variables, passed down."""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import platformdirs
from pydantic import Field, IPvAnyNetwork, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

SECRET_FILE_NAME = "server-secret.key"
DOCUMENT_KEY_FILE_NAME = "document-key.key"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("ClinicDesk-Server", appauthor=False))


class Settings(BaseSettings):
    """Everything configurable about the sync server.

    ``database_url`` defaults to an SQLite file in the user data directory;
    production uses ``postgresql+psycopg://user@host/db``.
    """

    model_config = SettingsConfigDict(env_prefix="CLINICDESK_", extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""
    #: Seconds a new database connection may take before the request fails with 503.
    db_connect_timeout_seconds: int = Field(default=2, ge=1, le=60)
    db_pool_size: int = Field(default=10, ge=1)
    #: Requests whose blocking part (database work) runs at once per instance: the size
    #: of the thread pool that runs it; unset: anyio's default, 40 (docs/admin.md).
    request_threads: int | None = Field(default=None, ge=1, le=1000)
    #: Booking writes (book, move, resize, cancel, status) that run at once per instance,
    #: in a lane of their own; unset: twice the cores this process may use (docs/admin.md).
    booking_threads: int | None = Field(default=None, ge=1, le=1000)

    access_token_minutes: int = Field(default=15, ge=1, le=15)
    refresh_token_days: int = Field(default=30, ge=1)
    enrollment_code_hours: int = Field(default=24, ge=1)
    #: Failed sign-ins in a row, from one client address, that pause that account's
    #: sign-ins from that address, and for how long.
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    #: Sign-in attempts admitted per minute from one client address, and for one account.
    login_per_client_per_minute: int = Field(default=30, ge=1)
    login_per_account_per_minute: int = Field(default=10, ge=1)
    #: Password hashes run at once; unset: as many as fit in a quarter of the memory
    #: (``argon2_memory_kib`` each), at most one per CPU (docs/admin.md).
    password_hash_concurrency: int | None = Field(default=None, ge=1)
    #: Argon2id cost (RFC 9106 second recommended profile by default).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    #: The key that signs access tokens (HS256 JWTs, at least 32 characters). When unset it
    #: is generated once and kept in ``data_dir``; several instances behind a load
    #: balancer must share one value.
    secret_key: SecretStr | None = None
    #: Earlier (or upcoming) keys whose tokens are still accepted during a key rotation
    #: (JSON list in ``CLINICDESK_ACCEPTED_SECRET_KEYS``); see docs/admin.md.
    accepted_secret_keys: list[SecretStr] = Field(default_factory=list, max_length=4)

    #: The AES-256 key (base64 of 32 bytes) that encrypts patients' pre-visit documents
    #: and their file names at rest (docs/deploy.md). When unset it is generated once and
    #: kept in ``data_dir``; several instances must share one value, and losing it loses
    #: the documents.
    document_key: SecretStr | None = None

    #: Seconds between heartbeat comments on an idle event stream (keeps proxies from
    #: closing it and lets the desk notice a dead connection).
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)

    #: The server's address as patients reach it (``https://clinic.example``): the base of
    #: the confirm/cancel links in reminders, unless the organization's notification
    #: settings name one.
    public_url: str = ""
    #: Run the notification worker inside the server process (the demo, a one-box
    #: clinic); a larger site runs ``clinicdesk-server worker`` processes instead.
    run_worker: bool = False
    #: Seconds the notification worker waits when nothing is due.
    worker_idle_seconds: float = Field(default=1.0, gt=0, le=60)

    #: Minutes between refreshes of the providers' external busy calendars.
    busy_calendar_refresh_minutes: int = Field(default=30, ge=5, le=24 * 60)

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: A request body that pauses longer than this between chunks, or takes longer than
    #: ``body_total_seconds`` in all, is answered 408 and its connection closed.
    body_idle_seconds: float = Field(default=5.0, gt=0, le=300)
    body_total_seconds: float = Field(default=60.0, gt=0, le=3600)
    #: Allowed browser origins; empty means CORS stays off.
    cors_origins: list[str] = Field(default_factory=list)
    log_level: str = "INFO"
    #: ``GET /metrics`` (Prometheus text format): off answers 404. It answers only clients
    #: whose address is in ``metrics_allow`` (behind the reverse proxy: the address the
    #: proxy forwards) and, when ``metrics_token`` is set, that send it as a bearer token.
    metrics_enabled: bool = True
    metrics_allow: list[IPvAnyNetwork] = Field(
        default_factory=lambda: [ipaddress.ip_network("127.0.0.0/8"),
                                 ipaddress.ip_network("::1/128")])
    metrics_token: SecretStr | None = None
    #: The page where clinics download the current desk; a too-old desk shows it
    #: with "update required" (the 426 answer's ``download_url``).
    desk_download_url: str = ""

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'clinicdesk-server.db'}"

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.resolved_database_url).get_backend_name() == "sqlite"

    def signing_key(self) -> bytes:
        """The access-token key: configured, or generated once and persisted (mode 0600)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return _persisted_secret(self._secret_dir() / SECRET_FILE_NAME)

    def document_key_bytes(self) -> bytes:
        """The 32-byte document key: configured (base64), or generated once and persisted."""
        if self.document_key is not None:
            key = base64.b64decode(self.document_key.get_secret_value(), validate=True)
        else:
            key = base64.b64decode(_persisted_secret(
                self._secret_dir() / DOCUMENT_KEY_FILE_NAME,
                lambda: base64.b64encode(secrets.token_bytes(32))))
        if len(key) != 32:
            raise ValueError("CLINICDESK_DOCUMENT_KEY must be the base64 of 32 bytes.")
        return key

    def _secret_dir(self) -> Path:
        url = make_url(self.resolved_database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(url.database).resolve().parent
        return self.data_dir


def _persisted_secret(path: Path, make: Callable[[], bytes] | None = None) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make() if make is not None else secrets.token_urlsafe(48).encode()
    try:
        # O_EXCL: if two processes race, the loser reads the winner's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    return value
