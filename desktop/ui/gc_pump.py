"""Python's cyclic garbage collector runs only in the UI thread.

CPython collects reference cycles in whichever thread happens to allocate when
a threshold is crossed — in the desk that may be the sync thread or the event
stream's thread. A cycle holding a widget with a running ``QTimer`` (a closed
dialog, the lock overlay) is then deleted from the wrong thread: Qt cannot stop
the timer there ("Timers cannot be stopped from another thread") and the UI
thread later fires it at freed memory, which crashes the process.

:func:`collect_in_ui_thread` turns automatic collection off and collects from
a UI-thread timer instead, generation by generation as the thresholds say, so
cycles still go away promptly and always in the UI thread.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500
#: How often the whole heap is looked at again (see _Collector): the one pause that
#: grows with the heap, once in this many seconds instead of every few seconds.
THAW_SECONDS = 15 * 60


class _Collector(QObject):
    """Collects young generations as CPython would; a full collection then *freezes*
    what survived (``gc.freeze``), so the next full collection only walks objects made
    since — a pause that follows the recent work, not the size of the heap (the Qt and
    SQLAlchemy modules, the shown week). Every :data:`THAW_SECONDS` the frozen objects
    are thawed and looked at again, so a cycle among them is freed too."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._thawed_at = time.monotonic()
        self.pauses: list[float] = []  # the last collections' durations (s), for benches
        # What exists at start (modules, classes, the Qt bindings) lives as long as the
        # desk: look at it once now, before any window shows, and never again.
        gc.collect()
        gc.freeze()
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.collect)
        self._timer.start()
        self.destroyed.connect(lambda *_args: gc.unfreeze())

    def collect(self) -> None:
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._thresholds[generation]:
                started = time.perf_counter()
                if generation == 2:
                    self._collect_all()
                else:
                    gc.collect(generation)
                self.pauses = [*self.pauses[-99:], time.perf_counter() - started]
                return

    def _collect_all(self) -> None:
        if time.monotonic() - self._thawed_at >= THAW_SECONDS:
            gc.unfreeze()
            self._thawed_at = time.monotonic()
        gc.collect(2)
        gc.freeze()


def collect_in_ui_thread(app: QObject) -> None:
    """Call once, in the UI thread, after creating the application object."""
    if app.findChild(_Collector) is not None:
        return
    gc.disable()
    _Collector(app)
