"""What an administration form is made of: one :class:`FieldSpec` per field of a record,
and the widget that edits it (read from and written to the server's JSON shape).

A record kind (:mod:`desktop.ui.admin.kinds`) lists its fields; the record editor
builds one widget per field and asks each for its value. Values travel in the admin
API's shape: durations in seconds, wall-clock times as ``HH:MM``, days as ISO dates,
instants as ISO 8601 with the clinic's UTC offset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDateTime, Qt, QTime
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSpinBox,
    QTimeEdit,
    QWidget,
)

from desktop.ui.text import _

#: Lists of (value, label) the choice fields offer, by name (clinics, providers …).
Lookups = Mapping[str, list[tuple[Any, str]]]
Kind = Literal["text", "password", "multiline", "int", "bool", "choice", "many", "time",
               "day", "instant", "breaks", "names"]


class FieldProblem(ValueError):
    """A field's text cannot be read (shown next to the form; nothing is sent)."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str  # the API field
    label: str  # msgid, translated when shown
    kind: Kind = "text"
    required: bool = False
    #: Sent when creating only (an account's e-mail and password, a role's name).
    create_only: bool = False
    #: Sent when changing only (whether an account is active).
    update_only: bool = False
    #: For "int": the bounds, the unit (60: the form shows minutes of a field in seconds)
    #: and whether "no limit" (None) is allowed.
    minimum: int = 0
    maximum: int = 100_000
    unit: int = 1
    optional: bool = False
    #: For "choice"/"many": the lookup list, or fixed (value, msgid) pairs.
    lookup: str = ""
    options: tuple[tuple[Any, str], ...] = ()
    default: Any = None
    max_length: int = 200


