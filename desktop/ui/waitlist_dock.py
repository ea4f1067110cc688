"""The waitlist / pinboard dock: patients waiting for a slot, dragged into the agenda.

Each row is an active waitlist entry of the shown clinic, in serving order.
Dragging a row starts a drag carrying :data:`WAITLIST_MIME` with the entry id;
the agenda books it where it is dropped (through the waitlist service, which
asks the rules). "Add…" puts a patient on the list, "Remove" takes one off.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services import waitlist
from desktop.services.clinic_reference import ClinicReference, load_reference
from desktop.services.context import DeskContext
from desktop.services.dto import ActionResult, WaitlistEntryDTO
from desktop.ui.agenda import WAITLIST_MIME
from desktop.ui.patient_picker import PatientPicker
from desktop.ui.text import _, format_when, language_notifier, render_message
from desktop.ui.theme import ERROR, hint_style, text_style

ENTRY_ID_ROLE = Qt.ItemDataRole.UserRole + 1


class WaitlistModel(QAbstractListModel):
    """Waitlist entries; drags carry the entry id under :data:`WAITLIST_MIME`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._entries: tuple[WaitlistEntryDTO, ...] = ()
        self._reference: ClinicReference | None = None

    def set_entries(self, entries: tuple[WaitlistEntryDTO, ...],
                    reference: ClinicReference | None) -> None:
        self.beginResetModel()
        self._entries, self._reference = entries, reference
        self.endResetModel()

    def entry(self, row: int) -> WaitlistEntryDTO | None:
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        entry = self.entry(index.row()) if index.isValid() else None
        if entry is None:
            return None
        ref = self._reference
        if role == Qt.ItemDataRole.DisplayRole:
            kind = ref.names.get(entry.appointment_type_id, "") if ref else ""
            return f"{entry.patient_name}\n{kind}" if kind else entry.patient_name
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [entry.note] if entry.note else []
            if ref is not None:
                lines.append(_("On the list since {when}").format(
                    when=format_when(entry.created_at, ref.time_zone, ref.locale)))
            if entry.pending:
                lines.append(_("Not yet confirmed by the server"))
            return "\n".join(lines)
        if role == Qt.ItemDataRole.FontRole and entry.pending:
            font = QFont()
            font.setItalic(True)
            return font
        if role == ENTRY_ID_ROLE:
            return entry.id
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled)

    def mimeTypes(self) -> list[str]:
        return [WAITLIST_MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:  # type: ignore[override]
        data = QMimeData()
        entry = self.entry(indexes[0].row()) if indexes else None
        if entry is not None:
            data.setData(WAITLIST_MIME, entry.id.encode("utf-8"))
            data.setText(entry.patient_name)
        return data

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction


class AddToWaitlistDialog(QDialog):
    """Choose a patient and an appointment type; the note is optional."""

    def __init__(self, ctx: DeskContext, reference: ClinicReference,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._reference = ctx, reference
        self.result_: ActionResult | None = None
        self.picker = PatientPicker(ctx, reference.time_zone, reference.locale, self)
        self.type_combo = QComboBox(self)
        for kind in reference.types:
            self.type_combo.addItem(kind.name, kind.id)
        self.note = QLineEdit(self)
        self.type_label, self.note_label = QLabel(self), QLabel(self)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet(text_style(ERROR))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        form = QFormLayout()
        form.addRow(self.type_label, self.type_combo)
        form.addRow(self.note_label, self.note)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picker)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.setWindowTitle(_("Add to the waitlist"))
        self.type_label.setText(_("Type"))
        self.note_label.setText(_("Note"))
        self.note.setPlaceholderText(_("e.g. mornings only, call first"))

    @Slot()
    def submit(self) -> None:
        patient = self.picker.patient
        if patient is None:
            self.message.setText(_("Please choose a patient first."))
            return
        result = waitlist.add(self._ctx, clinic_id=self._reference.clinic_id,
                              patient_id=patient.id,
                              appointment_type_id=self.type_combo.currentData(),
                              note=self.note.text().strip())
        if not result.ok:
            self.message.setText(refusal_text(result, self._reference))
            return
        self.result_ = result
        self.accept()


def refusal_text(result: ActionResult, reference: ClinicReference) -> str:
    refusal = result.refusal
    if refusal is None:
        return _("That did not work. Please try again.")
    return render_message(refusal.message_id, refusal.params, tz=reference.time_zone,
                          clinic_locale=reference.locale, names=reference.names)


class WaitlistPanel(QWidget):
    """The dock's content. Signals: ``message(str)`` (plain words for the status bar)
    and ``changed()`` (an entry was added or removed)."""

    message = Signal(str)
    changed = Signal()

    def __init__(self, ctx: DeskContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._clinic_id: str | None = None
        self._reference: ClinicReference | None = None
        self.model = WaitlistModel(self)
        self.list = QListView(self)
        self.list.setModel(self.model)
        self.list.setDragEnabled(True)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setAlternatingRowColors(True)
        self.list.setSpacing(1)
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(hint_style())
        self.add_button, self.remove_button = QPushButton(self), QPushButton(self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)
        self.add_button.clicked.connect(self.add_entry)
        self.remove_button.clicked.connect(self.remove_selected)
        self.list.selectionModel().selectionChanged.connect(self._update_buttons)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def set_clinic(self, clinic_id: str) -> None:
        if clinic_id != self._clinic_id:
            self._clinic_id = clinic_id
            self._reference = load_reference(self._ctx, clinic_id)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Read the clinic's waitlist again."""
        if self._clinic_id is None:
            return
        self.model.set_entries(waitlist.entries(self._ctx, self._clinic_id), self._reference)
        self._update_buttons()

    def clear(self) -> None:
        """Show no names (the desk locked)."""
        self.model.set_entries((), self._reference)
        self._update_buttons()

    def selected_entry(self) -> WaitlistEntryDTO | None:
        return self.model.entry(self.list.currentIndex().row())

    @Slot()
    def retranslate(self) -> None:
        self.hint.setText(_("Drag a patient into a free slot of the agenda to book them."))
        self.add_button.setText(_("Add…"))
        self.remove_button.setText(_("Remove"))
        self.model.layoutChanged.emit()

    @Slot()
    def add_entry(self) -> None:
        if self._reference is None:
            return
        dialog = AddToWaitlistDialog(self._ctx, self._reference, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.refresh()
            self.changed.emit()

    @Slot()
    def remove_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or self._reference is None:
            return
        result = waitlist.remove(self._ctx, entry.id)
        if result.ok:
            self.message.emit(_("{name} was taken off the waitlist.").format(
                name=entry.patient_name))
            self.refresh()
            self.changed.emit()
        else:
            self.message.emit(refusal_text(result, self._reference))

    def add_from_appointment(self, clinic_id: str, patient_id: str, patient_name: str,
                             appointment_type_id: str, note: str) -> ActionResult:
        """Pin an appointment's patient to the waitlist (the appointment itself stays)."""
        result = waitlist.add(self._ctx, clinic_id=clinic_id, patient_id=patient_id,
                              appointment_type_id=appointment_type_id, note=note)
        if result.ok:
            self.message.emit(_("{name} was added to the waitlist. The appointment is still "
                                "booked: cancel it if its time should be freed.").format(
                name=patient_name))
            self.refresh()
            self.changed.emit()
        elif self._reference is not None:
            self.message.emit(refusal_text(result, self._reference))
        return result

    @Slot()
    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.selected_entry() is not None)
