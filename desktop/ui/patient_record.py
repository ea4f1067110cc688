"""The patient record: details (seed 002) and each appointment's money.

*Details* edits names, date of birth, phone, e-mail, address, insurance, language and
how messages reach the patient; saved like every patient change (on this desk at
once, sent with the next sync; a field another desk changed meanwhile becomes a
conflict in the inbox). *Appointments and payments* lists the patient's
appointments with charge, coverage, copay, late-cancellation fee, paid and due,
read from the server (financial records are not kept on the desk); amounts and
payments are saved there at once, and the server's refusal is shown in its words.
A user who may override (``booking:override``) waives or reduces a posted fee
later with *Waive fee…* and a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from babel.numbers import format_decimal
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.services import patients
from desktop.services.admin import refusal_text
from desktop.services.context import DeskContext
from desktop.services.dto import PatientDTO
from desktop.services.financials import (
    WAIVE_PERMISSION,
    AppointmentMoney,
    FinancialError,
    FinancialsService,
    amount,
    record_names,
)
from desktop.services.session import SessionLocked
from desktop.ui.contact_preferences import PREFERENCE_NAMES
from desktop.ui.fee_waiver_dialog import FeeWaiverDialog, WaiverChoice
from desktop.ui.text import N_, _, display_locale, format_when, render_message
from desktop.ui.theme import ERROR, SUCCESS, text_style
from scheduling.i18n import TERMS
from scheduling.model import CONTACT_PREFERENCES

LANGUAGE_NAMES = (("en", "English"), ("es", "Español"))
PAYMENT_NAMES = {"pending": N_("Pending"), "partial": N_("Partly paid"), "paid": N_("Paid")}
#: The table's columns: heading msgid.
COLUMNS = (N_("Appointment"), N_("Charge"), N_("Insurance covers"), N_("Copay"),
           N_("Late-cancellation fee"), N_("Paid"), N_("Amount due"), N_("Payment"))
#: Details fields edited as one line of text: (patient field, label msgid, longest).
TEXT_FIELDS = (("given_name", N_("Given name"), 100), ("family_name", N_("Family name"), 100),
               ("date_of_birth", N_("Date of birth"), 10), ("phone", N_("Phone"), 32),
               ("email", N_("E-mail"), 320), ("insurance_provider", N_("Insurance"), 100),
               ("insurance_id", N_("Insurance number"), 50))


def money_text(value: Decimal, clinic_locale: str) -> str:
    """An amount with two decimals in the clinic's number format ("1.234,50" in Spain)."""
    return str(format_decimal(value, format="#,##0.00", locale=display_locale(clinic_locale)))


