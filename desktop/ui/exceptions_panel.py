"""The exceptions panel: messages that reached a patient by no channel, as things to do.

Each open staff alert reads as a sentence in the desk's language, built here from
the server's reason and the desk's own data — "Reminder for 10:30 A. G. not
delivered: no valid phone. Call +34 600 111 222." — with the appointment's time
in the clinic's zone. Actions: *Resolve* (asks to confirm, with an optional
note), *Open appointment* (selects it in the agenda), *Copy phone*.

The list is read off the UI thread (:meth:`ExceptionsPanel.refresh`) after each
sync and on a timer, and kept in the desk's store: when the server cannot be
reached — also right after a start — the last list shows, marked offline.
Locking the desk empties the panel (patient initials and phones).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services.context import DeskContext
from desktop.services.notifications import (
    AlertPerson,
    NotificationsOffline,
    NotificationsRefused,
    NotificationsService,
    StaffAlert,
    alert_people,
    can_resolve,
    remember_alerts,
    remembered_alerts,
)
from desktop.services.session import SessionLocked
from desktop.ui.server_read import read_in_thread
from desktop.ui.text import N_, _, format_clock, format_when, language_notifier
from scheduling.timeutil import to_local

log = logging.getLogger(__name__)

#: How often the list is read again without a sync (a sync reads it too).
REFRESH_MS = 120_000
_RED = "color: #b3261e;"
NBSP = "\u00a0"  # initials and phone numbers are never broken across lines

#: "… not delivered", one full sentence per kind (word order differs by language).
UNDELIVERED = {
    "reminder": N_("Reminder for {time} {patient} not delivered: {reason}."),
    "created": N_("Booking confirmation for {time} {patient} not delivered: {reason}."),
    "modified": N_("Change notice for {time} {patient} not delivered: {reason}."),
    "cancelled": N_("Cancellation notice for {time} {patient} not delivered: {reason}."),
    "outage": N_("Appointment at {time} {patient} could not be re-routed: {reason}."),
    "rerouted": N_("Outage re-route notice for {time} {patient} not delivered: {reason}."),
    "provider-nojoin": N_("Video visit at {time} {patient}: the provider has not joined; "
                          "{reason}."),
    "nojoin-offer": N_("Backup-provider offer for {time} {patient} not delivered: {reason}."),
}
#: The summary of an outage incident (reason ``rerouted:<moved>:<not placed>``).
OUTAGE_SUMMARY = N_("Outage from {time}: {moved} appointments re-routed, {unplaced} could not "
                    "be (each listed here).")
REASONS = {
    "no_contact": N_("no phone or e-mail on file"),
    "invalid_email": N_("no valid e-mail"),
    "invalid_phone": N_("no valid phone"),
    "smtp_refused": N_("the mail server refused it"),
    "gateway_failed": N_("the SMS service failed"),
    "all_channels_failed": N_("every channel failed"),
    "opted_out": N_("the patient opted out of messages"),
    "no_alternative": N_("its resource is out of service and no other placement is free"),
    "provider_not_joined": N_("the patient was offered a backup provider or a new time"),
    "patient_took_backup": N_("the patient moved to the backup provider"),
    "patient_rebooked": N_("the patient chose a new time"),
    "provider_joined_late": N_("the provider joined late and the offer was withdrawn"),
}


def reason_text(reason: str) -> str:
    return _(REASONS[reason]) if reason in REASONS else _("it could not be sent ({code})").format(
        code=reason)


def alert_sentence(alert: StaffAlert, person: AlertPerson, now: datetime) -> str:
    """The alert as one actionable sentence (what failed, then what to do)."""
    zone, locale = person.time_zone, person.clinic_locale
    same_day = to_local(alert.appointment_start, zone).date() == to_local(now, zone).date()
    when = (format_clock(alert.appointment_start, zone, locale) if same_day
            else format_when(alert.appointment_start, zone, locale))
    if alert.kind == "outage-summary":
        _code, moved, unplaced = [*alert.reason.split(":"), "?", "?"][:3]
        return _(OUTAGE_SUMMARY).format(time=when, moved=moved, unplaced=unplaced)
    patient = person.initials.replace(" ", NBSP) or _("a patient not on this desk")
    sentence = _(UNDELIVERED.get(alert.kind, UNDELIVERED["reminder"])).format(
        time=when, patient=patient, reason=reason_text(alert.reason))
    if person.phone:  # kept on one line: a number broken in two is misread
        todo = _("Call {phone}.").format(phone=person.phone.replace(" ", NBSP))
    elif person.email:
        todo = _("Write to {email}.").format(email=person.email)
    else:
        todo = _("Add a phone number to the patient's details.")
    return f"{sentence} {todo}"


class ExceptionsPanel(QWidget):
    """Signals ``appointmentRequested(appointment_id)``, ``countChanged(open alerts)`` and
    ``loaded()`` after each read of the server (answered or not)."""

    appointmentRequested = Signal(str)
    countChanged = Signal(int)
    loaded = Signal()
    _arrived = Signal(object, object)  # (alerts or None, error or None), from the reader thread

    def __init__(self, ctx: DeskContext, parent: QWidget | None = None,
                 clinic_zone: Callable[[], tuple[str, str]] | None = None) -> None:
        """``clinic_zone``: the shown clinic's (time zone, locale), for the time of the
        last read when no alert names a clinic."""
        super().__init__(parent)
        self._ctx, self._clinic_zone = ctx, clinic_zone
        self._service: NotificationsService | None = None
        self._alerts: list[StaffAlert] = []
        self._people: dict[str, AlertPerson] = {}
        self._updated: datetime | None = None
        self._offline = False
        self._reading = False
        self.last_message = ""
        #: Asks for the resolution note (None: cancelled). Tests replace it.
        self.ask_note: Callable[[StaffAlert], str | None] = self._ask_note

        self.state_label = QLabel(self)
        self.state_label.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setSpacing(3)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.empty_label = QLabel(self)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.resolve_button = QPushButton(self)
        self.open_button = QPushButton(self)
        self.copy_button = QPushButton(self)
        self.message_label = QLabel(self)
        self.message_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.resolve_button, self.open_button, self.copy_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state_label)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_label, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message_label)

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._arrived.connect(self._show_answer, Qt.ConnectionType.QueuedConnection)
        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.list.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.resolve_button.clicked.connect(lambda _checked=False: self.resolve_selected())
        self.open_button.clicked.connect(lambda _checked=False: self.open_selected())
        self.copy_button.clicked.connect(lambda _checked=False: self.copy_phone())
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    # ------------------------------------------------------------------ reading

    def set_service(self, service: NotificationsService | None) -> None:
        """The server connection (None: a desk without one). Shows the list last read (kept
        on the desk), then reads the server at once and on a timer."""
        self._service = service
        if service is None:
            self._timer.stop()
        else:
            self._timer.start()
            self.show_remembered()
        self.refresh()

    def show_remembered(self) -> None:
        """The list as this desk last read it (after a start or an unlock)."""
        try:
            alerts, self._updated = remembered_alerts(self._ctx)
        except SessionLocked:
            return
        self.show_alerts(alerts)

    @property
    def alerts(self) -> list[StaffAlert]:
        return list(self._alerts)

    @property
    def offline(self) -> bool:
        return self._offline

    @Slot()
    def refresh(self) -> None:
        """Read the open alerts in the background (one read at a time)."""
        service = self._service
        if service is None or self._reading:
            return
        self._reading = True
        read_in_thread(lambda: service.staff_alerts("open"), self._arrived,
                       "clinicdesk-staff-alerts")

    @Slot(object, object)
    def _show_answer(self, alerts: list[StaffAlert] | None, error: Exception | None) -> None:
        self._reading = False
        if isinstance(error, SessionLocked):
            return  # the desk locked meanwhile: the lock cleared the panel
        if alerts is not None:
            self._offline = False
            self._updated = self._ctx.now()
            with contextlib.suppress(SessionLocked):  # locked meanwhile: show_alerts clears
                remember_alerts(self._ctx, alerts, self._updated)
            self.show_alerts(alerts)
        elif isinstance(error, NotificationsRefused):
            self._say(_("The server did not give the list: {reason}").format(
                reason=error.message or error.code))
        else:
            if not isinstance(error, NotificationsOffline):
                log.warning("the staff alerts could not be read: %s", type(error).__name__)
            self._offline = True
            self._show_state()
        self.loaded.emit()

    def show_alerts(self, alerts: list[StaffAlert]) -> None:
        """Show ``alerts`` (the open ones), with the desk's own data about each patient."""
        try:
            self._people = alert_people(self._ctx, alerts)
        except SessionLocked:
            self.clear()
            return
        self._alerts = [a for a in alerts if a.is_open]
        self._fill()
        self.countChanged.emit(len(self._alerts))

    def clear(self) -> None:
        """Forget the list (the desk locked: no patient data may stay on screen)."""
        self._alerts, self._people = [], {}
        self.list.clear()
        self._show_state()
        self.countChanged.emit(0)

    # ------------------------------------------------------------------ actions

    def selected_alert(self) -> StaffAlert | None:
        items = self.list.selectedItems()
        if not items:
            return None
        alert_id = items[0].data(Qt.ItemDataRole.UserRole)
        return next((a for a in self._alerts if a.id == alert_id), None)

    def select_alert(self, alert_id: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == alert_id:
                self.list.setCurrentItem(item)
                return

    @Slot()
    def resolve_selected(self) -> StaffAlert | None:
        """Mark the selected alert done after asking (with an optional note)."""
        alert = self.selected_alert()
        if alert is None or self._service is None:
            return None
        try:
            allowed = can_resolve(self._ctx)
        except SessionLocked:
            return None
        if not allowed:
            self._say(_("Resolving needs the permission to change appointments."))
            return None
        note = self.ask_note(alert)
        if note is None:
            return None
        try:
            resolved = self._service.resolve(alert.id, note.strip() or None)
        except NotificationsRefused as refused:
            if refused.status == 409:
                self._say(_("Someone has already resolved it."))
                self.refresh()
            else:
                self._say(_("The server did not resolve it: {reason}").format(
                    reason=refused.message or refused.code))
            return None
        except NotificationsOffline:
            self._say(_("The server cannot be reached: try again when the desk is online."))
            return None
        left = [a for a in self._alerts if a.id != alert.id]
        with contextlib.suppress(SessionLocked):
            remember_alerts(self._ctx, left, self._updated or self._ctx.now())
        self.show_alerts(left)
        self._say(_("Resolved."))
        return resolved

    @Slot()
    def open_selected(self) -> None:
        alert = self.selected_alert()
        if alert is None:
            return
        person = self._people.get(alert.id)
        if person is None or not person.appointment_known:
            self._say(_("This appointment is not on this desk (cancelled, or in another "
                        "clinic)."))
            return
        self.appointmentRequested.emit(alert.appointment_id)

    @Slot()
    def copy_phone(self) -> str:
        alert = self.selected_alert()
        person = None if alert is None else self._people.get(alert.id)
        if person is None or not person.phone:
            self._say(_("There is no phone number to copy."))
            return ""
        QGuiApplication.clipboard().setText(person.phone)
        self._say(_("Phone number copied."))
        return person.phone

    def _ask_note(self, alert: StaffAlert) -> str | None:
        text, accepted = QInputDialog.getText(
            self, _("Resolve"), _("Mark this as done? A note for your colleagues "
                                  "(optional), e.g. \"called, confirmed\":"),
            QLineEdit.EchoMode.Normal, "")
        return text if accepted else None

    # ------------------------------------------------------------------ display

    def _fill(self) -> None:
        selected = self.selected_alert()
        self.list.clear()
        now = self._ctx.now()
        for alert in self._alerts:
            person = self._people.get(alert.id) or AlertPerson("", "", "", "UTC", "en_US", False)
            item = QListWidgetItem(alert_sentence(alert, person, now))
            item.setData(Qt.ItemDataRole.UserRole, alert.id)
            item.setToolTip(_("Tried: {channels}").format(channels=", ".join(
                _channel_name(c) for c in alert.channels_tried) or "—"))
            self.list.addItem(item)
        if selected is not None:
            self.select_alert(selected.id)
        self._show_state()
        self._selection_changed()

    def _show_state(self) -> None:
        empty = not self._alerts
        self.list.setVisible(not empty)
        self.empty_label.setVisible(empty)
        if self._service is None:
            text = _("Needs a connection to the server.")
        elif self._updated is None:
            text = _("Offline: the list could not be read yet.") if self._offline else \
                _("Reading…")
        else:
            zone, locale = self._zone()
            at = format_clock(self._updated, zone, locale)
            text = (_("Offline: the list as it was at {time}.") if self._offline
                    else _("Updated at {time}.")).format(time=at)
        self.state_label.setText(text)
        self.state_label.setStyleSheet(_RED if self._offline else "color: #5f6368;")

    def _zone(self) -> tuple[str, str]:
        person = next(iter(self._people.values()), None)
        if person is not None:
            return person.time_zone, person.clinic_locale
        return self._clinic_zone() if self._clinic_zone else ("UTC", "en_US")

    @Slot()
    def _selection_changed(self) -> None:
        alert = self.selected_alert()
        person = None if alert is None else self._people.get(alert.id)
        self.resolve_button.setEnabled(alert is not None)
        self.open_button.setEnabled(alert is not None)
        self.copy_button.setEnabled(person is not None and bool(person.phone))

    def _say(self, text: str) -> None:
        self.last_message = text
        self.message_label.setText(text)

    @Slot()
    def retranslate(self) -> None:
        self.resolve_button.setText(_("Resolve…"))
        self.open_button.setText(_("Open appointment"))
        self.copy_button.setText(_("Copy phone"))
        self.empty_label.setText(_("No undelivered messages. Reminders and notices that "
                                   "reach no one appear here."))
        self.message_label.clear()
        self._fill()


def _channel_name(channel: str) -> str:
    return {"email": _("e-mail"), "sms": _("SMS"), "desk": _("desk notice")}.get(channel, channel)


__all__ = ["REFRESH_MS", "ExceptionsPanel", "alert_sentence", "reason_text"]
