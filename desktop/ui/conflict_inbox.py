"""The conflict inbox: what the server refused after an offline change, and what to do now.

A list of refused actions on the left; for the selected one, what was tried,
why it lost (translated), its alternatives as buttons — one click books that
alternative with the original request's data — and "Dismiss", which keeps the
entry in the audit trail (who dismissed it and when). A change the server could not
read at all (``INVALID_MUTATION``: a value it cannot store) offers "Edit and retry"
(:mod:`desktop.ui.retry_dialog`: correct the fields, the change is queued again) and
"Discard". A patient edit that met a newer value on the server (``EDIT_CONFLICT``) shows
both values per field with "Keep mine" (send this desk's values again) and "Keep theirs".
``count`` is the badge the main window shows.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Property, QItemSelection, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.services import agenda, booking, patients
from desktop.services.clinic_reference import ClinicReference, load_reference
from desktop.services.conflict_inbox import BOOKINGS, ConflictEntry, load_conflicts
from desktop.services.context import DeskContext
from desktop.services.dto import ActionResult, AlternativeDTO
from desktop.services.session import SessionLocked
from desktop.ui.booking_model import describe_alternative
from desktop.ui.conflict_inbox_model import ConflictInboxModel, describe_attempt, describe_reason
from desktop.ui.retry_dialog import RetryDialog
from desktop.ui.text import N_, _, language_notifier, render_message
from desktop.ui.theme import ERROR, text_style
from scheduling.commands import BookAppointment
from scheduling.model import AppointmentSource
from scheduling.sync_protocol import INVALID_MUTATION

#: How an edit conflict names a patient field.
FIELD_NAMES = {
    "given_name": N_("Given name"), "family_name": N_("Family name"), "phone": N_("Phone"),
    "email": N_("E-mail"), "preferred_language": N_("Language"), "active": N_("Active"),
    "contact_preference": N_("Messages"), "reminders_opt_out": N_("Reminders"),
}


def _shown(value: object) -> str:
    """A field value as the inbox shows it ("(empty)" for nothing)."""
    return _("(empty)") if value in ("", None) else str(value)


class ConflictInbox(QWidget):
    """The inbox of ``ctx``'s desk; entries without a clinic are shown in ``clinic_id``'s.

    Signals: ``countChanged(int)`` (the badge) and ``changed()`` after an alternative
    was booked or an entry dismissed (the agenda may want to refresh).
    """

    countChanged = Signal(int)
    changed = Signal()

    def __init__(self, ctx: DeskContext, clinic_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._default_clinic = clinic_id
        self._references: dict[str, ClinicReference] = {}
        self._count = 0
        self.model = ConflictInboxModel(self.reference_for, self)
        self.list = QListView(self)
        self.list.setModel(self.model)
        self.list.setWordWrap(True)
        self.list.setSpacing(2)
        self.empty = QLabel(self)
        self.empty.setWordWrap(True)
        details = QWidget(self)
        self.tried_title, self.tried, self.why_title, self.why, self.options_title = (
            QLabel(details) for _i in range(5))
        for label in (self.tried, self.why):
            label.setWordWrap(True)
        for title in (self.tried_title, self.why_title, self.options_title):
            title.setStyleSheet("font-weight: bold;")
        self.why.setStyleSheet(text_style(ERROR))
        self.options = QVBoxLayout()
        self.dismiss_button = QPushButton(details)
        self.message = QLabel(details)
        self.message.setWordWrap(True)
        column = QVBoxLayout(details)
        for widget in (self.tried_title, self.tried, self.why_title, self.why,
                       self.options_title):
            column.addWidget(widget)
        column.addLayout(self.options)
        column.addStretch(1)
        column.addWidget(self.message)
        column.addWidget(self.dismiss_button)
        self.details = details
        left = QWidget(self)
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.addWidget(self.list)
        left_column.addWidget(self.empty)
        splitter = QSplitter(self)
        splitter.addWidget(left)
        splitter.addWidget(details)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)
        self._buttons: list[QWidget] = []
        self.retry_dialog: RetryDialog | None = None

        self.list.selectionModel().selectionChanged.connect(self._selection_changed)
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()
        self.refresh()

    # ------------------------------------------------------------------ badge

    def _get_count(self) -> int:
        return self._count

    count = Property(int, _get_count, notify=countChanged)

    # ------------------------------------------------------------------ reading

    def reference_for(self, entry: ConflictEntry) -> ClinicReference:
        clinic_id = str(entry.args.get("clinic_id") or self._default_clinic)
        if clinic_id not in self._references:
            self._references[clinic_id] = load_reference(self._ctx, clinic_id)
        return self._references[clinic_id]

    @Slot()
    def refresh(self) -> None:
        """Read the inbox again (after a sync brought new conflicts)."""
        try:
            entries = load_conflicts(self._ctx)
        except SessionLocked:
            entries = ()
        self.model.set_entries(entries)
        if self._count != len(entries):
            self._count = len(entries)
            self.countChanged.emit(self._count)
        self.empty.setVisible(not entries)
        self.list.setVisible(bool(entries))
        if entries:
            self.list.setCurrentIndex(self.model.index(0))
        self._show(self.selected())

    def selected(self) -> ConflictEntry | None:
        return self.model.entry(self.list.currentIndex().row())

    @Slot(QItemSelection, QItemSelection)
    def _selection_changed(self, *_selection: QItemSelection) -> None:
        self._show(self.selected())

    @Slot()
    def retranslate(self) -> None:
        self.empty.setText(_("No conflicts: everything done on this desk reached the server."))
        self.tried_title.setText(_("What was tried"))
        self.why_title.setText(_("Why it did not go through"))
        self.model.retranslate()
        self._show(self.selected())

    def _show(self, entry: ConflictEntry | None) -> None:
        for button in self._buttons:
            self.options.removeWidget(button)
            button.hide()  # deleted later; must not linger on screen until then
            button.deleteLater()
        self._buttons = []
        self.details.setVisible(entry is not None)
        invalid = entry is not None and entry.conflict.code == INVALID_MUTATION
        self.dismiss_button.setText(_("Discard") if invalid else _("Dismiss"))
        self.dismiss_button.setToolTip(
            _("Drop this change: it is never sent again; the audit trail keeps it.") if invalid
            else _("Remove it from the inbox; the audit trail keeps it."))
        if entry is None:
            return
        reference = self.reference_for(entry)
        self.tried.setText(describe_attempt(entry, reference))
        self.why.setText(describe_reason(entry, reference))
        if invalid:
            self.options_title.setText(_("Correct the change and send it again, or discard "
                                         "it."))
            button = QPushButton(_("Edit and retry"), self.details)
            button.clicked.connect(lambda _checked=False: self.edit_and_retry(entry))
            self.options.addWidget(button)
            self._buttons.append(button)
            return
        edit = patients.edit_conflict(self._ctx, entry.conflict.id)
        if edit is not None:
            self._show_edit_conflict(edit)
            return
        bookable = entry.can_book_alternative
        self.options_title.setText(_("Book one of these instead:") if bookable
                                   else _("No alternative can be booked from here."))
        if not bookable:
            return
        for alternative in entry.conflict.alternatives:
            button = QPushButton(describe_alternative(
                alternative, reference.time_zone, reference.locale, reference.names),
                self.details)
            button.clicked.connect(
                lambda _checked=False, a=alternative: self.book_alternative(entry, a))
            self.options.addWidget(button)
            self._buttons.append(button)

    def _show_edit_conflict(self, edit: patients.EditConflict) -> None:
        """Each field with both values, and "Keep mine" / "Keep theirs"."""
        self.options_title.setText(_("Which value should stay?"))
        for name in edit.mine:
            label = QLabel(_("{field}: this desk {mine} — the server {theirs}").format(
                field=_(FIELD_NAMES.get(name, name)), mine=_shown(edit.mine[name]),
                theirs=_shown(edit.theirs[name])), self.details)
            label.setWordWrap(True)
            self.options.addWidget(label)
            self._buttons.append(label)
        for text, tip, slot in (
            (_("Keep mine"), _("Send this desk's values again."), self.keep_mine),
            (_("Keep theirs"), _("Keep the values now on the server."), self.keep_theirs),
        ):
            button = QPushButton(text, self.details)
            button.setToolTip(tip)
            button.clicked.connect(lambda _checked=False, e=edit, act=slot: act(e))
            self.options.addWidget(button)
            self._buttons.append(button)

    # ------------------------------------------------------------------ acting

    def keep_mine(self, edit: patients.EditConflict) -> bool:
        """Queue this desk's values again (based on the server's now); True when queued."""
        try:
            result = patients.keep_mine(self._ctx, edit)
        except SessionLocked:
            self.message.setText(_("The desk is locked. Unlock it to continue."))
            return False
        if not result.ok:
            if result.refusal is not None:
                self.message.setText(render_message(
                    result.refusal.message_id, result.refusal.params,
                    tz=self._default_reference().time_zone,
                    clinic_locale=self._default_reference().locale))
            return False
        self.message.setText(_("Your values will be sent with the next sync."))
        self.refresh()
        self.changed.emit()
        return True

    def keep_theirs(self, edit: patients.EditConflict) -> None:
        self._settle(lambda: patients.keep_theirs(self._ctx, edit))

    def _settle(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the selected entry, then read the inbox again and emit
        ``changed`` (a locked desk says so instead)."""
        try:
            action()
        except SessionLocked:
            self.message.setText(_("The desk is locked. Unlock it to continue."))
            return
        self.message.clear()
        self.refresh()
        self.changed.emit()

    def _default_reference(self) -> ClinicReference:
        if self._default_clinic not in self._references:
            self._references[self._default_clinic] = load_reference(self._ctx,
                                                                    self._default_clinic)
        return self._references[self._default_clinic]

    def book_alternative(self, entry: ConflictEntry, alternative: AlternativeDTO) -> ActionResult:
        """Book (or move to) ``alternative`` with the refused request's data; when it is
        accepted the entry is dismissed, otherwise the new reason is shown."""
        args = entry.args
        try:
            if entry.conflict.intent in BOOKINGS:
                result = booking.run_booking(self._ctx, BookAppointment(
                    self._ctx.actor(), self._ctx.new_id(), str(args["clinic_id"]),
                    str(args["patient_id"]), str(args["appointment_type_id"]),
                    alternative.provider_id, alternative.start, alternative.end,
                    alternative.room_id, source=AppointmentSource(args.get("source") or "staff"),
                    notes=str(args.get("notes") or ""),
                    patient_notes=str(args.get("patient_notes") or ""),
                ))
            else:
                result = booking.move(self._ctx, str(args["appointment_id"]), alternative.start,
                                      provider_id=alternative.provider_id,
                                      room_id=alternative.room_id)
            if result.ok:
                agenda.dismiss_conflict(self._ctx, entry.conflict.id)
        except SessionLocked:
            self.message.setText(_("The desk is locked. Unlock it to continue."))
            return ActionResult(False)
        reference = self.reference_for(entry)
        if result.ok:
            self.refresh()
            self.message.setText(_("Booked: {alternative}.").format(
                alternative=describe_alternative(alternative, reference.time_zone,
                                                 reference.locale, reference.names)))
            self.changed.emit()
        elif result.refusal is not None:
            self.message.setText(render_message(
                result.refusal.message_id, result.refusal.params, tz=reference.time_zone,
                clinic_locale=reference.locale, names=reference.names))
        return result

    def edit_and_retry(self, entry: ConflictEntry) -> RetryDialog:
        """Open the edit dialog for ``entry`` (window-modal); sending queues the edited
        change again (:meth:`retry`)."""
        problem = describe_reason(entry, self.reference_for(entry))
        dialog = RetryDialog(entry.args, problem, self)
        dialog.accepted.connect(lambda: self.retry(entry, dialog.args()))
        dialog.finished.connect(dialog.deleteLater)
        self.retry_dialog = dialog
        dialog.open()
        return dialog

    def retry(self, entry: ConflictEntry, args: dict[str, object]) -> bool:
        """Queue ``entry``'s change again with ``args``; on success the entry leaves the
        inbox, otherwise why it still cannot be read is shown."""
        try:
            problem = agenda.retry_conflict(self._ctx, entry.conflict.id, args)
        except SessionLocked:
            self.message.setText(_("The desk is locked. Unlock it to continue."))
            return False
        if problem is not None:
            self.message.setText(_("It still cannot be sent: {problem}").format(
                problem=problem))
            return False
        self.refresh()
        self.message.setText(_("Sent again: it reaches the server with the next sync."))
        self.changed.emit()
        return True

    @Slot()
    def dismiss_selected(self) -> None:
        entry = self.selected()
        if entry is not None:
            self._settle(lambda: agenda.dismiss_conflict(self._ctx, entry.conflict.id))
