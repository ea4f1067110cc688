"""The follow-up list: follow-ups and recalls due or overdue today in the clinic, as things
to do, with their outreach (Care menu, Ctrl+Shift+F).

Each row says what is wanted and by when — "OVERDUE · Follow-up · Ana García ·
Check-up · by Sunday, 29 March 2026" — and the last outreach. Actions: *Send
invitation* (the server queues a booking invitation in the notifications outbox),
*Log call…* (a note; who and when come from the signed-in user and the server's clock)
and *Book now* (the booking dialog for the patient and type). A booking that matches
satisfies the follow-up on the server: the next read drops it. The header counts the
follow-ups missed in the last four weeks (the server's statistics).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from PySide6.QtCore import Qt, Signal, Slot
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
from desktop.services.followups import (
    FollowUp,
    FollowUpPerson,
    FollowUpsService,
    NotificationsOffline,
    NotificationsRefused,
    follow_up_people,
)
from desktop.services.session import SessionLocked
from desktop.ui.text import N_, _, format_day, language_notifier

_RED = "color: #b3261e;"
KINDS = {"follow_up": N_("Follow-up"), "recall": N_("Recall")}
#: The statistics shown in the header: the last four weeks up to today.
MISSED_DAYS = 28


class FollowUpPanel(QWidget):
    """Signals ``loaded()`` after each read and ``bookRequested(follow_up)``."""

    loaded = Signal()
    bookRequested = Signal(object)

    def __init__(self, ctx: DeskContext, clinic: Callable[[], tuple[str, str]],
                 parent: QWidget | None = None) -> None:
        """``clinic``: the (id, locale) of the clinic the main window shows."""
        super().__init__(parent)
        self._ctx, self._clinic = ctx, clinic
        self._service: FollowUpsService | None = None
        self._items: list[FollowUp] = []
        self._people: dict[str, FollowUpPerson] = {}
        self._missed: int | None = None
        self._offline = False
        self.last_message = ""
        #: Asks for the call's note (None: cancelled). Tests replace it.
        self.ask_note: Callable[[FollowUp], str | None] = self._ask_note

        self.state_label = QLabel(self)
        self.state_label.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setSpacing(3)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.empty_label = QLabel(self)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.invite_button, self.call_button, self.book_button = (
            QPushButton(self), QPushButton(self), QPushButton(self))
        self.refresh_button = QPushButton(self)
        self.message_label = QLabel(self)
        self.message_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.invite_button, self.call_button, self.book_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state_label)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_label, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message_label)

        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.list.itemDoubleClicked.connect(lambda _item: self.book_selected())
        self.invite_button.clicked.connect(lambda _checked=False: self.invite_selected())
        self.call_button.clicked.connect(lambda _checked=False: self.log_call_selected())
        self.book_button.clicked.connect(lambda _checked=False: self.book_selected())
        self.refresh_button.clicked.connect(lambda _checked=False: self.refresh())
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    # ------------------------------------------------------------------ reading

    def set_service(self, service: FollowUpsService | None) -> None:
        """The server connection. The list is read when it is shown (the dock's
        visibility), never while the window opens: the desk's first sync comes first."""
        self._service = service
        if self.isVisible():
            self.refresh()

    @property
    def items(self) -> list[FollowUp]:
        return list(self._items)

    @property
    def offline(self) -> bool:
        return self._offline

    @Slot()
    def refresh(self) -> None:
        """Read the clinic's due and overdue follow-ups and the missed count."""
        if self._service is None:
            self._show_state()
            self.loaded.emit()
            return
        clinic_id, _locale = self._clinic()
        try:
            items = self._service.due(clinic_id)
            today = self._ctx.now().date()
            counts = self._service.summary(clinic_id, today - timedelta(days=MISSED_DAYS),
                                           today)
            self._people = follow_up_people(self._ctx, items)
        except SessionLocked:
            self.clear()
            return
        except NotificationsRefused as refused:
            self._say(_("The server did not give the list: {reason}").format(
                reason=refused.message or refused.code))
        except NotificationsOffline:
            self._offline = True
            self._show_state()
        else:
            self._offline = False
            self._items, self._missed = items, counts.get("missed", 0)
            self._fill()
        self.loaded.emit()

    def clear(self) -> None:
        """Forget the list (the desk locked: no patient data may stay on screen)."""
        self._items, self._people = [], {}
        self.list.clear()
        self._show_state()

    # ------------------------------------------------------------------ actions

    def selected(self) -> FollowUp | None:
        chosen = self.list.selectedItems()
        if not chosen:
            return None
        wanted = chosen[0].data(Qt.ItemDataRole.UserRole)
        return next((f for f in self._items if f.id == wanted), None)

    def select(self, follow_up_id: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == follow_up_id:
                self.list.setCurrentRow(row)

    @Slot()
    def invite_selected(self) -> bool:
        item = self.selected()
        if item is None or self._service is None:
            return False
        return self._act(lambda service: service.invite(item.id),
                         _("Invitation queued: the patient gets it by their usual channel."))

    @Slot()
    def log_call_selected(self) -> bool:
        item = self.selected()
        if item is None or self._service is None:
            return False
        note = self.ask_note(item)
        if note is None:
            return False
        return self._act(lambda service: service.log_call(item.id, note), _("Call logged."))

    @Slot()
    def book_selected(self) -> None:
        item = self.selected()
        if item is not None:
            self.bookRequested.emit(item)

    def _act(self, action: Callable[[FollowUpsService], None], done: str) -> bool:
        assert self._service is not None
        try:
            action(self._service)
        except NotificationsRefused as refused:
            self._say(refused.message or refused.code)
            self.refresh()
            return False
        except NotificationsOffline:
            self._say(_("The server cannot be reached; try again when the desk is online."))
            return False
        self.refresh()
        self._say(done)
        return True

    def _ask_note(self, item: FollowUp) -> str | None:
        person = self._people.get(item.id)
        text, accepted = QInputDialog.getText(
            self, _("Log call"), _("What was said (optional) — {patient}").format(
                patient=person.name if person else ""), QLineEdit.EchoMode.Normal, "")
        return text.strip() if accepted else None

    # ------------------------------------------------------------------ showing

    def row_text(self, item: FollowUp) -> str:
        _clinic_id, locale = self._clinic()
        person = self._people.get(item.id) or FollowUpPerson("", "", "")
        standing = _("OVERDUE") if item.overdue else _("Due")
        parts = [standing, _(KINDS.get(item.kind, KINDS["follow_up"])),
                 person.name or _("a patient not on this desk"), person.type_name,
                 _("by {day}").format(day=format_day(item.due_until, locale))]
        text = " · ".join(part for part in parts if part)
        if person.phone:
            text += "\n" + _("Phone: {phone}").format(phone=person.phone)
        if item.contacts:
            last = item.contacts[-1]
            what = _("invitation sent") if last.kind == "invitation" else _("call logged")
            text += "\n" + _("Last contact: {what} on {day}").format(
                what=what, day=format_day(last.at.date(), locale))
            if last.note:
                text += f" — {last.note}"
        return text

    def _fill(self) -> None:
        selected = self.selected()
        self.list.clear()
        for item in self._items:
            row = QListWidgetItem(self.row_text(item))
            row.setData(Qt.ItemDataRole.UserRole, item.id)
            if item.overdue:
                row.setForeground(Qt.GlobalColor.darkRed)
            self.list.addItem(row)
        if selected is not None:
            self.select(selected.id)
        self._show_state()

    def _show_state(self) -> None:
        if self._offline:
            self.state_label.setText(_("Offline: the follow-ups need the server."))
            self.state_label.setStyleSheet(_RED)
        elif self._missed is not None:
            self.state_label.setText(_("Missed in the last four weeks: {count}").format(
                count=self._missed))
            self.state_label.setStyleSheet("")
        else:
            self.state_label.setText(_("The follow-ups need a connection to the server."))
            self.state_label.setStyleSheet("")
        empty = not self._items
        self.list.setVisible(not empty)
        self.empty_label.setVisible(empty)
        self._selection_changed()

    def _selection_changed(self) -> None:
        chosen = self.selected() is not None and self._service is not None
        for button in (self.invite_button, self.call_button, self.book_button):
            button.setEnabled(chosen)

    def _say(self, text: str) -> None:
        self.last_message = text
        self.message_label.setText(text)

    @Slot()
    def retranslate(self) -> None:
        self.invite_button.setText(_("Send invitation"))
        self.call_button.setText(_("Log call…"))
        self.book_button.setText(_("Book now"))
        self.refresh_button.setText(_("Refresh"))
        self.empty_label.setText(_("No follow-up or recall is due."))
        self._fill()
