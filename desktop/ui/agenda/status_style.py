"""Confirmation states on the agenda: a colour stripe per status, finished ones dimmed.

Each appointment keeps its type's colour; a stripe down its left edge says where
it stands (unconfirmed, message left, confirmed by the patient, arrived, ready, in
the room, completed, no-show), as Open Dental's confirmation colours do. The colours are the user's
to choose (kept in the desk's settings, never patient data); completed and no-show
appointments are drawn faded so the day's open work stands out.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor

from desktop.ui.text import N_

#: The statuses shown in the legend, in visit order, with what the legend calls them.
LEGEND: tuple[tuple[str, str], ...] = (
    ("pending", N_("Awaiting approval")),
    ("booked", N_("Unconfirmed")),
    ("message_left", N_("Message left")),
    ("confirmed", N_("Confirmed by the patient")),
    ("arrived", N_("Arrived")),
    ("ready", N_("Ready for the provider")),
    ("in_progress", N_("In the room")),
    ("completed", N_("Completed")),
    ("no_show", N_("No-show")),
)

DEFAULT_COLOURS: dict[str, str] = {
    "pending": "#9e9e9e",
    "booked": "#f9a825",
    "message_left": "#ef6c00",
    "confirmed": "#2e7d32",
    "arrived": "#1565c0",
    "ready": "#00838f",
    "in_progress": "#6a1b9a",
    "completed": "#546e7a",
    "no_show": "#c62828",
}

#: Drawn faded: the visit is over (or never happened).
DIMMED = frozenset({"completed", "no_show"})
DIMMED_OPACITY = 0.45
STRIPE_WIDTH = 5.0

_colours: dict[str, QColor] = {k: QColor(v) for k, v in DEFAULT_COLOURS.items()}


def status_colour(status: str) -> QColor | None:
    """The stripe colour of ``status`` (None: no stripe, e.g. cancelled)."""
    return _colours.get(status)


def opacity_of(status: str) -> float:
    return DIMMED_OPACITY if status in DIMMED else 1.0


def set_status_colour(status: str, colour: QColor, settings: QSettings | None = None) -> None:
    """Use ``colour`` for ``status`` from now on (and remember it in ``settings``)."""
    _colours[status] = QColor(colour)
    if settings is not None:
        settings.setValue(f"status-colours/{status}", colour.name())


def load_status_colours(settings: QSettings) -> None:
    """The user's colours from ``settings`` (defaults where none is set)."""
    for status, default in DEFAULT_COLOURS.items():
        stored = QColor(str(settings.value(f"status-colours/{status}", default)))
        _colours[status] = stored if stored.isValid() else QColor(default)


__all__ = ["DEFAULT_COLOURS", "DIMMED", "DIMMED_OPACITY", "LEGEND", "STRIPE_WIDTH",
           "load_status_colours", "opacity_of", "set_status_colour", "status_colour"]
