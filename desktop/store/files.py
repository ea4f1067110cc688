"""Small file operations the desk's data folder needs on every platform.

:func:`replace_file` is ``os.replace`` that waits a little when Windows refuses
the rename because another program (an antivirus scanner, a backup agent,
a search indexer) holds the target open for a moment.
:class:`DataFolderLock` keeps a second desk from opening the same data folder.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path, PureWindowsPath

from filelock import FileLock, Timeout

from desktop.store.errors import StoreError

LOCK_FILE = "desk.lock"
#: Attempts and first pause of :func:`replace_file` (doubling: at most ~3 s in all).
REPLACE_ATTEMPTS = 8
REPLACE_FIRST_PAUSE = 0.025


def replace_file(source: Path, target: Path, *,
                 attempts: int = REPLACE_ATTEMPTS, first_pause: float = REPLACE_FIRST_PAUSE,
                 sleep: Callable[[float], None] = time.sleep) -> None:
    """``os.replace(source, target)``, retried while the OS answers ``PermissionError``.

    On Windows a file that another process opened without delete sharing cannot be
    replaced until it closes it; such holders let go within a second or two.
    """
    pause = first_pause
    for attempt in range(attempts):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if attempt == attempts - 1:
                raise
            sleep(pause)  # waiting for another program to close the file (bounded)
            pause *= 2


class DeskAlreadyRunning(StoreError):
    """Another desk process holds this data folder."""


class DataFolderLock:
    """An exclusive lock on the data folder for the life of the desk process.

    The operating system releases it when the process ends, even after a crash,
    so a stale lock never blocks the next start.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._lock = FileLock(str(self.path), timeout=0)

    def acquire(self) -> None:
        """Take the lock, or raise :class:`DeskAlreadyRunning` with what to do."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout as error:
            raise DeskAlreadyRunning(
                f"ClinicDesk is already running with the data folder {self.path.parent} "
                "(on this computer or another one sharing the folder). Switch to the open "
                "window, or close it before starting the desk again."
            ) from error
        # Who holds it, for an administrator looking at the folder (no patient data).
        with open(self.path.with_suffix(".owner"), "w", encoding="utf-8") as owner:
            owner.write(f"{socket.gethostname()} pid {os.getpid()}\n")

    def release(self) -> None:
        self._lock.release()

    @property
    def is_locked(self) -> bool:
        return self._lock.is_locked


def is_network_path(path: Path) -> bool:
    """True for a Windows UNC path (``\\\\server\\share\\…``), which SQLite cannot open as a URI."""
    text = str(path)
    return text.startswith(("\\\\", "//")) and bool(PureWindowsPath(text).drive)
