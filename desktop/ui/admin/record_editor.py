"""The record editor: one dialog per kind of configuration record, a list on the left
and the chosen record's form on the right.

Saving checks the form as the server does (the kind's ``validate``), then creates or
changes the record on the server; a refusal is shown in the server's words and the
form keeps what was typed. Nothing is half-saved: the server applies a record as a
whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.services.admin import AdminService, Record, refusal_text
from desktop.ui.admin.fields import FieldEditor, FieldProblem, FieldSpec, Lookups, Validate
from desktop.ui.text import _, language_notifier

#: The list's line for one record.
Describe = Callable[[Record, Lookups], str]


@dataclass(frozen=True, slots=True)
class RecordKind:
    """How one kind of record is listed and edited."""

    key: str
    path: str  # the admin API path
    title: str  # msgid
    intro: str  # msgid: one or two sentences under the title
    fields: tuple[FieldSpec, ...]
    describe: Describe
    validate: Validate = lambda _values: None
    #: Only the records this accepts are listed (providers among resources).
    keep: Callable[[Record], bool] = lambda _record: True
    #: Sent with every new record (a provider's kind).
    fixed: dict[str, Any] = field(default_factory=dict)
    creatable: bool = True
    removable: bool = True
    permission: str = "admin:config"
    #: Lookup lists the form needs (clinics, providers, …).
    lookups: tuple[str, ...] = ()
    #: The server's record → the form's flat fields, and back (nested API fields).
    to_form: Callable[[Record], Record] = lambda record: record
    to_api: Callable[[Record], Record] = lambda values: values


class RecordEditorDialog(QDialog):
    """List, create, change and remove the records of one :class:`RecordKind`."""

    saved = Signal(dict)

    def __init__(self, kind: RecordKind, service: AdminService, lookups: Lookups, zone: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind, self._service, self._lookups = kind, service, lookups
        self._records: list[Record] = []
        self._current: Record | None = None
        self.setObjectName(f"admin_{kind.key}")
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setMinimumWidth(260)
        self.new_button = QPushButton(self)
        self.new_button.setVisible(kind.creatable)
        self.form_title = QLabel(self)
        self.form_title.setStyleSheet("font-weight: bold")
        self.editors = [FieldEditor(spec, self, lookups, zone) for spec in kind.fields]
        self._labels = [QLabel(self) for _spec in kind.fields]
        form_box = QWidget(self)
        form = QFormLayout()
        for label, editor in zip(self._labels, self.editors, strict=True):
            label.setBuddy(editor.widget)
            form.addRow(label, editor.widget)
        top = QVBoxLayout(form_box)  # rows at the top, not spread over a tall dialog
        top.addLayout(form)
        top.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_box)
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b00020")
        self.error_label.hide()
        self.status_label = QLabel(self)
        self.save_button = QPushButton(self)
        self.delete_button = QPushButton(self)
        self.delete_button.setVisible(kind.removable)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)

        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addWidget(self.new_button)
        actions = QHBoxLayout()
        actions.addWidget(self.status_label, 1)
        actions.addWidget(self.delete_button)
        actions.addWidget(self.save_button)
        right = QVBoxLayout()
        right.addWidget(self.form_title)
        right.addWidget(scroll, 1)
        right.addWidget(self.error_label)
        right.addLayout(actions)
        body = QHBoxLayout()
        body.addLayout(left, 2)
        body.addLayout(right, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)

        self.list.currentRowChanged.connect(self._show_row)
        self.new_button.clicked.connect(self.start_new)
        self.save_button.clicked.connect(self.save)
        self.delete_button.clicked.connect(self.remove_current)
        self.buttons.rejected.connect(self.reject)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()
        self.resize(980, 640)
        self.reload()

    # ------------------------------------------------------------------ list

    def reload(self, select_id: str | None = None) -> None:
        """Read the records from the server again (and select ``select_id``)."""
        try:
            found = self._service.records(self.kind.path)
        except Exception as error:  # noqa: BLE001 - any server trouble is shown, not raised
            self._show_error(error)
            return
        self._records = [r for r in found if self.kind.keep(r)]
        self._records.sort(key=lambda r: self.kind.describe(r, self._lookups).casefold())
        self.list.blockSignals(True)
        self.list.clear()
        for record in self._records:
            self.list.addItem(self.kind.describe(record, self._lookups))
        self.list.blockSignals(False)
        row = next((i for i, r in enumerate(self._records) if r["id"] == select_id), -1)
        if row >= 0:
            self.list.setCurrentRow(row)
        elif self.kind.creatable:
            self.start_new()
        elif self._records:
            self.list.setCurrentRow(0)

    def records(self) -> list[Record]:
        return list(self._records)

    def select(self, record_id: str) -> None:
        row = next(i for i, r in enumerate(self._records) if r["id"] == record_id)
        self.list.setCurrentRow(row)

    @Slot(int)
    def _show_row(self, row: int) -> None:
        if 0 <= row < len(self._records):
            self._fill(self._records[row])

    @Slot()
    def start_new(self) -> None:
        self.list.blockSignals(True)
        self.list.clearSelection()
        self.list.setCurrentRow(-1)
        self.list.blockSignals(False)
        self._fill(None)
        # The form has the focus: the list would select its first row on taking it.
        first = next((e.widget for e in self.editors if e.widget.isEnabled()), None)
        if first is not None:
            first.setFocus()

    def _fill(self, record: Record | None) -> None:
        self._current = record
        shown = None if record is None else self.kind.to_form(record)
        for editor in self.editors:
            editor.set_value(editor.spec.default if shown is None
                             else shown.get(editor.spec.name, editor.spec.default))
            editor.set_editable(not editor.spec.create_only if record is not None
                                else not editor.spec.update_only)
        self.delete_button.setEnabled(record is not None)
        self.status_label.clear()
        self._show_error(None)
        self._title()

    def _title(self) -> None:
        self.form_title.setText(_("New record") if self._current is None
                                else self.kind.describe(self._current, self._lookups))

    # ------------------------------------------------------------------ save / remove

    def form_values(self) -> dict[str, Any]:
        """The form in the API's shape (raises :class:`FieldProblem`)."""
        creating = self._current is None
        return {e.spec.name: e.value() for e in self.editors
                if not (e.spec.create_only if not creating else e.spec.update_only)}

    @Slot()
    def save(self) -> Record | None:
        try:
            values = self.form_values()
        except FieldProblem as problem:
            self._show_text(str(problem))
            return None
        missing = [_(e.spec.label) for e in self.editors
                   if e.spec.required and e.spec.name in values and values[e.spec.name] in
                   ("", None, [])]
        refusal = (_("Fill in: {fields}.").format(fields=", ".join(missing)) if missing
                   else self.kind.validate(values))
        if refusal:
            self._show_text(refusal)
            return None
        try:
            if self._current is None:
                saved = self._service.create(self.kind.path,
                                             {**self.kind.fixed, **self.kind.to_api(values)})
            else:
                saved = self._service.update(self.kind.path, self._current["id"],
                                             self.kind.to_api(values))
        except Exception as error:  # noqa: BLE001 - the server's refusal is shown
            self._show_error(error)
            return None
        self.reload(select_id=saved["id"])
        self.status_label.setText(_("Saved."))
        self.saved.emit(saved)
        return saved

    @Slot()
    def remove_current(self) -> bool:
        if self._current is None:
            return False
        try:
            self._service.remove(self.kind.path, self._current["id"])
        except Exception as error:  # noqa: BLE001 - the server's refusal is shown
            self._show_error(error)
            return False
        self.reload()
        self.status_label.setText(_("Removed."))
        return True

    def _show_error(self, error: Exception | None) -> None:
        if error is None:
            self.error_label.hide()
            return
        self._show_text(_("The server refused: {reason}").format(reason=refusal_text(error)))

    def _show_text(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    @Slot()
    def retranslate(self) -> None:
        self.setWindowTitle(_(self.kind.title))
        self.intro.setText(_(self.kind.intro))
        for label, editor in zip(self._labels, self.editors, strict=True):
            label.setText(_(editor.spec.label))
        self.new_button.setText(_("New"))
        self.save_button.setText(_("Save"))
        self.delete_button.setText(_("Delete"))
        self._title()