class PatientRecordDialog(QDialog):
    """Signal ``saved(patient_id)`` after the details are stored on the desk."""

    saved = Signal(str)

    def __init__(self, ctx: DeskContext, patient: PatientDTO, money: FinancialsService | None,
                 tz: str, clinic_locale: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self.patient, self._money = ctx, patient, money
        self._tz, self._locale = tz, clinic_locale
        self.lines: list[AppointmentMoney] = []
        self.setObjectName("patient_record")
        self.setWindowTitle(_("Patient record: {patient}").format(patient=patient.display_name))
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._details_tab(), _("Details"))
        self.tabs.addTab(self._money_tab(), _("Appointments and payments"))
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(close)
        self.resize(900, 620)
        self.load_money()

    # ------------------------------------------------------------------ details

    def _details_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout()
        self.text: dict[str, QLineEdit] = {}
        for name, label, longest in TEXT_FIELDS:
            edit = QLineEdit(str(getattr(self.patient, name)), page)
            edit.setObjectName(f"patient_{name}")
            edit.setMaxLength(longest)
            form.addRow(_(label), edit)
            self.text[name] = edit
        self.text["date_of_birth"].setPlaceholderText(_("YYYY-MM-DD, or empty"))
        self.address = QPlainTextEdit(self.patient.address, page)
        self.address.setFixedHeight(70)
        form.insertRow(5, _("Address"), self.address)
        self.language = QComboBox(page)
        for code, name in LANGUAGE_NAMES:
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(
            self.patient.preferred_language)))
        form.addRow(_("Language"), self.language)
        self.preference = QComboBox(page)
        for key in CONTACT_PREFERENCES:
            self.preference.addItem(_(PREFERENCE_NAMES.get(key, key)), key)
        self.preference.setCurrentIndex(max(0, self.preference.findData(
            self.patient.contact_preference)))
        form.addRow(_("Send messages by"), self.preference)
        self.opt_out = QCheckBox(_("No reminders (booking notices are still sent)"), page)
        self.opt_out.setChecked(self.patient.reminders_opt_out)
        form.addRow("", self.opt_out)
        self.details_note = QLabel(page)
        self.details_note.setWordWrap(True)
        self.save_details_button = QPushButton(_("Save details"), page)
        self.save_details_button.clicked.connect(lambda _checked=False: self.save_details())
        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(self.details_note)
        layout.addWidget(self.save_details_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        return page

    @Slot()
    def save_details(self) -> bool:
        changes: dict[str, object] = {name: edit.text() for name, edit in self.text.items()}
        changes.update(address=self.address.toPlainText().strip(),
                       preferred_language=str(self.language.currentData()),
                       contact_preference=str(self.preference.currentData()),
                       reminders_opt_out=self.opt_out.isChecked())
        try:
            result = patients.update(self._ctx, self.patient.id, **changes)
        except SessionLocked:
            self.reject()
            return False
        if not result.ok:
            refusal = result.refusal
            self._say(self.details_note, "" if refusal is None else render_message(
                refusal.message_id, refusal.params, tz=self._tz, clinic_locale=self._locale),
                ok=False)
            return False
        if result.patient is not None:
            self.patient = result.patient
        self._say(self.details_note, _("Saved on this desk; sent to the server with the "
                                       "next sync."), ok=True)
        self.saved.emit(self.patient.id)
        return True

    # ------------------------------------------------------------------ money

    def _money_tab(self) -> QWidget:
        page = QWidget(self)
        self.table = QTableWidget(0, len(COLUMNS), page)
        self.table.setHorizontalHeaderLabels([_(c) for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._chosen)
        # A late, partly waived line wraps in a narrow window: rows grow to show it all
        # (once the header has its new widths: the signal comes before they apply).
        header.sectionResized.connect(
            lambda *_args: QTimer.singleShot(0, self.table.resizeRowsToContents))
        self.charge, self.coverage, self.copay, self.payment = (
            QLineEdit(page) for _i in range(4))
        for edit, name in ((self.charge, "charge"), (self.coverage, "coverage"),
                           (self.copay, "copay"), (self.payment, "payment")):
            edit.setObjectName(f"money_{name}")
            edit.setPlaceholderText("0.00")
            edit.setMaximumWidth(140)
        amounts = QHBoxLayout()
        for label, edit in ((_("Charge"), self.charge), (_("Insurance covers"), self.coverage),
                            (_("Copay"), self.copay)):
            amounts.addWidget(QLabel(label, page))
            amounts.addWidget(edit)
        self.save_amounts_button = QPushButton(_("Save amounts"), page)
        self.save_amounts_button.clicked.connect(lambda _checked=False: self.save_amounts())
        amounts.addWidget(self.save_amounts_button)
        amounts.addStretch(1)
        paying = QHBoxLayout()
        paying.addWidget(QLabel(_("Payment received"), page))
        paying.addWidget(self.payment)
        self.pay_button = QPushButton(_("Record payment"), page)
        self.pay_button.clicked.connect(lambda _checked=False: self.record_payment())
        paying.addWidget(self.pay_button)
        self.waive_button = QPushButton(_("Waive fee…"), page)
        self.waive_button.setObjectName("waive_fee")
        self.waive_button.setToolTip(_("Waive or reduce the late-cancellation fee of the "
                                       "chosen appointment, with a reason."))
        self.waive_button.clicked.connect(lambda _checked=False: self.ask_waiver())
        paying.addWidget(self.waive_button)
        paying.addStretch(1)
        self.money_note = QLabel(page)
        self.money_note.setWordWrap(True)
        self.formula = QLabel(_("Amount due = charge − insurance + late-cancellation fee − paid. "
                                "The copay is the part of the patient's share collected at "
                                "the visit."), page)
        self.formula.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addWidget(self.table, 1)
        layout.addLayout(amounts)
        layout.addLayout(paying)
        layout.addWidget(self.formula)
        layout.addWidget(self.money_note)
        return page

    @Slot()
    def load_money(self) -> None:
        """The patient's appointments and money from the server (or why not)."""
        self.lines = []
        if self._money is not None:
            try:
                self.lines = self._money.appointments(self.patient.id)
            except SessionLocked:
                self.reject()
                return
            except Exception as error:  # noqa: BLE001 - any failure is shown in words
                self._say(self.money_note, refusal_text(error), ok=False)
        else:
            self._say(self.money_note, _("Payments are kept on the server; this desk is not "
                                         "connected to it now."), ok=False)
        self._fill()

    def _fill(self) -> None:
        names = record_names(self._ctx)
        self.table.setRowCount(len(self.lines))
        for row, line in enumerate(self.lines):
            status = TERMS.get(line.status)
            what = _("{when} · {type} with {provider} ({status})").format(
                when=format_when(line.start, self._tz, self._locale),
                type=names.get(line.appointment_type_id, "?"),
                provider=names.get(line.provider_id, "?"),
                status=_(status) if status else line.status)
            if line.late_cancellation:
                what = _("{appointment} · late cancellation").format(appointment=what)
            if line.fee_waived > 0:
                what = _("{appointment} · {amount} of the fee waived").format(
                    appointment=what, amount=money_text(line.fee_waived, self._locale))
            cells = [what, *(money_text(value, self._locale) for value in (
                line.total_charge, line.insurance_coverage, line.copay_amount,
                line.late_cancellation_fee, line.amount_paid, line.amount_due)),
                _(PAYMENT_NAMES.get(line.payment_status, line.payment_status))]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeRowsToContents()
        enabled = bool(self.lines)
        for widget in (self.charge, self.coverage, self.copay, self.payment,
                       self.save_amounts_button, self.pay_button):
            widget.setEnabled(enabled)
        if self.lines and not self.table.selectedItems():
            self.table.selectRow(0)
        self._waivable()

    def _waivable(self) -> None:
        """The "Waive fee…" button: only for a posted fee and a user who may waive it."""
        line = self.current()
        try:
            allowed = WAIVE_PERMISSION in self._ctx.user().permissions
        except SessionLocked:
            allowed = False
        self.waive_button.setEnabled(bool(
            allowed and line is not None and line.late_cancellation_fee > 0))

    def current(self) -> AppointmentMoney | None:
        row = self.table.currentRow()
        return self.lines[row] if 0 <= row < len(self.lines) else None

    @Slot()
    def _chosen(self) -> None:
        line = self.current()
        if line is None:
            return
        for edit, value in ((self.charge, line.total_charge),
                            (self.coverage, line.insurance_coverage),
                            (self.copay, line.copay_amount)):
            edit.setText(str(value))
        self.payment.setText(str(line.amount_due) if line.amount_due > 0 else "")
        self._waivable()

    def _replace(self, updated: AppointmentMoney) -> None:
        row = self.table.currentRow()
        self.lines[row] = updated
        self._fill()
        self.table.selectRow(row)

    def _typed(self, edit: QLineEdit, label: str) -> Decimal | None:
        try:
            return amount(edit.text(), label)
        except FinancialError:
            self._say(self.money_note, _("{field}: write an amount like 12.50, not negative, "
                                         "with at most two decimals.").format(field=label),
                      ok=False)
            edit.setFocus()
            return None

    @Slot()
    def save_amounts(self) -> bool:
        line = self.current()
        if line is None or self._money is None:
            return False
        typed = [self._typed(edit, label) for edit, label in (
            (self.charge, _("Charge")), (self.coverage, _("Insurance covers")),
            (self.copay, _("Copay")))]
        charge, coverage, copay = typed
        if charge is None or coverage is None or copay is None:
            return False
        money = self._money
        return self._send(lambda: money.set_charges(
            line, total_charge=charge, insurance_coverage=coverage, copay_amount=copay),
            _("Amounts saved."))

    @Slot()
    def record_payment(self) -> bool:
        line = self.current()
        if line is None or self._money is None:
            return False
        paid = self._typed(self.payment, _("Payment received"))
        if paid is None:
            return False
        money = self._money
        return self._send(lambda: money.record_payment(line, paid), _("Payment recorded."))

    @Slot()
    def ask_waiver(self) -> bool:
        """Ask how much of the chosen appointment's fee to waive, and why; then waive it."""
        line = self.current()
        if line is None:
            return False
        dialog = FeeWaiverDialog(money_text(line.late_cancellation_fee, self._locale),
                                 str(line.late_cancellation_fee), self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        return self.waive(dialog.choice())

    def waive(self, choice: WaiverChoice) -> bool:
        """Waive ``choice`` on the server; an empty reason or a bad amount is refused here."""
        line = self.current()
        if line is None or self._money is None:
            return False
        if not choice.reason:
            self._say(self.money_note, _("Please say why the fee is waived."), ok=False)
            return False
        try:
            waived = amount(choice.amount, "amount")
        except FinancialError:
            self._say(self.money_note, _("{field}: write an amount like 12.50, not negative, "
                                         "with at most two decimals.").format(
                field=_("Amount to waive")), ok=False)
            return False
        money = self._money
        return self._send(lambda: money.waive_fee(line, waived, choice.reason),
                          _("Fee waived."))

    def _send(self, action: Callable[[], AppointmentMoney], done: str) -> bool:
        try:
            updated = action()
        except SessionLocked:
            self.reject()
            return False
        except Exception as error:  # noqa: BLE001 - the server's refusal, in its words
            self._say(self.money_note, refusal_text(error), ok=False)
            return False
        self._replace(updated)
        self._say(self.money_note, done, ok=True)
        return True

    @staticmethod
    def _say(label: QLabel, text: str, *, ok: bool) -> None:
        label.setText(text)
        label.setStyleSheet(text_style(SUCCESS if ok else ERROR))


__all__ = ["PatientRecordDialog", "money_text"]
