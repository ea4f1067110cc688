"""The pinboard: appointments taken off the book to be placed again, as in Open Dental.

"Move to pinboard" in an appointment's menu puts the appointment itself here (its
patient, type and length, and the time it had). Drag it from the pinboard onto the
agenda: the drop is judged and made like a drag inside the agenda — a move of that same
appointment — and it leaves the pinboard. Until it is placed, it keeps its old time
(nothing is lost if the receptionist changes their mind: **Remove** takes it off the
pinboard and leaves it where it was).

The pinboard holds appointment ids only; what it shows is read from the store, and
nothing of the patients is shown while the desk is locked.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QLabel,
    QListView,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services.appointment_details import AppointmentDetails, load_details
from desktop.services.context import DeskContext
from desktop.services.session import SessionLocked
from desktop.ui.agenda import WAITLIST_MIME
from desktop.ui.agenda.pins import pin_payload
from desktop.ui.text import _, format_when, language_notifier

Index = QModelIndex | QPersistentModelIndex


class PinboardModel(QAbstractListModel):
    """The pinned appointments as they stand in the store; drags carry a pin payload."""

    def __init__(self, ctx: DeskContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.pinned: list[AppointmentDetails] = []
        self.hidden = False

    def pin(self, appointment_id: str) -> bool:
        details = load_details(self._ctx, appointment_id)
        if details is None or any(d.appointment_id == appointment_id for d in self.pinned):
            return False
        self.beginInsertRows(QModelIndex(), len(self.pinned), len(self.pinned))
        self.pinned.append(details)
        self.endInsertRows()
        return True

    def remove(self, row: int) -> None:
        if 0 <= row < len(self.pinned):
            self.beginRemoveRows(QModelIndex(), row, row)
            del self.pinned[row]
            self.endRemoveRows()

    def placed(self) -> list[str]:
        """Drop the pinned appointments that were placed elsewhere (moved, cancelled or
        gone since they were pinned); their ids."""
        gone = []
        for row in reversed(range(len(self.pinned))):
            was = self.pinned[row]
            now = load_details(self._ctx, was.appointment_id)
            if now is None or (now.start, now.provider_id, now.status) != (
                    was.start, was.provider_id, was.status):
                gone.append(was.appointment_id)
                self.remove(row)
        return gone

    def set_hidden(self, hidden: bool) -> None:
        self.hidden = hidden
        if self.pinned:
            self.dataChanged.emit(self.index(0), self.index(len(self.pinned) - 1))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.pinned)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        if self.hidden:
            return _("Hidden while the desk is locked")
        d = self.pinned[index.row()]
        minutes = int((d.end - d.start).total_seconds() // 60)
        return _("{patient} · {type} · {minutes} min\nwas {when}").format(
            patient=d.patient_name, type=d.type_name, minutes=minutes,
            when=format_when(d.start, d.time_zone, d.clinic_locale))

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if not self.hidden else base

    def mimeTypes(self) -> list[str]:
        return [WAITLIST_MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:  # type: ignore[override]
        data = QMimeData()
        if indexes and not self.hidden:
            d = self.pinned[indexes[0].row()]
            minutes = int((d.end - d.start).total_seconds() // 60)
            data.setData(WAITLIST_MIME, pin_payload(d.appointment_id, minutes).encode())
        return data


class PinboardPanel(QWidget):
    """The pinboard's list, a hint and a Remove button; ``message(str)`` for the status bar."""

    message = Signal(str)

    def __init__(self, ctx: DeskContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = PinboardModel(ctx, self)
        self.view = QListView(self)
        self.view.setModel(self.model)
        self.view.setDragEnabled(True)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.view.setWordWrap(True)
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.remove_button = QPushButton(self)
        self.remove_button.clicked.connect(self.remove_selected)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hint)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.remove_button)
        self.dock: QDockWidget | None = None  # set by install_pinboard
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    @Slot()
    def retranslate(self) -> None:
        if self.dock is not None:
            self.dock.setWindowTitle(_("Pinboard"))
        self.hint.setText(_("Drag an appointment onto the agenda to give it a new time. "
                            "It keeps its old time until then."))
        self.remove_button.setText(_("Remove (keep its time)"))

    def pin(self, appointment_id: str) -> None:
        try:
            if self.model.pin(appointment_id):
                self.message.emit(_("On the pinboard: drag it to its new time."))
        except SessionLocked:
            self.message.emit(_("The session is locked. Unlock it to continue."))

    @Slot()
    def remove_selected(self) -> None:
        for index in self.view.selectionModel().selectedIndexes():
            self.model.remove(index.row())

    @Slot()
    def refresh(self) -> None:
        """After a change: what was placed leaves the pinboard."""
        with contextlib.suppress(SessionLocked):
            self.model.placed()


def install_pinboard(window: QMainWindow, ctx: DeskContext, agenda: QWidget,
                     lock: QWidget) -> PinboardPanel:
    """The pinboard dock beside the waitlist, fed by the agenda's "Move to pinboard"."""
    panel = PinboardPanel(ctx)
    dock = QDockWidget(window)
    dock.setObjectName("pinboard-dock")
    dock.setWidget(panel)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    dock.hide()
    view_menu = getattr(window, "view_menu", None)
    if view_menu is not None:  # View ▸ Pinboard shows it again
        view_menu.addAction(dock.toggleViewAction())
    panel.dock = dock
    panel.retranslate()

    def pin(appointment_id: str) -> None:
        panel.pin(appointment_id)
        dock.show()
        dock.raise_()

    agenda.pinboardRequested.connect(pin)  # type: ignore[attr-defined]
    agenda.changed.connect(panel.refresh)  # type: ignore[attr-defined]
    panel.message.connect(window.show_message)  # type: ignore[attr-defined]
    lock.locked.connect(lambda: panel.model.set_hidden(True))  # type: ignore[attr-defined]
    lock.unlocked.connect(lambda: panel.model.set_hidden(False))  # type: ignore[attr-defined]
    return panel


__all__ = ["PinboardModel", "PinboardPanel", "install_pinboard"]
