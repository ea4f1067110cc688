"""The desk's images and style sheets: every file under ``resources/`` is found here.

A source checkout reads ``resources/`` at the repository root; a wheel or a
desk bundle carries the same folder as ``desktop/resources/`` (``setup.py``,
``packaging/desktop.spec``). Nothing else in the desk builds a resource path.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

_PACKAGED = Path(__file__).resolve().parent / "resources"
_SOURCE = Path(__file__).resolve().parent.parent / "resources"
APP_ICON = "icons/clinicdesk.svg"


def resources_dir() -> Path:
    """The folder holding ``icons/`` (packaged copy first, else the source tree's)."""
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE


def resource_path(name: str) -> Path:
    """The file ``name`` (``icons/clinicdesk.svg``); FileNotFoundError when it is missing."""
    path = resources_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"the desk resource {name} is missing from {resources_dir()}")
    return path


@cache
def app_icon() -> QIcon:
    """The application icon (window title bars, task bar, dialogs)."""
    return QIcon(str(resource_path(APP_ICON)))
