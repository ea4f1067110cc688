"""The desk's log file: ``logs/desk.log`` in the data folder, rotated, without patient data.

What the desk logs is written for support: versions, start-up steps, sync
outcomes by error class, timings. Patient data never reaches a log line: the
desk's own messages carry none, and an uncaught exception is recorded by its
type and stack frames only (its message may quote a record).
"""

from __future__ import annotations

import logging
import sys
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

LOG_FOLDER = "logs"
LOG_FILE = "desk.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger("desktop")


def configure_logging(data_dir: Path, level: int = logging.INFO) -> Path:
    """Send the desk's log records to the rotating file; returns its path."""
    folder = data_dir / LOG_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    root = logging.getLogger()
    if not any(isinstance(h, RotatingFileHandler) and Path(h.baseFilename) == path
               for h in root.handlers):
        handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                      encoding="utf-8")
        handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    return path


def _log_uncaught(kind: type[BaseException], error: BaseException,
                  trace: TracebackType | None) -> None:
    frames = "".join(traceback.format_tb(trace))
    log.critical("uncaught %s.%s\n%s", kind.__module__, kind.__qualname__, frames)
    sys.__excepthook__(kind, error, trace)
