"""The today board: the day at a glance for the front desk (seed 000's dashboard, seed 001's
today view and statistics).

Today's appointments grouped by where the patient is (expected, waiting with the
wait time, in the room, completed, no-show), what needs attention (conflicts,
outages, approvals, changes not yet sent), how booked each provider is, and the
appointment statistics of a chosen range of days. Everything is read again by
:meth:`TodayBoard.refresh`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import cast

from PySide6.QtCore import QDate, QTimer, Slot
from PySide6.QtWidgets import (
    QDateEdit,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from desktop.services.clinic_reference import ClinicReference, load_reference
from desktop.services.context import DeskContext
from desktop.services.session import SessionLocked
from desktop.services.today import RangeStatistics, TodaySnapshot, load_statistics, load_today
from desktop.ui.text import (
    _,
    date_edit_format,
    format_clock,
    format_day,
    format_number,
    format_ratio,
    language_notifier,
    ngettext,
)
from desktop.ui.theme import set_heading
from desktop.ui.today_model import TodayModel, UtilizationModel
from scheduling.i18n import TERMS
from scheduling.timeutil import local_date

#: The statistics range a board opens with: the last four weeks up to today.
DEFAULT_RANGE_DAYS = 27
#: The board reads the day again this often by itself (lateness, arrivals, other desks).
AUTO_REFRESH_MS = 30_000


class TodayBoard(QWidget):
    """The board of ``clinic_id`` for ``day`` (default: today in the clinic's zone)."""

    def __init__(self, ctx: DeskContext, clinic_id: str, *, day: date | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.reference: ClinicReference = load_reference(ctx, clinic_id)
        ref = self.reference
        self.day = day or local_date(ctx.now(), ref.time_zone)
        self._follows_today = day is None  # rolls over to the next day at midnight
        self.snapshot: TodaySnapshot | None = None
        self.statistics: RangeStatistics | None = None

        self.title = QLabel(self)
        set_heading(self.title, 1.6)
        self.refresh_button = QPushButton(self)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.refresh_button)

        self.exceptions = QGroupBox(self)
        self.exception_labels = [QLabel(self.exceptions) for _i in range(4)]
        exceptions_layout = QVBoxLayout(self.exceptions)
        for label in self.exception_labels:
            label.setWordWrap(True)
            exceptions_layout.addWidget(label)
        exceptions_layout.addStretch(1)

        self.model = TodayModel(ref.locale, self)
        self.tree = QTreeView(self)
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # Every column as wide as its words, the patient's name too: a narrow board
        # scrolls sideways instead of cutting a name or "late by 2 hr".
        self.tree.header().setStretchLastSection(False)

        self.utilization = QGroupBox(self)
        self.utilization_model = UtilizationModel(ref.locale, self)
        self.utilization_table = QTableView(self.utilization)
        self.utilization_table.setModel(self.utilization_model)
        self.utilization_table.verticalHeader().setVisible(False)
        # Every column as wide as its words (eight of them: counts by status, then time);
        # a narrow window scrolls sideways instead of cutting a header or a name.
        self.utilization_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.utilization_table.horizontalHeader().setStretchLastSection(True)
        QVBoxLayout(self.utilization).addWidget(self.utilization_table)

        self.stats = QGroupBox(self)
        stats_form = QFormLayout(self.stats)
        self.first_day, self.last_day = QDateEdit(self.stats), QDateEdit(self.stats)
        for edit, value in ((self.first_day, self.day - timedelta(days=DEFAULT_RANGE_DAYS)),
                            (self.last_day, self.day)):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat(date_edit_format(ref.locale))
            edit.setDate(QDate(value.year, value.month, value.day))
            edit.dateChanged.connect(self.refresh_statistics)
        dates = QHBoxLayout()
        dates.addWidget(self.first_day)
        self.to_label = QLabel(self.stats)
        dates.addWidget(self.to_label)
        dates.addWidget(self.last_day)
        dates.addStretch(1)
        self.stat_titles = [QLabel(self.stats) for _i in range(6)]
        self.stat_values = [QLabel(self.stats) for _i in range(5)]
        stats_form.addRow(self.stat_titles[0], dates)
        for title, figure in zip(self.stat_titles[1:], self.stat_values, strict=True):
            figure.setWordWrap(True)
            stats_form.addRow(title, figure)

        grid = QGridLayout(self)
        grid.addLayout(header, 0, 0, 1, 2)
        grid.addWidget(self.tree, 1, 0, 2, 1)
        grid.addWidget(self.exceptions, 1, 1)
        grid.addWidget(self.utilization, 2, 1)
        grid.addWidget(self.stats, 3, 0, 1, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(1, 1)
        grid.setRowStretch(2, 1)

        self.refresh_button.clicked.connect(self.refresh)
        self.auto_refresh = QTimer(self)
        self.auto_refresh.setInterval(AUTO_REFRESH_MS)
        self.auto_refresh.timeout.connect(self.refresh)
        self.auto_refresh.start()
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()
        self.refresh()

    # ------------------------------------------------------------------ reading

    @Slot()
    def refresh(self) -> None:
        """Read the day and the statistics again and show them."""
        if self._follows_today:
            self.day = local_date(self._ctx.now(), self.reference.time_zone)
        try:
            self.snapshot = load_today(self._ctx, self.reference.clinic_id, self.day)
        except SessionLocked:
            return
        self.model.set_snapshot(self.snapshot)
        self.tree.expandAll()
        self.utilization_model.set_loads(self.snapshot.utilization)
        self.refresh_statistics()
        self._show_texts()

    @Slot()
    def refresh_statistics(self) -> None:
        first = cast(date, self.first_day.date().toPython())
        last = cast(date, self.last_day.date().toPython())
        if last < first:
            self.statistics = None
        else:
            try:
                self.statistics = load_statistics(self._ctx, self.reference.clinic_id, first,
                                                  last, self.reference.time_zone)
            except SessionLocked:
                return
        self._show_texts()

    # ------------------------------------------------------------------ texts

    @Slot()
    def retranslate(self) -> None:
        self.refresh_button.setText(_("Refresh"))
        self.exceptions.setTitle(_("Needs attention"))
        self.utilization.setTitle(_("Providers today"))
        self.stats.setTitle(_("Statistics"))
        self.to_label.setText(_("to"))
        for label, text in zip(self.stat_titles, (
                _("Days"), _("Appointments"), _("Average per day"), _("No-show rate"),
                _("By status"), _("By type")), strict=True):
            label.setText(text)
        self.model.retranslate()
        self.utilization_model.retranslate()
        self._show_texts()

    def _show_texts(self) -> None:
        ref = self.reference
        self.title.setText(_("Today: {day}").format(day=format_day(self.day, ref.locale)))
        snapshot = self.snapshot
        if snapshot is not None:
            outages = "; ".join(
                _("{resource} out of service {start}–{end}").format(
                    resource=o.resource_name,
                    start=format_clock(o.start, ref.time_zone, ref.locale),
                    end=format_clock(o.end, ref.time_zone, ref.locale))
                for o in snapshot.outages) or _("No outages today.")
            texts = (
                ngettext("{count} conflict to look at", "{count} conflicts to look at",
                         snapshot.conflicts).format(count=snapshot.conflicts),
                outages,
                ngettext("{count} appointment awaiting approval",
                         "{count} appointments awaiting approval",
                         snapshot.pending_approvals).format(count=snapshot.pending_approvals),
                ngettext("{count} change not yet sent to the server",
                         "{count} changes not yet sent to the server",
                         snapshot.waiting_to_sync).format(count=snapshot.waiting_to_sync),
            )
            for label, text in zip(self.exception_labels, texts, strict=True):
                label.setText(text)
        stats = self.statistics
        if stats is None:
            for value in self.stat_values:
                value.setText(_("Choose a last day on or after the first day."))
            return
        by_status = ", ".join(
            _("{status}: {count}").format(status=_(TERMS.get(status, status)), count=count)
            for status, count in stats.by_status.items() if count)
        by_type = ", ".join(_("{type}: {count}").format(type=name, count=count)
                            for name, count in stats.by_type.items())
        for value, text in zip(self.stat_values, (
                format_number(stats.total, ref.locale),
                format_number(stats.average_per_day, ref.locale),
                format_ratio(stats.no_show_rate, ref.locale),
                by_status or "—", by_type or "—"), strict=True):
            value.setText(text)
