"""The main window's "Calendar" menu: .ics exports and the calendar feeds dialog.

Exports (type and patient initials, never notes): the selected appointment, the
shown day or week, or one provider's appointments over the shown days. The feeds
dialog needs the server (set by the application with :meth:`CalendarMenu.set_feeds`)
and the ``admin:config`` permission, or ``schedule:own`` for the user's own calendar.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMainWindow

from desktop.services import calendar_export
from desktop.services.context import DeskContext
from desktop.services.feeds import (
    FeedsService,
    can_manage_feeds,
    clinic_zone,
    feed_resources,
    manages_every_feed,
)
from desktop.services.session import SessionLocked
from desktop.sync.errors import SyncError
from desktop.ui.feeds_dialog import FeedsDialog
from desktop.ui.text import _, current_language, language_notifier


class AgendaWindow(Protocol):
    """What the menu needs of the main window."""

    @property
    def clinic_id(self) -> str: ...
    @property
    def day(self) -> date: ...
    @property
    def days(self) -> int: ...


#: Asks where to save (suggested file name) → the chosen path, or None to cancel.
ChoosePath = Callable[[str], str | None]


class CalendarMenu(QObject):
    def __init__(self, window: QMainWindow, ctx: DeskContext, agenda: AgendaWindow,
                 selected: Callable[[], str | None],
                 choose_path: ChoosePath | None = None) -> None:
        """``agenda``: the shown clinic and days; ``selected``: the selected appointment."""
        super().__init__(window)
        self._window, self._ctx, self._agenda = window, ctx, agenda
        self._selected = selected
        self._feeds: FeedsService | None = None
        self.choose_path = choose_path or self._ask_path
        self.dialog: FeedsDialog | None = None
        self.last_message = ""
        self.export_selection_action = QAction(window)
        self.export_days_action = QAction(window)
        self.export_days_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_provider_action = QAction(window)
        self.feeds_action = QAction(window)
        self.menu = window.menuBar().addMenu("")
        for action in (self.export_selection_action, self.export_days_action,
                       self.export_provider_action):
            self.menu.addAction(action)
        self.menu.addSeparator()
        self.menu.addAction(self.feeds_action)
        self.export_selection_action.triggered.connect(self.export_selection)
        self.export_days_action.triggered.connect(self.export_days)
        self.export_provider_action.triggered.connect(self.export_provider)
        self.feeds_action.triggered.connect(self.open_feeds)
        self.menu.aboutToShow.connect(self._update_enabled)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def set_feeds(self, service: FeedsService | None) -> None:
        """The server connection the feeds dialog uses (None: offline desk)."""
        self._feeds = service

    # ------------------------------------------------------------------ exports

    @Slot()
    def export_selection(self) -> Path | None:
        selected = self._selected()
        if selected is None:
            self._tell(_("Select an appointment in the agenda first."))
            return None
        return self._save(f"appointment-{self._agenda.day.isoformat()}.ics",
                          lambda: calendar_export.export_appointments(
                              self._ctx, [selected], language=current_language()))

    @Slot()
    def export_days(self) -> Path | None:
        first, last = self._shown()
        return self._save(f"clinicdesk-{first.isoformat()}.ics",
                          lambda: calendar_export.export_days(
                              self._ctx, self._agenda.clinic_id, first, last,
                              language=current_language()))

    @Slot()
    def export_provider(self, provider_id: str | None = None) -> Path | None:
        if provider_id is None:
            providers = [r for r in feed_resources(self._ctx) if r.kind == "provider"]
            if not providers:
                return None
            name, chosen = QInputDialog.getItem(
                self._window, _("Export a provider's appointments"), _("Provider"),
                [p.name for p in providers], 0, False)
            if not chosen:
                return None
            provider_id = next(p.id for p in providers if p.name == name)
        first, last = self._shown()
        return self._save(f"clinicdesk-{first.isoformat()}-provider.ics",
                          lambda: calendar_export.export_days(
                              self._ctx, self._agenda.clinic_id, first, last,
                              resource_id=provider_id, language=current_language()))

    def _shown(self) -> tuple[date, date]:
        first = self._agenda.day
        if self._agenda.days == 7:
            first -= timedelta(days=first.weekday())
        return first, first + timedelta(days=self._agenda.days - 1)

    def _save(self, suggested: str, build: Callable[[], bytes]) -> Path | None:
        chosen = self.choose_path(suggested)
        if not chosen:
            return None
        path = Path(chosen)
        if path.suffix.lower() != ".ics":
            path = path.with_suffix(".ics")
        try:
            body = build()
            path.write_bytes(body)
        except SessionLocked:
            return None
        except OSError as error:
            self._tell(_("The file could not be saved: {reason}").format(
                reason=error.strerror or type(error).__name__))
            return None
        self._tell(_("Saved {file}").format(file=path.name))
        return path

    def _ask_path(self, suggested: str) -> str | None:
        chosen, _filter = QFileDialog.getSaveFileName(
            self._window, _("Export to a calendar file"), suggested,
            _("iCalendar files (*.ics)"))
        return chosen or None

    def _tell(self, text: str) -> None:
        """Say it in the status bar (no modal box in the way of the desk's work)."""
        self.last_message = text
        self._window.statusBar().showMessage(text, 8000)

    # ------------------------------------------------------------------ feeds

    @Slot()
    def open_feeds(self) -> FeedsDialog | None:
        if self._feeds is None or not self._may_manage():
            self._tell(_("Calendar feeds need a connection to the server and the "
                         "permission to configure the calendar."))
            return None
        zone, locale = clinic_zone(self._ctx, self._agenda.clinic_id)
        try:
            resources = (feed_resources(self._ctx) if manages_every_feed(self._ctx)
                         else self._feeds.resources())
        except (SessionLocked, SyncError):
            self._tell(_("Calendar feeds need a connection to the server and the "
                         "permission to configure the calendar."))
            return None
        self.dialog = FeedsDialog(self._feeds, resources, zone, locale, self._window)
        self.dialog.show()
        return self.dialog

    def _may_manage(self) -> bool:
        try:
            return can_manage_feeds(self._ctx)
        except SessionLocked:
            return False

    @Slot()
    def _update_enabled(self) -> None:
        self.feeds_action.setEnabled(self._feeds is not None and self._may_manage())

    @Slot()
    def retranslate(self) -> None:
        self.menu.setTitle(_("&Calendar"))
        self.export_selection_action.setText(_("Export the selected appointment (.ics)…"))
        self.export_days_action.setText(_("Export the shown days (.ics)…"))
        self.export_provider_action.setText(_("Export a provider's appointments (.ics)…"))
        self.feeds_action.setText(_("Calendar feeds…"))
