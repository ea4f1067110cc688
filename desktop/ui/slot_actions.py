"""Right-click on an empty slot: block this time, or put a patient on the waitlist for it.

Both ask one short question (a reason; a patient and a type), then a service
writes; the outcome is said through ``message`` and ``changed`` tells the window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog, QWidget

from desktop.services import blockouts, waitlist
from desktop.services.clinic_reference import ClinicReference
from desktop.services.context import DeskContext
from desktop.services.dto import ActionResult, PatientDTO
from desktop.services.session import SessionLocked
from desktop.ui.agenda.slot_menu import SlotRequest
from desktop.ui.text import _, format_when, render_message
from scheduling.timeutil import to_local

#: A blocked time without a drag is this long.
DEFAULT_BLOCK = timedelta(minutes=30)


class SlotActions(QObject):
    """``message(text)`` says what happened; ``changed()`` after a write."""

    message = Signal(str)
    changed = Signal()

    def __init__(self, ctx: DeskContext, parent: QWidget) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._parent = parent
        #: Asks the reason of a blockout (None: give up). Tests replace it.
        self.ask_reason: Callable[[], str | None] = self._ask_reason
        #: Asks the appointment type to wait for (None: give up). Tests replace it.
        self.ask_type: Callable[[ClinicReference], str | None] = self._ask_type

    def block(self, reference: ClinicReference, request: SlotRequest) -> bool:
        """Block the slot's column (provider or room) for the slot or the dragged span."""
        reason = self.ask_reason()
        if reason is None:
            return False
        end = request.end or request.start + DEFAULT_BLOCK
        try:
            result = blockouts.create(self._ctx, clinic_id=reference.clinic_id,
                                      start=request.start, end=end,
                                      resource_id=request.provider_id or request.room_id,
                                      reason=reason)
        except SessionLocked:
            self.message.emit(_("The session is locked. Unlock it to continue."))
            return False
        return self._report(result, reference, _("Blocked from {when}.").format(
            when=format_when(request.start, reference.time_zone, reference.locale)))

    def add_to_waitlist(self, reference: ClinicReference, request: SlotRequest,
                        patient: PatientDTO) -> bool:
        """Put ``patient`` on the waitlist preferring this provider, weekday and time."""
        type_id = self.ask_type(reference)
        if type_id is None:
            return False
        local = to_local(request.start, reference.time_zone)
        end = to_local(request.end or request.start + DEFAULT_BLOCK, reference.time_zone)
        try:
            result = waitlist.add(
                self._ctx, clinic_id=reference.clinic_id, patient_id=patient.id,
                appointment_type_id=type_id,
                preferred_provider_ids=() if request.provider_id is None
                else (request.provider_id,),
                preferred_weekdays=(local.weekday(),),
                preferred_times=((local.time(), end.time()),),
                note=_("Wants {when}").format(
                    when=format_when(request.start, reference.time_zone, reference.locale)))
        except SessionLocked:
            self.message.emit(_("The session is locked. Unlock it to continue."))
            return False
        return self._report(result, reference, _("{name} was added to the waitlist.").format(
            name=patient.display_name))

    def _report(self, result: ActionResult, reference: ClinicReference, done: str) -> bool:
        if not result.ok:
            refusal = result.refusal
            self.message.emit("" if refusal is None else render_message(
                refusal.message_id, refusal.params, tz=reference.time_zone,
                clinic_locale=reference.locale, names=reference.names))
            return False
        self.message.emit(done)
        self.changed.emit()
        return True

    def _ask_reason(self) -> str | None:
        text, ok = QInputDialog.getText(self._parent, _("Block this time"),
                                        _("Why is this time blocked?"))
        return text.strip() if ok else None

    def _ask_type(self, reference: ClinicReference) -> str | None:
        names = [kind.name for kind in reference.types]
        if not names:
            return None
        chosen, ok = QInputDialog.getItem(self._parent, _("Add to waitlist"),
                                          _("Appointment type"), names, 0, False)
        if not ok:
            return None
        return next((kind.id for kind in reference.types if kind.name == chosen), None)


__all__ = ["DEFAULT_BLOCK", "SlotActions"]
