"""The edit dialog of one appointment: type, staff notes, provider, room, date and time,
duration.

Opened by double-clicking an appointment (or "Edit…" in its menu). What changed is
asked of the services as the intents a drag makes — a move (time, provider, room) and a
resize (duration) — and an edit (type, notes), each judged by the rules on the desk and
again by the server; a refusal says why and changes nothing (what was already changed
is taken back). The change goes into the window's undo history as one step.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import cast

from PySide6.QtCore import QDate, QTime, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.services import booking
from desktop.services.appointment_details import AppointmentDetails, load_details
from desktop.services.clinic_reference import ClinicReference, load_reference
from desktop.services.context import DeskContext
from desktop.services.dto import ActionResult
from desktop.services.session import SessionLocked
from desktop.ui.text import _, date_edit_format, language_notifier, render_message, time_edit_format
from desktop.ui.theme import ERROR, set_heading, text_style
from desktop.ui.undo_history import EDIT, Change, UndoHistory
from scheduling.timeutil import to_local, to_utc

#: The duration field's step.
STEP_MINUTES = 5


class EditDialog(QDialog):
    """Edit ``appointment_id``; ``changed(appointment_id)`` after an accepted change."""

    changed = Signal(str)

    def __init__(self, ctx: DeskContext, appointment_id: str, history: UndoHistory,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._history = history
        details = load_details(ctx, appointment_id)
        if details is None:
            raise LookupError("the appointment is gone")
        self.details: AppointmentDetails = details
        self.reference: ClinicReference = load_reference(ctx, details.clinic_id)
        ref = self.reference
        self.patient = QLabel(details.patient_name, self)
        set_heading(self.patient, 1.3)
        self.type_combo = QComboBox(self)
        for kind in ref.types:
            self.type_combo.addItem(kind.name, kind.id)
        self.type_combo.setCurrentIndex(max(0, self.type_combo.findData(self._type_id())))
        self.type_combo.currentIndexChanged.connect(self._type_chosen)
        self.notes = QPlainTextEdit(details.notes, self)
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(self.notes.fontMetrics().lineSpacing() * 4 + 12)
        self.provider_combo, self.room_combo = QComboBox(self), QComboBox(self)
        for provider in ref.providers:
            self.provider_combo.addItem(provider.name, provider.id)
        self.room_combo.addItem("", None)
        for room in ref.rooms:
            self.room_combo.addItem(room.name, room.id)
        self.date_edit = QDateEdit(self)
        self.date_edit.setCalendarPopup(True)
        self.time_edit = QTimeEdit(self)
        when = QHBoxLayout()
        when.addWidget(self.date_edit, 1)
        when.addWidget(self.time_edit)
        self.duration = QSpinBox(self)
        self.duration.setSingleStep(STEP_MINUTES)
        self._duration_bounds(self._type_id())
        self.labels = {key: QLabel(self) for key in
                       ("type", "notes", "provider", "room", "when", "duration")}
        form = QFormLayout()
        for key, field in (("type", self.type_combo), ("notes", self.notes),
                           ("provider", self.provider_combo), ("room", self.room_combo),
                           ("when", when), ("duration", self.duration)):
            form.addRow(self.labels[key], field)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet(text_style(ERROR))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.patient)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self._show_current()
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def _type_id(self) -> str:
        return self.details.appointment_type_id

    def _duration_bounds(self, type_id: str) -> None:
        kind = self.reference.type_info(type_id)
        if kind is not None:
            self.duration.setRange(kind.min_minutes, kind.max_minutes)

    @Slot()
    def _type_chosen(self) -> None:
        """Another type: its length bounds (the current length kept where it fits)."""
        self._duration_bounds(str(self.type_combo.currentData()))

    def _show_current(self) -> None:
        details = self.details
        local = to_local(details.start, details.time_zone)
        self.date_edit.setDate(QDate(local.year, local.month, local.day))
        self.time_edit.setTime(QTime(local.hour, local.minute))
        self.duration.setValue(int((details.end - details.start).total_seconds() // 60))
        provider = self.provider_combo.findData(self._provider_id())
        self.provider_combo.setCurrentIndex(max(0, provider))
        self.room_combo.setCurrentIndex(max(0, self.room_combo.findData(self._room_id())))

    def _provider_id(self) -> str:
        return self.details.provider_id

    def _room_id(self) -> str | None:
        return self.details.room_id

    @Slot()
    def retranslate(self) -> None:
        self.setWindowTitle(_("Edit appointment"))
        for key, text in (("type", _("Type")), ("notes", _("Staff notes")),
                          ("provider", _("Provider")), ("room", _("Room")),
                          ("when", _("Date and time")), ("duration", _("Duration"))):
            self.labels[key].setText(text)
        self.room_combo.setItemText(0, _("Any suitable room"))
        self.duration.setSuffix(" " + _("min"))
        self.date_edit.setDisplayFormat(date_edit_format(self.reference.locale))
        self.time_edit.setDisplayFormat(time_edit_format(self.reference.locale))

    def start(self) -> datetime:
        wall = datetime.combine(cast(date, self.date_edit.date().toPython()),
                                cast(time, self.time_edit.time().toPython()))
        return to_utc(wall, self.reference.time_zone)

    @Slot()
    def save(self) -> None:
        """Ask for the move and the resize the form describes; close when accepted."""
        before = self.details
        start = self.start()
        end = start + timedelta(minutes=self.duration.value())
        provider = self.provider_combo.currentData()
        room = self.room_combo.currentData()
        back_provider = self._provider_id()
        back_room = self._room_id()
        kind = str(self.type_combo.currentData())
        notes = self.notes.toPlainText().strip()
        moves = (start != before.start or provider != back_provider or room != back_room)
        resizes = end - start != before.end - before.start
        edits = kind != before.appointment_type_id or notes != before.notes.strip()
        ident, ctx = before.appointment_id, self._ctx
        retyped = kind != before.appointment_type_id

        def details(type_id: str, text: str) -> ActionResult:
            # a new type keeps the length chosen here (else it would take its default)
            return booking.change_type_and_notes(ctx, ident, appointment_type_id=type_id,
                                                 notes=text, end=end if retyped else None)

        def take_back(moved: bool, resized: bool) -> None:
            """The edit is all or nothing: undo the steps already taken."""
            if resized:
                booking.resize(ctx, ident, start + (before.end - before.start))
            if moved:
                booking.move(ctx, ident, before.start, provider_id=back_provider,
                             room_id=back_room)

        try:
            if moves and not self._ok(booking.move(ctx, ident, start,
                                                   provider_id=provider, room_id=room)):
                return
            if resizes and not self._ok(booking.resize(ctx, ident, end)):
                take_back(moves, False)
                return
            if edits and not self._ok(details(kind, notes)):
                take_back(moves, resizes)
                return
        except SessionLocked:
            self.message.setText(_("The session is locked. Unlock it to continue."))
            return

        def undo() -> ActionResult:
            if edits:
                result = details(before.appointment_type_id, before.notes)
                if not result.ok:
                    return result
            result = booking.move(ctx, ident, before.start, provider_id=back_provider,
                                  room_id=back_room)
            return result if not result.ok else booking.resize(ctx, ident, before.end)

        def redo() -> ActionResult:
            result = booking.move(ctx, ident, start, provider_id=provider, room_id=room)
            result = result if not result.ok else booking.resize(ctx, ident, end)
            if result.ok and edits:
                result = details(kind, notes)
            return result

        self._history.record(Change(EDIT, ident, undo, redo))
        self.changed.emit(ident)
        self.accept()

    def _ok(self, result: ActionResult) -> bool:
        if result.ok:
            return True
        refusal = result.refusal
        ref = self.reference
        self.message.setText("" if refusal is None else render_message(
            refusal.message_id, refusal.params, tz=ref.time_zone, clinic_locale=ref.locale,
            names=ref.names))
        return False


__all__ = ["EditDialog"]
