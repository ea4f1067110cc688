"""Administration → "Hand-off and FHIR clients": patient-facing apps that may send
patients to the booking portal and read the FHIR API (issue 16, seed 004).

The list and form are the shared record editor's; a client's allowed return URLs are
one per line (exact, or ending in ``*`` for everything under a path). When a client is
registered, its secret is shown once in :class:`ClientSecretDialog`, to be copied into
the app's configuration; the server keeps only its hash.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services.admin import CONFIGURE, AdminService, Record
from desktop.ui.admin.fields import FieldSpec, Lookups
from desktop.ui.admin.record_editor import RecordEditorDialog, RecordKind
from desktop.ui.text import N_, _, language_notifier

PATH = "/api/v1/fhir-clients"
SCOPES = (("handoff", N_("Send patients to the portal (hand-off)")),
          ("system/Appointment.read", N_("Read appointments")),
          ("system/Slot.read", N_("Read free slots")),
          ("system/Schedule.read", N_("Read schedules")),
          ("system/Location.read", N_("Read clinics")),
          ("system/Practitioner.read", N_("Read providers")))
LOOPBACK = ("http://127.0.0.1", "http://localhost")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _to_form(record: Record) -> Record:
    return {**record, "return_urls": "\n".join(record.get("return_urls", []))}


def _to_api(values: Record) -> Record:
    return {**values, "return_urls": _lines(values["return_urls"])}


def _problem(values: Record) -> str | None:
    urls = _lines(values["return_urls"])
    if not urls:
        return _("Give at least one allowed return URL.")
    for url in urls:
        secure = url.startswith("https://") or any(
            url == base or url.startswith((base + "/", base + ":")) for base in LOOPBACK)
        if not secure or " " in url or "#" in url or "*" in url[:-1]:
            return _("Not an allowed return URL: {url}. Use https:// (http:// only for "
                     "127.0.0.1 or localhost), no '#', and '*' only at the end.").format(
                url=url[:80])
    return None


def _describe(record: Record, _lookups: Lookups) -> str:
    line = f"{record['name']} · {record['client_id']}"
    if record.get("active", True):
        return line
    return line + " · " + _("inactive")


HANDOFF_CLIENTS = RecordKind(
    "handoff_clients", PATH, N_("Hand-off and FHIR clients"),
    N_("Patient-facing apps that send patients to the booking portal and learn the outcome, "
       "and may read the FHIR API. A patient is only sent back to one of the client's "
       "return URLs. The secret is shown once, when the client is registered."),
    (FieldSpec("name", N_("Name"), required=True),
     FieldSpec("return_urls", N_("Allowed return URLs (one per line)"), "multiline",
               required=True, default=""),
     FieldSpec("scopes", N_("May"), "many", options=SCOPES,
               default=[value for value, _label in SCOPES]),
     FieldSpec("active", N_("Active"), "bool", default=True, update_only=True)),
    _describe, _problem, removable=False, permission=CONFIGURE,
    to_form=_to_form, to_api=_to_api)


class ClientSecretDialog(QDialog):
    """The new client's id and secret, shown once, each with a Copy button."""

    def __init__(self, record: Record, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("client_secret")
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.client_id = QLineEdit(str(record["client_id"]), self)
        self.secret = QLineEdit(str(record["client_secret"]), self)
        for edit in (self.client_id, self.secret):
            edit.setReadOnly(True)
            edit.setMinimumWidth(420)
        self.copy_id, self.copy_secret = QPushButton(self), QPushButton(self)
        self.copy_id.clicked.connect(lambda: self._copy(self.client_id))
        self.copy_secret.clicked.connect(lambda: self._copy(self.secret))
        self.id_label, self.secret_label = QLabel(self), QLabel(self)
        form = QFormLayout()
        for label, edit, button in ((self.id_label, self.client_id, self.copy_id),
                                    (self.secret_label, self.secret, self.copy_secret)):
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(button)
            form.addRow(label, row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def _copy(self, edit: QLineEdit) -> None:
        QGuiApplication.clipboard().setText(edit.text())

    @Slot()
    def retranslate(self) -> None:
        self.setWindowTitle(_("Client registered"))
        self.intro.setText(_("Copy the secret into the app's settings now: it is shown only "
                             "this once. If it is lost, register the app again and "
                             "deactivate this client."))
        self.id_label.setText(_("Client id"))
        self.secret_label.setText(_("Secret"))
        self.copy_id.setText(_("Copy"))
        self.copy_secret.setText(_("Copy"))


class HandoffClientsDialog(RecordEditorDialog):
    """The record editor of hand-off clients, showing a new client's secret once."""

    def __init__(self, service: AdminService, lookups: Lookups, zone: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(HANDOFF_CLIENTS, service, lookups, zone, parent)
        self.secret_dialog: ClientSecretDialog | None = None
        self.saved.connect(self._show_secret)

    @Slot(dict)
    def _show_secret(self, record: Record) -> None:
        if "client_secret" not in record:
            return
        self.secret_dialog = ClientSecretDialog(record, self)
        self.secret_dialog.show()
