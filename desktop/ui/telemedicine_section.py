"""The "Video visit" section of the details panel: a telemedicine appointment's video
link (open in the browser, copy), the patient's consent and their pre-visit documents
(open, save).

Shown only for telemedicine types. The visit is read from the server off the UI thread
(:func:`desktop.ui.server_read.read_in_thread`) each time an appointment is shown; an
answer about an appointment no longer shown is dropped. A document is fetched off the
UI thread too, then saved where the receptionist chose or, to open it, into a private
temporary folder of this desk session (removed when the desk closes).
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services.appointment_details import AppointmentDetails
from desktop.services.session import SessionLocked
from desktop.services.telemedicine import (
    NotificationsOffline,
    NotificationsRefused,
    TelemedicineService,
    TelemedicineVisit,
    VisitDocument,
)
from desktop.ui.server_read import read_in_thread
from desktop.ui.text import _, format_when, language_notifier
from desktop.ui.theme import hint_style, set_heading

log = logging.getLogger(__name__)
_OPEN_DIR: list[Path] = []


def _private_dir() -> Path:
    """A folder only this user can read, removed at exit (documents opened for viewing)."""
    if not _OPEN_DIR:
        _OPEN_DIR.append(Path(tempfile.mkdtemp(prefix="clinicdesk-documents-")))
        atexit.register(shutil.rmtree, _OPEN_DIR[0], True)
    return _OPEN_DIR[0]


class TelemedicineSection(QWidget):
    """Signals ``loaded()`` after each answer about the shown visit (shown or failed) and
    ``documentReady(path)`` after a document was written (opened or saved)."""

    loaded = Signal()
    documentReady = Signal(str)
    #: ((appointment id, visit or None, error or None), None) from the reader thread
    _arrived = Signal(object, object)
    _fetched = Signal(object, object)  # ((document, target, open?) and bytes, or error)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service: TelemedicineService | None = None
        self.details: AppointmentDetails | None = None
        self.visit: TelemedicineVisit | None = None
        self.error: Exception | None = None
        self.title = QLabel(self)
        set_heading(self.title, 1.1)
        self.link = QLineEdit(self)  # a long link scrolls in it instead of being cut off
        self.link.setReadOnly(True)
        self.no_link = QLabel(self)
        self.no_link.setWordWrap(True)
        self.open_button = QPushButton(self)
        self.copy_button = QPushButton(self)
        self.consent = QLabel(self)
        self.consent.setWordWrap(True)
        self.documents_title = QLabel(self)
        self.documents_title.setStyleSheet(hint_style())
        self.documents = QListWidget(self)
        self.documents.setMaximumHeight(110)
        self.open_document_button = QPushButton(self)
        self.save_document_button = QPushButton(self)
        self.state = QLabel(self)
        self.state.setWordWrap(True)
        self.state.setStyleSheet(hint_style())
        link_row = QHBoxLayout()
        link_row.addWidget(self.open_button)
        link_row.addWidget(self.copy_button)
        link_row.addStretch(1)
        document_row = QHBoxLayout()
        document_row.addWidget(self.open_document_button)
        document_row.addWidget(self.save_document_button)
        document_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(self.title)
        layout.addWidget(self.link)
        layout.addWidget(self.no_link)
        layout.addLayout(link_row)
        layout.addWidget(self.consent)
        layout.addWidget(self.documents_title)
        layout.addWidget(self.documents)
        layout.addLayout(document_row)
        layout.addWidget(self.state)
        self.open_button.clicked.connect(self.open_link)
        self.copy_button.clicked.connect(self.copy_link)
        self.open_document_button.clicked.connect(self.open_document)
        self.save_document_button.clicked.connect(self.save_document)
        self.documents.itemSelectionChanged.connect(self._enable)
        self._arrived.connect(self._show_answer, Qt.ConnectionType.QueuedConnection)
        self._fetched.connect(self._write_document, Qt.ConnectionType.QueuedConnection)
        #: Asks where to save a document (None: give up). Tests replace it.
        self.ask_save_path = self._ask_save_path
        #: Opens a link or a file; tests replace it (offscreen there is no browser).
        self.open_url = QDesktopServices.openUrl
        language_notifier().languageChanged.connect(self.retranslate)
        self.setVisible(False)
        self.retranslate()

    def set_service(self, service: TelemedicineService | None) -> None:
        """The server connection (None: this desk has none)."""
        self._service = service

    def show_details(self, details: AppointmentDetails | None, video_visit: bool) -> None:
        """Show ``details`` when it is a video visit (read from the server in the
        background), else hide; None hides and forgets."""
        self.details = details if video_visit else None
        self.visit, self.error = None, None
        self.setVisible(self.details is not None)
        service = self._service
        if self.details is not None and service is not None:
            appointment_id = self.details.appointment_id

            def read() -> tuple[str, TelemedicineVisit | None, Exception | None]:
                try:
                    return appointment_id, service.visit(appointment_id), None
                except Exception as failure:  # noqa: BLE001 - shown for this appointment
                    return appointment_id, None, failure

            read_in_thread(read, self._arrived, "clinicdesk-telemedicine")
        self._show()

    # ---------------------------------------------------------------- actions

    @Slot()
    def open_link(self) -> None:
        if self.visit is not None and self.visit.video_url:
            self.open_url(QUrl(self.visit.video_url))

    @Slot()
    def copy_link(self) -> None:
        if self.visit is not None and self.visit.video_url:
            QGuiApplication.clipboard().setText(self.visit.video_url)
            self.state.setText(_("Video link copied."))

    def selected_document(self) -> VisitDocument | None:
        items = self.documents.selectedItems()
        if not items or self.visit is None:
            return None
        wanted = items[0].data(Qt.ItemDataRole.UserRole)
        return next((d for d in self.visit.documents if d.id == wanted), None)

    @Slot()
    def open_document(self) -> None:
        document = self.selected_document()
        if document is not None:
            folder = _private_dir() / document.id
            self._fetch(document, folder / Path(document.name).name, True)

    @Slot()
    def save_document(self) -> None:
        document = self.selected_document()
        if document is None:
            return
        target = self.ask_save_path(document)
        if target is not None:
            self._fetch(document, target, False)

    def _ask_save_path(self, document: VisitDocument) -> Path | None:
        chosen, _filter = QFileDialog.getSaveFileName(self, _("Save the document"),
                                                      Path(document.name).name)
        return Path(chosen) if chosen else None

    def _fetch(self, document: VisitDocument, target: Path, then_open: bool) -> None:
        service, details = self._service, self.details
        if service is None or details is None:
            return
        appointment_id = details.appointment_id
        self.state.setText(_("Fetching the document…"))

        def read() -> tuple[VisitDocument, Path, bool, bytes]:
            return document, target, then_open, service.document(appointment_id, document.id)

        read_in_thread(read, self._fetched, "clinicdesk-visit-document")

    @Slot(object, object)
    def _write_document(self, answer: tuple[VisitDocument, Path, bool, bytes] | None,
                        error: Exception | None) -> None:
        if answer is None:
            self.state.setText(self._problem(error))
            return
        _document, target, then_open, content = answer
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            target.write_bytes(content)
            if then_open:
                target.chmod(0o600)
        except OSError as failure:
            log.warning("a document could not be written: %s", type(failure).__name__)
            self.state.setText(_("The document could not be saved there."))
            return
        self.state.setText(_("Document saved.") if not then_open else "")
        if then_open:
            self.open_url(QUrl.fromLocalFile(str(target)))
        self.documentReady.emit(str(target))

    # ---------------------------------------------------------------- answers

    @Slot(object, object)
    def _show_answer(self, answer: tuple[str, TelemedicineVisit | None, Exception | None],
                     _error: Exception | None) -> None:
        about, visit, error = answer
        if isinstance(error, SessionLocked):
            return
        shown = self.details
        if shown is None or about != shown.appointment_id:
            return  # an answer about an appointment no longer shown
        self.visit, self.error = visit, error
        if error is not None and not isinstance(error, NotificationsOffline | NotificationsRefused):
            log.warning("the video visit could not be read: %s", type(error).__name__)
        self._show()
        self.loaded.emit()

    def _problem(self, error: Exception | None) -> str:
        if isinstance(error, NotificationsRefused):
            return _("The server did not answer: {reason}").format(
                reason=error.message or error.code)
        return _("The server cannot be reached; the video visit cannot be shown now.")

    # ---------------------------------------------------------------- texts

    @Slot()
    def retranslate(self) -> None:
        self.title.setText(_("Video visit"))
        self.open_button.setText(_("Open in browser"))
        self.copy_button.setText(_("Copy link"))
        self.documents_title.setText(_("Documents from the patient"))
        self.open_document_button.setText(_("Open"))
        self.save_document_button.setText(_("Save…"))
        self._show()

    def _show(self) -> None:
        visit, details = self.visit, self.details
        self.documents.clear()
        if details is None:
            self.link.clear()
            self.no_link.clear()
            self.consent.clear()
            self.state.clear()
            self._enable()
            return
        if self._service is None:
            self.state.setText(_("The video visit needs a connection to the server."))
        elif visit is None:
            self.state.setText(self._problem(self.error) if self.error is not None
                               else _("Reading the video visit from the server…"))
        else:
            self.state.clear()
        url = visit.video_url if visit is not None else None
        self.link.setText(url or "")
        self.link.setCursorPosition(0)
        self.link.setVisible(bool(url))
        self.no_link.setText(_("No video link yet (cancelled, or no link is set up for this "
                               "provider).") if visit is not None and not url else "")
        self.no_link.setVisible(visit is not None and not url)
        self.consent.setText(self._consent_text(visit, details) if visit is not None else "")
        for document in visit.documents if visit is not None else ():
            item = QListWidgetItem(_("{name} ({size} KB), {when}").format(
                name=document.name, size=max(1, round(document.size / 1024)),
                when=format_when(document.uploaded_at, details.time_zone,
                                 details.clinic_locale)))
            item.setData(Qt.ItemDataRole.UserRole, document.id)
            self.documents.addItem(item)
        if visit is not None and not visit.documents:
            self.documents.addItem(_("No documents yet."))
            self.documents.item(0).setFlags(Qt.ItemFlag.NoItemFlags)
        self._enable()

    def _consent_text(self, visit: TelemedicineVisit, details: AppointmentDetails) -> str:
        if not visit.consent_required:
            return _("Consent: not asked for this type.")
        if visit.consent_accepted and visit.accepted_at is not None:
            return _("Consent: accepted (version {version}) on {when}.").format(
                version=visit.accepted_version,
                when=format_when(visit.accepted_at, details.time_zone, details.clinic_locale))
        if visit.accepted_version is not None:
            return _("Consent: the patient accepted version {old}; version {version} is not "
                     "accepted yet.").format(old=visit.accepted_version,
                                             version=visit.consent_version)
        return _("Consent: not given yet (version {version}).").format(
            version=visit.consent_version)

    @Slot()
    def _enable(self) -> None:
        has_link = self.visit is not None and bool(self.visit.video_url)
        self.open_button.setEnabled(has_link)
        self.copy_button.setEnabled(has_link)
        chosen = self.selected_document() is not None
        self.open_document_button.setEnabled(chosen)
        self.save_document_button.setEnabled(chosen)


__all__ = ["TelemedicineSection"]
