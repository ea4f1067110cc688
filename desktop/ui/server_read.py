"""Answers from threads, emitted on the UI thread; and a read from the server off the UI
thread, whose answer (or failure) comes back through a panel's Qt signal.

A thread never emits a panel's own signal: the panel may be destroyed on the UI thread
at that very moment (the desk or the dock closing), and an emission racing a destruction
can land on freed memory and end the process. The thread hands the answer to the
:class:`Courier`, which lives as long as the process and emits the panel's signal on the
UI thread, where a destroyed panel is seen for sure and the answer is dropped."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance, Slot


class Courier(QObject):
    """Carries answers from threads to the UI thread (made there, never deleted)."""

    _carry = Signal(object, object)  # (the receiver's signal, its arguments)

    def __init__(self) -> None:
        super().__init__()
        self._carry.connect(self._hand_over, Qt.ConnectionType.QueuedConnection)

    def deliver(self, signal: SignalInstance, *args: Any) -> None:
        """From any thread: emit ``signal(*args)`` on the UI thread, if its object is
        still there by then."""
        self._carry.emit(signal, args)

    @Slot(object, object)
    def _hand_over(self, signal: SignalInstance, args: tuple[Any, ...]) -> None:
        # On the UI thread: an object destroyed meanwhile makes PySide raise RuntimeError
        # ("Signal source has been deleted"), or TypeError from a signal that lost its
        # signature; the answer is no longer wanted.
        with contextlib.suppress(RuntimeError, TypeError):
            signal.emit(*args)


_courier: Courier | None = None


def courier() -> Courier:
    """The process's courier (made on first use: call this on the UI thread)."""
    global _courier  # noqa: PLW0603 - one courier per process
    if _courier is None:
        _courier = Courier()
    return _courier


def read_in_thread(read: Callable[[], Any], arrived: SignalInstance, name: str) -> None:
    """Run ``read`` in a daemon thread; ``arrived(answer, None)`` or ``arrived(None, error)``
    is emitted on the UI thread afterwards (nothing when the receiver is gone: the desk
    closed). Call on the UI thread."""
    carrier = courier()

    def run() -> None:
        found: Any = None
        error: Exception | None = None
        try:
            found = read()
        except Exception as failure:  # noqa: BLE001 - said on the panel, never raised
            error = failure
        carrier.deliver(arrived, found, error)

    threading.Thread(target=run, name=name, daemon=True).start()
