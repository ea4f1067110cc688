"""What the app's requests share: settings, database, password hasher, key, clock,
metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sync_server.core.config import Settings
from sync_server.core.metrics import ServerMetrics
from sync_server.core.security import Passwords, TokenKeys, password_hasher
from sync_server.core.throttle import LoginGuard, password_slots
from sync_server.db.session import make_engine, make_session_factory


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class ServerContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    passwords: Passwords
    token_keys: TokenKeys
    login_guard: LoginGuard
    clock: Callable[[], datetime] = field(default=utc_now)
    #: This instance's own metrics registry (``GET /metrics``).
    metrics: ServerMetrics = field(default_factory=ServerMetrics)

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Callable[[], datetime] | None = None
    ) -> ServerContext:
        engine = make_engine(
            settings.resolved_database_url,
            connect_timeout=settings.db_connect_timeout_seconds,
            pool_size=settings.db_pool_size,
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            passwords=Passwords(password_hasher(settings)),
            token_keys=TokenKeys(settings.signing_key(), tuple(
                key.get_secret_value().encode() for key in settings.accepted_secret_keys)),
            login_guard=LoginGuard(
                per_client=settings.login_per_client_per_minute,
                per_account=settings.login_per_account_per_minute,
                slots=password_slots(settings.argon2_memory_kib,
                                     settings.password_hash_concurrency)),
            clock=clock or utc_now,
        )
