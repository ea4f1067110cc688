"""Desk settings: one place, read once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from desktop.config import (
    DESK_DIR_ENV,
    DeskConfigError,
    load_config,
    save_config,
    with_server_url,
)


def test_defaults_are_a_five_minute_lock_and_a_seven_day_offline_window(tmp_path: Path) -> None:
    config = load_config({DESK_DIR_ENV: str(tmp_path)})
    assert config.data_dir == tmp_path
    assert config.idle_lock_after == timedelta(minutes=5)
    assert config.offline_signin_validity == timedelta(days=7)
    assert config.server_url is None
    assert not config.is_enrolled
    assert config.database_path == tmp_path / "desk.db"


def test_without_the_override_the_platform_data_directory_is_used() -> None:
    assert "clinicdesk" in str(load_config({}).data_dir).lower()


def test_enrollment_settings_survive_a_restart(tmp_path: Path) -> None:
    environ = {DESK_DIR_ENV: str(tmp_path)}
    save_config(with_server_url(load_config(environ), "https://sync.example.org/"))
    reloaded = load_config(environ)
    assert reloaded.server_url == "https://sync.example.org"
    assert reloaded.is_enrolled


def test_an_administrator_can_change_the_idle_lock(tmp_path: Path) -> None:
    (tmp_path / "desk.json").write_text(json.dumps({"idle_lock_minutes": 15}))
    assert load_config({DESK_DIR_ENV: str(tmp_path)}).idle_lock_minutes == 15


@pytest.mark.parametrize(
    "content", ["not json", "[]", '{"idle_lock_minutes": "soon"}', '{"idle_lock_minutes": 0}']
)
def test_a_bad_settings_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "desk.json").write_text(content)
    with pytest.raises(DeskConfigError, match="desk"):
        load_config({DESK_DIR_ENV: str(tmp_path)})
