"""A read from the server off the UI thread: its answer (or the failure) comes back
through a Qt signal, so the panel handles it on the UI thread.

The reading thread never emits the panel's own signal: the panel may be destroyed on
the UI thread at that very moment (the desk or the dock closing), and an emission racing
a destruction can land on freed memory and end the process. The thread hands the answer
to a courier that lives as long as the process; the courier emits the panel's signal on
the UI thread, where a destroyed panel is seen for sure and the answer is dropped."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance, Slot


class _Courier(QObject):
    """Carries answers from reading threads to the UI thread (made there, never deleted)."""

    carry = Signal(object, object, object)  # (the panel's signal, answer, error)

    def __init__(self) -> None:
        super().__init__()
        self.carry.connect(self._hand_over, Qt.ConnectionType.QueuedConnection)

    @Slot(object, object, object)
    def _hand_over(self, arrived: SignalInstance, found: Any, error: Exception | None) -> None:
        # On the UI thread: a panel destroyed meanwhile makes PySide raise RuntimeError
        # ("Signal source has been deleted"), or TypeError from a signal that lost its
        # signature; the answer is no longer wanted.
        with contextlib.suppress(RuntimeError, TypeError):
            arrived.emit(found, error)


_courier: _Courier | None = None


def read_in_thread(read: Callable[[], Any], arrived: SignalInstance, name: str) -> None:
    """Run ``read`` in a daemon thread; ``arrived(answer, None)`` or ``arrived(None, error)``
    is emitted on the UI thread afterwards (nothing when the receiver is gone: the desk
    closed). Call on the UI thread."""
    global _courier  # noqa: PLW0603 - one courier per process, made on first use
    if _courier is None:
        _courier = _Courier()
    courier = _courier

    def run() -> None:
        found: Any = None
        error: Exception | None = None
        try:
            found = read()
        except Exception as failure:  # noqa: BLE001 - said on the panel, never raised
            error = failure
        courier.carry.emit(arrived, found, error)

    threading.Thread(target=run, name=name, daemon=True).start()
