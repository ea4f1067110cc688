"""Desk settings in one place: read once at start and passed down.

Where the desk keeps its files comes from the environment (``CLINICDESK_DESK_DIR``,
else the platform's user data directory). What an administrator sets at
enrollment (server URL, idle lock, offline sign-in window) lives in
``desk.json`` inside that directory; missing keys fall back to the defaults.
Nothing here is secret: keys live in the OS key store and the keyfile.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import platformdirs

from desktop.store.files import replace_file

APP_NAME = "ClinicDesk"
DESK_DIR_ENV = "CLINICDESK_DESK_DIR"
SETTINGS_FILE = "desk.json"
DATABASE_FILE = "desk.db"

DEFAULT_IDLE_LOCK_MINUTES = 5
DEFAULT_OFFLINE_SIGNIN_DAYS = 7


class DeskConfigError(ValueError):
    """The desk's settings file cannot be read or holds an invalid value."""


@dataclass(frozen=True, slots=True)
class DeskConfig:
    """The desk's settings. Build it with :func:`load_config`; never read the environment later."""

    data_dir: Path
    idle_lock_minutes: int = DEFAULT_IDLE_LOCK_MINUTES
    offline_signin_days: int = DEFAULT_OFFLINE_SIGNIN_DAYS
    server_url: str | None = None  # None until the desk is enrolled

    def __post_init__(self) -> None:
        if self.idle_lock_minutes < 1:
            raise DeskConfigError("the idle lock must be at least 1 minute")
        if self.offline_signin_days < 0:
            raise DeskConfigError("the offline sign-in window cannot be negative")

    @property
    def database_path(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def settings_path(self) -> Path:
        return self.data_dir / SETTINGS_FILE

    @property
    def idle_lock_after(self) -> timedelta:
        return timedelta(minutes=self.idle_lock_minutes)

    @property
    def offline_signin_validity(self) -> timedelta:
        return timedelta(days=self.offline_signin_days)

    @property
    def is_enrolled(self) -> bool:
        return self.server_url is not None


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``CLINICDESK_DESK_DIR`` if set, else the platform's per-user data directory."""
    env = os.environ if environ is None else environ
    override = env.get(DESK_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def load_config(environ: Mapping[str, str] | None = None) -> DeskConfig:
    """Read the desk's settings once (environment, then ``desk.json``)."""
    data_dir = default_data_dir(environ)
    settings_path = data_dir / SETTINGS_FILE
    stored: dict[str, object] = {}
    if settings_path.exists():
        try:
            loaded = json.loads(settings_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DeskConfigError(
                f"The desk settings file {settings_path} cannot be read ({error}). "
                "Fix or delete it; the desk then starts with default settings."
            ) from error
        if not isinstance(loaded, dict):
            raise DeskConfigError(f"The desk settings file {settings_path} is not a JSON object.")
        stored = loaded
    try:
        return DeskConfig(
            data_dir=data_dir,
            idle_lock_minutes=int(stored.get("idle_lock_minutes", DEFAULT_IDLE_LOCK_MINUTES)),  # type: ignore[call-overload]
            offline_signin_days=int(
                stored.get("offline_signin_days", DEFAULT_OFFLINE_SIGNIN_DAYS)  # type: ignore[call-overload]
            ),
            server_url=_optional_str(stored.get("server_url")),
        )
    except (TypeError, ValueError) as error:
        raise DeskConfigError(
            f"The desk settings file {settings_path} has a bad value: {error}"
        ) from error


def save_config(config: DeskConfig) -> None:
    """Write the administrator-set values to ``desk.json`` (atomically)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "idle_lock_minutes": config.idle_lock_minutes,
        "offline_signin_days": config.offline_signin_days,
        "server_url": config.server_url,
    }
    temporary = config.settings_path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    replace_file(temporary, config.settings_path)


def with_server_url(config: DeskConfig, server_url: str) -> DeskConfig:
    """The same settings with the server URL recorded at enrollment."""
    return replace(config, server_url=server_url.rstrip("/"))


def _int(stored: Mapping[str, object], name: str, default: int) -> int:
    value = stored.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number")
    return value


def _optional_str(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("server_url must be a string")
    return value or None
