"""The desk's main window: the agenda of a clinic with everything a receptionist needs around it.

Tool bar (today, previous/next, date, day/week, clinic, columns by provider or
room, patient search), the agenda in the centre, docks with a month calendar,
the waitlist/pinboard and the selected appointment's details, and a status bar
with the sync state and the conflict inbox badge. The idle lock hides all of it.

Preferences and the window layout live in ``QSettings`` — never patient data.
The window only reacts: services do the work, the agenda and the sync worker
say through signals when something changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

from PySide6.QtCore import QDate, QEvent, QLocale, QObject, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QApplication,
    QCalendarWidget,
    QComboBox,
    QDateEdit,
    QDialog,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QLineEdit,
    QMainWindow,
    QScrollArea,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services import agenda as agenda_service
from desktop.services import departments, patients
from desktop.services.appointment_details import load_details
from desktop.services.changes import DataChanges
from desktop.services.clinic_reference import load_reference
from desktop.services.context import DeskContext
from desktop.services.dto import ActionResult, PatientDTO
from desktop.services.session import ServerCheck, ServerIdentity, SessionLocked
from desktop.services.visits import ClinicWithRoom, VisitsService
from desktop.sync.errors import ServerUnreachable
from desktop.sync.worker import SyncStatus
from desktop.ui.admin.menu import AdministrationMenu
from desktop.ui.agenda import AgendaWidget
from desktop.ui.agenda.slot_menu import SlotRequest
from desktop.ui.appointment_card import CardPrinting
from desktop.ui.booking_dialog import BookingDialog
from desktop.ui.calendar_menu import CalendarMenu
from desktop.ui.care_menu import CareMenu
from desktop.ui.change_notice import ChangeNotice
from desktop.ui.conflict_inbox import ConflictInbox
from desktop.ui.day_sheet import day_sheet_pdf, print_day_sheet
from desktop.ui.details_panel import DetailsPanel
from desktop.ui.edit_dialog import EditDialog
from desktop.ui.eliding_label import ElidingLabel
from desktop.ui.lock_overlay import LockOverlay
from desktop.ui.notifications_menu import NotificationsMenu
from desktop.ui.patient_panel import PatientPanel
from desktop.ui.patient_picker import PatientPicker
from desktop.ui.pinboard import install_pinboard
from desktop.ui.qt_language import follow_desk_language
from desktop.ui.sign_in import SignInScreen
from desktop.ui.slot_actions import SlotActions
from desktop.ui.status_legend import StatusLegend
from desktop.ui.text import (
    _,
    current_language,
    date_edit_format,
    format_clock,
    format_when,
    language_notifier,
    ngettext,
    one_full_stop,
    set_language,
)
from desktop.ui.theme import ERROR, text_style
from desktop.ui.today_board import TodayBoard
from desktop.ui.undo_history import booked as booked_change
from desktop.ui.video_actions import VideoActions
from desktop.ui.virtual_waiting_room import VirtualWaitingDock
from desktop.ui.waitlist_dock import WaitlistPanel
from scheduling.timeutil import to_local, to_utc

#: The organization and application names of the desk's ``QSettings``.
SETTINGS_ORGANIZATION = "ClinicDesk"
SETTINGS_APPLICATION = "ClinicDesk desk"

#: The lengths the agenda shows: a day, three days, the work week, the week.
VIEW_DAYS = (1, 3, 5, 7)

#: Input events that count as the receptionist being at the desk (idle lock).
ACTIVITY_EVENTS = (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel)


def offline_only(email: str, password: str, totp: str | None) -> ServerIdentity | None:
    """A server check for a desk without a sync client: always signs in offline."""
    raise ServerUnreachable("no sync client on this desk")


def _python_date(day: QDate) -> date:
    return date(day.year(), day.month(), day.day())


class MainWindow(QMainWindow):
    """Signal ``localChange()``: this desk wrote something the server should hear about
    soon (the owner of the sync worker asks it to push)."""

    localChange = Signal()

    def __init__(self, ctx: DeskContext, clinics: list[tuple[str, str, str]], today: date,
                 desk_name: str = "", *, settings: QSettings | None = None,
                 server_check: ServerCheck | None = None) -> None:
        """``clinics``: (id, name, locale) of the clinics this desk shows; ``server_check``
        is used to sign in again after the lock screen signed the user out."""
        super().__init__()
        self._ctx, self._clinics, self._desk_name = ctx, clinics, desk_name
        self._today = today
        self._day = today
        self._days = 1
        self._columns = "provider"
        self._zone, self._locale = "UTC", clinics[0][2]
        self._server_check = server_check or offline_only
        self._settings = settings or QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)
        self._status = SyncStatus(online=False, pending=0, last_success=None, error=None)
        self._conflicts = 0
        self._windows: list[QWidget] = []  # open board / inbox windows, closed on lock
        self._sign_in: SignInScreen | None = None
        self._shown_before_lock: str | None = None  # the details shown when the desk locked
        #: The server's visit API (None until the application connects it, or offline-only).
        self.visits: VisitsService | None = None

        self.agenda = AgendaWidget(ctx)
        self.setCentralWidget(self.agenda)
        self._build_actions()
        self._build_toolbar()
        self._build_docks()
        self._build_status_bar()
        self._build_menus()
        self.calendar_menu = CalendarMenu(self, ctx, self, self.agenda.selected_appointment)
        self.notifications = NotificationsMenu(self, ctx, self.agenda.selected_appointment,
                                               self.show_appointment,
                                               lambda: (self._zone, self._locale))
        self.admin_menu = AdministrationMenu(self, ctx, lambda: self._zone)
        self.care = CareMenu(self, ctx, lambda: (self.clinic_id, self._locale, self._zone),
                             lambda patient, start: self.new_appointment(patient, start=start))
        self.virtual_waiting = VirtualWaitingDock(
            self, ctx, lambda: (self.clinic_id, self._locale, self._zone))
        self.view_menu.addAction(self.virtual_waiting.action)
        self.video = VideoActions(ctx, self, self.show_message,
                                  lambda: (self._zone, self._locale))
        self.agenda.appointment_actions.menu_extensions.append(self.video.extend)
        self.cards = CardPrinting(ctx, self)
        self.agenda.appointment_actions.menu_extensions.append(self.cards.extend)
        self.lock_overlay = LockOverlay(self, ctx.sessions)
        self._connect()
        self.resize(1280, 800)
        # The appointment's details above need the height more than the exceptions
        # below (an empty list says so in a line).
        self.resizeDocks([self.details_dock, self.notifications.dock], [480, 230],
                         Qt.Orientation.Vertical)
        self._restore_settings()
        self.retranslate()
        self.refresh()
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    # ------------------------------------------------------------------ building

    def _build_actions(self) -> None:
        def action(shortcut: str | None = None, checkable: bool = False) -> QAction:
            made = QAction(self)
            if shortcut:
                made.setShortcut(QKeySequence(shortcut))
            made.setCheckable(checkable)
            return made

        self.previous_action = action("Alt+Left")
        self.today_action = action("Ctrl+T")
        self.next_action = action("Alt+Right")
        self.day_action, self.week_action = action("Ctrl+1", True), action("Ctrl+2", True)
        self.by_provider_action, self.by_room_action = action(None, True), action(None, True)
        self.day_action.setData(1)
        self.week_action.setData(7)
        self.by_provider_action.setData("provider")
        self.by_room_action.setData("room")
        self._view_group, self._columns_group = QActionGroup(self), QActionGroup(self)
        for group, members in ((self._view_group, (self.day_action, self.week_action)),
                               (self._columns_group,
                                (self.by_provider_action, self.by_room_action))):
            for member in members:
                group.addAction(member)
        self.day_action.setChecked(True)
        self.by_provider_action.setChecked(True)
        self.find_action = action("Ctrl+F")
        self.new_action = action("Ctrl+N")
        self.today_board_action = action()
        self.conflict_inbox_action = action()
        self.lock_action = action("Ctrl+L")
        self.sign_out_action = action()
        self.quit_action = action("Ctrl+Q")
        self.english_action, self.spanish_action = action(None, True), action(None, True)
        self.english_action.setData("en")
        self.spanish_action.setData("es")
        self._language_group = QActionGroup(self)
        for member in (self.english_action, self.spanish_action):
            self._language_group.addAction(member)
        #: Actions that read or write patient data: off while the desk is locked.
        self._session_actions: tuple[QAction, ...] = (self.new_action, self.today_board_action,
                                 self.conflict_inbox_action, self.find_action,
                                 self.lock_action, self.sign_out_action)

    def _build_toolbar(self) -> None:
        self.toolbar = QToolBar(self)
        self.toolbar.setObjectName("main-toolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.date_edit = QDateEdit(QDate(self._day.year, self._day.month, self._day.day))
        self.date_edit.setCalendarPopup(True)
        self.clinic_combo = QComboBox()
        for clinic_id, name, _locale in self._clinics:
            self.clinic_combo.addItem(name, clinic_id)
        self.search_field = QLineEdit()
        self.search_field.setClearButtonEnabled(True)
        self.search_field.setMaximumWidth(260)
        for item in (self.today_action, self.previous_action, self.next_action):
            self.toolbar.addAction(item)
        self.toolbar.addWidget(self.date_edit)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.day_action)
        self.toolbar.addAction(self.week_action)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.clinic_combo)
        self.toolbar.addAction(self.by_provider_action)
        self.toolbar.addAction(self.by_room_action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.new_action)
        spacer = QWidget()
        spacer.setSizePolicy(spacer.sizePolicy().Policy.Expanding,
                             spacer.sizePolicy().Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.toolbar.addWidget(self.search_field)
        self.addToolBar(self.toolbar)

    def _dock(self, name: str, content: QWidget, area: Qt.DockWidgetArea, *,
              scrolled: bool = False) -> QDockWidget:
        """A dock of ``content``; ``scrolled``: in a scroll area, for a panel taller than a
        1280×800 screen leaves it (the details of a video visit with its documents): without
        it the window's least height grew past the screen and cut off its bottom."""
        dock = QDockWidget(self)
        dock.setObjectName(name)
        if scrolled:
            scroller = QScrollArea()
            scroller.setWidgetResizable(True)
            scroller.setFrameShape(QFrame.Shape.NoFrame)
            scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroller.setWidget(content)
            dock.setWidget(scroller)
        else:
            dock.setWidget(content)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.mini_calendar = QCalendarWidget()
        self.mini_calendar.setGridVisible(False)
        self.mini_calendar.setVerticalHeaderFormat(
            QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
        self.mini_calendar.setFirstDayOfWeek(Qt.DayOfWeek.Monday)
        self.mini_calendar.setMaximumHeight(230)
        self.mini_calendar.setSelectedDate(QDate(self._day.year, self._day.month, self._day.day))
        self.waitlist_panel = WaitlistPanel(self._ctx)
        self.details_panel = DetailsPanel(self._ctx)
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        self.calendar_dock = self._dock("calendar-dock", self.mini_calendar, left)
        self.waitlist_dock = self._dock("waitlist-dock", self.waitlist_panel, left)
        self.details_dock = self._dock("details-dock", self.details_panel,
                                       Qt.DockWidgetArea.RightDockWidgetArea, scrolled=True)
        self.resizeDocks([self.calendar_dock, self.details_dock], [280, 300],
                         Qt.Orientation.Horizontal)

    def _build_status_bar(self) -> None:
        self.change_notice = ChangeNotice(self)
        self.statusBar().addWidget(self.change_notice)
        # The sync state gives way to the change's notice when the bar is short of room.
        self.sync_label = ElidingLabel()
        self.conflicts_button = QToolButton()
        self.conflicts_button.setAutoRaise(True)
        # Whose departments the agenda shows (issue 19 item 4).
        self.department_label = QLabel()
        self.department_label.setObjectName("department_context")
        self.statusBar().addPermanentWidget(self.department_label)
        self.statusBar().addPermanentWidget(self.sync_label)
        self.statusBar().addPermanentWidget(self.conflicts_button)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("")
        for item in (self.new_action, self.find_action, None, self.today_board_action,
                     self.conflict_inbox_action, None, self.lock_action, self.sign_out_action,
                     None, self.quit_action):
            if item is None:
                self.file_menu.addSeparator()
            else:
                self.file_menu.addAction(item)
        self._build_edit_menu()
        self.view_menu = bar.addMenu("")
        for item in (self.today_action, self.previous_action, self.next_action, None,
                     self.day_action, self.week_action, None, self.by_provider_action,
                     self.by_room_action, None):
            if item is None:
                self.view_menu.addSeparator()
            else:
                self.view_menu.addAction(item)
        self._build_more_views()
        for dock in (self.calendar_dock, self.waitlist_dock, self.details_dock):
            self.view_menu.addAction(dock.toggleViewAction())
        self._build_legend_dock()
        self.language_menu = bar.addMenu("")
        self.language_menu.addAction(self.english_action)
        self.language_menu.addAction(self.spanish_action)

    def _connect(self) -> None:
        self.previous_action.triggered.connect(lambda: self.go_to(self._day - self._step()))
        self.next_action.triggered.connect(lambda: self.go_to(self._day + self._step()))
        self.today_action.triggered.connect(lambda: self.go_to(self._today))
        self.date_edit.dateChanged.connect(lambda d: self.go_to(d.toPython()))
        self.mini_calendar.selectionChanged.connect(
            lambda: self.go_to(_python_date(self.mini_calendar.selectedDate())))
        self.clinic_combo.currentIndexChanged.connect(lambda _i: self._clinic_changed())
        self._view_group.triggered.connect(lambda a: self.set_days(int(a.data())))
        self._columns_group.triggered.connect(lambda a: self.set_columns(str(a.data())))
        self._language_group.triggered.connect(lambda a: self._choose_language(str(a.data())))
        self.find_action.triggered.connect(lambda _checked=False: self.find_patient())
        self.search_field.returnPressed.connect(self.find_patient)
        self.new_action.triggered.connect(lambda _checked=False: self.new_appointment())
        self.today_board_action.triggered.connect(lambda _checked=False: self.open_today_board())
        for opener in (self.conflict_inbox_action.triggered, self.conflicts_button.clicked):
            opener.connect(lambda _checked=False: self.open_conflict_inbox())
        self.lock_action.triggered.connect(self.lock_overlay.lock)
        self.sign_out_action.triggered.connect(self.sign_out)
        self.quit_action.triggered.connect(self.close)
        self.agenda.selectionChanged.connect(self.details_panel.show_appointment)
        self.agenda.activated.connect(self.open_appointment)
        self.agenda.message.connect(self.show_message)
        self.agenda.changed.connect(self.after_change)
        self.agenda.changed.connect(self.localChange)
        if hasattr(self.agenda, "openPatient"):
            self.agenda.openPatient.connect(self.open_patient)
        if hasattr(self.agenda, "pinboardRequested"):
            self.pinboard = install_pinboard(self, self._ctx, self.agenda, self.lock_overlay)
        self.waitlist_panel.message.connect(self.show_message)
        self._connect_changes()
        self.waitlist_panel.changed.connect(self.agenda.refresh)
        self.waitlist_panel.changed.connect(self.localChange)
        self.lock_overlay.locked.connect(self._on_locked)
        self.lock_overlay.unlocked.connect(self._on_unlocked)
        self.lock_overlay.signedOut.connect(self._show_sign_in)
        follow_desk_language()  # Qt's own buttons and dialogs too
        # A bound slot (not a lambda): Qt drops the connection when the window is deleted.
        language_notifier().languageChanged.connect(self._on_language)

    # ------------------------------------------------------------------ navigation

    @property
    def clinic_id(self) -> str:
        return str(self.clinic_combo.currentData() or self._clinics[0][0])

    @property
    def day(self) -> date:
        return self._day

    @property
    def days(self) -> int:
        return self._days

    @property
    def columns(self) -> str:
        return self._columns

    def first_day(self) -> date:
        """The first day shown: the day itself (a day, three days), or the Monday of its
        week (the work week, the week)."""
        if self._days in (1, 3):
            return self._day
        return self._day - timedelta(days=self._day.weekday())

    def _step(self) -> timedelta:
        return timedelta(days=7 if self._days == 5 else self._days)

    def go_to(self, day: date) -> None:
        self._day = day
        qdate = QDate(day.year, day.month, day.day)
        for widget, current in ((self.date_edit, self.date_edit.date()),
                                (self.mini_calendar, self.mini_calendar.selectedDate())):
            if current != qdate:
                widget.blockSignals(True)
                if widget is self.date_edit:
                    self.date_edit.setDate(qdate)
                else:
                    self.mini_calendar.setSelectedDate(qdate)
                widget.blockSignals(False)
        self.refresh()

    def set_days(self, days: int) -> None:
        """Show one day (1), three days (3), the work week (5) or the week (7)."""
        self._days = days if days in VIEW_DAYS else 1
        self._view_action(self._days).setChecked(True)
        self._settings.setValue("preferences/days", self._days)
        self._retranslate_steps()
        self.refresh()

    def set_columns(self, columns: str) -> None:
        """One agenda column per provider (``provider``) or per room (``room``)."""
        self._columns = "room" if columns == "room" else "provider"
        (self.by_room_action if self._columns == "room"
         else self.by_provider_action).setChecked(True)
        self._settings.setValue("preferences/columns", self._columns)
        self.refresh()

    def set_clinic(self, clinic_id: str) -> None:
        self.clinic_combo.setCurrentIndex(max(0, self.clinic_combo.findData(clinic_id)))

    def _clinic_changed(self) -> None:
        self._settings.setValue("preferences/clinic", self.clinic_id)
        self.details_panel.show_appointment(None)
        self.refresh()

    # ------------------------------------------------------------------ reading

    @Slot()
    def refresh(self) -> None:
        """Show the chosen range of the chosen clinic again (a fast local query)."""
        self._unless_locked(self._reload_range)

    @Slot()
    def after_change(self) -> None:
        """The agenda wrote to the store: pending count, details, waitlist, badge."""
        self._unless_locked(self._reload_after_change)

    def _unless_locked(self, reload: Callable[[], None]) -> None:
        """Run ``reload`` and show the sync state; a locked session shows the lock instead."""
        if self.lock_overlay.is_locked():
            return
        try:
            reload()
        except SessionLocked:
            self.lock_overlay.lock()
            return
        self._show_sync_state()

    def _reload_range(self) -> None:
        self.agenda.show_range(self.clinic_id, self.first_day(), self._days, self._columns)
        # The agenda keeps the clinic's reference while the clinic stays the same.
        reference = self.agenda.reference or load_reference(self._ctx, self.clinic_id)
        self._zone, self._locale = reference.time_zone, reference.locale
        self._apply_date_format()
        self.waitlist_panel.set_clinic(self.clinic_id)
        self.details_panel.refresh()
        self.virtual_waiting.refresh()  # another clinic, another waiting room
        self.refresh_conflicts()

    def _reload_after_change(self) -> None:
        pending = agenda_service.pending_count(self._ctx)
        self._status = SyncStatus(self._status.online, pending, self._status.last_success,
                                  self._status.error)
        self.details_panel.refresh()
        self.waitlist_panel.refresh()
        self.refresh_conflicts()

    @Slot()
    def refresh_conflicts(self) -> None:
        if self.lock_overlay.is_locked():
            return
        self._conflicts = len(agenda_service.conflict_inbox(self._ctx))
        self._show_conflicts()

    @Slot(object)
    def on_sync_state(self, status: SyncStatus) -> None:
        self._status = status
        self._show_sync_state()

    @Slot()
    def on_data_changed(self) -> None:
        """A sync brought changes (another desk moved something, the server decided)."""
        self.on_changes(None)
        self.refresh_conflicts()

    @Slot(object)
    def on_changes(self, changes: DataChanges | None) -> None:
        """A sync brought ``changes`` (None: anywhere). The agenda reloads in the background
        and only if they touch the shown range; the panels beside it are small reads."""
        if self.lock_overlay.is_locked():
            return
        if changes is not None and changes.configuration:
            self.agenda.forget_reference()  # providers, rooms, types, time zone (rare)
            self.refresh()
            return
        try:
            self.agenda.request_refresh(changes)
            if changes is None or changes.waitlist or changes.patients:
                self.waitlist_panel.refresh()
            self.details_panel.refresh()  # conflicts come with their own signal
            self.virtual_waiting.refresh()
        except SessionLocked:
            self.lock_overlay.lock()

    @Slot(str)
    def show_message(self, text: str) -> None:
        """Say ``text`` in the status bar; right after a change the agenda made (a drop, a
        resize, a status step, a cancellation), say it as the notice with View · Undo."""
        changed, self._just_recorded = self._just_recorded, None
        if changed is not None:
            self.announce(text, changed)
            return
        # A newer message replaces the last change's notice (they would overlap).
        self.change_notice.dismiss()
        self.statusBar().showMessage(one_full_stop(text), 15_000)

    def announce(self, text: str, appointment_id: str, *, undoable: bool = True) -> None:
        """Say a change with View · Undo (replacing any message in the status bar)."""
        self._just_recorded = None
        self.statusBar().clearMessage()
        self.change_notice.show_change(text, appointment_id, undoable=undoable)

    @Slot(str)
    def _recorded(self, appointment_id: str) -> None:
        self._just_recorded = appointment_id

    # ------------------------------------------------------------------ actions

    def new_appointment(self, patient: PatientDTO | None = None, *,
                        slot: SlotRequest | None = None,
                        start: datetime | None = None) -> BookingDialog:
        """Open the booking dialog: at ``slot`` (quick create) with its provider, time and
        length, or at ``start``; else on the shown day (today: the next quarter hour inside
        working hours)."""
        start = start if slot is None else slot.start
        if start is None and self._day != self._today:
            start = to_utc(datetime.combine(self._day, time(9)), self._zone)
        dialog = BookingDialog(self._ctx, self.clinic_id, start=start, patient=patient,
                               provider_id=None if slot is None else slot.provider_id,
                               minutes=None if slot is None else slot.minutes,
                               visits=self.visits,
                               slot_template=None if slot is None else slot.template,
                               parent=self)
        if slot is not None and slot.room_id is not None:
            dialog.room_combo.setCurrentIndex(max(0, dialog.room_combo.findData(slot.room_id)))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.booked.connect(self._after_booking)
        dialog.booked.connect(lambda _result: self.localChange.emit())
        dialog.otherClinicChosen.connect(
            lambda clinic, form=dialog: self._book_at_other_clinic(
                clinic, form.patients.patient, form.type_combo.currentData()))
        dialog.open()
        return dialog

    def set_visits(self, service: VisitsService | None) -> None:
        """The server's visit API (booking dialogs and the agenda's whole-visit changes)."""
        self.visits = service
        self.agenda.visit_actions.service = service

    def _book_at_other_clinic(self, clinic: ClinicWithRoom, patient: PatientDTO | None,
                              type_id: str | None) -> BookingDialog:
        """"Other clinics with room": show that clinic and book the same type there, at
        its first free time."""
        self.set_clinic(clinic.clinic_id)
        dialog = self.new_appointment(patient, start=clinic.first.start)
        dialog.type_combo.setCurrentIndex(max(0, dialog.type_combo.findData(type_id)))
        dialog.use_alternative(clinic.first)
        return dialog

    @Slot()
    def find_patient(self, open_booking: bool = True) -> QDialog:
        """Search a patient by name or phone; choosing one opens a booking for them
        (``open_booking`` False: the caller listens to the picker itself)."""
        dialog = QDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowTitle(_("Find a patient"))
        dialog.resize(420, 320)
        picker = PatientPicker(self._ctx, self._zone, self._locale, dialog)
        QVBoxLayout(dialog).addWidget(picker)

        def chosen(patient: PatientDTO) -> None:
            dialog.accept()
            self.open_patient(patient.id)  # "when is my next appointment?" at a glance
            if open_booking:
                self.new_appointment(patient)

        picker.patientChosen.connect(chosen)
        picker.search.setText(self.search_field.text())
        picker.search.setFocus()
        dialog.open()
        return dialog

    @Slot(str)
    def open_patient(self, patient_id: str) -> None:
        """Show the patient's panel: contact, next and past appointments, no-shows."""
        self.patient_panel.show_patient(patient_id)
        self.patient_dock.show()
        self.patient_dock.raise_()

    @Slot(str)
    def open_appointment(self, appointment_id: str) -> None:
        self.details_panel.show_appointment(appointment_id)
        self.details_dock.show()
        self.details_dock.raise_()

    @Slot(str)
    def pin_to_waitlist(self, appointment_id: str) -> None:
        """Put the appointment's patient on the waitlist, noting the time they had."""
        details = load_details(self._ctx, appointment_id)
        if details is None:
            return
        note = _("Had {type} on {when}").format(
            type=details.type_name,
            when=format_when(details.start, details.time_zone, details.clinic_locale))
        self.waitlist_panel.add_from_appointment(details.clinic_id, details.patient_id,
                                                 details.patient_name,
                                                 details.appointment_type_id, note)
        self.waitlist_dock.show()

    def _tool_window(self, widget: QWidget, title: str) -> QDialog:
        window = QDialog(self)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.setWindowTitle(title)
        QVBoxLayout(window).addWidget(widget)
        window.destroyed.connect(lambda: self._windows.remove(window)
                                 if window in self._windows else None)
        self._windows.append(window)
        window.show()
        return window

    def open_today_board(self) -> QDialog:
        board = TodayBoard(self._ctx, self.clinic_id)
        window = self._tool_window(board, _("Today board"))
        window.resize(1100, 720)
        return window

    def open_conflict_inbox(self) -> QDialog:
        inbox = ConflictInbox(self._ctx, self.clinic_id)
        inbox.changed.connect(self.refresh)
        inbox.changed.connect(self.localChange)
        inbox.countChanged.connect(lambda _n: self.refresh_conflicts())
        window = self._tool_window(inbox, _("Conflict inbox"))
        window.resize(900, 520)
        return window

    @Slot()
    def sign_out(self) -> None:
        self.lock_overlay.lock()
        self._ctx.sessions.sign_out()
        self._show_department()
        self._show_sign_in()

    # ------------------------------------------------------------------ edit, quick create

    def _build_more_views(self) -> None:
        """Work week (Mon–Fri, Ctrl+3) and three days (Ctrl+4) beside Day and Week."""
        self.work_week_action, self.three_day_action = QAction(self), QAction(self)
        for made, days, keys in ((self.work_week_action, 5, "Ctrl+3"),
                                 (self.three_day_action, 3, "Ctrl+4")):
            made.setCheckable(True)
            made.setData(days)
            made.setShortcut(QKeySequence(keys))
            self._view_group.addAction(made)
            self.view_menu.insertAction(self.week_action, made)
            self.toolbar.insertAction(self.week_action, made)

    def _view_action(self, days: int) -> QAction:
        return {1: self.day_action, 3: self.three_day_action, 5: self.work_week_action,
                7: self.week_action}[days]

    def _build_legend_dock(self) -> None:
        """The confirmation colours' legend, under the waitlist."""
        self.legend = StatusLegend(self._settings)
        self.legend_dock = self._dock("legend-dock", self.legend,
                                      Qt.DockWidgetArea.LeftDockWidgetArea)
        self.view_menu.addAction(self.legend_dock.toggleViewAction())
        self.patient_panel = PatientPanel(self._ctx)
        self.patient_dock = self._dock("patient-dock", self.patient_panel,
                                       Qt.DockWidgetArea.RightDockWidgetArea, scrolled=True)
        self.tabifyDockWidget(self.details_dock, self.patient_dock)
        self.details_dock.raise_()
        self.view_menu.addAction(self.patient_dock.toggleViewAction())

    def _build_edit_menu(self) -> None:
        """Edit ▸ Undo / Redo: the window-wide history, from anywhere in the window."""
        self.undo_action, self.redo_action = QAction(self), QAction(self)
        self.undo_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Undo))
        self.redo_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Redo),
                                       QKeySequence("Ctrl+Y")])
        for item in (self.undo_action, self.redo_action):
            item.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.edit_menu = self.menuBar().addMenu("")
        self.edit_menu.addAction(self.undo_action)
        self.edit_menu.addAction(self.redo_action)
        self.print_action, self.pdf_action = QAction(self), QAction(self)
        self.print_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Print))
        self.file_menu.insertAction(self.lock_action, self.print_action)
        self.file_menu.insertAction(self.lock_action, self.pdf_action)
        self.file_menu.insertSeparator(self.lock_action)
        self._session_actions = (*self._session_actions, self.print_action, self.pdf_action)
        #: Asks where to save the PDF (None: give up). Tests replace it.
        self.ask_pdf_path: Callable[[], Path | None] = self._ask_pdf_path

    def _connect_changes(self) -> None:
        history = self.agenda.history
        self.undo_action.triggered.connect(lambda _checked=False: history.undo())
        self.redo_action.triggered.connect(lambda _checked=False: history.redo())
        history.changed.connect(self._show_undo_state)
        history.recorded.connect(self._recorded)
        self.lock_overlay.locked.connect(self._show_undo_state)
        self.lock_overlay.unlocked.connect(self._show_undo_state)
        self.change_notice.viewRequested.connect(self.show_appointment)
        self.change_notice.undoRequested.connect(history.undo)
        self.slot_actions = SlotActions(self._ctx, self)
        self.slot_actions.message.connect(self.show_message)
        self.slot_actions.changed.connect(self.refresh)
        self.slot_actions.changed.connect(self.localChange)
        self.agenda.slotRequested.connect(self.on_slot_requested)
        self.agenda.editRequested.connect(self.edit_appointment)
        self.print_action.triggered.connect(lambda _checked=False: self.print_day_sheet())
        self.pdf_action.triggered.connect(lambda _checked=False: self.save_day_sheet_pdf())
        self.legend.coloursChanged.connect(self.agenda.retranslate)  # a redraw
        self.lock_overlay.locked.connect(self.patient_panel.clear)  # no patient data locked
        self.lock_overlay.locked.connect(self.notifications.on_locked)
        self.lock_overlay.unlocked.connect(self.notifications.on_unlocked)
        self.lock_overlay.locked.connect(self.care.on_locked)
        self.lock_overlay.unlocked.connect(self.care.on_unlocked)
        self.lock_overlay.locked.connect(self.virtual_waiting.on_locked)
        self.lock_overlay.unlocked.connect(self.virtual_waiting.on_unlocked)
        self.virtual_waiting.panel.appointmentChosen.connect(self.show_appointment)
        self.details_panel.notificationsRequested.connect(self.notifications.open_history)
        self.patient_panel.appointmentChosen.connect(self.show_appointment)
        self.patient_panel.changed.connect(self.localChange)
        self.patient_panel.bookRequested.connect(
            lambda patient_id: self.new_appointment(patients.get(self._ctx, patient_id)))
        self.agenda.view.doubleClicked.connect(self.edit_appointment)
        self._show_undo_state()

    @Slot()
    def _show_undo_state(self) -> None:
        history = self.agenda.history
        locked = self.lock_overlay.is_locked()
        self.undo_action.setEnabled(history.can_undo() and not locked)
        self.redo_action.setEnabled(history.can_redo() and not locked)
        self.undo_action.setText(history.undo_text())
        self.redo_action.setText(history.redo_text())

    @Slot(str, object)
    def on_slot_requested(self, what: str, request: SlotRequest) -> None:
        """The agenda asked for something at an empty slot (click, drag, right-click)."""
        if what == "new":
            self.new_appointment(slot=request)
            return
        reference = load_reference(self._ctx, self.clinic_id)
        if what == "block":
            self.slot_actions.block(reference, request)
            return
        dialog = self.find_patient(open_booking=False)
        picker = dialog.findChild(PatientPicker)
        if picker is not None:
            picker.patientChosen.connect(
                lambda patient: self.slot_actions.add_to_waitlist(reference, request, patient))

    @Slot(str)
    def edit_appointment(self, appointment_id: str) -> EditDialog | None:
        """Open the edit dialog; an accepted change is shown with View · Undo."""
        try:
            dialog = EditDialog(self._ctx, appointment_id, self.agenda.history, self)
        except LookupError:
            return None
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.changed.connect(self._after_edit)
        dialog.open()
        return dialog

    @Slot(str)
    def _after_edit(self, appointment_id: str) -> None:
        self.after_change()
        self.localChange.emit()
        self.show_appointment(appointment_id)
        details = self.details_panel.details
        if details is not None:
            self.announce(_("Changed: {patient}, {when}.").format(
                patient=details.patient_name,
                when=format_when(details.start, details.time_zone, details.clinic_locale)),
                appointment_id)

    @Slot(object)
    def _after_booking(self, result: ActionResult) -> None:
        """A booking from the dialog: pending count at once, remember it for Undo, show it
        in the agenda and say so with View · Undo."""
        self.after_change()
        made = result.appointment
        if made is None:
            return
        if not result.occurrences:
            self.agenda.history.record(booked_change(self._ctx, made.id))
        self.show_appointment(made.id)
        details = self.details_panel.details
        if details is not None:
            text = _("Booked {patient} with {provider}, {when}.").format(
                patient=details.patient_name, provider=details.provider_name,
                when=format_when(details.start, details.time_zone, details.clinic_locale))
            self.announce(text, made.id, undoable=not result.occurrences)

    @Slot(str)
    def show_appointment(self, appointment_id: str) -> None:
        """Go to the appointment's day, select it in the agenda and show its details."""
        details = load_details(self._ctx, appointment_id)
        if details is None:
            return
        if details.clinic_id != self.clinic_id:
            self.set_clinic(details.clinic_id)
        day = to_local(details.start, details.time_zone).date()
        if not self.first_day() <= day < self.first_day() + timedelta(days=self._days):
            self.go_to(day)
        else:
            self.refresh()
        self.agenda.select(appointment_id)
        self.open_appointment(appointment_id)

    #: The appointment of the change the undo history just remembered, until it is said.
    _just_recorded: str | None = None

    #: Says how to sign in (the demo's e-mail and password); None for a real desk.
    _sign_in_hint: Callable[[], str] | None = None

    def set_sign_in_hint(self, hint: Callable[[], str]) -> None:
        """Show ``hint()`` (translated when called) on the lock and sign-in screens."""
        self._sign_in_hint = hint
        self.lock_overlay.set_hint(self.sign_in_hint())

    def sign_in_hint(self) -> str:
        return "" if self._sign_in_hint is None else self._sign_in_hint()

    def print_day_sheet(self) -> None:
        """Print the shown day's sheet (by provider or by room, as the agenda shows it)."""
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            print_day_sheet(self._ctx, self.clinic_id, self._day, printer, self._columns)

    def save_day_sheet_pdf(self) -> Path | None:
        """Save the shown day's sheet as a PDF file the user chooses."""
        path = self.ask_pdf_path()
        if path is None:
            return None
        day_sheet_pdf(self._ctx, self.clinic_id, self._day, path, self._columns)
        self.show_message(_("Day sheet saved: {path}").format(path=path))
        return path

    def _ask_pdf_path(self) -> Path | None:
        name = f"day-sheet-{self._day.isoformat()}.pdf"
        chosen, _filter = QFileDialog.getSaveFileName(self, _("Save day sheet as PDF"), name,
                                                      _("PDF files (*.pdf)"))
        return Path(chosen) if chosen else None

    def _apply_date_format(self) -> None:
        """The date field speaks the UI language with the shown clinic's conventions."""
        self.date_edit.setDisplayFormat(date_edit_format(self._locale))

    # ------------------------------------------------------------------ lock

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in ACTIVITY_EVENTS and not self.lock_overlay.is_locked():
            self._ctx.sessions.touch()
        return super().eventFilter(watched, event)

    @Slot()
    def _on_locked(self) -> None:
        for window in list(self._windows):
            window.close()
        details = self.details_panel.details
        self._shown_before_lock = None if details is None else details.appointment_id
        self.waitlist_panel.clear()
        self.details_panel.clear()
        self.search_field.clear()
        for item in self._session_actions:
            item.setEnabled(False)
        self.statusBar().clearMessage()

    @Slot()
    def _on_unlocked(self) -> None:
        for item in self._session_actions:
            item.setEnabled(True)
        self._show_department()
        shown, self._shown_before_lock = self._shown_before_lock, None
        self.refresh()
        if shown is not None and not self.lock_overlay.is_locked():
            self.details_panel.show_appointment(shown)

    @Slot()
    def _show_sign_in(self) -> None:
        """The session ended at the lock screen: sign someone in, then reveal the desk."""
        if self._sign_in is not None:
            return
        self._sign_in = SignInScreen(self._ctx.sessions, self._server_check)
        self._sign_in.set_hint(self.sign_in_hint())
        self.takeCentralWidget()  # the lock overlay, kept by its owner
        self.setCentralWidget(self._sign_in)
        self._sign_in.show()
        self._sign_in.email.setFocus()
        self._sign_in.signedIn.connect(self._signed_in)

    @Slot(object)
    def _signed_in(self, _user: object) -> None:
        screen, self._sign_in = self._sign_in, None
        self.lock_overlay.reveal()
        if screen is not None:
            screen.hide()
            screen.deleteLater()
        self._on_unlocked()

    # ------------------------------------------------------------------ settings

    def _restore_settings(self) -> None:
        settings = self._settings
        geometry, state = settings.value("window/geometry"), settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        language = str(settings.value("preferences/language", current_language()))
        if language in ("en", "es"):
            set_language(language)
        stored = str(settings.value("preferences/days", 1))
        self._days = int(stored) if stored in {str(d) for d in VIEW_DAYS} else 1
        self._view_action(self._days).setChecked(True)
        self._columns = "room" if settings.value("preferences/columns") == "room" else "provider"
        (self.by_room_action if self._columns == "room"
         else self.by_provider_action).setChecked(True)
        clinic = settings.value("preferences/clinic")
        if clinic is not None and self.clinic_combo.findData(clinic) >= 0:
            self.clinic_combo.blockSignals(True)
            self.clinic_combo.setCurrentIndex(self.clinic_combo.findData(clinic))
            self.clinic_combo.blockSignals(False)

    def save_settings(self) -> None:
        """Window layout and preferences (never patient data)."""
        settings = self._settings
        settings.setValue("window/geometry", self.saveGeometry())
        if not self.lock_overlay.is_locked():  # locked: the docks are hidden on purpose
            settings.setValue("window/state", self.saveState())
        settings.setValue("preferences/language", current_language())
        settings.setValue("preferences/days", self._days)
        settings.setValue("preferences/columns", self._columns)
        settings.setValue("preferences/clinic", self.clinic_id)
        settings.sync()

    def _choose_language(self, language: str) -> None:
        set_language(language)
        self._settings.setValue("preferences/language", language)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        for window in list(self._windows):
            window.close()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        super().closeEvent(event)

    # ------------------------------------------------------------------ texts

    @Slot(str)
    def _on_language(self, _language: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        title = _("ClinicDesk")
        self.setWindowTitle(f"{title} — {self._desk_name}" if self._desk_name else title)
        self.today_action.setText(_("Today"))
        self.day_action.setText(_("Day"))
        self.week_action.setText(_("Week"))
        self.by_provider_action.setText(_("By provider"))
        self.by_room_action.setText(_("By room"))
        self.find_action.setText(_("Find a patient…"))
        self.new_action.setText(_("New appointment…"))
        self.today_board_action.setText(_("Today board"))
        self.conflict_inbox_action.setText(_("Conflict inbox"))
        self.lock_action.setText(_("Lock the desk"))
        self.sign_out_action.setText(_("Sign out"))
        self.quit_action.setText(_("Quit"))
        self.file_menu.setTitle(_("&File"))
        self.view_menu.setTitle(_("&View"))
        self.language_menu.setTitle(_("Language"))
        self.english_action.setText("English")
        self.spanish_action.setText("Español")
        (self.spanish_action if current_language() == "es"
         else self.english_action).setChecked(True)
        self.toolbar.setWindowTitle(_("Tool bar"))
        self.clinic_combo.setToolTip(_("Clinic"))
        self.date_edit.setToolTip(_("Go to a date"))
        self.search_field.setPlaceholderText(_("Find a patient (Ctrl+F)"))
        self.calendar_dock.setWindowTitle(_("Calendar"))
        self.waitlist_dock.setWindowTitle(_("Waitlist"))
        self.details_dock.setWindowTitle(_("Appointment"))
        qt_locale = QLocale(QLocale.Language.Spanish if current_language() == "es"
                            else QLocale.Language.English)
        for widget in (self.mini_calendar, self.date_edit):
            widget.setLocale(qt_locale)
        # setLocale() moves the week's first day; the agenda's weeks start on Monday.
        self.mini_calendar.setFirstDayOfWeek(Qt.DayOfWeek.Monday)
        self._apply_date_format()
        self.lock_overlay.set_hint(self.sign_in_hint())
        self.edit_menu.setTitle(_("&Edit"))
        self.work_week_action.setText(_("Work week"))
        self.three_day_action.setText(_("3 days"))
        self.print_action.setText(_("Print day sheet…"))
        self.pdf_action.setText(_("Save day sheet as PDF…"))
        self.legend_dock.setWindowTitle(_("Status colours"))
        self.patient_dock.setWindowTitle(_("Patient"))
        self._show_undo_state()
        self._retranslate_steps()
        self.agenda.retranslate()
        self._show_sync_state()
        self._show_conflicts()
        self._show_department()

    def _show_department(self) -> None:
        """The signed-in user's department context ("Department: Cardiology")."""
        user = self._ctx.sessions.user
        names = None if user is None else departments.context_names(user)
        if user is None:
            text = ""
        elif names is None:
            text = _("All departments")
        elif not names:
            text = _("Department: none (shared providers and rooms only)")
        elif len(names) == 1:
            text = _("Department: {name}").format(name=names[0])
        else:
            text = _("Departments: {names}").format(names=", ".join(names))
        self.department_label.setText(text)

    def _retranslate_steps(self) -> None:
        week = self._days in (5, 7)
        if self._days == 3:
            self.previous_action.setText(_("Previous 3 days"))
            self.next_action.setText(_("Next 3 days"))
            return
        self.previous_action.setText(_("Previous week") if week else _("Previous day"))
        self.next_action.setText(_("Next week") if week else _("Next day"))

    def _show_sync_state(self) -> None:
        status = self._status
        state = _("Online") if status.online else _("Offline")
        pending = ngettext("{count} change waiting to be sent",
                           "{count} changes waiting to be sent",
                           status.pending).format(count=status.pending)
        text = f"{state} · {pending}"
        if status.last_success is not None:
            last = format_clock(status.last_success, self._zone, self._locale)
            text = f"{text} · " + _("last sync {time}").format(time=last)
        if status.error:
            text = f"{text} · {status.error}"
        self.sync_label.setText(text)
        self.sync_label.setStyleSheet("" if status.online and not status.error
                                      else text_style(ERROR))

    def _show_conflicts(self) -> None:
        self.conflicts_button.setText(_("Conflicts ({count})").format(count=self._conflicts))
        self.conflicts_button.setStyleSheet(text_style(ERROR, bold=True)
                                            if self._conflicts else "")
