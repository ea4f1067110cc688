"""The "Resource out of service" dialog (Care menu, Ctrl+Shift+O).

Choose a provider, room or piece of equipment and the period; **Mark out of service**
writes the outage on the server (new bookings of that resource in that period are
refused from then on) and lists the appointments it hits, each with the placements the
rules accept — same provider in another room, another provider at the same time, or
another time. Pick one per row and **Apply selected**, or **Apply all** (each gets its
first proposal, planned again right before its move). Moves go through the normal move
path; patients hear once; those left with nowhere to go appear in the exceptions panel.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar, cast

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.services.clinic_reference import ClinicReference
from desktop.services.context import DeskContext
from desktop.services.outages import (
    Incident,
    NotificationsOffline,
    NotificationsRefused,
    OutagesService,
    Outcome,
    Proposal,
    patient_names,
)
from desktop.services.session import SessionLocked
from desktop.ui.text import N_, _, format_clock, format_when, language_notifier
from scheduling.timeutil import to_local, to_utc

KINDS = {"other_room": N_("other room"), "other_equipment": N_("other equipment"),
         "other_provider": N_("other provider"), "other_time": N_("other time")}
ACTIONS = {"moved": N_("Moved"), "refused": N_("Taken meanwhile: choose again"),
           "unplaced": N_("Nowhere to go: see Undelivered messages")}



_T = TypeVar("_T")


def _wall(value: datetime) -> QDateTime:
    """A wall-clock date-time for Qt's editors (seconds dropped, as the editors show)."""
    return QDateTime(QDate(value.year, value.month, value.day),
                     QTime(value.hour, value.minute))

