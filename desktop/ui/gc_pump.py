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

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class _Collector(QObject):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.collect)
        self._timer.start()

    def collect(self) -> None:
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._thresholds[generation]:
                gc.collect(generation)
                return


def collect_in_ui_thread(app: QObject) -> None:
    """Call once, in the UI thread, after creating the application object."""
    if app.findChild(_Collector) is not None:
        return
    gc.disable()
    _Collector(app)