class FieldEditor:
    """One field's widget: shows a value, reads it back in the API's shape."""

    def __init__(self, spec: FieldSpec, parent: QWidget, lookups: Lookups, zone: str) -> None:
        self.spec, self._zone = spec, ZoneInfo(zone)
        self._choices = self._options(lookups)
        self.widget = self._make(parent)
        self.widget.setObjectName(f"field_{spec.name}")
        self.set_value(spec.default)

    def _options(self, lookups: Lookups) -> list[tuple[Any, str]]:
        if self.spec.lookup:
            return list(lookups.get(self.spec.lookup, []))
        return [(value, _(label)) for value, label in self.spec.options]

    def _make(self, parent: QWidget) -> QWidget:
        kind = self.spec.kind
        if kind in ("text", "password", "breaks", "names"):
            edit = QLineEdit(parent)
            edit.setMaxLength(self.spec.max_length if kind != "breaks" else 400)
            if kind == "password":
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            if kind == "breaks":
                edit.setPlaceholderText(_("e.g. 13:00-14:00, 17:00-17:15"))
            return edit
        if kind == "multiline":
            text = QPlainTextEdit(parent)
            text.setFixedHeight(64)
            return text
        if kind == "int":
            spin = QSpinBox(parent)
            low = self.spec.minimum - 1 if self.spec.optional else self.spec.minimum
            spin.setRange(low, self.spec.maximum)
            if self.spec.optional:
                spin.setSpecialValueText(_("no limit"))
            return spin
        if kind == "bool":
            return QCheckBox(parent)
        if kind == "choice":
            combo = QComboBox(parent)
            if self.spec.optional:
                combo.addItem(_("(none)"), None)
            for value, label in self._choices:
                combo.addItem(label, value)
            return combo
        if kind == "many":
            items = QListWidget(parent)
            for value, label in self._choices:
                item = QListWidgetItem(label, items)
                item.setData(Qt.ItemDataRole.UserRole, value)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
            items.setFixedHeight(min(150, 22 * max(3, len(self._choices)) + 6))
            return items
        if kind == "time":
            clock = QTimeEdit(parent)
            clock.setDisplayFormat("HH:mm")
            return clock
        if kind == "day":
            day = QLineEdit(parent)
            day.setPlaceholderText(_("YYYY-MM-DD") if self.spec.required else
                                   _("YYYY-MM-DD, or empty"))
            return day
        moment = QDateTimeEdit(parent)
        moment.setDisplayFormat("yyyy-MM-dd HH:mm")
        moment.setCalendarPopup(True)
        return moment

    # ------------------------------------------------------------------ values

    def set_value(self, value: Any) -> None:
        kind, widget = self.spec.kind, self.widget
        if isinstance(widget, QLineEdit):
            if kind == "breaks":
                widget.setText(", ".join(f"{b['start'][:5]}-{b['end'][:5]}"
                                         for b in value or ()))
            elif kind == "names":  # a type's names per language: the Spanish one here
                widget.setText(str((value or {}).get("es", "")))
            else:
                widget.setText("" if value is None else str(value))
        elif isinstance(widget, QPlainTextEdit):
            widget.setPlainText(str(value or ""))
        elif isinstance(widget, QSpinBox):
            widget.setValue(widget.minimum() if value is None else int(value) // self.spec.unit)
        elif isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QComboBox):
            index = widget.findData(value)
            widget.setCurrentIndex(max(index, 0))
        elif isinstance(widget, QListWidget):
            chosen = set(value or ())
            for row in range(widget.count()):
                item = widget.item(row)
                checked = item.data(Qt.ItemDataRole.UserRole) in chosen
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        elif isinstance(widget, QTimeEdit):
            widget.setTime(QTime.fromString(str(value or "09:00")[:5], "HH:mm"))
        elif isinstance(widget, QDateTimeEdit):
            moment = (datetime.fromisoformat(value) if isinstance(value, str) and value
                      else datetime.now(self._zone).replace(minute=0, second=0, microsecond=0))
            local = moment.astimezone(self._zone)
            widget.setDateTime(QDateTime(local.year, local.month, local.day, local.hour,
                                         local.minute, 0))

    def value(self) -> Any:
        """The field in the API's shape; :class:`FieldProblem` when it cannot be read."""
        kind, widget = self.spec.kind, self.widget
        if isinstance(widget, QLineEdit):
            text = widget.text().strip()
            if kind == "breaks":
                return _breaks(text)
            if kind == "names":
                return {"es": text} if text else {}
            if kind == "day":
                return _day(text, self.spec.required)
            if kind == "password":
                return widget.text()
            return text
        if isinstance(widget, QPlainTextEdit):
            return widget.toPlainText().strip()
        if isinstance(widget, QSpinBox):
            if self.spec.optional and widget.value() == widget.minimum():
                return None
            return widget.value() * self.spec.unit
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QComboBox):
            return widget.currentData()
        if isinstance(widget, QListWidget):
            return [widget.item(row).data(Qt.ItemDataRole.UserRole)
                    for row in range(widget.count())
                    if widget.item(row).checkState() == Qt.CheckState.Checked]
        if isinstance(widget, QTimeEdit):
            return widget.time().toString("HH:mm")
        assert isinstance(widget, QDateTimeEdit)
        shown = widget.dateTime()
        day, clock = shown.date(), shown.time()
        local = datetime(day.year(), day.month(), day.day(), clock.hour(), clock.minute(),
                         tzinfo=self._zone)
        return local.isoformat()

    def set_editable(self, editable: bool) -> None:
        self.widget.setEnabled(editable)


def _breaks(text: str) -> list[dict[str, str]]:
    found = []
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        start, dash, end = part.partition("-")
        try:
            if not dash:
                raise ValueError(part)
            found.append({"start": time.fromisoformat(start.strip()).strftime("%H:%M"),
                          "end": time.fromisoformat(end.strip()).strftime("%H:%M")})
        except ValueError:
            raise FieldProblem(_("Write breaks as start-end times, e.g. 13:00-14:00.")) from None
    return found


def _day(text: str, required: bool) -> str | None:
    if not text:
        if required:
            raise FieldProblem(_("Give a date as YYYY-MM-DD."))
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise FieldProblem(_("Give a date as YYYY-MM-DD.")) from None


#: Checks a whole record before it is sent: the message (translated), or None when fine.
Validate = Callable[[dict[str, Any]], str | None]
