"""The desk's undo history: every change made in this window, undone and redone in order.

Each accepted change (a drag, a resize, a status step, a cancellation, a booking,
an edit) is recorded as a :class:`Change` with how to undo it and how to do it
again. Undo takes the *last* change; before it acts it checks that the
appointment still stands as the change left it (:mod:`desktop.services.history`),
so Ctrl+Z never reverts something else — another desk's move, a sync, an older
change on another day. Undoing and redoing go through the same services and
rules as any action; a refusal is said, never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from PySide6.QtCore import QObject, Signal

from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.services.dto import ActionResult, RefusalDTO
from desktop.services.history import Standing, standing
from desktop.services.session import SessionLocked
from desktop.ui.text import N_, _

#: What a change is called in "Undo {change}" (translated when shown).
MOVE, RESIZE, STATUS, CANCEL, BOOKING, EDIT = (
    N_("move"), N_("length change"), N_("status change"), N_("cancellation"), N_("booking"),
    N_("edit"))

Action = Callable[[], ActionResult]


@dataclass(frozen=True, slots=True)
class Change:
    """One recorded change of one appointment."""

    kind: str  # one of MOVE … EDIT (a gettext msgid)
    appointment_id: str
    undo: Action
    redo: Action
    after: Standing | None = None  # how the change left it (filled in by record())
    before: Standing | None = None  # how the undo left it (filled in by undo())


# --------------------------------------------------------------------------- the changes


def moved(ctx: DeskContext, appointment_id: str, back: tuple[datetime, str, str | None],
          forward: tuple[datetime, str | None, str | None]) -> Change:
    """A move from ``back`` to ``forward`` (start, provider, room)."""
    return Change(
        MOVE, appointment_id,
        lambda: booking.move(ctx, appointment_id, back[0], provider_id=back[1],
                             room_id=back[2]),
        lambda: booking.move(ctx, appointment_id, forward[0], provider_id=forward[1],
                             room_id=forward[2]))


def resized(ctx: DeskContext, appointment_id: str, back: datetime, forward: datetime) -> Change:
    return Change(RESIZE, appointment_id,
                  lambda: booking.resize(ctx, appointment_id, back),
                  lambda: booking.resize(ctx, appointment_id, forward))


def status_changed(ctx: DeskContext, appointment_id: str, status: str, reason: str = "") -> Change:
    """A status step (a cancellation when ``status`` is ``cancelled``)."""
    redo: Action = (
        (lambda: booking.cancel(ctx, appointment_id, reason)) if status == "cancelled"
        else (lambda: booking.change_status(ctx, appointment_id, status, reason=reason)))
    return Change(CANCEL if status == "cancelled" else STATUS, appointment_id,
                  lambda: booking.undo_status(ctx, appointment_id), redo)


def booked(ctx: DeskContext, appointment_id: str) -> Change:
    """A new booking: undoing marks it entered in error (it frees the time at once, and
    the server hears of it like any change); redoing restores it."""
    return Change(
        BOOKING, appointment_id,
        lambda: booking.change_status(ctx, appointment_id, "entered_in_error",
                                      reason=_("Undone right after booking")),
        lambda: booking.undo_status(ctx, appointment_id))


# --------------------------------------------------------------------------- the history


class UndoHistory(QObject):
    """Undo and redo stacks of :class:`Change`; ``changed()`` after every step and
    ``recorded(appointment_id)`` when a new change is remembered."""

    changed = Signal()
    recorded = Signal(str)

    def __init__(self, ctx: DeskContext, *, say: Callable[[str], None], done: Callable[[], None],
                 render: Callable[[RefusalDTO], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._say, self._done, self._render = say, done, render
        self._undo: list[Change] = []
        self._redo: list[Change] = []

    def record(self, change: Change) -> None:
        """Remember an accepted change (a new change forgets what could be redone)."""
        self._undo.append(replace(change, after=self._standing(change.appointment_id)))
        self._redo.clear()
        self.changed.emit()
        self.recorded.emit(change.appointment_id)

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_text(self) -> str:
        return (_("Undo {change}").format(change=_(self._undo[-1].kind)) if self._undo
                else _("Undo"))

    def redo_text(self) -> str:
        return (_("Redo {change}").format(change=_(self._redo[-1].kind)) if self._redo
                else _("Redo"))

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self.changed.emit()

    def undo(self) -> bool:
        """Undo the last change, if the appointment still stands as it left it."""
        if not self._undo:
            self._say(_("Nothing to undo."))
            return False
        step = self._undo[-1]
        if not self._unchanged(step.appointment_id, step.after):
            self._undo.pop()
            self._stale(_("The {change} was not undone: the appointment has changed since "
                          "(on this or another desk).").format(change=_(step.kind)))
            return False
        if not self._run(step.undo):
            return False
        self._undo.pop()
        self._redo.append(replace(step, before=self._standing(step.appointment_id)))
        self._finish(_("Undone: {change}.").format(change=_(step.kind)))
        return True

    def redo(self) -> bool:
        """Do the last undone change again, if nothing changed the appointment since."""
        if not self._redo:
            self._say(_("Nothing to redo."))
            return False
        step = self._redo[-1]
        if not self._unchanged(step.appointment_id, step.before):
            self._redo.pop()
            self._stale(_("The {change} was not redone: the appointment has changed since "
                          "(on this or another desk).").format(change=_(step.kind)))
            return False
        if not self._run(step.redo):
            return False
        self._redo.pop()
        self._undo.append(replace(step, after=self._standing(step.appointment_id)))
        self._finish(_("Redone: {change}.").format(change=_(step.kind)))
        return True

    # ------------------------------------------------------------------ internals

    def _standing(self, appointment_id: str) -> Standing | None:
        try:
            return standing(self._ctx, appointment_id)
        except SessionLocked:
            return None

    def _unchanged(self, appointment_id: str, expected: Standing | None) -> bool:
        return expected is not None and self._standing(appointment_id) == expected

    def _stale(self, text: str) -> None:
        self._say(text)
        self.changed.emit()

    def _run(self, action: Action) -> bool:
        try:
            result = action()
        except SessionLocked:
            self._say(_("The session is locked. Unlock it to continue."))
            return False
        if not result.ok:
            if result.refusal is not None:
                self._say(self._render(result.refusal))
            return False
        return True

    def _finish(self, text: str) -> None:
        self._say(text)
        self.changed.emit()
        self._done()


__all__ = ["Change", "UndoHistory", "booked", "moved", "resized", "status_changed"]
