"""One appointment's notifications: what was sent, when, by which channel, and how it went.

Opened with "Notifications…" in the details panel. One row per message the
server planned for the appointment (notices, reminders): the kind, the channel,
when it was due and sent in the clinic's zone, its delivery state with the
provider's error when it failed, and the recipient masked by the server
("a…@example.org", "+34 …22") — the full address is never sent to the desk.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.services.appointment_details import AppointmentDetails
from desktop.services.notifications import (
    NotificationsError,
    NotificationsOffline,
    NotificationsRefused,
    NotificationsService,
    SentNotification,
)
from desktop.ui.text import N_, _, format_when, language_notifier

KIND_NAMES = {"created": N_("Booking confirmation"), "modified": N_("Change notice"),
              "cancelled": N_("Cancellation notice"), "reminder": N_("Reminder"),
              "staff-alert": N_("Staff alert"), "invitation": N_("Booking invitation"),
              "rerouted": N_("Outage re-route notice"),
              "nojoin-offer": N_("Video visit: other provider or new time")}
CHANNEL_NAMES = {"email": N_("E-mail"), "sms": N_("SMS"), "desk": N_("Desk notice")}
STATE_NAMES = {"pending": N_("waiting"), "sending": N_("sending"), "sent": N_("sent"),
               "failed": N_("failed"), "void": N_("not sent: the appointment changed"),
               "skipped": N_("not sent (opted out, quiet hours or no address)")}
COLUMNS = 6


def state_text(item: SentNotification) -> str:
    state = _(STATE_NAMES[item.state]) if item.state in STATE_NAMES else item.state
    if item.error_code:
        state = _("{state} ({error})").format(state=state, error=item.error_code)
    if item.attempts > 1:
        state = _("{state}, {count} attempts").format(state=state, count=item.attempts)
    return state


class NotificationHistoryDialog(QDialog):
    """The notification history of one appointment, read from the server when opened."""

    def __init__(self, service: NotificationsService, details: AppointmentDetails,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service, self.details = service, details
        self._items: list[SentNotification] = []
        self.error: NotificationsError | None = None
        self.heading = QLabel(self)
        self.heading.setWordWrap(True)
        self.heading.setStyleSheet("font-weight: bold;")
        self.table = QTableWidget(0, COLUMNS, self)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS - 1, QHeaderView.ResizeMode.Stretch)
        self.empty = QLabel(self)
        self.empty.setWordWrap(True)
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b3261e;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.buttons.rejected.connect(self.reject)
        language_notifier().languageChanged.connect(self.retranslate)
        self.resize(860, 380)
        self.reload()
        self.retranslate()

    def reload(self) -> None:
        try:
            self._items = self._service.history(self.details.appointment_id)
            self.error = None
        except NotificationsError as error:
            self.error = error
        self._show()

    def rows(self) -> list[list[str]]:
        """The table's texts, row by row (what the receptionist reads)."""
        return [[self.table.item(r, c).text() for c in range(COLUMNS)]  # type: ignore[union-attr]
                for r in range(self.table.rowCount())]

    def _show(self) -> None:
        details = self.details
        zone, locale = details.time_zone, details.clinic_locale
        self.table.setRowCount(len(self._items))
        for row, item in enumerate(self._items):
            texts = (_(KIND_NAMES.get(item.kind, item.kind)),
                     _(CHANNEL_NAMES.get(item.channel, item.channel)),
                     format_when(item.due_at, zone, locale),
                     format_when(item.sent_at, zone, locale) if item.sent_at else "—",
                     item.recipient_hint or "—", state_text(item))
            for column, text in enumerate(texts):
                cell = QTableWidgetItem(text)
                if column == COLUMNS - 1 and item.state == "failed":
                    cell.setForeground(Qt.GlobalColor.darkRed)
                self.table.setItem(row, column, cell)
        self.table.resizeRowsToContents()
        self.empty.setVisible(not self._items and self.error is None)
        error = self.error
        if isinstance(error, NotificationsOffline):
            self.problem.setText(_("The server cannot be reached, so the history cannot be "
                                   "shown now. Try again when the desk is online."))
        elif isinstance(error, NotificationsRefused):
            self.problem.setText(_("The server did not give the history: {reason}").format(
                reason=error.message or error.code))
        self.problem.setVisible(error is not None)

    @Slot()
    def retranslate(self) -> None:
        details = self.details
        self.setWindowTitle(_("Notifications"))
        self.heading.setText(_("Messages about {patient}, {when}").format(
            patient=details.patient_name,
            when=format_when(details.start, details.time_zone, details.clinic_locale)))
        self.table.setHorizontalHeaderLabels([_("Message"), _("Channel"), _("Due"), _("Sent"),
                                              _("To"), _("State")])
        self.empty.setText(_("No messages for this appointment yet."))
        self._show()


__all__ = ["NotificationHistoryDialog", "state_text"]
