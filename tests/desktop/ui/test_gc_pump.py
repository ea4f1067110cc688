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
    # Cross the threshold with room to spare: the pump starts from a fresh count (its
    # start-up collection) and Qt frees wrappers of earlier tests while the test waits.
    garbage = [Node() for _ in range(3 * gc.get_threshold()[0])]
    del garbage

    qtbot.waitUntil(lambda: gone() is None, timeout=5_000)


def test_a_full_collection_freezes_its_survivors_and_still_frees_cycles_made_later(
    pump: None, qapp: QApplication
) -> None:
    collector = qapp.findChild(_Collector)
    assert collector is not None
    collector._collect_all()
    assert gc.get_freeze_count() > 0  # the heap so far is not walked again

    node = Node()
    gone = weakref.ref(node)
    del node
    collector._collect_all()

    assert gone() is None


def test_frozen_objects_are_looked_at_again_after_the_thaw_interval(
    pump: None, qapp: QApplication
) -> None:
    collector = qapp.findChild(_Collector)
    assert collector is not None
    node = Node()
    gone = weakref.ref(node)
    collector._collect_all()  # node survives (still referenced) and is frozen
    del node
    collector._collect_all()
    assert gone() is not None  # frozen: a cycle among frozen objects waits for the thaw

    collector._thawed_at = float("-inf")
    collector._collect_all()

    assert gone() is None
