"""The administrator's "Message templates": the words patients receive, with a live preview.

Choose the message (booking confirmation, change, cancellation, reminder), the
channel and the language; edit the subject and the texts; the preview beside
them is rendered by the server for a sample appointment a moment after each
keystroke, so what is shown is exactly what would be sent. A template the server
cannot render (an unknown or missing variable) is refused with its reason in
words, in the preview and on saving. *Back to default* drops the clinic's text.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.services.notifications import (
    CHANNELS,
    KINDS,
    MessageTemplate,
    NotificationsError,
    NotificationsRefused,
    NotificationsService,
)
from desktop.ui.notification_history import CHANNEL_NAMES, KIND_NAMES
from desktop.ui.notification_settings import problem_text
from desktop.ui.text import _, current_language, language_notifier

#: The preview waits this long after the last keystroke before asking the server.
PREVIEW_DELAY_MS = 400
_RED = "color: #b3261e;"
#: What a template may use (the server's list; it names them again when one is unknown).
VARIABLES = ("patient_name", "clinic_name", "clinic_phone", "provider_name",
             "appointment_type", "date", "time", "confirm_url", "cancel_url", "appointments",
             "accept_url")


class TemplatesDialog(QDialog):
    def __init__(self, service: NotificationsService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self._templates: list[MessageTemplate] = []
        self.kind_combo, self.channel_combo = QComboBox(self), QComboBox(self)
        self.language_combo = QComboBox(self)
        for kind in KINDS:
            self.kind_combo.addItem("", kind)
        for channel in CHANNELS:
            self.channel_combo.addItem("", channel)
        self.language_combo.addItem("English", "en")
        self.language_combo.addItem("Español", "es")
        self.language_combo.setCurrentIndex(max(0, self.language_combo.findData(
            current_language())))
        self.customized_label = QLabel(self)
        choose = QHBoxLayout()
        for combo in (self.kind_combo, self.channel_combo, self.language_combo):
            choose.addWidget(combo)
        choose.addWidget(self.customized_label, 1)

        self.subject_edit = QLineEdit(self)
        self.text_edit, self.html_edit = QPlainTextEdit(self), QPlainTextEdit(self)
        self.labels = [QLabel(self) for _i in range(3)]
        form = QFormLayout()
        for label, field in zip(self.labels, (self.subject_edit, self.text_edit, self.html_edit),
                                strict=True):
            label.setBuddy(field)
            form.addRow(label, field)
        self.variables = QLabel(self)
        self.variables.setWordWrap(True)
        self.variables.setStyleSheet("color: #5f6368;")
        form.addRow("", self.variables)
        editor = QWidget(self)
        editor.setLayout(form)

        self.preview_box = QGroupBox(self)
        self.preview_subject = QLabel(self.preview_box)
        self.preview_subject.setWordWrap(True)
        self.preview_subject.setStyleSheet("font-weight: bold;")
        self.preview = QTextBrowser(self.preview_box)
        self.preview_problem = QLabel(self.preview_box)
        self.preview_problem.setWordWrap(True)
        self.preview_problem.setStyleSheet(_RED)
        preview_layout = QVBoxLayout(self.preview_box)
        preview_layout.addWidget(self.preview_subject)
        preview_layout.addWidget(self.preview, 1)
        preview_layout.addWidget(self.preview_problem)
        middle = QHBoxLayout()
        middle.addWidget(editor, 3)
        middle.addWidget(self.preview_box, 2)

        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(_RED)
        self.reset_button = QPushButton(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Close, self)
        bottom = QHBoxLayout()
        bottom.addWidget(self.reset_button)
        bottom.addStretch(1)
        bottom.addWidget(self.buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(choose)
        layout.addLayout(middle, 1)
        layout.addWidget(self.problem)
        layout.addLayout(bottom)

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.update_preview)
        for combo in (self.kind_combo, self.channel_combo, self.language_combo):
            combo.currentIndexChanged.connect(lambda _i: self._show_template())
        self.subject_edit.textChanged.connect(self._preview_timer.start)
        for edit in (self.text_edit, self.html_edit):
            edit.textChanged.connect(self._preview_timer.start)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.reset_button.clicked.connect(lambda _checked=False: self.reset())
        language_notifier().languageChanged.connect(self.retranslate)
        self.resize(980, 620)
        self.retranslate()
        self.reload()

    # ------------------------------------------------------------------ data

    def reload(self) -> None:
        try:
            self._templates = self._service.templates()
        except NotificationsError as error:
            self._say(problem_text(error))
            return
        self._say("")
        self._show_template()

    def current(self) -> MessageTemplate | None:
        """The stored template of the chosen kind, channel and language."""
        key = (self.kind_combo.currentData(), self.channel_combo.currentData(),
               self.language_combo.currentData())
        return next((t for t in self._templates if (t.kind, t.channel, t.language) == key), None)

    def edited(self) -> MessageTemplate:
        email = self.channel_combo.currentData() == "email"
        html = self.html_edit.toPlainText()
        return MessageTemplate(str(self.kind_combo.currentData()),
                               str(self.channel_combo.currentData()),
                               str(self.language_combo.currentData()),
                               self.subject_edit.text() if email else None,
                               self.text_edit.toPlainText(), html if email and html else None)

    @Slot()
    def save(self) -> MessageTemplate | None:
        try:
            saved = self._service.save_template(self.edited())
        except NotificationsError as error:
            self._say(problem_text(error))
            return None
        self._replace(saved)
        self._say("")
        self._show_customized(saved)
        return saved

    @Slot()
    def reset(self) -> None:
        template = self.current()
        if template is None:
            return
        try:
            self._service.reset_template(template)
        except NotificationsError as error:
            self._say(problem_text(error))
            return
        self.reload()

    @Slot()
    def update_preview(self) -> None:
        """Ask the server to render the edited template now."""
        self._preview_timer.stop()
        try:
            rendered = self._service.preview(self.edited())
        except NotificationsRefused as refused:
            self.preview_problem.setText(_("This template cannot be sent: {reason}").format(
                reason=refused.message or refused.code))
            self.preview_problem.show()
            return
        except NotificationsError as error:
            self.preview_problem.setText(problem_text(error))
            self.preview_problem.show()
            return
        self.preview_problem.hide()
        self.preview_subject.setText(rendered.subject or "")
        self.preview_subject.setVisible(bool(rendered.subject))
        if rendered.html:
            self.preview.setHtml(rendered.html)
        else:
            self.preview.setPlainText(rendered.text)

    # ------------------------------------------------------------------ display

    def _replace(self, saved: MessageTemplate) -> None:
        key = (saved.kind, saved.channel, saved.language)
        self._templates = [saved if (t.kind, t.channel, t.language) == key else t
                           for t in self._templates]
        if saved not in self._templates:
            self._templates.append(saved)

    @Slot()
    def _show_template(self) -> None:
        template = self.current()
        email = self.channel_combo.currentData() == "email"
        for widget in (self.subject_edit, self.html_edit, self.labels[0], self.labels[2]):
            widget.setVisible(email)
        self.subject_edit.setText(template.subject or "" if template else "")
        self.text_edit.setPlainText(template.body_text if template else "")
        self.html_edit.setPlainText(template.body_html or "" if template else "")
        self._show_customized(template)
        self.update_preview()

    def _show_customized(self, template: MessageTemplate | None) -> None:
        customized = template is not None and template.customized
        self.customized_label.setText(_("Changed for this clinic") if customized
                                      else _("Built-in text"))
        self.reset_button.setEnabled(customized)

    def _say(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    @Slot()
    def retranslate(self) -> None:
        self.setWindowTitle(_("Message templates"))
        for index, kind in enumerate(KINDS):
            self.kind_combo.setItemText(index, _(KIND_NAMES[kind]))
        for index, channel in enumerate(CHANNELS):
            self.channel_combo.setItemText(index, _(CHANNEL_NAMES[channel]))
        for label, text in zip(self.labels, (_("&Subject"), _("&Text"), _("&HTML")),
                               strict=True):
            label.setText(text)
        self.variables.setText(_("Variables: {names}").format(names=", ".join(
            f"{{{{ {name} }}}}" for name in VARIABLES)))
        self.preview_box.setTitle(_("Preview (a sample appointment)"))
        self.reset_button.setText(_("Back to default"))
        self._show_customized(self.current())


__all__ = ["PREVIEW_DELAY_MS", "TemplatesDialog"]
