"""Drags from the pinboard: an appointment to be placed again.

They travel the waitlist's drop path (:data:`~desktop.ui.agenda.view.WAITLIST_MIME`)
with the payload ``pin:<minutes>:<appointment id>``; the agenda reads such a drop as a
move of that appointment (judged, shown and made like a drag inside the agenda).
"""

from __future__ import annotations

PIN_PREFIX = "pin:"


def pin_payload(appointment_id: str, minutes: int) -> str:
    return f"{PIN_PREFIX}{minutes}:{appointment_id}"


def read_pin(entry: str) -> tuple[str, int] | None:
    """(appointment id, minutes) of a pinboard drag's payload; None for a waitlist entry."""
    if not entry.startswith(PIN_PREFIX):
        return None
    minutes, _sep, appointment_id = entry[len(PIN_PREFIX):].partition(":")
    return (appointment_id, int(minutes)) if minutes.isdigit() and appointment_id else None


def as_move(source: str) -> str:
    """A drag source naming a pinned appointment (``waitlist:pin:…``) as the move it is."""
    kind, _sep, entry = source.partition(":")
    pinned = read_pin(entry) if kind == "waitlist" else None
    return source if pinned is None else f"move:{pinned[0]}"


__all__ = ["PIN_PREFIX", "as_move", "pin_payload", "read_pin"]
