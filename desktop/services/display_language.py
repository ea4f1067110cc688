"""The language the desk shows records in: an appointment type's name in that language
(:meth:`scheduling.model.AppointmentType.name_in`) where the administrator gave one.

The window's language switch sets it (``desktop.ui.text.set_language``); services read it
when they name types for a screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_current = ["en"]


def set_display_language(language: str) -> None:
    _current[0] = language


def display_language() -> str:
    return _current[0]


def type_name(name: str, names: Iterable[Any] | None) -> str:
    """A stored type's name (``name`` plus its ``[language, name]`` pairs) in the display
    language."""
    language = _current[0]
    return next((str(n) for lang, n in names or () if lang == language and n), name)


__all__ = ["display_language", "set_display_language", "type_name"]
