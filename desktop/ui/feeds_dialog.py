"""The "Calendar feeds" dialog: subscribe links for providers' and rooms' calendars.

Create a link (calendar, privacy level, a label such as "Phone", language), copy it
or scan its QR code with a phone — it is shown once, the server keeps only a hash —
and revoke links that are no longer wanted. ``full`` shows patient names and
notes in the calendar app; it is offered only where the organization allows it,
and choosing it shows a warning.
"""

from __future__ import annotations

from io import BytesIO

import segno
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.services.feeds import FeedDTO, FeedResource, FeedsService
from desktop.ui.text import _, current_language, format_when, language_notifier
from desktop.ui.theme import ERROR, text_style

PRIVACY_LEVELS = ("busy", "initials", "full")


def privacy_name(level: str) -> str:
    return {"busy": _("Busy only"), "initials": _("Type and initials"),
            "full": _("Full details")}.get(level, level)


def qr_pixmap(text: str, scale: int = 4) -> QPixmap:
    """A QR code of ``text`` (segno), for a phone's camera."""
    buffer = BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


class FeedsDialog(QDialog):
    """Create, copy, show as QR code and revoke calendar feed links."""

    def __init__(self, service: FeedsService, resources: list[FeedResource], zone: str,
                 locale: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service, self._resources = service, resources
        self._zone, self._locale = zone, locale
        self._feeds: list[FeedDTO] = []
        self._full_allowed = False

        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.resource_combo = QComboBox(self)
        for resource in resources:
            self.resource_combo.addItem(resource.name, resource.id)
        self.privacy_combo = QComboBox(self)
        for level in PRIVACY_LEVELS:
            self.privacy_combo.addItem("", level)
        self.full_warning = QLabel(self)
        self.full_warning.setWordWrap(True)
        self.full_warning.setStyleSheet(text_style(ERROR))
        self.label_edit = QLineEdit(self)
        self.label_edit.setMaxLength(200)
        self.language_combo = QComboBox(self)
        self.language_combo.addItem("English", "en")
        self.language_combo.addItem("Español", "es")
        self.language_combo.setCurrentIndex(max(0, self.language_combo.findData(
            current_language())))
        self.create_button = QPushButton(self)
        self.create_button.setDefault(True)
        self.form = QFormLayout()
        self.form_labels = [QLabel(self) for _row in range(4)]
        for label, field_widget in zip(self.form_labels, (self.resource_combo, self.privacy_combo,
                                                          self.label_edit, self.language_combo),
                                       strict=True):
            label.setBuddy(field_widget)
            self.form.addRow(label, field_widget)
        self.form.insertRow(2, "", self.full_warning)
        self.new_box = QGroupBox(self)
        new_layout = QVBoxLayout(self.new_box)
        new_layout.addLayout(self.form)
        new_layout.addWidget(self.create_button, 0, Qt.AlignmentFlag.AlignRight)

        self.link_box = QGroupBox(self)
        self.link_note = QLabel(self.link_box)
        self.link_note.setWordWrap(True)
        self.link_edit = QLineEdit(self.link_box)
        self.link_edit.setReadOnly(True)
        self.copy_button = QPushButton(self.link_box)
        self.qr_label = QLabel(self.link_box)
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        link_row = QHBoxLayout()
        link_row.addWidget(self.link_edit, 1)
        link_row.addWidget(self.copy_button)
        link_layout = QVBoxLayout(self.link_box)
        link_layout.addWidget(self.link_note)
        link_layout.addLayout(link_row)
        link_layout.addWidget(self.qr_label)
        self.link_box.hide()

        self.table = QTableWidget(0, 5, self)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.revoke_button = QPushButton(self)
        self.revoke_button.setEnabled(False)
        self.busy_warning = QLabel(self)
        self.busy_warning.setWordWrap(True)
        self.busy_warning.setStyleSheet(text_style(ERROR))
        self.busy_warning.hide()
        self._failing: list[tuple[str, str]] = []
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(text_style(ERROR))
        self.error_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.new_box)
        layout.addWidget(self.link_box)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.busy_warning)
        bottom = QHBoxLayout()
        bottom.addWidget(self.revoke_button)
        bottom.addStretch(1)
        bottom.addWidget(self.buttons)
        layout.addWidget(self.error_label)
        layout.addLayout(bottom)

        self.privacy_combo.currentIndexChanged.connect(self._privacy_changed)
        self.create_button.clicked.connect(self.create_feed)
        self.copy_button.clicked.connect(self.copy_link)
        self.revoke_button.clicked.connect(self.revoke_selected)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.buttons.rejected.connect(self.reject)
        language_notifier().languageChanged.connect(self.retranslate)
        self.resize(720, 640)
        self.retranslate()
        self.reload()

    # ------------------------------------------------------------------ actions

    def reload(self) -> None:
        """Read the feeds and the organization's policy from the server again."""
        try:
            self._full_allowed = self._service.full_allowed()
            self._feeds = self._service.feeds()
            self._failing = self._service.failing_busy_calendars()
        except Exception as error:  # noqa: BLE001 - any server trouble is shown, not raised
            self._show_error(error)
            return
        self._show_error(None)
        self._fill_table()
        self._privacy_changed()
        self._show_failing()

    @Slot()
    def create_feed(self) -> None:
        resource_id = self.resource_combo.currentData()
        if resource_id is None:
            return
        try:
            created = self._service.create(resource_id, self.privacy_combo.currentData(),
                                           self.label_edit.text().strip(),
                                           self.language_combo.currentData())
        except Exception as error:  # noqa: BLE001 - shown to the user
            self._show_error(error)
            return
        self._show_error(None)
        self.link_edit.setText(created.url)
        self.qr_label.setPixmap(qr_pixmap(created.url))
        self.link_box.show()
        self.label_edit.clear()
        self._feeds.append(created.feed)
        self._fill_table()

    @Slot()
    def copy_link(self) -> None:
        QGuiApplication.clipboard().setText(self.link_edit.text())
        self.copy_button.setText(_("Copied"))

    @Slot()
    def revoke_selected(self, confirm: bool = True) -> None:
        feed = self.selected_feed()
        if feed is None or not feed.active:
            return
        if confirm and QMessageBox.question(
                self, _("Revoke link"),
                _("Calendars subscribed with this link stop updating and it cannot be used "
                  "again. Revoke the link for {calendar}?").format(
                    calendar=feed.resource_name)) != QMessageBox.StandardButton.Yes:
            return
        try:
            revoked = self._service.revoke(feed.id)
        except Exception as error:  # noqa: BLE001 - shown to the user
            self._show_error(error)
            return
        self._feeds = [revoked if f.id == revoked.id else f for f in self._feeds]
        self._fill_table()

    def selected_feed(self) -> FeedDTO | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        cell = self.table.item(rows[0].row(), 0)
        feed_id = cell.data(Qt.ItemDataRole.UserRole) if cell is not None else None
        return next((f for f in self._feeds if f.id == feed_id), None)

    # ------------------------------------------------------------------ display

    def _fill_table(self) -> None:
        self.table.setRowCount(len(self._feeds))
        for row, feed in enumerate(self._feeds):
            fetched = (format_when(feed.last_fetched_at, self._zone, self._locale)
                       if feed.last_fetched_at else _("never"))
            state = _("revoked") if not feed.active else _("active")
            for column, text in enumerate((feed.resource_name, feed.label,
                                           privacy_name(feed.privacy), fetched, state)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, feed.id)
                if not feed.active:
                    item.setForeground(Qt.GlobalColor.gray)
                self.table.setItem(row, column, item)
        self._selection_changed()

    @Slot()
    def _selection_changed(self) -> None:
        feed = self.selected_feed()
        self.revoke_button.setEnabled(feed is not None and feed.active)

    @Slot()
    def _privacy_changed(self) -> None:
        full = self.privacy_combo.findData("full")
        item = self.privacy_combo.model().item(full)  # type: ignore[attr-defined]
        item.setEnabled(self._full_allowed)
        item.setToolTip("" if self._full_allowed
                        else _("Your organization does not allow feeds with patient names."))
        if self.privacy_combo.currentData() == "full" and not self._full_allowed:
            self.privacy_combo.setCurrentIndex(0)
        self.full_warning.setVisible(self.privacy_combo.currentData() == "full")

    def _show_failing(self) -> None:
        names = {r.id: r.name for r in self._resources}
        lines = [_("The external busy calendar of {provider} could not be read: {reason}")
                 .format(provider=names.get(provider_id, provider_id), reason=reason)
                 for provider_id, reason in self._failing]
        self.busy_warning.setText("\n".join(lines))
        self.busy_warning.setVisible(bool(lines))

    def _show_error(self, error: Exception | None) -> None:
        if error is None:
            self.error_label.hide()
            return
        detail = getattr(error, "message", None) or getattr(error, "detail", None) or ""
        self.error_label.setText(_("The server could not do this: {reason}").format(
            reason=detail or type(error).__name__))
        self.error_label.show()

    @Slot()
    def retranslate(self) -> None:
        self.setWindowTitle(_("Calendar feeds"))
        self.intro.setText(_(
            "A feed link lets Google Calendar, Outlook or Apple Calendar show a provider's or "
            "room's appointments. Anyone with the link can read it: create one per device "
            "and revoke links that are no longer used."))
        self.new_box.setTitle(_("New link"))
        for label, text in zip(self.form_labels, (_("&Calendar"), _("&Privacy"), _("&Label"),
                                                  _("Lan&guage")), strict=True):
            label.setText(text)
        for index, level in enumerate(PRIVACY_LEVELS):
            self.privacy_combo.setItemText(index, privacy_name(level))
        self.full_warning.setText(_(
            "Full details put patient names and notes into the calendar app. Anyone who has "
            "the link, or uses the phone or account it is added to, can read them."))
        self.label_edit.setPlaceholderText(_("Where it is used, e.g. Phone"))
        self.create_button.setText(_("Create link"))
        self.link_box.setTitle(_("The link you just created"))
        self.link_note.setText(_(
            "Copy the link now or scan the code with a phone: it is shown only once."))
        self.copy_button.setText(_("Copy link"))
        self.table.setHorizontalHeaderLabels([_("Calendar"), _("Label"), _("Privacy"),
                                              _("Last read"), _("Status")])
        self.revoke_button.setText(_("Revoke…"))
        self._show_failing()
        self._fill_table()
        self._privacy_changed()
