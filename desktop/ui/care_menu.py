"""The main window's "Care" menu: the follow-up list's dock (Ctrl+Shift+F) and the
"Resource out of service" dialog (Ctrl+Shift+O).

Needs the server (set by the application with :meth:`CareMenu.set_service`). "Book
now" opens the booking dialog for the follow-up's patient and type, on its first due
day (or today when that has passed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDockWidget, QMainWindow

from desktop.services.clinic_reference import load_reference
from desktop.services.context import DeskContext
from desktop.services.dto import PatientDTO
from desktop.services.followups import FollowUp, FollowUpsService, follow_up_patient
from desktop.services.outages import OutagesService
from desktop.services.session import SessionLocked
from desktop.ui.follow_up_list import FollowUpPanel
from desktop.ui.outage_dialog import OutageDialog
from desktop.ui.text import _, language_notifier
from scheduling.timeutil import to_utc

SHORTCUT = "Ctrl+Shift+F"
OUTAGE_SHORTCUT = "Ctrl+Shift+O"
#: Opens the booking dialog: (patient, clinic id, start or None) → the dialog.
OpenBooking = Callable[[PatientDTO, datetime | None], QDialog]


class CareMenu(QObject):
    def __init__(self, window: QMainWindow, ctx: DeskContext,
                 clinic: Callable[[], tuple[str, str, str]], open_booking: OpenBooking) -> None:
        """``clinic``: (id, locale, time zone) of the clinic the window shows."""
        super().__init__(window)
        self._window, self._ctx, self._clinic, self._open_booking = (
            window, ctx, clinic, open_booking)
        self.booking: QDialog | None = None
        self.panel = FollowUpPanel(ctx, lambda: self._clinic()[:2])
        self.dock = QDockWidget(window)
        self.dock.setObjectName("follow-ups-dock")
        self.dock.setWidget(self.panel)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                              | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.panel_action = self.dock.toggleViewAction()
        self.panel_action.setShortcut(QKeySequence(SHORTCUT))
        self.outage_action = QAction(window)
        self.outage_action.setShortcut(QKeySequence(OUTAGE_SHORTCUT))
        self.menu = window.menuBar().addMenu("")
        self.menu.addAction(self.panel_action)
        self.menu.addAction(self.outage_action)
        self.outage_action.triggered.connect(lambda _checked=False: self.open_outage())
        self._outages: OutagesService | None = None
        self.dialog: OutageDialog | None = None
        self.last_message = ""
        self.panel.bookRequested.connect(self.book)
        self.dock.visibilityChanged.connect(lambda shown: shown and self.panel.refresh())
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def set_service(self, service: FollowUpsService | None,
                    outages: OutagesService | None = None) -> None:
        """The server connection (None: this desk has none)."""
        self.panel.set_service(service)
        self._outages = outages

    @Slot()
    def open_outage(self) -> OutageDialog | None:
        """The "Resource out of service" dialog for the shown clinic."""
        if self._outages is None:
            self.last_message = _("Marking a resource out of service needs a connection to "
                                  "the server.")
            self._window.statusBar().showMessage(self.last_message, 8000)
            return None
        try:
            reference = load_reference(self._ctx, self._clinic()[0])
        except SessionLocked:
            return None
        dialog = OutageDialog(self._ctx, self._outages, reference, self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(self._forget_dialog)
        self.dialog = dialog
        dialog.show()
        return dialog

    @Slot()
    def _forget_dialog(self) -> None:
        self.dialog = None

    @Slot()
    def show_panel(self) -> None:
        self.dock.show()
        self.dock.raise_()
        self.panel.refresh()

    @Slot(object)
    def book(self, item: FollowUp) -> QDialog | None:
        """The booking dialog for ``item``'s patient and type."""
        try:
            patient = follow_up_patient(self._ctx, item)
        except SessionLocked:
            return None
        if patient is None:
            self.panel.last_message = _("This desk does not know the patient yet; sync first.")
            return None
        _clinic_id, _locale, zone = self._clinic()
        today = self._ctx.now().date()
        start = None if item.due_from <= today else to_utc(
            datetime.combine(item.due_from, time(9)), zone)
        dialog = self._open_booking(patient, start)
        type_combo = getattr(dialog, "type_combo", None)
        if type_combo is not None:
            type_combo.setCurrentIndex(max(0, type_combo.findData(item.appointment_type_id)))
        self.booking = dialog
        return dialog

    @Slot()
    def on_locked(self) -> None:
        if self.dialog is not None:
            self.dialog.close()
        self.panel.clear()

    @Slot()
    def on_unlocked(self) -> None:
        self.panel.refresh()

    @Slot()
    def retranslate(self) -> None:
        self.menu.setTitle(_("&Care"))
        self.dock.setWindowTitle(_("Follow-ups and recalls"))
        self.panel_action.setText(_("Follow-ups and recalls"))
        self.outage_action.setText(_("Resource out of service…"))
