"""The main window's "Administration" menu: one record editor per kind of configuration
record, users and roles, and the two-step sign-in enrolment.

Screens need the server (set by the application with :meth:`AdministrationMenu.set_server`)
and the permission of their kind (``admin:config``, ``admin:users``; schedules and
time off also ``schedule:own``, narrowed by the server to the user's own provider).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow

from desktop.services.admin import (
    CONFIGURE,
    OWN_SCHEDULE,
    USERS,
    AdminService,
    Record,
    TwoStepService,
    local_records,
    permissions,
)
from desktop.services.context import DeskContext
from desktop.services.session import SessionLocked
from desktop.ui.admin.handoff_clients import HANDOFF_CLIENTS, HandoffClientsDialog
from desktop.ui.admin.kinds import (
    ALL_KINDS,
    SLOT_TEMPLATES,
    TIME_OFF,
    WEEKLY_SCHEDULES,
    lookup_lists,
)
from desktop.ui.admin.record_editor import RecordEditorDialog, RecordKind
from desktop.ui.text import _, language_notifier
from desktop.ui.two_step_dialog import TwoStepDialog

#: Lookup list → (admin API path under /api/v1/admin, the permission reading it needs).
SOURCES = {"clinics": ("clinics", CONFIGURE), "providers": ("resources", CONFIGURE),
           "resources": ("resources", CONFIGURE),
           "appointment_types": ("appointment-types", CONFIGURE),
           "users": ("users", USERS), "roles": ("roles", USERS),
           "permissions": ("permissions", USERS),
           "departments": ("departments", CONFIGURE)}
OWN = (WEEKLY_SCHEDULES, SLOT_TEMPLATES, TIME_OFF)


def may_open(kind: RecordKind, granted: frozenset[str]) -> bool:
    return kind.permission in granted or (kind in OWN and OWN_SCHEDULE in granted)


class AdministrationMenu(QObject):
    def __init__(self, window: QMainWindow, ctx: DeskContext,
                 clinic_zone: Callable[[], str]) -> None:
        super().__init__(window)
        self._window, self._ctx, self._zone = window, ctx, clinic_zone
        self._service: AdminService | None = None
        self._two_step: TwoStepService | None = None
        self.dialog: RecordEditorDialog | TwoStepDialog | None = None
        self.menu = window.menuBar().addMenu("")
        self.actions: dict[str, QAction] = {}
        for kind in ALL_KINDS:
            action = QAction(window)
            action.triggered.connect(lambda _checked=False, k=kind: self.open_kind(k))
            self.actions[kind.key] = action
            self.menu.addAction(action)
            if kind.key in ("booking_policies", "quotas", HANDOFF_CLIENTS.key):
                self.menu.addSeparator()
        self.menu.addSeparator()
        self.two_step_action = QAction(window)
        self.two_step_action.triggered.connect(self.open_two_step)
        self.menu.addAction(self.two_step_action)
        self.menu.aboutToShow.connect(self._update_enabled)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def set_server(self, service: AdminService | None,
                   two_step: TwoStepService | None = None) -> None:
        """The server connection the screens use (None: offline desk)."""
        self._service, self._two_step = service, two_step

    @Slot()
    def _update_enabled(self) -> None:
        granted = permissions(self._ctx)
        for kind in ALL_KINDS:
            self.actions[kind.key].setEnabled(self._service is not None
                                              and may_open(kind, granted))
        self.two_step_action.setEnabled(self._two_step is not None)

    def open_kind(self, kind: RecordKind) -> RecordEditorDialog | None:
        if self._service is None or not may_open(kind, permissions(self._ctx)):
            self._window.statusBar().showMessage(_(
                "This screen needs a connection to the server and the permission to "
                "change this part of the configuration."), 8000)
            return None
        if kind is HANDOFF_CLIENTS:
            dialog: RecordEditorDialog = HandoffClientsDialog(
                self._service, self.lookups(kind), self._zone(), self._window)
        else:
            dialog = RecordEditorDialog(kind, self._service, self.lookups(kind), self._zone(),
                                        self._window)
        self.dialog = dialog
        dialog.show()
        return dialog

    def lookups(self, kind: RecordKind) -> dict[str, list[tuple[str, str]]]:
        """The choice lists of ``kind``'s form: from the server where the user may read
        them, else clinics and providers from this desk's copy."""
        assert self._service is not None
        granted = permissions(self._ctx)
        records: dict[str, list[Record]] = {}
        for name in kind.lookups:
            path, needs = SOURCES[name]
            if path in records or needs not in granted:
                continue
            try:
                answer = (self._service.permissions() if path == "permissions"
                          else self._service.records(f"/api/v1/admin/{path}"))
            except Exception:  # noqa: BLE001 - a list that cannot be read stays empty
                answer = []
            records[path] = answer  # type: ignore[assignment]
        records.setdefault("clinics", local_records(self._ctx, "clinics"))
        records.setdefault("resources", local_records(self._ctx, "resources"))
        return lookup_lists(records)

    @Slot()
    def open_two_step(self) -> TwoStepDialog | None:
        if self._two_step is None:
            return None
        try:
            email = self._ctx.user().email
        except SessionLocked:
            return None
        dialog = TwoStepDialog(self._two_step, email, self._window)
        self.dialog = dialog
        dialog.show()
        return dialog

    @Slot()
    def retranslate(self) -> None:
        self.menu.setTitle(_("&Administration"))
        for kind in ALL_KINDS:
            self.actions[kind.key].setText(_(kind.title) + "…")
        self.two_step_action.setText(_("Enrol two-step sign-in…"))
