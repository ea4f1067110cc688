"""Reference cycles are collected by a UI-thread timer, never by other threads."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator

import pytest
import shiboken6
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.ui.gc_pump import THAW_AT_THE_LATEST, THAW_SECONDS, _Collector, collect_in_ui_thread


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

    def freed() -> bool:
        # Keep the young generation over its threshold while waiting: Qt frees wrappers
        # of earlier tests meanwhile, which lowers the count (new cycles never do).
        garbage = [Node() for _ in range(gc.get_threshold()[0])]
        del garbage
        return gone() is None

    qtbot.waitUntil(freed, timeout=5_000)


def test_survivors_of_a_collection_are_frozen_and_new_cycles_are_still_freed(
    pump: None, qapp: QApplication
) -> None:
    collector = qapp.findChild(_Collector)
    assert collector is not None
    kept = [Node() for _ in range(3 * gc.get_threshold()[0])]
    frozen = gc.get_freeze_count()
    collector.collect()
    assert gc.get_freeze_count() >= frozen + len(kept)  # not walked by later collections

    node = Node()
    gone = weakref.ref(node)
    del node
    garbage = [Node() for _ in range(3 * gc.get_threshold()[0])]
    del garbage
    collector.collect()

    assert gone() is None


def test_frozen_cycles_are_freed_by_the_thaw_once_the_desk_is_idle(
    pump: None, qapp: QApplication
) -> None:
    collector = qapp.findChild(_Collector)
    assert collector is not None
    node = Node()
    gone = weakref.ref(node)
    gc.freeze()  # node lived long enough to be frozen
    del node
    collector._thawed_at = time.monotonic() - THAW_SECONDS - 1  # the thaw is due ...
    collector.collect()
    assert gone() is not None  # ... but someone used the desk a moment ago

    collector._last_input = float("-inf")
    collector.collect()

    assert gone() is None


def test_a_desk_never_left_alone_is_thawed_after_an_hour_anyway(
    pump: None, qapp: QApplication
) -> None:
    collector = qapp.findChild(_Collector)
    assert collector is not None
    node = Node()
    gone = weakref.ref(node)
    gc.freeze()
    del node
    collector._last_input = time.monotonic()  # busy all the time
    collector._thawed_at = time.monotonic() - THAW_AT_THE_LATEST - 1

    collector.collect()

    assert gone() is None
