"""A read from the server off the UI thread: its answer (or the failure) comes back
through a Qt signal, so the panel handles it on the UI thread."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import SignalInstance


def read_in_thread(read: Callable[[], Any], arrived: SignalInstance, name: str) -> None:
    """Run ``read`` in a daemon thread; emit ``arrived(answer, None)`` or
    ``arrived(None, error)`` (nothing when the receiver is gone: the desk closed)."""

    def run() -> None:
        found: Any = None
        error: Exception | None = None
        try:
            found = read()
        except Exception as failure:  # noqa: BLE001 - said on the panel, never raised
            error = failure
        # The panel may be gone (the desk or the dock closed while the read ran): PySide then
        # raises RuntimeError, or TypeError from a signal that has lost its signature.
        with contextlib.suppress(RuntimeError, TypeError):
            arrived.emit(found, error)

    threading.Thread(target=run, name=name, daemon=True).start()
