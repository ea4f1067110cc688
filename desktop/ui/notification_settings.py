"""The administrator's "Notification settings": when reminders go, and through what.

Tabs: *Reminders* (times before the appointment for the organization and per
appointment type, quiet hours in the clinic's zone, the delay before the next
channel is tried), *E-mail* (the SMTP server), *SMS* (the gateway) and *Test
message*. The SMTP password and the gateway's API key are write-only: the server
only says whether one is set, and an empty field keeps it.
"""

from __future__ import annotations

import re
from dataclasses import replace

from PySide6.QtCore import Qt, QTime, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.services.notifications import (
    NotificationsError,
    NotificationSettings,
    NotificationsOffline,
    NotificationsRefused,
    NotificationsService,
)
from desktop.ui.text import _, language_notifier

_UNITS = {"d": 1440, "h": 60, "min": 1, "m": 1}
_OFFSET = re.compile(r"^\s*(\d+)\s*(d|h|min|m)?\s*$")
_RED = "color: #b3261e;"
#: Settings the server adds to the contract (its name → the dialog's field).
EXTRA_FIELDS = {"clinic_phone": "clinic_phone", "public_base_url": "public_url"}


def parse_offsets(text: str) -> tuple[int, ...]:
    """"1 d, 2 h, 30 min" → (1440, 120, 30) minutes (a bare number is minutes);
    raises ValueError naming the part it cannot read."""
    found: set[int] = set()
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        matched = _OFFSET.match(part.lower())
        if matched is None or int(matched.group(1)) <= 0:
            raise ValueError(part)
        found.add(int(matched.group(1)) * _UNITS[matched.group(2) or "min"])
    return tuple(sorted(found, reverse=True))


def offsets_text(minutes: tuple[int, ...]) -> str:
    def one(value: int) -> str:
        for unit in ("d", "h"):
            if value % _UNITS[unit] == 0:
                return f"{value // _UNITS[unit]} {unit}"
        return f"{value} min"

    return ", ".join(one(m) for m in minutes)


def problem_text(error: NotificationsError) -> str:
    """A failed server call in words (the server's own message for a refusal)."""
    if isinstance(error, NotificationsRefused):
        return _("The server did not accept it: {reason}").format(
            reason=error.message or error.code)
    if isinstance(error, NotificationsOffline):
        return _("The server cannot be reached. Try again when the desk is online.")
    return str(error)


def secret_hint(is_set: bool) -> str:
    return (_("Set — type a new one to replace it") if is_set
            else _("Not set"))


