"""The self-test's wait for the first sync, when that sync reported before the window opened.

The sync thread starts its first sync before the main window shows; on a fast server it
can finish (and report) before the self-test connects to the worker. With the event
stream up the fallback poll stays quiet, so no second report comes: the self-test must
read the state the first sync left, or it waits out its whole deadline (a CI failure,
"timed out at step 'first sync'").
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QObject, QTimer, Signal
from pytestqt.qtbot import QtBot

from desktop.self_test import _Driver
from desktop.sync.worker import SyncStatus


class _Worker(QObject):
    stateChanged = Signal(object)

    def __init__(self, status: SyncStatus) -> None:
        super().__init__()
        self.status = status


class _Flow(QObject):
    windowOpened = Signal(object)

    def __init__(self, worker: _Worker) -> None:
        super().__init__()
        self.sync = SimpleNamespace(worker=worker)
        self.screen = None


def _driver(flow: _Flow, checked: list[object]) -> _Driver:
    args = argparse.Namespace(language="en")
    driver = _Driver(args, flow, None, quit_app=lambda: checked.append("quit"))
    driver._check_agenda = lambda: checked.append("agenda")  # type: ignore[method-assign]
    flow.windowOpened.connect(driver._window_opened)
    return driver


@pytest.mark.parametrize("synced", [True, False])
def test_a_first_sync_that_reported_before_the_window_opened_is_taken_as_done(
    qtbot: QtBot, synced: bool,
) -> None:
    done = SyncStatus(online=True, pending=0, last_success=datetime.now(UTC), error=None)
    waiting = SyncStatus(online=False, pending=0, last_success=None, error=None)
    worker = _Worker(done if synced else waiting)
    checked: list[object] = []
    driver = _driver(_Flow(worker), checked)
    flow = driver.flow
    flow.windowOpened.emit(object())  # type: ignore[attr-defined]
    if synced:
        qtbot.waitUntil(lambda: checked == ["agenda"], timeout=5_000)
        assert driver.step == "agenda"
        return
    # A zero timer queued after the driver's own runs after it: then its read is done.
    QTimer.singleShot(0, lambda: checked.append("turn"))
    qtbot.waitUntil(lambda: "turn" in checked, timeout=5_000)
    assert driver.step == "first sync" and checked == ["turn"]
    checked.clear()
    worker.stateChanged.emit(done)  # the first sync's own report, later
    qtbot.waitUntil(lambda: checked == ["agenda"], timeout=5_000)
