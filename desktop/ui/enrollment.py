"""First run: connect this desk to the clinic's server and download its data.

Server address, the one-time enrollment code from the administrator, and the
recovery passphrase twice (it unlocks the desk's data if the computer's key store
is lost). The injected ``enroll(url, code, passphrase, progress)`` runs on a
worker thread; it reports ``progress(done, total)`` and its errors through
signals, so the worker never touches a widget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlparse

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.sync.errors import SyncError
from desktop.ui.recovery import key_store_problem
from desktop.ui.text import _, language_notifier
from desktop.ui.theme import ERROR, set_heading, text_style

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Enroll = Callable[[str, str, str, Progress], None]

#: A recovery passphrase shorter than this is refused before anything is sent.
MIN_PASSPHRASE_LENGTH = 12


class _WorkerSignals(QObject):
    progress = Signal(int, int)
    finished = Signal()
    failed = Signal(object)  # the exception


class _EnrollmentJob(QRunnable):
    """Runs ``enroll`` off the UI thread; talks back only through signals."""

    def __init__(self, enroll: Enroll, url: str, code: str, passphrase: str) -> None:
        super().__init__()
        self.signals = _WorkerSignals()
        self._call = (enroll, url, code, passphrase)

    def run(self) -> None:
        enroll, url, code, passphrase = self._call
        try:
            enroll(url, code, passphrase, self.signals.progress.emit)
        except Exception as error:  # noqa: BLE001 (every failure is shown, none is lost)
            log.warning("enrollment failed: %s", type(error).__name__)  # no codes, no data
            self.signals.failed.emit(error)
        else:
            self.signals.finished.emit()


def error_text(error: BaseException) -> str:
    """A failure of ``enroll`` in plain words, in the current language."""
    if isinstance(error, SyncError):
        try:
            return _(error.message_id).format_map(dict(error.params))
        except (KeyError, ValueError, IndexError):
            return _(error.message_id)
    key_store = key_store_problem(error)
    if key_store is not None:
        return key_store
    if isinstance(error, OSError):
        return _("The server cannot be reached. Check the address and the internet "
                 "connection.")
    return _("Enrollment did not finish. Please try again, or ask your administrator.")


class EnrollmentScreen(QWidget):
    """Signals: ``enrolled()`` when the first download has finished."""

    enrolled = Signal()

    def __init__(self, enroll: Enroll, parent: QWidget | None = None, *,
                 pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._enroll = enroll
        self._pool = pool or QThreadPool.globalInstance()
        self._job: _EnrollmentJob | None = None
        self.title, self.intro = QLabel(self), QLabel(self)
        set_heading(self.title, 1.6)
        self.intro.setWordWrap(True)
        self.url, self.code, self.passphrase, self.repeat = (QLineEdit(self) for _i in range(4))
        for field in (self.passphrase, self.repeat):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        self.labels = [QLabel(self) for _i in range(4)]
        form = QFormLayout()
        for label, field in zip(self.labels, (self.url, self.code, self.passphrase,
                                              self.repeat), strict=True):
            form.addRow(label, field)
        self.start_button = QPushButton(self)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setVisible(False)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        for widget in (self.title, self.intro):
            layout.addWidget(widget)
        layout.addLayout(form)
        for shown in (self.start_button, self.progress_bar, self.message):
            layout.addWidget(shown)
        layout.addStretch(1)
        self.start_button.clicked.connect(self.start)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    @Slot()
    def retranslate(self) -> None:
        self.title.setText(_("Connect this desk"))
        self.intro.setText(_("Your administrator gives you the server address and a one-time "
                             "enrollment code. The recovery passphrase unlocks this desk's "
                             "data if the computer's key store is ever lost: keep it safe."))
        for label, text in zip(self.labels, (_("Server address"), _("Enrollment code"),
                                             _("Recovery passphrase"),
                                             _("Passphrase again")), strict=True):
            label.setText(text)
        self.url.setPlaceholderText("https://clinic.example.org")
        self.start_button.setText(_("Connect and download"))

    def problem(self) -> str | None:
        """What is wrong with the form, in plain words, or None."""
        url = urlparse(self.url.text().strip())
        if url.scheme not in ("https", "http") or not url.netloc:
            return _("Please enter the server address, starting with https://.")
        if not self.code.text().strip():
            return _("Please enter the enrollment code.")
        if len(self.passphrase.text()) < MIN_PASSPHRASE_LENGTH:
            return _("The recovery passphrase needs at least {count} characters.").format(
                count=MIN_PASSPHRASE_LENGTH)
        if self.passphrase.text() != self.repeat.text():
            return _("The two passphrases are not the same.")
        return None

    @Slot()
    def start(self) -> None:
        why = self.problem()
        if why is not None:
            self._say(why, error=True)
            return
        job = _EnrollmentJob(self._enroll, self.url.text().strip(), self.code.text().strip(),
                             self.passphrase.text())
        job.signals.progress.connect(self.progress)
        job.signals.finished.connect(self._finished)
        job.signals.failed.connect(self._failed)
        self._job = job  # keeps the signals object alive while the job runs
        self._set_busy(True)
        self._say(_("Connecting…"), error=False)
        self._pool.start(job)

    @Slot(int, int)
    def progress(self, done: int, total: int) -> None:
        """The first download's progress (``total`` 0: not known yet)."""
        self.progress_bar.setRange(0, max(total, 0))
        self.progress_bar.setValue(min(done, total) if total else 0)
        if total:
            self._say(_("Downloading the clinic's data: {done} of {total}").format(
                done=done, total=total), error=False)

    @Slot()
    def _finished(self) -> None:
        self._set_busy(False)
        self.passphrase.clear()
        self.repeat.clear()
        self._say(_("This desk is connected."), error=False)
        self._job = None
        self.enrolled.emit()

    @Slot(object)
    def _failed(self, error: BaseException) -> None:
        self._set_busy(False)
        self._say(error_text(error), error=True)
        self._job = None

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.url, self.code, self.passphrase, self.repeat, self.start_button):
            widget.setEnabled(not busy)
        self.progress_bar.setVisible(busy)

    def _say(self, text: str, *, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(text_style(ERROR) if error else "")
