"""The booking dialog (quick booking): patient, type, provider, room, time, notes, repeat.

It only asks the desk services and shows their answers: a refused booking shows
the translated reason and the alternatives in place (a click on one fills in the
time, provider and room); a series shows one row per occurrence, booked or why
not, with the alternatives of each clash. Double-booking is offered only to users
holding ``booking:override`` and needs a reason.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import cast

from PySide6.QtCore import QDate, QEvent, QModelIndex, QObject, Qt, QTime, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.services import agenda, booking
from desktop.services.agenda_frame import TemplateSlot, load_frame
from desktop.services.clinic_reference import ClinicReference, load_reference
from desktop.services.context import DeskContext
from desktop.services.dto import (
    ActionResult,
    AlternativeDTO,
    OccurrenceDTO,
    PatientDTO,
    RefusalDTO,
)
from desktop.services.series_preview import preview_series
from desktop.services.session import SessionLocked
from desktop.services.visits import ClinicWithRoom, VisitPart, VisitsService, clinic_places
from desktop.sync.errors import SyncError
from desktop.ui.booking_defaults import default_start
from desktop.ui.booking_model import AlternativesModel, OccurrencesModel, describe_alternative
from desktop.ui.other_clinics import OtherClinics
from desktop.ui.patient_picker import PatientPicker
from desktop.ui.recurrence_editor import RecurrenceEditor
from desktop.ui.text import (
    _,
    date_edit_format,
    format_when,
    language_notifier,
    ngettext,
    render_message,
    time_edit_format,
)
from desktop.ui.theme import ERROR, SUCCESS, text_style
from desktop.ui.visit_parts import VisitParts
from scheduling.commands import BookAppointment, Permission
from scheduling.errors import RecurrenceError
from scheduling.timeutil import to_local, to_utc

#: How many free slots "Find next available" lists, and how far ahead it looks.
ALTERNATIVES_SHOWN = 8
SEARCH_DAYS = 14
STEP_MINUTES = 5
#: The dialog widens to this when it shows a series' dates (reasons and alternatives wrap).
SERIES_WIDTH = 1000
#: The server's limit on the appointments of one visit.
MAX_VISIT_PARTS = 10


def visit_needs_server() -> str:
    return _("Visits are booked on the server, and this desk cannot reach it now. Nothing "
             "was booked. Book the appointments one by one, or try again when the desk is "
             "back online.")


class BookingDialog(QDialog):
    """Book one appointment or a series at ``clinic_id``.

    ``booked(ActionResult)`` is emitted after every accepted booking; a single
    booking then closes the dialog, a series stays open to show its occurrences.
    """

    booked = Signal(object)
    #: "Other clinics with room": book at this clinic instead (a ClinicWithRoom).
    otherClinicChosen = Signal(object)

    def __init__(self, ctx: DeskContext, clinic_id: str, *, start: datetime | None = None,
                 provider_id: str | None = None, patient: PatientDTO | None = None,
                 minutes: int | None = None, visits: VisitsService | None = None,
                 slot_template: TemplateSlot | None = None,
                 parent: QWidget | None = None) -> None:
        """``start``/``provider_id``/``minutes`` prefill the form (a click or a drag on an
        empty slot); without ``start`` the next quarter hour inside working hours.
        ``visits`` books visits on the server (None: this desk has no server to ask);
        ``slot_template`` books into a provider's named template slot (its id recorded)."""
        super().__init__(parent)
        self._ctx = ctx
        self._visits = visits
        #: The visit part whose alternatives are listed (None: the form's appointment).
        self._visit_part_shown: int | None = None
        self.slot_template = slot_template
        self._last_refusal: RefusalDTO | None = None
        #: The visit part the server refused (its index and what it was), for the message.
        self._refused_part: tuple[int, VisitPart] | None = None
        #: The series preview shown and not yet booked (a second Book books it).
        self._previewed: str | None = None
        self._clash_row: int | None = None  # the series row whose alternatives are listed
        self.reference: ClinicReference = load_reference(ctx, clinic_id)
        ref = self.reference
        self.may_override = Permission.OVERRIDE.value in ctx.user().permissions
        self.patients = PatientPicker(ctx, ref.time_zone, ref.locale, self)

        self.details = QGroupBox(self)
        form = QFormLayout(self.details)
        self.type_combo, self.provider_combo, self.room_combo = (QComboBox(self)
                                                                 for _i in range(3))
        self.date_edit = QDateEdit(self)
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat(date_edit_format(ref.locale))
        self.time_edit = QTimeEdit(self)
        self.time_edit.setDisplayFormat(time_edit_format(ref.locale))
        when = QHBoxLayout()
        when.addWidget(self.date_edit, 1)
        when.addWidget(self.time_edit)
        self.duration = QSpinBox(self)
        self.duration.setSingleStep(STEP_MINUTES)
        self.staff_notes, self.patient_notes = QPlainTextEdit(self), QPlainTextEdit(self)
        for notes in (self.staff_notes, self.patient_notes):
            notes.setFixedHeight(48)
        self.labels = {key: QLabel(self) for key in ("type", "provider", "room", "when",
                                                     "duration", "staff", "patient", "template")}
        self.template_label = QLabel("" if slot_template is None else slot_template.name, self)
        self.template_label.setWordWrap(True)
        for key, field in (("type", self.type_combo), ("provider", self.provider_combo),
                           ("room", self.room_combo), ("when", when),
                           ("duration", self.duration), ("staff", self.staff_notes),
                           ("patient", self.patient_notes),
                           ("template", self.template_label)):
            form.addRow(self.labels[key], field)
        form.setRowVisible(self.template_label, slot_template is not None)

        self.recurrence = RecurrenceEditor(ref.locale, self)
        self.find_button = QPushButton(self)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.alternatives_title = QLabel(self)
        self.alternatives_model = AlternativesModel(ref.time_zone, ref.locale, ref.names, self)
        self.alternatives = QListView(self)
        self.alternatives.setModel(self.alternatives_model)
        self.override = QGroupBox(self)
        self.override_box = QCheckBox(self.override)
        self.override_reason = QLineEdit(self.override)
        override_layout = QVBoxLayout(self.override)
        override_layout.addWidget(self.override_box)
        override_layout.addWidget(self.override_reason)
        self.override.setVisible(self.may_override)
        self.occurrences_model = OccurrencesModel(ref.time_zone, ref.locale, self._names, self)
        self.occurrences = QTableView(self)
        self.occurrences.setModel(self.occurrences_model)
        self.occurrences.setWordWrap(True)
        self.occurrences.verticalHeader().setVisible(False)
        header = self.occurrences.horizontalHeader()
        # The date fits its text; the reason and the alternatives share the rest and wrap.
        header.setSectionResizeMode(OccurrencesModel.WHEN, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(OccurrencesModel.RESULT, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(OccurrencesModel.ALTERNATIVES,
                                    QHeaderView.ResizeMode.Stretch)
        self.occurrences.setMinimumHeight(200)  # several rows, never one squeezed row
        self.occurrences.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.occurrences.setVisible(False)
        self.buttons = QDialogButtonBox(self)
        self.book_button = self.buttons.addButton("", QDialogButtonBox.ButtonRole.AcceptRole)
        self.book_button.setAutoDefault(False)  # Enter in the search must not book
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)

        left = QVBoxLayout()
        left.addWidget(self.patients)
        left.addWidget(self.details)
        self.visit = VisitParts(ref.time_zone, ref.locale, self._describe_part, self)
        left.addWidget(self.visit)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.recurrence)
        right.addWidget(self.find_button, 0, Qt.AlignmentFlag.AlignLeft)
        right.addWidget(self.message)
        right.addWidget(self.alternatives_title)
        right.addWidget(self.alternatives, 1)
        self.other_clinics = OtherClinics(clinic_places(ctx), self)
        right.addWidget(self.other_clinics)
        right.addWidget(self.override)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(self.occurrences, 1)
        layout.addWidget(self.buttons)

        self._fill_choices(start, provider_id)
        if minutes is not None:
            self.duration.setValue(minutes)
        if patient is not None:
            self.patients.choose(patient)
        self.patients.patientChosen.connect(self._patient_chosen)
        self.patients.search.installEventFilter(self)
        self.occurrences.clicked.connect(self._show_occurrence_alternatives)
        self.date_edit.dateChanged.connect(
            lambda day: self.recurrence.set_first_day(day.toPython()))
        self.recurrence.set_first_day(cast(date, self.date_edit.date().toPython()))
        for signal in (self.recurrence.changed, self.date_edit.dateChanged,
                       self.time_edit.timeChanged, self.duration.valueChanged,
                       self.provider_combo.currentIndexChanged,
                       self.room_combo.currentIndexChanged, self.type_combo.currentIndexChanged):
            signal.connect(self._forget_preview)
        self.type_combo.currentIndexChanged.connect(self._type_changed)
        self.find_button.clicked.connect(self.find_next_available)
        self._provider_picked = provider_id is not None
        self.provider_combo.activated.connect(self._provider_activated)
        self.alternatives.clicked.connect(self._use_alternative)
        self.alternatives.activated.connect(self._use_alternative)
        self.book_button.clicked.connect(self.submit)
        self.visit.add_button.clicked.connect(self.add_to_visit)
        self.visit.changed.connect(self._visit_changed)
        self.other_clinics.chosen.connect(self._other_clinic_chosen)
        self.provider_combo.currentIndexChanged.connect(self._leave_template_if_moved)
        self.close_button.clicked.connect(self.reject)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    # ------------------------------------------------------------------ texts

    @Slot()
    def retranslate(self) -> None:
        self.setWindowTitle(_("Book an appointment"))
        self.details.setTitle(_("Appointment"))
        for key, text in (("type", _("Type")), ("provider", _("Provider")),
                          ("room", _("Room")), ("when", _("Date and time")),
                          ("duration", _("Duration")), ("staff", _("Staff notes")),
                          ("patient", _("Notes for the patient")),
                          ("template", _("Template slot"))):
            self.labels[key].setText(text)
        self.duration.setSuffix(" " + _("min"))
        self.room_combo.setItemText(0, _("Any suitable room"))
        self.staff_notes.setPlaceholderText(_("Only the clinic sees these notes"))
        self.patient_notes.setPlaceholderText(_("Shown to the patient in reminders"))
        self.find_button.setText(_("Find next available"))
        self.alternatives_title.setText(_("Free times (click one to use it)"))
        self.override.setTitle(_("Double-booking"))
        self.override_box.setText(_("Book anyway, even though the time is taken"))
        self.override_reason.setPlaceholderText(_("Reason for double-booking (required)"))
        self._show_book_text()
        self.close_button.setText(_("Close"))
        self.date_edit.setDisplayFormat(date_edit_format(self.reference.locale))
        self.time_edit.setDisplayFormat(time_edit_format(self.reference.locale))
        self.alternatives_model.retranslate()
        self.occurrences_model.retranslate()
        if self._last_refusal is not None:
            self._show_refusal(self._last_refusal)

    # ------------------------------------------------------------------ choices

    def _fill_choices(self, start: datetime | None, provider_id: str | None) -> None:
        ref = self.reference
        for kind in ref.types:
            self.type_combo.addItem(kind.name, kind.id)
        for provider in ref.providers:
            self.provider_combo.addItem(provider.name, provider.id)
        self.room_combo.addItem("", None)
        for room in ref.rooms:
            self.room_combo.addItem(room.name, room.id)
        if provider_id is not None:
            self.provider_combo.setCurrentIndex(max(0, self.provider_combo.findData(provider_id)))
        template = self.slot_template
        if template is not None and template.appointment_type_id is not None:
            self.type_combo.setCurrentIndex(
                max(0, self.type_combo.findData(template.appointment_type_id)))
        self._type_changed()
        self.set_start(start or self._default_start())

    def _default_start(self) -> datetime:
        """The next quarter hour inside the chosen provider's working hours (a week on)."""
        now = self._ctx.now()
        today = to_local(now, self.reference.time_zone).date()
        frame = load_frame(self._ctx, self.reference.clinic_id, today, today + timedelta(days=7))
        provider = self.provider_combo.currentData()
        working = [pair for (day, key), hours in frame.working.items() if key == provider
                   for pair in hours]
        return default_start(now, working)

    @Slot()
    def _type_changed(self) -> None:
        kind = self.reference.type_info(self.type_combo.currentData() or "")
        if kind is None:
            return
        self.duration.setRange(kind.min_minutes, kind.max_minutes)
        self.duration.setValue(kind.default_minutes)

    def set_start(self, start: datetime) -> None:
        """Show ``start`` (an aware instant) as the clinic's local date and time."""
        local = to_local(start, self.reference.time_zone)
        self.date_edit.setDate(QDate(local.year, local.month, local.day))
        self.time_edit.setTime(QTime(local.hour, local.minute))

    def start(self) -> datetime:
        """The chosen date and time, read in the clinic's zone, as a UTC instant."""
        wall = datetime.combine(cast(date, self.date_edit.date().toPython()),
                                cast(time, self.time_edit.time().toPython()))
        return to_utc(wall.replace(second=0, microsecond=0), self.reference.time_zone)

    def _names(self) -> dict[str, str]:
        names = dict(self.reference.names)
        if self.patients.patient is not None:
            names[self.patients.patient.id] = self.patients.patient.display_name
        return names

    # ------------------------------------------------------------------ alternatives

    @Slot()
    def find_next_available(self) -> None:
        """List the first free times from the chosen one on (from now if it is past), with
        the provider the receptionist picked, else with any provider."""
        start = max(self.start(), self._ctx.now())
        patient = self.patients.patient
        provider = self.provider_combo.currentData() if self._provider_picked else None
        try:
            found = agenda.earliest_free(
                self._ctx, self.reference.clinic_id, self.type_combo.currentData(),
                limit=ALTERNATIVES_SHOWN, after=start, horizon_days=SEARCH_DAYS,
                provider_ids=None if provider is None else (provider,),
                patient_id=None if patient is None else patient.id)
        except SessionLocked:
            self._say(_("The desk is locked. Unlock it to continue."), error=True)
            return
        self.alternatives_model.set_alternatives(found)
        self._last_refusal = None
        self._say(_("Free times from {time}:").format(
            time=format_when(start, self.reference.time_zone, self.reference.locale))
                  if found else _("No free time in the next two weeks."), error=not found)
        self.offer_other_clinics()

    @Slot(int)
    def _provider_activated(self, _index: int) -> None:
        self._provider_picked = True  # "find next available" now looks at this provider

    @Slot(QModelIndex)
    def _use_alternative(self, index: QModelIndex) -> None:
        alternative = self.alternatives_model.alternative(index.row())
        if alternative is not None:
            self.use_alternative(alternative)

    def use_alternative(self, alternative: AlternativeDTO) -> None:
        """Fill in the time, provider and room of an offered alternative (for a series
        clash: book that date on its own)."""
        if self._clash_row is not None:
            self._book_clash_alternative(alternative)
            return
        if self._visit_part_shown is not None:
            self._move_visit_part(self._visit_part_shown, alternative)
            return
        self.set_start(alternative.start)
        index = self.provider_combo.findData(alternative.provider_id)
        if index >= 0:
            self.provider_combo.setCurrentIndex(index)
        self.room_combo.setCurrentIndex(max(0, self.room_combo.findData(alternative.room_id)))
        self.override_box.setChecked(False)  # a free time needs no double-booking
        self._say(_("Chosen: {alternative}. Press Book to confirm.").format(
            alternative=describe_alternative(alternative, self.reference.time_zone,
                                             self.reference.locale, self.reference.names)),
                  error=False)

    # ------------------------------------------------------------------ booking

    @Slot()
    def submit(self) -> None:
        """Book what the form says: one appointment, or a series when repeating."""
        patient = self.patients.patient
        if patient is None:
            self._say(_("Choose a patient first, or create a new one."), error=True)
            return
        override_reason: str | None = None
        if self.may_override and self.override_box.isChecked():
            override_reason = self.override_reason.text().strip()
            if not override_reason:
                self._say(_("Double-booking needs a reason."), error=True)
                self.override_reason.setFocus()
                return
        try:
            rrule = self.recurrence.rrule()
        except RecurrenceError as error:
            self._say(str(error), error=True)
            return
        self._clash_row = None
        self._refused_part = None
        start = self.start()
        end = start + timedelta(minutes=self.duration.value())
        common = {
            "clinic_id": self.reference.clinic_id, "patient_id": patient.id,
            "appointment_type_id": self.type_combo.currentData(),
            "provider_id": self.provider_combo.currentData(),
            "room_id": self.room_combo.currentData(),
            "notes": self.staff_notes.toPlainText().strip(),
        }
        if self.visit.parts:
            self._book_visit(patient.id)
            return
        if rrule is not None and self._previewed != rrule:
            self._preview(rrule, start, end, common)
            return
        try:
            if rrule is None:
                # run_booking takes the whole command, so the patient's notes go too.
                result = booking.run_booking(self._ctx, BookAppointment(
                    self._ctx.actor(), self._ctx.new_id(), start=start, end=end,
                    patient_notes=self.patient_notes.toPlainText().strip(),
                    override_reason=override_reason, slot_template_id=self._template_id(),
                    **common))
            else:
                result = booking.book_series(self._ctx, first_start=start, end=end,
                                             rrule=rrule, **common)
        except SessionLocked:
            self._say(_("The desk is locked. Unlock it to continue."), error=True)
            return
        except RecurrenceError as error:
            self._say(str(error), error=True)
            return
        self._show_result(result, series=rrule is not None)

    def _preview(self, rrule: str, start: datetime, end: datetime,
                 common: dict[str, str | None]) -> None:
        """Show every occurrence as booking would judge it; the next Book books them."""
        try:
            occurrences = preview_series(
                self._ctx, first_start=start, end=end, rrule=rrule,
                clinic_id=self.reference.clinic_id, patient_id=str(common["patient_id"]),
                appointment_type_id=str(common["appointment_type_id"]),
                provider_id=str(common["provider_id"]), room_id=common["room_id"])
        except SessionLocked:
            self._say(_("The desk is locked. Unlock it to continue."), error=True)
            return
        except RecurrenceError as error:
            self._say(str(error), error=True)
            return
        self._show_occurrences(occurrences)
        free = sum(1 for o in occurrences if o.ok)
        self._previewed = rrule if free else None
        self._show_book_text()
        if not free:
            self._say(_("None of these dates can be booked. Change the time or the days."),
                      error=True)
            return
        self._say(ngettext("{free} of {total} date is free. Press Book to book it; click a "
                           "clash to see its free times.",
                           "{free} of {total} dates are free. Press Book to book them; click a "
                           "clash to see its free times.", len(occurrences))
                  .format(free=free, total=len(occurrences)), error=False)

    def _show_occurrences(self, occurrences: tuple[OccurrenceDTO, ...]) -> None:
        self.occurrences_model.set_occurrences(occurrences)
        self.occurrences.setVisible(True)
        self.resize(max(self.width(), self.sizeHint().width(), SERIES_WIDTH),
                    max(self.height(), self.sizeHint().height()))
        self.occurrences.resizeRowsToContents()

    @Slot()
    def _forget_preview(self) -> None:
        if self._previewed is not None:
            self._previewed = None
            self._show_book_text()

    def _show_book_text(self) -> None:
        if self._previewed is not None:
            free = sum(1 for r in range(self.occurrences_model.rowCount())
                       if (o := self.occurrences_model.occurrence(r)) is not None and o.ok)
            self.book_button.setText(ngettext("Book {count} appointment",
                                              "Book {count} appointments", free)
                                     .format(count=free))
        elif self.visit.parts:
            count = len(self.visit.parts) + 1
            self.book_button.setText(ngettext("Book the visit ({count} appointment)",
                                              "Book the visit ({count} appointments)", count)
                                     .format(count=count))
        elif self.recurrence.isChecked():
            self.book_button.setText(_("Preview dates"))
        else:
            self.book_button.setText(_("Book"))

    @Slot(QModelIndex)
    def _show_occurrence_alternatives(self, index: QModelIndex) -> None:
        """A clash row lists its free times; picking one books that date on its own."""
        occurrence = self.occurrences_model.occurrence(index.row())
        if occurrence is None or occurrence.refusal is None:
            return
        self._clash_row = index.row()
        self.alternatives_model.set_alternatives(occurrence.refusal.alternatives)
        self._say(_("Free times for {when}: click one to book that date on its own.").format(
            when=format_when(occurrence.original_start, self.reference.time_zone,
                             self.reference.locale)), error=False)

    def _book_clash_alternative(self, alternative: AlternativeDTO) -> None:
        patient = self.patients.patient
        if patient is None:
            return
        try:
            result = booking.book(
                self._ctx, clinic_id=self.reference.clinic_id, patient_id=patient.id,
                appointment_type_id=self.type_combo.currentData(),
                provider_id=alternative.provider_id, start=alternative.start,
                end=alternative.end, room_id=alternative.room_id,
                notes=self.staff_notes.toPlainText().strip())
        except SessionLocked:
            self._say(_("The desk is locked. Unlock it to continue."), error=True)
            return
        if not result.ok:
            assert result.refusal is not None
            self._show_refusal(result.refusal)
            return
        self._clash_row = None
        self.alternatives_model.set_alternatives(())
        self.booked.emit(result)
        self._say(_("Booked on its own: {alternative}.").format(
            alternative=describe_alternative(alternative, self.reference.time_zone,
                                             self.reference.locale, self.reference.names)),
                  error=False)

    # ------------------------------------------------------------------ template slots

    def _template_id(self) -> str | None:
        return None if self.slot_template is None else self.slot_template.template_id

    @Slot()
    def _leave_template_if_moved(self) -> None:
        template = self.slot_template
        if template is not None and self.provider_combo.currentData() != template.provider_id:
            self._leave_template()

    def _leave_template(self) -> None:
        self.slot_template = None
        form = self.details.layout()
        assert isinstance(form, QFormLayout)
        form.setRowVisible(self.template_label, False)

    # ------------------------------------------------------------------ other clinics

    def offer_other_clinics(self) -> None:
        """When this clinic has no free time for the type on the chosen day, list the
        clinics the server says have room (nothing offline)."""
        chosen = self.date_edit.date()
        day = date(chosen.year(), chosen.month(), chosen.day())
        kind = self.type_combo.currentData()
        if self._visits is None or kind is None:
            return
        try:
            free = agenda.free_slots(self._ctx, self.reference.clinic_id, kind, day, day,
                                     limit=1)
            found = [] if free else self._visits.clinics_with_room(kind, day)
        except (SessionLocked, SyncError):
            found = []
        self.other_clinics.show_clinics(
            day, [c for c in found if c.clinic_id != self.reference.clinic_id])

    @Slot(object)
    def _other_clinic_chosen(self, clinic: ClinicWithRoom) -> None:
        self.otherClinicChosen.emit(clinic)
        self.reject()

    # ------------------------------------------------------------------ visits

    def _form_part(self) -> VisitPart:
        start = self.start()
        return VisitPart(self.type_combo.currentData(), self.provider_combo.currentData(),
                         start, start + timedelta(minutes=self.duration.value()),
                         self.room_combo.currentData(), self.staff_notes.toPlainText().strip(),
                         self._template_id())

    def _describe_part(self, part: VisitPart) -> str:
        names = self.reference.names
        what = _("{type} with {provider}").format(
            type=names.get(part.appointment_type_id, ""),
            provider=names.get(part.provider_id, ""))
        if part.room_id:
            what = _("{what}, {room}").format(what=what, room=names.get(part.room_id, ""))
        return what

    @Slot()
    def add_to_visit(self) -> None:
        """Keep the form's appointment as a part of the visit; the form goes on with the
        next part, starting when this one ends."""
        if self.recurrence.isChecked():
            self._say(_("A visit cannot repeat. Turn off Repeat to book a visit."), error=True)
            return
        if len(self.visit.parts) + 1 >= MAX_VISIT_PARTS:
            self._say(_("A visit holds at most {count} appointments.").format(
                count=MAX_VISIT_PARTS), error=True)
            return
        part = self._form_part()
        self.visit.add(part)
        self._leave_template()  # the next part is not in the template slot
        self.set_start(part.end)
        self._say(_("Added to the visit. Choose the next appointment (it starts when the "
                    "previous one ends), then press Book."), error=False)

    @Slot()
    def _visit_changed(self) -> None:
        self.recurrence.setEnabled(not self.visit.parts)
        self._visit_part_shown = None
        self._show_book_text()
        # The listed parts need room: grow rather than squeeze the form's notes.
        self.resize(self.width(), max(self.height(), self.sizeHint().height()))

    def _book_visit(self, patient_id: str) -> None:
        """Book the listed parts and the form's appointment on the server, all or none."""
        if self._visits is None:
            self._say(visit_needs_server(), error=True)
            return
        parts = [*self.visit.parts, self._form_part()]
        try:
            outcome = self._visits.book(self.reference.clinic_id, patient_id, parts)
        except SessionLocked:
            self._say(_("The desk is locked. Unlock it to continue."), error=True)
            return
        except SyncError as error:
            self._say(str(error), error=True)
            return
        if outcome.offline:
            self._say(visit_needs_server(), error=True)
            return
        if outcome.ok:
            self.booked.emit(ActionResult(ok=True, record_id=outcome.visit_id))
            self.accept()
            return
        if outcome.refusal is None:
            self._say(_("The server did not book the visit: {reason} Nothing was booked.")
                      .format(reason=outcome.server_message), error=True)
            return
        index = outcome.part
        listed = index is not None and index < len(self.visit.parts)
        self.visit.mark_refused(index if listed else None)
        self._visit_part_shown = index if listed else None
        self._refused_part = None if index is None else (index, parts[index])
        self._show_refusal(outcome.refusal)

    def _move_visit_part(self, index: int, alternative: AlternativeDTO) -> None:
        """Put the refused part at an offered free time (same length)."""
        part = self.visit.parts[index]
        moved = VisitPart(part.appointment_type_id, alternative.provider_id, alternative.start,
                          alternative.start + (part.end - part.start), alternative.room_id,
                          part.notes, part.slot_template_id)
        self.visit.replace(index, moved)
        self._visit_part_shown = None
        self._refused_part = None
        self._say(_("Appointment {number} of the visit moved to a free time. Press Book to "
                    "book the visit.").format(number=index + 1), error=False)

    @Slot(object)
    def _patient_chosen(self, _patient: PatientDTO) -> None:
        if self.message.text() == _("Choose a patient first, or create a new one."):
            self._say("", error=False)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Enter in the patient search searches (and picks a single match); never books."""
        if (watched is self.patients.search and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent)
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)):
            self.patients.run_search()
            if self.patients.results_model.rowCount() == 1:
                first = self.patients.results_model.patient(0)
                if first is not None:
                    self.patients.choose(first)
            return True
        return super().eventFilter(watched, event)

    def _show_result(self, result: ActionResult, *, series: bool) -> None:
        if series and result.occurrences:
            self._show_occurrences(result.occurrences)
            self._previewed = None
            self._show_book_text()
        if not result.ok:
            assert result.refusal is not None
            self._show_refusal(result.refusal)
            self.offer_other_clinics()
            return
        self._last_refusal = None
        self.alternatives_model.set_alternatives(())
        self.booked.emit(result)
        if series:
            done = sum(1 for o in result.occurrences if o.ok)
            total = len(result.occurrences)
            self._say(ngettext("{booked} of {total} appointment booked.",
                               "{booked} of {total} appointments booked.", total)
                      .format(booked=done, total=total), error=done < total)
            return
        self.accept()

    def _show_refusal(self, refusal: RefusalDTO) -> None:
        self._last_refusal = refusal
        ref = self.reference
        reason = render_message(refusal.message_id, refusal.params, tz=ref.time_zone,
                                clinic_locale=ref.locale, names=self._names())
        self.alternatives_model.set_alternatives(refusal.alternatives)
        if self._refused_part is not None:
            index, part = self._refused_part
            reason = _("Appointment {number} of the visit ({what}) cannot be booked: {reason} "
                       "Nothing was booked.").format(
                number=index + 1, what=self._describe_part(part), reason=reason)
        if refusal.alternatives:
            reason = _("{reason} Pick one of the free times below.").format(reason=reason)
        if refusal.overridable and self.may_override:
            reason = _("{reason} Or double-book it with a reason.").format(reason=reason)
        self._say(reason, error=True)

    def _say(self, text: str, *, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(text_style(ERROR) if error else text_style(SUCCESS))

