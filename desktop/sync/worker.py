"""The sync worker: runs :class:`SyncClient` on its own ``QThread`` and reports through signals.

It touches no widget (STYLE §5). The UI connects to :attr:`SyncWorker.stateChanged`
(online, pending count, last success, current error in plain words),
:attr:`SyncWorker.conflictsArrived` and :attr:`SyncWorker.dataChanged`, and asks
for a sync with :meth:`SyncWorker.requestSync` (a queued call from any thread).

While the server's event stream is up the worker syncs when poked; while it is
down it pulls every ``poll_seconds``. :class:`SyncThread` owns the thread and
shuts everything down cleanly (stream closed, timer stopped, thread joined).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, QTimer, Signal, Slot

from desktop.sync.client import SyncClient
from desktop.sync.errors import ServerTimeout, ServerUnreachable, SyncCancelled, SyncError
from desktop.sync.events import PokeListener

log = logging.getLogger("desktop.sync.worker")

DEFAULT_POLL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the status bar shows. ``error`` is a plain-words message, or None."""

    online: bool
    pending: int
    last_success: datetime | None
    error: str | None


#: Builds the stream listener: ``(on_poke, on_stream) -> listener`` (None = no stream).
ListenerFactory = Callable[[Callable[[int], None], Callable[[bool], None]], PokeListener | None]


class SyncWorker(QObject):
    """Lives in the sync thread; every slot runs there."""

    stateChanged = Signal(object)  # SyncStatus
    conflictsArrived = Signal(int)
    dataChanged = Signal()
    #: Emitted with ``dataChanged``: where the changes are (a DataChanges), so a view
    #: redraws only when they touch what it shows.
    changesArrived = Signal(object)
    # Internal: the listener thread hands pokes and stream state to the worker's thread.
    _poked = Signal(int)
    _streamChanged = Signal(bool)

    def __init__(
        self,
        client: SyncClient,
        *,
        listener_factory: ListenerFactory | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self._client = client
        self._listener_factory = listener_factory
        self._listener: PokeListener | None = None
        self._poll_ms = max(1, int(poll_seconds * 1000))
        self._clock = clock
        self._timer: QTimer | None = None
        self._stream_up = False
        self._synced_version = -1
        self._status = SyncStatus(online=False, pending=0, last_success=None, error=None)
        self._poked.connect(self._on_poke)
        self._streamChanged.connect(self._on_stream)

    @property
    def status(self) -> SyncStatus:
        return self._status

    @Slot()
    def start(self) -> None:
        """Begin: first sync, the event stream, and the fallback timer (in the sync thread)."""
        self._timer = QTimer(self)
        self._timer.setInterval(self._poll_ms)
        self._timer.timeout.connect(self._on_timer)
        self._timer.start()
        if self._listener_factory is not None:
            self._listener = self._listener_factory(self._poked.emit, self._streamChanged.emit)
            if self._listener is not None:
                self._listener.start()
        self.requestSync()

    @Slot()
    def requestSync(self) -> None:
        """Push and pull now; report the outcome through the signals."""
        try:
            result = self._client.sync_once()
        except SyncCancelled:
            return  # the desk is closing: nothing to report
        except SyncError as error:
            log.info("sync failed: %s", type(error).__name__)
            self._publish(online=not isinstance(error, ServerUnreachable | ServerTimeout),
                          error=error.plain())
            return
        self._synced_version = max(self._synced_version, result.pull.cursor)
        self._publish(online=True, error=None, success=self._clock(),
                      pending=result.pending)
        if result.pull.new_conflicts:
            self.conflictsArrived.emit(result.pull.new_conflicts)
        if result.pull.changed or result.pull.restored:
            self.changesArrived.emit(result.pull.changes)
            self.dataChanged.emit()

    @Slot()
    def stop(self) -> None:
        """Close the stream and stop the timer (call in the sync thread, or via SyncThread)."""
        self.close_stream()
        if self._timer is not None:
            self._timer.stop()

    def cancel(self) -> None:
        """Thread-safe: a sync in progress stops at its next request (the desk is closing)."""
        self._client.cancel()

    def close_stream(self) -> None:
        """Thread-safe: close the event stream so its thread ends promptly."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    # ------------------------------------------------------------------ internals

    @Slot(int)
    def _on_poke(self, version: int) -> None:
        if version and version <= self._synced_version:
            return  # this desk has already pulled that far
        self.requestSync()

    @Slot(bool)
    def _on_stream(self, up: bool) -> None:
        was_up, self._stream_up = self._stream_up, up
        if was_up and not up:
            # The stream broke: the server may be gone. Find out now, so the desk says
            # "Offline" within seconds rather than at the next fallback poll.
            self.requestSync()

    @Slot()
    def _on_timer(self) -> None:
        if not self._stream_up:
            self.requestSync()

    def _publish(self, *, online: bool, error: str | None, success: datetime | None = None,
                 pending: int | None = None) -> None:
        if pending is None:
            try:
                pending = self._client.pending_count()
            except Exception:  # noqa: BLE001 - a status report must not kill the worker
                pending = self._status.pending
        self._status = SyncStatus(online=online, pending=pending,
                                  last_success=success or self._status.last_success,
                                  error=error)
        self.stateChanged.emit(self._status)


class SyncThread:
    """Owns the worker's ``QThread``: ``start()`` it, ``shutdown()`` it before quitting."""

    def __init__(self, worker: SyncWorker) -> None:
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName("clinicdesk-sync")
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.start)
        # The worker (and its timer) die in their own thread as it finishes: deleting
        # them later from another thread, in whatever order the garbage collector picks
        # for the worker and this QThread, can crash the process.
        self.thread.finished.connect(worker.deleteLater)

    def start(self) -> None:
        self.thread.start()

    def request_sync(self) -> None:
        QMetaObject.invokeMethod(self.worker, "requestSync", Qt.ConnectionType.QueuedConnection)

    def shutdown(self, wait_ms: int = 15_000) -> bool:
        """Close the stream at once, stop a sync in progress at its next request, stop
        the thread.

        The worker is deleted as the thread finishes: do not use it afterwards.
        """
        self.worker.cancel()
        self.worker.close_stream()
        if self.thread.isRunning():
            QMetaObject.invokeMethod(self.worker, "stop",
                                     Qt.ConnectionType.BlockingQueuedConnection)
        self.thread.quit()
        return self.thread.wait(wait_ms)
