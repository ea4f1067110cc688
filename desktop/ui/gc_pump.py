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

from PySide6.QtCore import QEvent, QObject, QTimer

#: Often enough that one collection only meets a tenth of a second of allocations, even
#: while a sync applies thousands of records (every 500 ms made 0.7 s pauses then).
INTERVAL_MS = 100
#: How often the whole heap is looked at again (see _Collector) ...
THAW_SECONDS = 15 * 60
#: ... and only after this long without a key, click or wheel (nobody waits on a frame) ...
IDLE_SECONDS = 60.0
#: ... unless the desk has been busy for this long: then anyway.
THAW_AT_THE_LATEST = 60 * 60
_INPUT = (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel)


class _Collector(QObject):
    """Collects the youngest generation when CPython would, then *freezes* what survived
    (``gc.freeze``), so no collection walks more than the objects made since the last
    one: a pause follows the last tenth of a second of work, not the size of the heap
    (the Qt and SQLAlchemy modules, a week of thousands of appointments, a sync's pages),
    which made older collections cost 40-70 ms — over a second on a busy machine.
    Objects freed by reference counting (most of them) go at once, frozen or not.

    A cycle among frozen objects is freed when the heap is thawed and collected whole:
    every :data:`THAW_SECONDS`, once nobody has touched the desk for
    :data:`IDLE_SECONDS` (and after :data:`THAW_AT_THE_LATEST` in any case)."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._thawed_at = time.monotonic()
        self._last_input = time.monotonic()
        self.pauses: list[float] = []  # the last collections' durations (s), for benches
        # What exists at start (modules, classes, the Qt bindings) lives as long as the
        # desk: look at it once now, before any window shows, and never again.
        gc.collect()
        gc.freeze()
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.collect)
        self._timer.start()
        parent.installEventFilter(self)
        self.destroyed.connect(lambda *_args: gc.unfreeze())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT:
            self._last_input = time.monotonic()
        return False

    def collect(self) -> None:
        started = time.perf_counter()
        if self._thaw_when_idle():
            pass
        elif gc.get_count()[0] > self._thresholds[0]:
            gc.collect(0)
            gc.freeze()  # what survived is not walked again before the thaw
        else:
            return
        self.pauses = [*self.pauses[-99:], time.perf_counter() - started]

    def _thaw_when_idle(self) -> bool:
        now = time.monotonic()
        due = now - self._thawed_at >= THAW_SECONDS and now - self._last_input >= IDLE_SECONDS
        if not due and now - self._thawed_at < THAW_AT_THE_LATEST:
            return False
        self._thawed_at = now
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        return True


def collect_in_ui_thread(app: QObject) -> None:
    """Call once, in the UI thread, after creating the application object."""
    if app.findChild(_Collector) is not None:
        return
    gc.disable()
    _Collector(app)
