"""Choose a patient by typing (name or phone, as you type) or register a new one in place."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services import patients
from desktop.services.context import DeskContext
from desktop.services.dto import PatientDTO
from desktop.services.patient_duplicates import likely_duplicates
from desktop.ui.booking_model import PatientResultsModel
from desktop.ui.text import _, format_when, language_notifier, render_message
from desktop.ui.theme import ERROR, WARNING, text_style

#: Wait this long after the last key stroke before searching (the search is local).
SEARCH_DELAY_MS = 150


class PatientPicker(QGroupBox):
    """Emits ``patientChosen(PatientDTO)`` when a result is picked or a patient is created."""

    patientChosen = Signal(object)

    def __init__(self, ctx: DeskContext, tz: str, clinic_locale: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._tz, self._locale = ctx, tz, clinic_locale
        self.patient: PatientDTO | None = None
        layout = QVBoxLayout(self)
        self.search = QLineEdit(self)
        self.search.setClearButtonEnabled(True)
        self.results_model = PatientResultsModel(self)
        self.results_model.describe_when = lambda moment: format_when(moment, tz, clinic_locale)
        self.results = QListView(self)
        self.results.setModel(self.results_model)
        self.results.setMaximumHeight(96)
        self.results.setVisible(False)  # shown once a search finds someone
        self.chosen = QLabel(self)
        self.new_button = QPushButton(self)
        self.new_button.setCheckable(True)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.new_button)
        layout.addLayout(top)
        layout.addWidget(self.results)
        layout.addWidget(self.chosen)
        self.create_box = QWidget(self)
        form = QFormLayout(self.create_box)
        form.setContentsMargins(0, 0, 0, 0)
        self.given = QLineEdit(self.create_box)
        self.family = QLineEdit(self.create_box)
        self.phone = QLineEdit(self.create_box)
        self.given_label, self.family_label, self.phone_label = (
            QLabel(self.create_box) for _i in range(3))
        form.addRow(self.given_label, self.given)
        form.addRow(self.family_label, self.family)
        form.addRow(self.phone_label, self.phone)
        self.create_button = QPushButton(self.create_box)
        self.create_error = QLabel(self.create_box)
        self.create_error.setWordWrap(True)
        self.create_error.setStyleSheet(text_style(ERROR))
        form.addRow(self.create_error, self.create_button)
        self.create_box.setVisible(False)
        layout.addWidget(self.create_box)
        # "Already registered?": shown instead of creating a likely duplicate.
        self.duplicate_box = QWidget(self)
        duplicate_layout = QVBoxLayout(self.duplicate_box)
        duplicate_layout.setContentsMargins(0, 0, 0, 0)
        self.duplicate_text = QLabel(self.duplicate_box)
        self.duplicate_text.setWordWrap(True)
        self.duplicate_text.setStyleSheet(text_style(WARNING))
        self.use_existing_button = QPushButton(self.duplicate_box)
        self.create_anyway_button = QPushButton(self.duplicate_box)
        duplicate_buttons = QHBoxLayout()
        duplicate_buttons.addWidget(self.use_existing_button)
        duplicate_buttons.addWidget(self.create_anyway_button)
        duplicate_layout.addWidget(self.duplicate_text)
        duplicate_layout.addLayout(duplicate_buttons)
        self.duplicate_box.setVisible(False)
        layout.addWidget(self.duplicate_box)
        self._duplicates: tuple[PatientDTO, ...] = ()

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.run_search)
        self.search.textChanged.connect(self._timer.start)
        self.results.clicked.connect(self._pick)
        self.results.activated.connect(self._pick)
        self.new_button.toggled.connect(self.create_box.setVisible)
        self.create_button.clicked.connect(self.create_patient)
        self.use_existing_button.clicked.connect(self._use_existing)
        self.create_anyway_button.clicked.connect(lambda: self.create_patient(anyway=True))
        for field in (self.given, self.family, self.phone):
            field.textChanged.connect(self._forget_duplicates)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    @Slot()
    def retranslate(self) -> None:
        self.setTitle(_("Patient"))
        self.search.setPlaceholderText(_("Search by name or phone"))
        self.new_button.setText(_("New patient"))
        self.given_label.setText(_("Given name"))
        self.family_label.setText(_("Family name"))
        self.phone_label.setText(_("Phone"))
        self.create_button.setText(_("Create patient"))
        self.use_existing_button.setText(_("Use the registered patient"))
        self.create_anyway_button.setText(_("Create a new patient anyway"))
        self._show_duplicates()
        self._show_chosen()

    @Slot()
    def run_search(self) -> None:
        """Search now (the timer calls this after typing stops)."""
        self.results_model.set_patients(patients.search(self._ctx, self.search.text(), limit=20))
        self.results.setVisible(self.results_model.rowCount() > 0)

    def choose(self, patient: PatientDTO) -> None:
        self.patient = patient
        self._show_chosen()
        self.patientChosen.emit(patient)

    @Slot(QModelIndex)
    def _pick(self, index: QModelIndex) -> None:
        patient = self.results_model.patient(index.row())
        if patient is not None:
            self.choose(patient)

    @Slot()
    def create_patient(self, anyway: bool = False) -> None:
        """Create the patient typed in; a likely duplicate is shown first, and created
        only when the user says it is a different person (``anyway``)."""
        if not anyway:
            self._duplicates = likely_duplicates(self._ctx, self.given.text(),
                                                 self.family.text(), self.phone.text())
            if self._duplicates:
                self._show_duplicates()
                return
        self._forget_duplicates()
        result = patients.create(self._ctx, given_name=self.given.text(),
                                 family_name=self.family.text(), phone=self.phone.text())
        if not result.ok or result.patient is None:
            refusal = result.refusal
            params = dict(refusal.params) if refusal else {}
            if params.get("field") == "family_name":
                params["field"] = _("the family name")
            self.create_error.setText("" if refusal is None else render_message(
                refusal.message_id, params, tz=self._tz, clinic_locale=self._locale))
            return
        self.create_error.clear()
        self.new_button.setChecked(False)
        for field in (self.given, self.family, self.phone):
            field.clear()
        self.choose(result.patient)

    def _show_duplicates(self) -> None:
        self.duplicate_box.setVisible(bool(self._duplicates))
        if self._duplicates:
            listed = "; ".join(_("{name}, {phone}").format(name=p.display_name,
                                                            phone=p.phone or "—")
                               for p in self._duplicates)
            self.duplicate_text.setText(
                _("Already registered? {patients}").format(patients=listed))

    @Slot()
    def _forget_duplicates(self) -> None:
        if self._duplicates:
            self._duplicates = ()
            self._show_duplicates()

    @Slot()
    def _use_existing(self) -> None:
        if self._duplicates:
            chosen = self._duplicates[0]
            self._forget_duplicates()
            self.new_button.setChecked(False)
            for field in (self.given, self.family, self.phone):
                field.clear()
            self.choose(chosen)

    def _show_chosen(self) -> None:
        if self.patient is None:
            self.chosen.setText(_("No patient chosen yet."))
        else:
            self.chosen.setText(_("Booking for: {name}").format(name=self.patient.display_name))
