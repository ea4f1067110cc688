"""Reference cycles are collected by a UI-thread timer, never by other threads."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
import shiboken6
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.ui.gc_pump import _Collector, collect_in_ui_thread


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle only the cyclic collector frees


@pytest.fixture
def pump(qapp: QApplication) -> Iterator[None]:
    enabled = gc.isenabled()
    collect_in_ui_thread(qapp)
    yield
    for collector in qapp.findChildren(_Collector):
        shiboken6.delete(collector)
    if enabled:
        gc.enable()


def test_automatic_collection_is_off_and_the_ui_timer_collects_cycles(
    pump: None, qapp: QApplication, qtbot: QtBot
) -> None:
    assert not gc.isenabled()
    assert len(qapp.findChildren(_Collector)) == 1
    collect_in_ui_thread(qapp)  # idempotent
    assert len(qapp.findChildren(_Collector)) == 1

    node = Node()
    gone = weakref.ref(node)
    del node
    garbage = [Node() for _ in range(gc.get_threshold()[0] + 10)]  # cross a threshold
    del garbage

    qtbot.waitUntil(lambda: gone() is None, timeout=5_000)
