"""Quick create on an empty slot: what a click, a drag or a right-click there asks for.

A click or a drag asks for a new appointment with that column's provider (or room),
time and length; the right-click menu offers a new appointment here, blocking the
time and adding a patient to the waitlist for it. The agenda only asks (signals);
the window opens the dialogs and the services write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtWidgets import QMenu, QWidget

from desktop.services.agenda_frame import AgendaFrame, TemplateSlot
from desktop.ui.agenda.scene import NO_ROOM
from desktop.ui.agenda.view import EmptySlot
from desktop.ui.text import _


@dataclass(frozen=True, slots=True)
class SlotRequest:
    """A new appointment (or a blockout, a waitlist wish) at an empty slot; ``end`` None:
    the appointment type's default length."""

    provider_id: str | None
    room_id: str | None
    start: datetime
    end: datetime | None
    #: The provider's named slot template the click fell in (booked into it).
    template: TemplateSlot | None = None

    @property
    def minutes(self) -> int | None:
        return None if self.end is None else int((self.end - self.start).total_seconds() // 60)


def slot_request(slot: EmptySlot, columns: str,
                 frame: AgendaFrame | None = None) -> SlotRequest:
    """The request of ``slot`` in provider (``provider``) or room (``room``) columns; a
    click inside a provider's template slot asks for the whole template slot."""
    key = slot.column.key
    if columns == "room":
        return SlotRequest(None, None if key in ("", NO_ROOM) else key, slot.start, slot.end)
    template = None if frame is None else frame.template_at(slot.column.day, key, slot.start)
    if template is not None and slot.end is None:
        return SlotRequest(key, None, template.start, template.end, template)
    return SlotRequest(key, None, slot.start, slot.end, template)


def empty_slot_menu(parent: QWidget, request: SlotRequest,
                    ask: Callable[[str, SlotRequest], None]) -> QMenu:
    """The right-click menu of an empty slot; each action's ``data()`` names it
    (``new``, ``block``, ``waitlist``) and calls ``ask(name, request)``."""
    menu = QMenu(parent)
    for name, label in (("new", _("New appointment here…")),
                        ("block", _("Block this time…")),
                        ("waitlist", _("Add to waitlist for this time…"))):
        action = menu.addAction(label)
        action.setData(name)
        action.triggered.connect(lambda _checked=False, n=name: ask(n, request))
    return menu


__all__ = ["SlotRequest", "empty_slot_menu", "slot_request"]
