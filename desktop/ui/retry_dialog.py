"""Edit and retry: correct what the server could not read in a change, then send it again.

The conflict inbox opens this for an ``INVALID_MUTATION`` entry. It shows the change's
written fields (text and numbers, and those of a patient update's changed fields) as
editable lines; ids and instants stay as they were unless staff change them. ``args()``
gives the change with the edited values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.ui.text import _

#: Nested objects whose fields are shown too (a patient update's changed fields).
_NESTED = ("changes",)


def editable_fields(args: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """The editable values of ``args`` by path: text and numbers, one level into
    :data:`_NESTED` objects."""
    fields: dict[tuple[str, ...], Any] = {}
    for key, value in args.items():
        if key in _NESTED and isinstance(value, Mapping):
            for inner, item in value.items():
                if _editable(item):
                    fields[(key, str(inner))] = item
        elif _editable(value):
            fields[(key,)] = value
    return fields


def _editable(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


class RetryDialog(QDialog):
    """Edit the fields of ``args`` (see the module docstring); ``problem`` is why the
    server could not read it, shown above the fields."""

    def __init__(self, args: Mapping[str, Any], problem: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._args = {k: dict(v) if isinstance(v, Mapping) else v for k, v in args.items()}
        self.setWindowTitle(_("Edit and retry"))
        self.problem = QLabel(problem, self)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b3261e;")
        self.edits: dict[tuple[str, ...], QLineEdit] = {}
        form = QFormLayout()
        for path, value in editable_fields(args).items():
            edit = QLineEdit(str(value), self)
            self.edits[path] = edit
            form.addRow(".".join(path), edit)
        buttons = QDialogButtonBox(self)
        self.send_button = buttons.addButton(_("Send again"),
                                             QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addWidget(self.problem)
        column.addLayout(form)
        column.addWidget(buttons)
        self.setMinimumWidth(480)

    def args(self) -> dict[str, Any]:
        """The change with the edited values (numbers stay numbers when they still read
        as one)."""
        out = {k: dict(v) if isinstance(v, dict) else v for k, v in self._args.items()}
        for path, edit in self.edits.items():
            target = out
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = _typed(target[path[-1]], edit.text())
        return out


def _typed(original: Any, text: str) -> Any:
    if isinstance(original, int):
        try:
            return int(text)
        except ValueError:
            return text
    if isinstance(original, float):
        try:
            return float(text)
        except ValueError:
            return text
    return text