class NotificationSettingsDialog(QDialog):
    def __init__(self, service: NotificationsService, types: list[tuple[str, str]],
                 parent: QWidget | None = None) -> None:
        """``types``: (id, name) of the appointment types, for per-type reminder times."""
        super().__init__(parent)
        self._service, self._types = service, types
        self.settings = NotificationSettings()
        self.tabs = QTabWidget(self)
        self._build_reminders()
        self._build_email()
        self._build_sms()
        self._build_test()
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(_RED)
        self.problem.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Close, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.send_button.clicked.connect(lambda _checked=False: self.send_test())
        language_notifier().languageChanged.connect(self.retranslate)
        self.resize(640, 560)
        self.retranslate()
        self.reload()

    # ------------------------------------------------------------------ building

    def _page(self) -> tuple[QWidget, QFormLayout]:
        page = QWidget(self.tabs)
        form = QFormLayout(page)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.tabs.addTab(page, "")
        return page, form

    def _label(self, form: QFormLayout, key: str, field: QWidget) -> None:
        label = QLabel(field.parentWidget())
        label.setBuddy(field)
        self.labels[key] = label
        form.addRow(label, field)

    def _build_reminders(self) -> None:
        self.labels: dict[str, QLabel] = {}
        page, form = self._page()
        self.offsets_edit = QLineEdit(page)
        self._label(form, "offsets", self.offsets_edit)
        self.offsets_help = QLabel(page)
        self.offsets_help.setWordWrap(True)
        self.offsets_help.setStyleSheet("color: #5f6368;")
        form.addRow("", self.offsets_help)
        self.type_table = QTableWidget(len(self._types), 2, page)
        self.type_table.verticalHeader().hide()
        self.type_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Stretch)
        for row, (type_id, name) in enumerate(self._types):
            cell = QTableWidgetItem(name)
            cell.setData(Qt.ItemDataRole.UserRole, type_id)
            cell.setFlags(cell.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.type_table.setItem(row, 0, cell)
            self.type_table.setItem(row, 1, QTableWidgetItem(""))
        self._label(form, "types", self.type_table)
        self.quiet_check = QCheckBox(page)
        self.quiet_start, self.quiet_end = QTimeEdit(page), QTimeEdit(page)
        for edit in (self.quiet_start, self.quiet_end):
            edit.setDisplayFormat("HH:mm")
        quiet = QHBoxLayout()
        quiet.addWidget(self.quiet_check)
        quiet.addWidget(self.quiet_start)
        self.quiet_to = QLabel(page)
        quiet.addWidget(self.quiet_to)
        quiet.addWidget(self.quiet_end)
        quiet.addStretch(1)
        self.labels["quiet"] = QLabel(page)
        form.addRow(self.labels["quiet"], quiet)
        self.fallback_spin = QSpinBox(page)
        self.fallback_spin.setRange(0, 24 * 60)
        self._label(form, "fallback", self.fallback_spin)
        # Kept by the server beside the contract's fields; edited only when it sends them.
        self.clinic_phone, self.public_url = QLineEdit(page), QLineEdit(page)
        self._label(form, "clinic_phone", self.clinic_phone)
        self._label(form, "public_url", self.public_url)

    def _build_email(self) -> None:
        page, form = self._page()
        self.email_enabled = QCheckBox(page)
        form.addRow(self.email_enabled)
        self.smtp_host, self.smtp_user = QLineEdit(page), QLineEdit(page)
        self.smtp_port = QSpinBox(page)
        self.smtp_port.setRange(1, 65535)
        self.smtp_password, self.email_sender = QLineEdit(page), QLineEdit(page)
        self.smtp_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.starttls = QCheckBox(page)
        for key, field in (("host", self.smtp_host), ("port", self.smtp_port),
                           ("user", self.smtp_user), ("password", self.smtp_password),
                           ("sender", self.email_sender)):
            self._label(form, key, field)
        form.addRow(self.starttls)

    def _build_sms(self) -> None:
        page, form = self._page()
        self.sms_enabled = QCheckBox(page)
        form.addRow(self.sms_enabled)
        self.gateway_url, self.account_id = QLineEdit(page), QLineEdit(page)
        self.api_key, self.sms_sender = QLineEdit(page), QLineEdit(page)
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        for key, field in (("gateway", self.gateway_url), ("account", self.account_id),
                           ("api_key", self.api_key), ("sms_sender", self.sms_sender)):
            self._label(form, key, field)

    def _build_test(self) -> None:
        page, form = self._page()
        self.test_intro = QLabel(page)
        self.test_intro.setWordWrap(True)
        form.addRow(self.test_intro)
        self.test_channel = QComboBox(page)
        self.test_channel.addItem("", "email")
        self.test_channel.addItem("", "sms")
        self.test_to = QLineEdit(page)
        self._label(form, "channel", self.test_channel)
        self._label(form, "to", self.test_to)
        self.send_button = QPushButton(page)
        form.addRow("", self.send_button)
        self.test_result = QLabel(page)
        self.test_result.setWordWrap(True)
        form.addRow(self.test_result)

    # ------------------------------------------------------------------ data

    def reload(self) -> None:
        try:
            self.settings = self._service.settings()
        except NotificationsError as error:
            self._show_problem(problem_text(error))
            return
        self._show_problem("")
        self._fill()

    def _fill(self) -> None:
        s = self.settings
        self.offsets_edit.setText(offsets_text(s.reminder_offsets_minutes))
        for row in range(self.type_table.rowCount()):
            type_id = self.type_table.item(row, 0).data(Qt.ItemDataRole.UserRole)  # type: ignore[union-attr]
            own = s.type_offsets_minutes.get(type_id)
            self.type_table.item(row, 1).setText(offsets_text(own) if own else "")  # type: ignore[union-attr]
        self.quiet_check.setChecked(s.quiet_hours is not None)
        start, end = s.quiet_hours or ("21:00", "08:00")
        self.quiet_start.setTime(QTime.fromString(start, "HH:mm"))
        self.quiet_end.setTime(QTime.fromString(end, "HH:mm"))
        self.fallback_spin.setValue(s.fallback_delay_minutes)
        for key, field in EXTRA_FIELDS.items():
            line = getattr(self, field)
            line.setText(str(s.other.get(key) or ""))
            line.setEnabled(key in s.other)
        e, m = s.email, s.sms
        self.email_enabled.setChecked(e.enabled)
        self.smtp_host.setText(e.host)
        self.smtp_port.setValue(e.port)
        self.smtp_user.setText(e.username or "")
        self.smtp_password.clear()
        self.smtp_password.setPlaceholderText(secret_hint(e.password_set))
        self.starttls.setChecked(e.starttls)
        self.email_sender.setText(e.sender)
        self.sms_enabled.setChecked(m.enabled)
        self.gateway_url.setText(m.gateway_url)
        self.account_id.setText(m.account_id or "")
        self.api_key.clear()
        self.api_key.setPlaceholderText(secret_hint(m.api_key_set))
        self.sms_sender.setText(m.sender)

    def edited(self) -> NotificationSettings:
        """The settings as the form shows them; ValueError names a time it cannot read."""
        per_type = {}
        for row in range(self.type_table.rowCount()):
            type_id = self.type_table.item(row, 0).data(Qt.ItemDataRole.UserRole)  # type: ignore[union-attr]
            text = self.type_table.item(row, 1).text()  # type: ignore[union-attr]
            if text.strip():
                per_type[str(type_id)] = parse_offsets(text)
        quiet = ((self.quiet_start.time().toString("HH:mm"),
                  self.quiet_end.time().toString("HH:mm"))
                 if self.quiet_check.isChecked() else None)
        other = {**self.settings.other}
        for key, field in EXTRA_FIELDS.items():
            if key in other:
                other[key] = getattr(self, field).text().strip()
        return replace(
            self.settings, other=other,
            reminder_offsets_minutes=parse_offsets(self.offsets_edit.text()),
            type_offsets_minutes=per_type, quiet_hours=quiet,
            fallback_delay_minutes=self.fallback_spin.value(),
            email=replace(self.settings.email, enabled=self.email_enabled.isChecked(),
                          host=self.smtp_host.text().strip(), port=self.smtp_port.value(),
                          username=self.smtp_user.text().strip() or None,
                          starttls=self.starttls.isChecked(),
                          sender=self.email_sender.text().strip()),
            sms=replace(self.settings.sms, enabled=self.sms_enabled.isChecked(),
                        gateway_url=self.gateway_url.text().strip(),
                        account_id=self.account_id.text().strip() or None,
                        sender=self.sms_sender.text().strip()))

    @Slot()
    def save(self) -> bool:
        try:
            edited = self.edited()
        except ValueError as error:
            self._show_problem(_("\"{part}\" is not a time before the appointment: write "
                                 "e.g. 1 d, 2 h or 30 min.").format(part=str(error)))
            return False
        try:
            self.settings = self._service.save_settings(
                edited, password=self.smtp_password.text() or None,
                api_key=self.api_key.text() or None)
        except NotificationsError as error:
            self._show_problem(problem_text(error))
            return False
        self._fill()
        self._show_problem("")
        self.test_result.setText(_("Saved."))
        return True

    @Slot()
    def send_test(self) -> bool:
        to = self.test_to.text().strip()
        if not to:
            self.test_result.setText(_("Type an e-mail address or a phone number first."))
            return False
        try:
            outcome = self._service.send_test(str(self.test_channel.currentData()), to)
        except NotificationsError as error:
            self.test_result.setText(problem_text(error))
            self.test_result.setStyleSheet(_RED)
            return False
        self.test_result.setStyleSheet("" if outcome.ok else _RED)
        self.test_result.setText((_("Sent: {detail}") if outcome.ok
                                  else _("Not sent: {detail}")).format(detail=outcome.message))
        return outcome.ok

    def _show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    # ------------------------------------------------------------------ texts

    @Slot()
    def retranslate(self) -> None:
        self.setWindowTitle(_("Notification settings"))
        for index, title in enumerate((_("Reminders"), _("E-mail"), _("SMS"),
                                       _("Test message"))):
            self.tabs.setTabText(index, title)
        for key, text in (
                ("offsets", _("&Reminders before")), ("types", _("Per appointment &type")),
                ("quiet", _("Quiet hours")), ("fallback", _("Next channel &after")),
                ("clinic_phone", _("Clinic &phone in messages")),
                ("public_url", _("Public address for &reply links")),
                ("host", _("SMTP &server")), ("port", _("&Port")), ("user", _("&User name")),
                ("password", _("Pass&word")), ("sender", _("&From")),
                ("gateway", _("&Gateway address")), ("account", _("&Account")),
                ("api_key", _("API &key")), ("sms_sender", _("&Sender name or number")),
                ("channel", _("&Channel")), ("to", _("&To"))):
            self.labels[key].setText(text)
        self.offsets_help.setText(_("Times before the appointment, e.g. 1 d, 2 h or 30 min. "
                                    "A type with its own times uses them instead."))
        self.type_table.setHorizontalHeaderLabels([_("Type"), _("Reminders before")])
        self.quiet_check.setText(_("No messages from"))
        self.quiet_to.setText(_("to"))
        self.fallback_spin.setSuffix(" " + _("min"))
        self.clinic_phone.setPlaceholderText(_("e.g. +34 910 000 000"))
        self.public_url.setPlaceholderText(_("e.g. https://clinic.example (where patients "
                                             "confirm or cancel)"))
        self.email_enabled.setText(_("Send e-mail"))
        self.starttls.setText(_("Encrypt with STARTTLS"))
        self.sms_enabled.setText(_("Send SMS"))
        self.smtp_password.setPlaceholderText(secret_hint(self.settings.email.password_set))
        self.api_key.setPlaceholderText(secret_hint(self.settings.sms.api_key_set))
        self.test_intro.setText(_("Send a test message with the settings saved on the server "
                                  "(save your changes first)."))
        self.test_channel.setItemText(0, _("E-mail"))
        self.test_channel.setItemText(1, _("SMS"))
        self.test_to.setPlaceholderText(_("An e-mail address or a phone number"))
        self.send_button.setText(_("Send test message"))


__all__ = ["NotificationSettingsDialog", "offsets_text", "parse_offsets", "problem_text"]
