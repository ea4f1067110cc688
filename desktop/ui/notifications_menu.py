"""The main window's notifications: the exceptions panel's dock and badge, the
"Notifications" menu, an appointment's history and the administrator's screens.

Everything here needs the server (set by the application with
:meth:`NotificationsMenu.set_service`); the settings and templates also need
``admin:config``, like the calendar feeds. The panel is read again after every
successful sync (a poke or a poll) and on its own timer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDockWidget, QMainWindow, QToolButton

from desktop.services.appointment_details import load_details
from desktop.services.context import DeskContext
from desktop.services.notifications import NotificationsService, appointment_types, can_configure
from desktop.services.session import SessionLocked
from desktop.sync.worker import SyncStatus
from desktop.ui.exceptions_panel import ExceptionsPanel
from desktop.ui.notification_history import NotificationHistoryDialog
from desktop.ui.notification_settings import NotificationSettingsDialog
from desktop.ui.template_editor import TemplatesDialog
from desktop.ui.text import _, language_notifier

SHORTCUT = "Ctrl+Shift+A"
D = TypeVar("D", bound=QDialog)


class NotificationsMenu(QObject):
    def __init__(self, window: QMainWindow, ctx: DeskContext,
                 selected: Callable[[], str | None],
                 show_appointment: Callable[[str], None],
                 clinic_zone: Callable[[], tuple[str, str]] | None = None) -> None:
        """``selected``: the appointment selected in the agenda; ``show_appointment`` selects
        one in the agenda and shows its details; ``clinic_zone``: the shown clinic's (time
        zone, locale)."""
        super().__init__(window)
        self._window, self._ctx, self._selected = window, ctx, selected
        self._service: NotificationsService | None = None
        self._last_sync: datetime | None = None
        self.dialog: QDialog | None = None
        self.last_message = ""

        self.panel = ExceptionsPanel(ctx, clinic_zone=clinic_zone)
        self.dock = QDockWidget(window)
        self.dock.setObjectName("exceptions-dock")
        self.dock.setWidget(self.panel)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                              | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.badge = QToolButton()
        self.badge.setAutoRaise(True)
        window.statusBar().addPermanentWidget(self.badge)

        self.panel_action = self.dock.toggleViewAction()
        self.panel_action.setShortcut(QKeySequence(SHORTCUT))
        self.history_action = QAction(window)
        self.settings_action = QAction(window)
        self.templates_action = QAction(window)
        self.menu = window.menuBar().addMenu("")
        self.menu.addAction(self.panel_action)
        self.menu.addAction(self.history_action)
        self.menu.addSeparator()
        self.menu.addAction(self.settings_action)
        self.menu.addAction(self.templates_action)

        self.panel.appointmentRequested.connect(show_appointment)
        self.panel.countChanged.connect(lambda _count: self._show_count())
        self.badge.clicked.connect(self.show_panel)
        self.history_action.triggered.connect(lambda _checked=False: self.open_history())
        self.settings_action.triggered.connect(lambda _checked=False: self.open_settings())
        self.templates_action.triggered.connect(lambda _checked=False: self.open_templates())
        self.menu.aboutToShow.connect(self._update_enabled)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def set_service(self, service: NotificationsService | None) -> None:
        """The server connection (None: this desk has none)."""
        self._service = service
        self.panel.set_service(service)

    # ------------------------------------------------------------------ events

    @Slot(object)
    def on_sync_state(self, status: SyncStatus) -> None:
        """After each successful sync (a poke or a poll) read the panel again; going offline
        shows the last list marked offline."""
        if status.last_success is not None and status.last_success != self._last_sync:
            self._last_sync = status.last_success
            self.panel.refresh()
        elif not status.online:
            self.panel.refresh()

    @Slot()
    def on_locked(self) -> None:
        if self.dialog is not None:
            self.dialog.close()
        self.panel.clear()

    @Slot()
    def on_unlocked(self) -> None:
        self.panel.show_remembered()
        self.panel.refresh()

    # ------------------------------------------------------------------ actions

    @Slot()
    def show_panel(self) -> None:
        self.dock.show()
        self.dock.raise_()

    @Slot()
    def open_history(self, appointment_id: str | None = None) -> NotificationHistoryDialog | None:
        """The notification history of ``appointment_id`` (default: the selected one)."""
        appointment_id = appointment_id or self._selected()
        if appointment_id is None:
            self._tell(_("Select an appointment in the agenda first."))
            return None
        if self._service is None:
            self._tell(_("The notification history needs a connection to the server."))
            return None
        try:
            details = load_details(self._ctx, appointment_id)
        except SessionLocked:
            return None
        if details is None:
            return None
        dialog = NotificationHistoryDialog(self._service, details, self._window)
        return self._open(dialog)

    @Slot()
    def open_settings(self) -> NotificationSettingsDialog | None:
        if self._service is None or not self._may_configure():
            self._tell_needs_admin()
            return None
        try:
            types = appointment_types(self._ctx)
        except SessionLocked:
            return None
        return self._open(NotificationSettingsDialog(self._service, types, self._window))

    @Slot()
    def open_templates(self) -> TemplatesDialog | None:
        if self._service is None or not self._may_configure():
            self._tell_needs_admin()
            return None
        return self._open(TemplatesDialog(self._service, self._window))

    def _open(self, dialog: D) -> D:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(self._forget_dialog)
        self.dialog = dialog
        dialog.show()
        return dialog

    @Slot()
    def _forget_dialog(self) -> None:
        self.dialog = None

    def _may_configure(self) -> bool:
        try:
            return can_configure(self._ctx)
        except SessionLocked:
            return False

    def _tell_needs_admin(self) -> None:
        self._tell(_("Notification settings need a connection to the server and the "
                     "permission to configure the clinic."))

    def _tell(self, text: str) -> None:
        self.last_message = text
        self._window.statusBar().showMessage(text, 8000)

    # ------------------------------------------------------------------ texts

    @Slot()
    def _update_enabled(self) -> None:
        admin = self._service is not None and self._may_configure()
        self.settings_action.setVisible(admin)
        self.templates_action.setVisible(admin)
        self.history_action.setEnabled(self._service is not None)

    def _show_count(self) -> None:
        count = len(self.panel.alerts)
        title = _("Undelivered messages")
        self.dock.setWindowTitle(f"{title} ({count})" if count else title)
        self.badge.setText(_("Undelivered: {count}").format(count=count))
        self.badge.setStyleSheet("color: #b3261e; font-weight: bold;" if count else "")
        self.badge.setVisible(count > 0)
        self.badge.setToolTip(_("Messages that reached no one ({shortcut})").format(
            shortcut=SHORTCUT))

    @Slot()
    def retranslate(self) -> None:
        self.menu.setTitle(_("&Notifications"))
        self.history_action.setText(_("Notification history of the appointment…"))
        self.settings_action.setText(_("Notification settings…"))
        self.templates_action.setText(_("Message templates…"))
        self._show_count()
