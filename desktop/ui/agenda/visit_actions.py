"""Moving or cancelling an appointment that is part of a visit: "this appointment only"
or "the whole visit". The whole visit goes through the server, all or nothing; a
refusal names the part that failed, why, and its nearest free times.

The agenda asks :meth:`VisitActions.scope` before a move or a cancellation; "this" goes
on as for any appointment (the desk's own outbox), "visit" calls the server here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.services.clinic_reference import ClinicReference
from desktop.services.context import DeskContext
from desktop.services.session import SessionLocked
from desktop.services.visits import VisitOutcome, VisitPosition, VisitsService, visit_position
from desktop.sync.errors import SyncError
from desktop.ui.booking_model import describe_alternative
from desktop.ui.text import _, format_when, ngettext, render_message

#: How many free times a refusal names in the status bar.
ALTERNATIVES_SAID = 3
THIS, VISIT = "this", "visit"
MOVED, CANCELLED = "move", "cancel"


class VisitActions(QObject):
    """Whole-visit moves and cancellations, reported through ``say`` and ``done``."""

    def __init__(self, ctx: DeskContext, parent: QWidget, *, say: Callable[[str], None],
                 done: Callable[[], None],
                 reference: Callable[[], ClinicReference | None]) -> None:
        super().__init__(parent)
        self._ctx, self._parent = ctx, parent
        self._say, self._done, self._reference = say, done, reference
        #: The server's visit API (None: this desk has no server to ask).
        self.service: VisitsService | None = None
        #: Asks "this appointment only / the whole visit"; None = give up. Tests replace it.
        self.choose_scope: Callable[[VisitPosition], str | None] = self._ask_scope

    def scope(self, appointment_id: str) -> tuple[str | None, VisitPosition | None]:
        """("this", None) for an appointment alone; for a part of a visit, what the user
        chose (None: nothing should happen) and where the part stands."""
        try:
            position = visit_position(self._ctx, appointment_id)
        except SessionLocked:
            return None, None
        if position is None or position.total < 2:
            return THIS, None
        return self.choose_scope(position), position

    def move(self, position: VisitPosition, start: datetime) -> bool:
        """Shift the whole visit so that this part starts at ``start``."""
        earliest = position.earliest_start + (start - position.start)
        outcome = self._ask(lambda service: service.move(position.visit_id, earliest))
        if outcome is None:
            return False
        if outcome.ok:
            self._say(_("The whole visit moved: its first appointment now starts {when}. "
                        "The agenda shows it after the next sync.").format(
                when=self._when(earliest)))
            self._done()
            return True
        self._say(self._refusal_text(outcome, MOVED))
        return False

    def cancel(self, position: VisitPosition, reason: str, category: str | None) -> bool:
        outcome = self._ask(lambda service: service.cancel(position.visit_id, reason,
                                                           category))
        if outcome is None:
            return False
        if outcome.ok:
            self._say(ngettext("The whole visit ({count} appointment) was cancelled.",
                               "The whole visit ({count} appointments) was cancelled.",
                               position.total).format(count=position.total))
            self._done()
            return True
        self._say(self._refusal_text(outcome, CANCELLED))
        return False

    # ------------------------------------------------------------------ internals

    def _ask(self, action: Callable[[VisitsService], VisitOutcome]) -> VisitOutcome | None:
        if self.service is None:
            self._say(_("The whole visit changes on the server, and this desk cannot reach "
                        "it now. Nothing was changed."))
            return None
        try:
            outcome = action(self.service)
        except SessionLocked:
            self._say(_("The session is locked. Unlock it to continue."))
            return None
        except SyncError as error:
            self._say(str(error))
            return None
        if outcome.offline:
            self._say(_("The whole visit changes on the server, and this desk cannot reach "
                        "it now. Nothing was changed."))
            return None
        return outcome

    def _refusal_text(self, outcome: VisitOutcome, action: str) -> str:
        refusal = outcome.refusal
        nothing = _("Nothing was moved.") if action == MOVED else _("Nothing was cancelled.")
        if refusal is None:
            return f"{outcome.server_message} {nothing}".strip()
        ref = self._reference()
        zone, locale = (ref.time_zone, ref.locale) if ref else ("UTC", "en_US")
        names = dict(ref.names) if ref else {}
        reason = render_message(refusal.message_id, refusal.params, tz=zone,
                                clinic_locale=locale, names=names)
        if outcome.part is not None:
            reason = (_("Appointment {number} of the visit cannot be moved: {reason}")
                      if action == MOVED else
                      _("Appointment {number} of the visit cannot be cancelled: {reason}")
                      ).format(number=outcome.part + 1, reason=reason)
        text = f"{reason} {nothing}"
        if refusal.alternatives:
            free = "; ".join(describe_alternative(a, zone, locale, names)
                             for a in refusal.alternatives[:ALTERNATIVES_SAID])
            text = _("{text} Free times: {free}.").format(text=text, free=free)
        return text

    def _when(self, start: datetime) -> str:
        ref = self._reference()
        return format_when(start, ref.time_zone if ref else "UTC",
                           ref.locale if ref else "en_US")

    def _ask_scope(self, position: VisitPosition) -> str | None:
        box = QMessageBox(QMessageBox.Icon.Question, _("Part of a visit"),
                          _("This appointment is part of a visit ({number} of {total}). "
                            "What should change?").format(number=position.number,
                                                          total=position.total),
                          parent=self._parent)
        choices = {
            box.addButton(_("This appointment only"), QMessageBox.ButtonRole.AcceptRole): THIS,
            box.addButton(_("The whole visit"), QMessageBox.ButtonRole.AcceptRole): VISIT,
        }
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return next((scope for button, scope in choices.items() if button is clicked), None)


__all__ = ["THIS", "VISIT", "VisitActions"]
