"""What the agenda can do to one appointment: status steps, cancel, duplicate, undo.

Only the status steps that make sense now are offered (no "arrived" for tomorrow).

Each action asks a service (:mod:`desktop.services.booking`), which asks the rules;
the result is reported through the callbacks the widget passes in (a plain-words
message, "the store changed"). The context menu is built by
:meth:`AppointmentActions.context_menu` so tests can trigger its actions directly.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMenu, QWidget

from desktop.services import booking
from desktop.services.appointment_details import load_details
from desktop.services.context import DeskContext
from desktop.services.dto import ActionResult, AgendaItem, RefusalDTO
from desktop.services.session import SessionLocked
from desktop.ui.agenda.visit_actions import THIS, VISIT, VisitActions
from desktop.ui.cancel_dialog import CancelChoice, ask_cancellation, late_note
from desktop.ui.text import N_, _
from desktop.ui.undo_history import UndoHistory, booked, status_changed
from scheduling.model import AppointmentStatus
from scheduling.status import offered_steps

#: Status steps offered by the context menu: (status, menu label).
STATUS_STEPS: tuple[tuple[str, str], ...] = (
    ("message_left", N_("Mark as message left")),
    ("confirmed", N_("Mark as confirmed")),
    ("arrived", N_("Mark as arrived")),
    ("ready", N_("Mark as ready")),
    ("in_progress", N_("Mark as in progress")),
    ("completed", N_("Mark as completed")),
    ("no_show", N_("Mark as no-show")),
)


class AppointmentActions(QObject):
    """The agenda's actions on appointments, reported through ``say`` and ``done``."""

    def __init__(
        self,
        ctx: DeskContext,
        parent: QWidget,
        *,
        say: Callable[[str], None],
        done: Callable[[], None],
        render: Callable[[RefusalDTO], str],
        history: UndoHistory,
        zone: Callable[[], str],
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._parent = parent
        self._say = say
        self._done = done
        self._render = render
        self._zone = zone
        self.history = history
        #: Asks why it is cancelled (a category and text, or text alone); None = the user
        #: gave up. Tests replace it.
        self.ask_cancel_reason: Callable[[], CancelChoice | str | None] = self._ask_reason
        self.open_patient: Callable[[str], None] = lambda _patient_id: None
        self.edit: Callable[[str], None] = lambda _appointment_id: None
        self.to_pinboard: Callable[[str], None] = lambda _appointment_id: None
        #: Asks "this appointment only / the whole visit" for a part of a visit.
        self.visits: VisitActions | None = None
        #: Parts beside the agenda add their own actions (video visits).
        self.menu_extensions: list[Callable[[QMenu, AgendaItem], None]] = []

    # ------------------------------------------------------------------ the menu

    def context_menu(self, item: AgendaItem) -> QMenu:
        """The context menu of ``item``; each action's ``data()`` names it."""
        menu = QMenu(self._parent)
        appointment_id = item.appointment_id
        edit = menu.addAction(_("Edit…"))
        edit.setData("edit")
        edit.triggered.connect(lambda _checked=False: self.edit(appointment_id))
        menu.addSeparator()
        offered = self.offered_statuses(item)
        for status, label in STATUS_STEPS:
            if status not in offered:
                continue  # only what the status machine allows today (no arrival tomorrow)
            action = menu.addAction(_(label))
            action.setData(status)
            action.triggered.connect(
                lambda _checked=False, s=status: self.change_status(appointment_id, s))
        if "cancelled" in offered:
            cancel = menu.addAction(_("Cancel with reason…"))
            cancel.setData("cancel")
            cancel.triggered.connect(lambda _checked=False: self.cancel(appointment_id))
        menu.addSeparator()
        duplicate = menu.addAction(_("Duplicate"))
        duplicate.setData("duplicate")
        duplicate.triggered.connect(lambda _checked=False: self.duplicate(item))
        pinboard = menu.addAction(_("Move to pinboard"))
        pinboard.setData("pinboard")
        pinboard.triggered.connect(lambda _checked=False: self.to_pinboard(appointment_id))
        patient = menu.addAction(_("Open patient"))
        patient.setData("open_patient")
        patient.triggered.connect(lambda _checked=False: self.open_patient(item.patient_id))
        for extend in self.menu_extensions:
            extend(menu, item)
        return menu

    # ------------------------------------------------------------------ actions

    def offered_statuses(self, item: AgendaItem) -> set[str]:
        """The statuses ``item`` may step to now (machine order, not before its day)."""
        steps = offered_steps(AppointmentStatus(item.status), item.start, self._ctx.now(),
                              self._zone())
        return {s.value for s in steps}

    def change_status(self, appointment_id: str, status: str) -> bool:
        result = self._call(lambda: booking.change_status(self._ctx, appointment_id, status))
        if result is not None and result.ok:
            self.history.record(status_changed(self._ctx, appointment_id, status))
            self._say(_("Status changed."))
            self._done()
        return bool(result and result.ok)

    def cancel(self, appointment_id: str) -> bool:
        """Ask for a reason, then cancel; giving no reason cancels nothing. A late
        cancellation is recorded and said (seed 003), not refused. A part of a visit asks
        first whether the whole visit is cancelled (on the server, all or nothing)."""
        scope, position = (THIS, None) if self.visits is None \
            else self.visits.scope(appointment_id)
        if scope is None:
            self._say(_("Nothing was cancelled."))
            return False
        self.cancel_note = late_note(load_details(self._ctx, appointment_id), self._ctx.now())
        answer = self.ask_cancel_reason()
        choice = answer if isinstance(answer, CancelChoice) or answer is None \
            else CancelChoice("", answer)
        reason = choice.reason if choice is not None else ""
        if choice is None or not reason:
            self._say(_("Nothing was cancelled: a reason is needed."))
            return False
        if position is not None and scope == VISIT and self.visits is not None:
            return self.visits.cancel(position, reason, choice.category or None)
        result = self._call(lambda: booking.cancel(self._ctx, appointment_id, reason,
                                                   category=choice.category or None))
        if result is None or not result.ok:
            return False
        self.history.record(status_changed(self._ctx, appointment_id, "cancelled", reason))
        self._say(self.cancelled_text(result))
        self._done()
        return True

    def cancelled_text(self, result: ActionResult) -> str:
        """"Cancelled." — or that it was a late cancellation, and the fee if there is one."""
        if "LATE_CANCELLATION" not in result.notices:
            return _("Cancelled. Ctrl+Z undoes it.")
        details = (load_details(self._ctx, result.appointments[0].id) if result.appointments
                   else None)
        fee = (details.late_cancellation_fee if details is not None
               else self._ctx.policy.late_cancellation_fee)
        if fee is None:
            return _("Cancelled and recorded as a late cancellation. Ctrl+Z undoes it.")
        return _("Cancelled and recorded as a late cancellation (fee {fee}). "
                 "Ctrl+Z undoes it.").format(fee=fee)

    def duplicate(self, item: AgendaItem) -> bool:
        """Book a copy right after the original, with the same provider."""
        result = self._call(lambda: booking.duplicate(self._ctx, item.appointment_id, item.end))
        if result is not None and result.ok and result.appointment is not None:
            self.history.record(booked(self._ctx, result.appointment.id))
            self._say(_("Duplicated right after the original."))
            self._done()
        return bool(result and result.ok)

    def undo(self) -> bool:
        """Undo the last change made in this window (see :class:`UndoHistory`)."""
        return self.history.undo()

    def redo(self) -> bool:
        return self.history.redo()

    def run(self, action: Callable[[], ActionResult]) -> ActionResult | None:
        """Run a service action; a refusal or a locked session is said, never raised."""
        return self._call(action)

    def _call(self, action: Callable[[], ActionResult]) -> ActionResult | None:
        try:
            result = action()
        except SessionLocked:
            self._say(_("The session is locked. Unlock it to continue."))
            return None
        if not result.ok and result.refusal is not None:
            self._say(self._render(result.refusal))
        return result

    #: What the cancel dialog says first (a late cancellation and its fee), set by cancel().
    cancel_note = ""

    def _ask_reason(self) -> CancelChoice | None:
        return ask_cancellation(self._parent, self.cancel_note)


__all__ = ["STATUS_STEPS", "AppointmentActions"]