class OutageDialog(QDialog):
    def __init__(self, ctx: DeskContext, service: OutagesService, reference: ClinicReference,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._service, self._ref = ctx, service, reference
        self.incident: Incident | None = None
        self.outcomes: dict[str, Outcome] = {}
        self._names: dict[str, str] = {}
        self.last_message = ""

        self.resource_combo = QComboBox(self)
        for kind, items in ((N_("Provider"), reference.providers),
                            (N_("Room"), reference.rooms),
                            (N_("Equipment"), reference.equipment)):
            for item in items:
                self.resource_combo.addItem(f"{item.name} · {_(kind)}", item.id)
        now = to_local(ctx.now(), reference.time_zone).replace(second=0, microsecond=0,
                                                               tzinfo=None)
        self.from_edit = QDateTimeEdit(_wall(now), self)
        self.until_edit = QDateTimeEdit(_wall(now + timedelta(hours=8)), self)
        for edit in (self.from_edit, self.until_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("dd/MM/yyyy HH:mm")
        self.reason_edit = QLineEdit(self)
        self.mark_button = QPushButton(self)
        self.form = QFormLayout()
        self.resource_label, self.from_label, self.until_label, self.reason_label = (
            QLabel(self), QLabel(self), QLabel(self), QLabel(self))
        self.form.addRow(self.resource_label, self.resource_combo)
        self.form.addRow(self.from_label, self.from_edit)
        self.form.addRow(self.until_label, self.until_edit)
        self.form.addRow(self.reason_label, self.reason_edit)

        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)
        self.table = QTableWidget(0, 4, self)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.apply_button, self.apply_all_button, self.close_button = (
            QPushButton(self), QPushButton(self), QPushButton(self))
        self.message_label = QLabel(self)
        self.message_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.apply_all_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        top = QHBoxLayout()
        top.addLayout(self.form, 1)
        top.addWidget(self.mark_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message_label)
        layout.addLayout(buttons)

        self.mark_button.clicked.connect(lambda _checked=False: self.mark())
        self.apply_button.clicked.connect(lambda _checked=False: self.apply_selected())
        self.apply_all_button.clicked.connect(lambda _checked=False: self.apply_all())
        self.close_button.clicked.connect(self.close)
        language_notifier().languageChanged.connect(self.retranslate)
        self.resize(980, 620)
        self.retranslate()

    # ------------------------------------------------------------------ actions

    def set_period(self, start: datetime, end: datetime) -> None:
        """The period (UTC instants), shown in the clinic's wall-clock time."""
        zone = self._ref.time_zone
        self.from_edit.setDateTime(_wall(to_local(start, zone)))
        self.until_edit.setDateTime(_wall(to_local(end, zone)))

    def choose_resource(self, resource_id: str) -> None:
        self.resource_combo.setCurrentIndex(max(0, self.resource_combo.findData(resource_id)))

    @Slot()
    def mark(self) -> Incident | None:
        zone = self._ref.time_zone
        start = to_utc(cast(datetime, self.from_edit.dateTime().toPython()), zone)
        end = to_utc(cast(datetime, self.until_edit.dateTime().toPython()), zone)
        if end <= start:
            self._say(_("The end must come after the start."))
            return None
        return self._load(lambda: self._service.start(
            str(self.resource_combo.currentData()), start, end, self.reason_edit.text().strip()))

    @Slot()
    def apply_selected(self) -> list[Outcome]:
        incident = self.incident
        if incident is None:
            return []
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        done: list[Outcome] = []
        for row in rows:
            affected = incident.affected[row]
            combo = self.table.cellWidget(row, 3)
            if not isinstance(combo, QComboBox) or combo.currentIndex() < 0:
                continue
            proposal = affected.proposals[combo.currentIndex()]
            outcome = self._ask(functools.partial(
                self._service.apply, incident.id, affected.appointment_id, proposal))
            if outcome is None:
                break
            done.append(outcome)
        self._after(done)
        return done

    @Slot()
    def apply_all(self) -> list[Outcome]:
        incident = self.incident
        if incident is None:
            return []
        done = self._ask(lambda: self._service.apply_all(incident.id)) or []
        self._after(done)
        return done

    # ------------------------------------------------------------------ showing

    def _after(self, done: list[Outcome]) -> None:
        for outcome in done:
            self.outcomes[outcome.appointment_id] = outcome
        moved = sum(1 for o in done if o.action == "moved")
        unplaced = sum(1 for o in done if o.action == "unplaced")
        if self.incident is not None:
            incident_id = self.incident.id
            self._load(lambda: self._service.read(incident_id), keep_message=True)
        self._say(_("{moved} moved, {unplaced} left for the exceptions panel.").format(
            moved=moved, unplaced=unplaced))

    def _load(self, read: Callable[[], Incident], *,
              keep_message: bool = False) -> Incident | None:
        incident = self._ask(read)
        if incident is None:
            return None
        self.incident = incident
        try:
            self._names = patient_names(self._ctx, [a.patient_id for a in incident.affected])
        except SessionLocked:
            self.close()
            return None
        self._fill()
        if not keep_message:
            self._say("")
        return incident

    def _ask(self, action: Callable[[], _T]) -> _T | None:
        try:
            return action()
        except NotificationsRefused as refused:
            self._say(refused.message or refused.code)
        except NotificationsOffline:
            self._say(_("The server cannot be reached; try again when the desk is online."))
        return None

    def proposal_text(self, proposal: Proposal) -> str:
        zone, locale, names = self._ref.time_zone, self._ref.locale, self._ref.names
        where = names.get(proposal.provider_id, "")
        if proposal.room_id:
            where += " · " + names.get(proposal.room_id, "")
        kind = _(KINDS.get(proposal.kind, KINDS["other_time"]))
        return f"{format_when(proposal.start, zone, locale)} · {where} ({kind})"

    def _fill(self) -> None:
        incident = self.incident
        assert incident is not None
        zone, locale, names = self._ref.time_zone, self._ref.locale, self._ref.names
        self.table.setRowCount(len(incident.affected))
        for row, affected in enumerate(incident.affected):
            where = names.get(affected.provider_id, "")
            if affected.room_id:
                where += " · " + names.get(affected.room_id, "")
            when = (f"{format_when(affected.start, zone, locale)}–"
                    f"{format_clock(affected.end, zone, locale)}")
            for column, text in enumerate(
                    (when, self._names.get(affected.patient_id, _("a patient not on this desk")),
                     where)):
                self.table.setItem(row, column, QTableWidgetItem(text))
            combo = QComboBox(self.table)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            for proposal in affected.proposals:
                combo.addItem(self.proposal_text(proposal))
            if not affected.proposals:
                combo.addItem(_("No free placement"))
                combo.setEnabled(False)
            self.table.setCellWidget(row, 3, combo)
        self.table.resizeColumnsToContents()
        self.summary_label.setText(_(
            "{count} appointments are hit ({decided} decided so far). New bookings of this "
            "resource in this period are refused.").format(count=len(incident.affected),
                                                           decided=incident.decided))
        has = bool(incident.affected)
        self.apply_button.setEnabled(has)
        self.apply_all_button.setEnabled(has)

    def _say(self, text: str) -> None:
        self.last_message = text
        self.message_label.setText(text)

    @Slot()
    def retranslate(self) -> None:
        self.setWindowTitle(_("Resource out of service"))
        self.resource_label.setText(_("Resource"))
        self.from_label.setText(_("From"))
        self.until_label.setText(_("Until"))
        self.reason_label.setText(_("Reason"))
        self.mark_button.setText(_("Mark out of service"))
        self.table.setHorizontalHeaderLabels(
            [_("When"), _("Patient"), _("Provider · room"), _("Proposal")])
        self.apply_button.setText(_("Apply selected"))
        self.apply_all_button.setText(_("Apply all"))
        self.close_button.setText(_("Close"))
        if self.incident is None:
            self.summary_label.setText(_(
                "Choose the resource and the period, then mark it out of service to see the "
                "appointments it hits and where they can go."))
            self.apply_button.setEnabled(False)
            self.apply_all_button.setEnabled(False)
        else:
            self._fill()
