"""Server reads off the UI thread: the answer is emitted on the UI thread, and a panel
destroyed while its read runs is never emitted to (the thread does not touch it)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from pytestqt.qtbot import QtBot

from desktop.ui.server_read import read_in_thread


class _Panel(QObject):
    arrived = Signal(object, object)

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[tuple[object, object, threading.Thread]] = []
        # Direct: the recorder runs in whichever thread emits the signal.
        self.arrived.connect(self._record, Qt.ConnectionType.DirectConnection)

    def _record(self, found: object, error: object) -> None:
        self.answers.append((found, error, threading.current_thread()))


def test_the_answer_and_the_failure_are_emitted_on_the_ui_thread(qtbot: QtBot) -> None:
    panel = _Panel()

    def fail() -> None:
        raise OSError("server down")

    read_in_thread(lambda: ["an offer"], panel.arrived, "test-read")
    qtbot.waitUntil(lambda: len(panel.answers) == 1)
    read_in_thread(fail, panel.arrived, "test-read")
    qtbot.waitUntil(lambda: len(panel.answers) == 2)

    (found, error, thread), (lost, failure, failure_thread) = panel.answers
    assert (found, error) == (["an offer"], None)
    assert lost is None and isinstance(failure, OSError)
    assert thread is failure_thread is threading.main_thread()


def test_a_panel_destroyed_while_its_read_runs_gets_nothing(qtbot: QtBot) -> None:
    going, staying = _Panel(), _Panel()
    release = threading.Event()
    finished = threading.Event()

    def slow_read() -> str:
        release.wait(10)
        return "too late"

    def counted(read: Callable[[], object]) -> Callable[[], object]:
        """``read``, and a flag set once it has returned."""

        def run() -> object:
            try:
                return read()
            finally:
                finished.set()
        return run

    read_in_thread(counted(slow_read), going.arrived, "test-read")
    shiboken6.delete(going)  # the dock closed while its read ran
    release.set()
    assert finished.wait(10)
    # Answers are handed over in order: once the later read's answer is here, the
    # destroyed panel's answer has been handed over (and dropped) before it.
    read_in_thread(lambda: "fresh", staying.arrived, "test-read")
    qtbot.waitUntil(lambda: len(staying.answers) == 1)

    assert not shiboken6.isValid(going)
    assert staying.answers[0][:2] == ("fresh", None)
