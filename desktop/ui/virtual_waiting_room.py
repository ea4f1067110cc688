"""The virtual waiting room: who checked in from the portal for a video visit today and
is still waiting, per provider, with how long (View ▸ Virtual waiting room,
Ctrl+Shift+V).

A dock beside the agenda. It reads the desk's store again after every sync (the
server's poke brings a portal check-in within a second) and every half minute while
shown, so the waiting times move on; double-clicking a patient shows the appointment.
It holds no patient data while the desk is locked.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.services.context import DeskContext
from desktop.services.session import SessionLocked
from desktop.services.virtual_waiting import WaitingPatient, virtual_waiting_room
from desktop.ui.text import _, format_clock, format_duration, language_notifier

SHORTCUT = "Ctrl+Shift+V"
#: How often the shown waiting times are read again between syncs (milliseconds).
TICK_MS = 30_000
#: Patient, the visit's time, how long they have waited (the check-in time is the tooltip's).
COLUMNS = 3
#: The dock's height when opened, so the list shows without scrolling.
OPENED_HEIGHT = 200
_ID = Qt.ItemDataRole.UserRole


class VirtualWaitingRoom(QWidget):
    """The list: a heading per provider, a row per waiting patient. Signals
    ``appointmentChosen(appointment_id)`` on a double click."""

    appointmentChosen = Signal(str)

    def __init__(self, ctx: DeskContext, clinic: Callable[[], tuple[str, str, str]],
                 parent: QWidget | None = None) -> None:
        """``clinic``: (id, locale, time zone) of the clinic the main window shows."""
        super().__init__(parent)
        self._ctx, self._clinic = ctx, clinic
        self.waiting: tuple[WaitingPatient, ...] = ()
        self.empty = QLabel()
        self.empty.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.itemDoubleClicked.connect(self._chosen)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.tree, 1)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    @Slot()
    def refresh(self) -> None:
        """Read who is waiting again."""
        clinic_id = self._clinic()[0]
        self.waiting = virtual_waiting_room(self._ctx, clinic_id) if clinic_id else ()
        self._show()

    def clear(self) -> None:
        """Forget everyone shown (the desk locked)."""
        self.waiting = ()
        self._show()

    def rows(self) -> list[tuple[str, ...]]:
        """The shown text, heading rows and patient rows in order (for tests and readers)."""
        found: list[tuple[str, ...]] = []
        for index in range(self.tree.topLevelItemCount()):
            heading = self.tree.topLevelItem(index)
            assert heading is not None
            found.append((heading.text(0),))
            for k in range(heading.childCount()):
                row = heading.child(k)
                assert row is not None
                found.append(tuple(row.text(c) for c in range(COLUMNS)))
        return found

    @Slot()
    def retranslate(self) -> None:
        self.tree.setHeaderLabels([_("Patient"), _("Visit"), _("Waiting")])
        self.empty.setText(_("No one is waiting for a video visit today."))
        self._show()

    def _show(self) -> None:
        self.tree.clear()
        self.empty.setVisible(not self.waiting)
        self.tree.setVisible(bool(self.waiting))
        _clinic_id, locale, zone = self._clinic()
        heading: QTreeWidgetItem | None = None
        provider = None
        for person in self.waiting:
            if heading is None or person.provider_id != provider:
                provider = person.provider_id
                heading = QTreeWidgetItem(self.tree)
                heading.setFirstColumnSpanned(True)
                font = heading.font(0)
                font.setBold(True)
                heading.setFont(0, font)
                heading.setExpanded(True)
            count = sum(1 for p in self.waiting if p.provider_id == provider)
            heading.setText(0, _("{provider} — waiting: {count}").format(
                provider=person.provider_name, count=count))
            row = QTreeWidgetItem(heading, [
                person.patient_name, format_clock(person.start, zone, locale),
                format_duration(person.waited, locale)])
            row.setData(0, _ID, person.appointment_id)
            tip = _("{patient} — {type}, checked in online at {time}").format(
                patient=person.patient_name, type=person.type_name,
                time=format_clock(person.checked_in_at, zone, locale))
            for column in range(COLUMNS):
                row.setToolTip(column, tip)
        self.tree.expandAll()
        for column in range(COLUMNS):
            self.tree.resizeColumnToContents(column)

    @Slot(QTreeWidgetItem, int)
    def _chosen(self, item: QTreeWidgetItem, _column: int) -> None:
        appointment_id = item.data(0, _ID)
        if appointment_id:
            self.appointmentChosen.emit(str(appointment_id))


class VirtualWaitingDock(QObject):
    """The dock of :class:`VirtualWaitingRoom` in ``window``, its View-menu action and
    its clock."""

    def __init__(self, window: QMainWindow, ctx: DeskContext,
                 clinic: Callable[[], tuple[str, str, str]]) -> None:
        super().__init__(window)
        self._window = window
        self.panel = VirtualWaitingRoom(ctx, clinic)
        self.dock = QDockWidget(window)
        self.dock.setObjectName("virtual-waiting-dock")
        self.dock.setWidget(self.panel)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                              | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.action = self.dock.toggleViewAction()
        self.action.setShortcut(QKeySequence(SHORTCUT))
        self._locked = False
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.refresh)
        self.dock.visibilityChanged.connect(self._visibility)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    @Slot()
    def refresh(self) -> None:
        """Read again when shown (a sync arrived, the clock ticked)."""
        if self._locked or not self.dock.isVisible():
            return
        try:
            self.panel.refresh()
        except SessionLocked:
            self.on_locked()

    @Slot(bool)
    def _visibility(self, shown: bool) -> None:
        if shown:
            self.timer.start()
            self._window.resizeDocks([self.dock], [OPENED_HEIGHT], Qt.Orientation.Vertical)
            self.refresh()
        else:
            self.timer.stop()

    @Slot()
    def on_locked(self) -> None:
        self._locked = True
        self.panel.clear()

    @Slot()
    def on_unlocked(self) -> None:
        self._locked = False
        self.refresh()

    @Slot()
    def retranslate(self) -> None:
        self.dock.setWindowTitle(_("Virtual waiting room"))
        self.action.setText(_("Virtual waiting room"))
