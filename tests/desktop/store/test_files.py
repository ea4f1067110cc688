"""The data folder's file operations: replace retried on Windows, one desk per folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from desktop.store.engine import create_database_file
from desktop.store.errors import UnsupportedLocationError
from desktop.store.files import (
    DataFolderLock,
    DeskAlreadyRunning,
    is_network_path,
    replace_file,
)


def test_a_replace_refused_for_a_moment_is_retried_until_it_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What Windows does while an antivirus scanner holds the target open.
    real_replace, refusals, pauses = os.replace, [2], []

    def busy_then_free(source: object, target: object) -> None:
        if refusals[0]:
            refusals[0] -= 1
            raise PermissionError(32, "The process cannot access the file")
        real_replace(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", busy_then_free)
    (tmp_path / "new").write_text("new")
    (tmp_path / "desk.json").write_text("old")
    replace_file(tmp_path / "new", tmp_path / "desk.json", sleep=pauses.append)
    assert (tmp_path / "desk.json").read_text() == "new"
    assert pauses == [0.025, 0.05]


def test_a_replace_refused_for_good_raises_after_its_attempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def always_busy(source: object, target: object) -> None:
        raise PermissionError(32, "busy")

    monkeypatch.setattr(os, "replace", always_busy)
    pauses: list[float] = []
    with pytest.raises(PermissionError):
        replace_file(tmp_path / "a", tmp_path / "b", attempts=4, sleep=pauses.append)
    assert len(pauses) == 3


def test_a_second_desk_on_the_same_data_folder_is_refused_clearly(tmp_path: Path) -> None:
    first = DataFolderLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(DeskAlreadyRunning, match="already running"):
            DataFolderLock(tmp_path).acquire()
    finally:
        first.release()
    second = DataFolderLock(tmp_path)
    second.acquire()  # free again once the first desk has gone
    assert second.is_locked
    second.release()


def test_network_share_paths_are_recognised() -> None:
    assert is_network_path(Path(r"\\fileserver\clinic\ClinicDesk"))
    assert is_network_path(Path("//fileserver/clinic/ClinicDesk"))
    assert not is_network_path(Path("/home/reception/.local/share/ClinicDesk"))


def test_a_store_on_a_network_share_is_refused_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setattr("desktop.store.engine.is_network_path", lambda _path: True)
    with pytest.raises(UnsupportedLocationError, match="network share"):
        create_database_file(tmp_path / "desk.db", os.urandom(32))
