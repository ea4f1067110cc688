"""The waitlist / pinboard dock: patients waiting for a slot, dragged into the agenda.

Each row is an active waitlist entry of the shown clinic, in serving order, with its
priority, preferences and the state of its latest offer (offered and held until when,
accepted, expired, taken by someone else, withdrawn: read from the server, which makes
the offers). Dragging a row starts a drag carrying :data:`WAITLIST_MIME` with the entry
id; the agenda books it where it is dropped (through the waitlist service, which asks
the rules). "Add…" puts a patient on the list, "Remove" takes one off, "Find a slot"
lists the next free slots their preferences allow, and "Offer this slot" has the server
offer the chosen one to them (with the organization's hold).
"""

from __future__ import annotations

from contextlib import suppress

from babel.dates import get_day_names
from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services import waitlist
from desktop.services.clinic_reference import ClinicReference, load_reference
from desktop.services.context import DeskContext, NotPermitted
from desktop.services.dto import ActionResult, AlternativeDTO, WaitlistEntryDTO
from desktop.services.notifications import NotificationsRefused
from desktop.services.offers import Offer, OffersService, latest_by_entry
from desktop.services.session import SessionLocked
from desktop.ui.agenda import WAITLIST_MIME
from desktop.ui.patient_picker import PatientPicker
from desktop.ui.server_read import read_in_thread
from desktop.ui.text import (
    _,
    display_locale,
    format_clock,
    format_when,
    language_notifier,
    render_message,
)
from desktop.ui.theme import ERROR, hint_style, text_style

ENTRY_ID_ROLE = Qt.ItemDataRole.UserRole + 1


class WaitlistModel(QAbstractListModel):
    """Waitlist entries; drags carry the entry id under :data:`WAITLIST_MIME`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._entries: tuple[WaitlistEntryDTO, ...] = ()
        self._reference: ClinicReference | None = None
        self._offers: dict[str, Offer] = {}

    def set_entries(self, entries: tuple[WaitlistEntryDTO, ...],
                    reference: ClinicReference | None) -> None:
        self.beginResetModel()
        self._entries, self._reference = entries, reference
        self.endResetModel()

    def set_offers(self, offers: list[Offer]) -> None:
        """The server's offers (each entry shows its latest)."""
        self.beginResetModel()
        self._offers = latest_by_entry(offers)
        self.endResetModel()

    def offer_of(self, entry_id: str) -> Offer | None:
        return self._offers.get(entry_id)

    def lines(self, entry: WaitlistEntryDTO) -> list[str]:
        """What a row says: name and priority, type, preferences, the latest offer."""
        ref = self._reference
        first = entry.patient_name
        if entry.priority:
            first += " · " + _("priority {priority}").format(priority=entry.priority)
        lines = [first]
        kind = ref.names.get(entry.appointment_type_id, "") if ref else ""
        if kind:
            lines.append(kind)
        wishes = preferences_text(entry, ref)
        if wishes:
            lines.append(wishes)
        offer = self._offers.get(entry.id)
        if offer is not None and ref is not None:
            lines.append(offer_text(offer, ref))
        return lines

    def entry(self, row: int) -> WaitlistEntryDTO | None:
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        entry = self.entry(index.row()) if index.isValid() else None
        if entry is None:
            return None
        ref = self._reference
        if role == Qt.ItemDataRole.DisplayRole:
            return "\n".join(self.lines(entry))
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [entry.note] if entry.note else []
            if ref is not None:
                lines.append(_("On the list since {when}").format(
                    when=format_when(entry.created_at, ref.time_zone, ref.locale)))
            if entry.pending:
                lines.append(_("Not yet confirmed by the server"))
            return "\n".join(lines)
        if role == Qt.ItemDataRole.FontRole and entry.pending:
            font = QFont()
            font.setItalic(True)
            return font
        if role == ENTRY_ID_ROLE:
            return entry.id
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled)

    def mimeTypes(self) -> list[str]:
        return [WAITLIST_MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:  # type: ignore[override]
        data = QMimeData()
        entry = self.entry(indexes[0].row()) if indexes else None
        if entry is not None:
            data.setData(WAITLIST_MIME, entry.id.encode("utf-8"))
            data.setText(entry.patient_name)
        return data

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction


def preferences_text(entry: WaitlistEntryDTO, ref: ClinicReference | None) -> str:
    """The entry's wishes in words: providers, weekdays, times ("" when it has none)."""
    parts = []
    if entry.preferred_provider_ids:
        parts.append(", ".join(ref.names.get(p, p) if ref else p
                               for p in entry.preferred_provider_ids))
    if entry.preferred_weekdays:
        locale = display_locale(ref.locale if ref else "en_US")
        names = get_day_names("abbreviated", locale=locale)
        parts.append(" ".join(str(names[day]) for day in sorted(entry.preferred_weekdays)))
    if entry.preferred_times:
        parts.append(", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in entry.preferred_times))
    return _("Prefers: {wishes}").format(wishes="; ".join(parts)) if parts else ""


def offer_text(offer: Offer, ref: ClinicReference) -> str:
    """The latest offer's state in words."""
    when = format_when(offer.start, ref.time_zone, ref.locale)
    if offer.state == "open":
        return _("Offered {when}, held until {until}").format(
            when=when, until=format_clock(offer.expires_at, ref.time_zone, ref.locale))
    return {
        "accepted": _("Accepted the offer of {when}"),
        "expired": _("Did not answer the offer of {when}"),
        "gone": _("The offer of {when} went to someone else"),
        "withdrawn": _("The offer of {when} was withdrawn"),
    }.get(offer.state, "").format(when=when)


class AddToWaitlistDialog(QDialog):
    """Choose a patient and an appointment type; the note is optional."""

    def __init__(self, ctx: DeskContext, reference: ClinicReference,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._reference = ctx, reference
        self.result_: ActionResult | None = None
        self.picker = PatientPicker(ctx, reference.time_zone, reference.locale, self)
        self.type_combo = QComboBox(self)
        for kind in reference.types:
            self.type_combo.addItem(reference.names.get(kind.id, kind.name), kind.id)
        self.note = QLineEdit(self)
        self.type_label, self.note_label = QLabel(self), QLabel(self)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet(text_style(ERROR))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        form = QFormLayout()
        form.addRow(self.type_label, self.type_combo)
        form.addRow(self.note_label, self.note)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picker)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.setWindowTitle(_("Add to the waitlist"))
        self.type_label.setText(_("Type"))
        self.note_label.setText(_("Note"))
        self.note.setPlaceholderText(_("e.g. mornings only, call first"))

    @Slot()
    def submit(self) -> None:
        patient = self.picker.patient
        if patient is None:
            self.message.setText(_("Please choose a patient first."))
            return
        result = waitlist.add(self._ctx, clinic_id=self._reference.clinic_id,
                              patient_id=patient.id,
                              appointment_type_id=self.type_combo.currentData(),
                              note=self.note.text().strip())
        if not result.ok:
            self.message.setText(refusal_text(result, self._reference))
            return
        self.result_ = result
        self.accept()


def refusal_text(result: ActionResult, reference: ClinicReference) -> str:
    refusal = result.refusal
    if refusal is None:
        return _("That did not work. Please try again.")
    return render_message(refusal.message_id, refusal.params, tz=reference.time_zone,
                          clinic_locale=reference.locale, names=reference.names)


class WaitlistPanel(QWidget):
    """The dock's content. Signals: ``message(str)`` (plain words for the status bar)
    and ``changed()`` (an entry was added or removed)."""

    message = Signal(str)
    changed = Signal()
    offersLoaded = Signal()
    _arrived = Signal(object, object)  # (offers or None, error or None), from a thread

    def __init__(self, ctx: DeskContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._clinic_id: str | None = None
        self._reference: ClinicReference | None = None
        self._service: OffersService | None = None
        self._reading = False
        self.model = WaitlistModel(self)
        self.list = QListView(self)
        self.list.setModel(self.model)
        self.list.setDragEnabled(True)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setAlternatingRowColors(True)
        self.list.setSpacing(1)
        # Offer lines are long for a narrow dock: wrap them instead of scrolling sideways.
        self.list.setWordWrap(True)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(hint_style())
        self.add_button, self.remove_button = QPushButton(self), QPushButton(self)
        self.find_button, self.offer_button = QPushButton(self), QPushButton(self)
        self.fits_title = QLabel(self)
        self.fits = QListWidget(self)
        # A fit names a day, a time and a provider: wrapped, never scrolled sideways.
        self.fits.setWordWrap(True)
        self.fits.setResizeMode(QListView.ResizeMode.Adjust)
        self.fits.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.fits.setMaximumHeight(self.fontMetrics().height() * 9)
        self._fit_values: tuple[AlternativeDTO, ...] = ()
        self.offers_state = QLabel(self)
        self.offers_state.setWordWrap(True)
        self.offers_state.setStyleSheet(hint_style())
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        actions = QHBoxLayout()
        actions.addWidget(self.find_button)
        actions.addWidget(self.offer_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.offers_state)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)
        layout.addLayout(actions)
        layout.addWidget(self.fits_title)
        layout.addWidget(self.fits)
        self.fits_title.hide()
        self.fits.hide()
        self.add_button.clicked.connect(self.add_entry)
        self.remove_button.clicked.connect(self.remove_selected)
        self.find_button.clicked.connect(self.find_slots)
        self.offer_button.clicked.connect(self.offer_chosen_slot)
        self.fits.currentRowChanged.connect(self._update_buttons)
        self._arrived.connect(self._show_offers)
        self.list.selectionModel().selectionChanged.connect(self._selection_changed)
        language_notifier().languageChanged.connect(self.retranslate)
        self.retranslate()

    def set_clinic(self, clinic_id: str) -> None:
        if clinic_id != self._clinic_id:
            self._clinic_id = clinic_id
            self._reference = load_reference(self._ctx, clinic_id)
        self.refresh()

    def set_service(self, service: OffersService | None) -> None:
        """The server's offers API (``None``: not enrolled; no offers shown)."""
        self._service = service
        self.refresh_offers()

    @Slot()
    def refresh(self) -> None:
        """Read the clinic's waitlist again (and the offers, in the background)."""
        if self._clinic_id is None:
            return
        self.model.set_entries(waitlist.entries(self._ctx, self._clinic_id), self._reference)
        self._update_buttons()
        self.refresh_offers()

    @Slot()
    def refresh_offers(self) -> None:
        """Read the offers from the server in a thread (one read at a time)."""
        service = self._service
        if service is None or self._reading:
            return
        self._reading = True
        read_in_thread(service.offers, self._arrived, "clinicdesk-waitlist-offers")

    @Slot(object, object)
    def _show_offers(self, offers: list[Offer] | None, error: Exception | None) -> None:
        self._reading = False
        if isinstance(error, SessionLocked):
            return
        if offers is not None:
            self.model.set_offers(offers)
            self.offers_state.setText("")
        elif isinstance(error, NotificationsRefused):
            self.offers_state.setText(_("The server did not give the offers: {reason}").format(
                reason=error.message or error.code))
        else:
            self.offers_state.setText(_("Offers cannot be shown: the server cannot be "
                                        "reached."))
        self.offersLoaded.emit()

    def clear(self) -> None:
        """Show no names (the desk locked)."""
        self.model.set_entries((), self._reference)
        self.model.set_offers([])
        self._show_fits((), asked=False)
        self._update_buttons()

    @Slot()
    def find_slots(self) -> None:
        """"Find a slot for this patient": the next free slots their wishes allow."""
        entry = self.selected_entry()
        if entry is None or self._reference is None:
            return
        self._show_fits(waitlist.next_fits(self._ctx, entry.id))

    def _show_fits(self, fits: tuple[AlternativeDTO, ...], *, asked: bool = True) -> None:
        """List ``fits`` under the buttons (``asked`` False: hide the list)."""
        self.fits.clear()
        self._fit_values = fits
        ref, entry = self._reference, self.selected_entry()
        for fit in fits:
            assert ref is not None
            item = QListWidgetItem(_("{when} with {provider}").format(
                when=format_when(fit.start, ref.time_zone, ref.locale),
                provider=ref.names.get(fit.provider_id, "")), self.fits)
            item.setData(Qt.ItemDataRole.UserRole, fit)
        if fits:
            self.fits.setCurrentRow(0)
            self.fits_title.setText(_("Next free slots for {name}").format(
                name=entry.patient_name if entry else ""))
        else:
            self.fits_title.setText(_("No free slot fits this patient's wishes in the next "
                                      "four weeks."))
        self.fits_title.setVisible(asked and entry is not None)
        self.fits.setVisible(asked and bool(fits))
        self._update_buttons()

    def chosen_fit(self) -> AlternativeDTO | None:
        item = self.fits.currentItem()
        found = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return found if isinstance(found, AlternativeDTO) else None

    @Slot()
    def offer_chosen_slot(self) -> None:
        """"Offer this slot": the server offers the chosen slot to the selected patient."""
        entry, fit, service = self.selected_entry(), self.chosen_fit(), self._service
        if entry is None or fit is None or self._reference is None:
            return
        if service is None:
            self.message.emit(_("Offers need the server: this desk is not connected."))
            return
        try:
            offer = service.offer(entry.id, fit.provider_id, fit.start, fit.end)
        except NotificationsRefused as refused:
            self.message.emit(_("The slot was not offered: {reason}").format(
                reason=refused.message or refused.code))
            return
        except Exception:  # noqa: BLE001 - offline, or locked meanwhile: said, never raised
            self.message.emit(_("The slot was not offered: the server cannot be reached."))
            return
        self.message.emit(_("{name} was offered {when}; held until {until}.").format(
            name=entry.patient_name,
            when=format_when(offer.start, self._reference.time_zone, self._reference.locale),
            until=format_clock(offer.expires_at, self._reference.time_zone,
                               self._reference.locale)))
        self._show_fits((), asked=False)
        self.refresh_offers()

    @Slot()
    def _selection_changed(self) -> None:
        self._show_fits((), asked=False)

    def selected_entry(self) -> WaitlistEntryDTO | None:
        return self.model.entry(self.list.currentIndex().row())

    @Slot()
    def retranslate(self) -> None:
        self.hint.setText(_("Drag a patient into a free slot of the agenda to book them."))
        self.add_button.setText(_("Add…"))
        self.remove_button.setText(_("Remove"))
        self.find_button.setText(_("Find a slot"))
        self.find_button.setToolTip(_("The next free slots this patient's wishes allow"))
        self.offer_button.setText(_("Offer this slot"))
        self.offer_button.setToolTip(_("Send the chosen slot to the patient with a hold; "
                                       "they accept it from the message"))
        if not self.fits_title.isHidden():
            chosen = self.fits.currentRow()
            self._show_fits(self._fit_values)
            self.fits.setCurrentRow(chosen)
        if self._clinic_id is not None:  # the types are named in the new language
            # Locked: read again at unlock; a user without the calendar sees no list.
            with suppress(SessionLocked, NotPermitted):
                self._reference = load_reference(self._ctx, self._clinic_id)
                self.refresh()
                return
        self.model.layoutChanged.emit()

    @Slot()
    def add_entry(self) -> None:
        if self._reference is None:
            return
        dialog = AddToWaitlistDialog(self._ctx, self._reference, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.refresh()
            self.changed.emit()

    @Slot()
    def remove_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or self._reference is None:
            return
        result = waitlist.remove(self._ctx, entry.id)
        if result.ok:
            self.message.emit(_("{name} was taken off the waitlist.").format(
                name=entry.patient_name))
            self.refresh()
            self.changed.emit()
        else:
            self.message.emit(refusal_text(result, self._reference))

    def add_from_appointment(self, clinic_id: str, patient_id: str, patient_name: str,
                             appointment_type_id: str, note: str) -> ActionResult:
        """Pin an appointment's patient to the waitlist (the appointment itself stays)."""
        result = waitlist.add(self._ctx, clinic_id=clinic_id, patient_id=patient_id,
                              appointment_type_id=appointment_type_id, note=note)
        if result.ok:
            self.message.emit(_("{name} was added to the waitlist. The appointment is still "
                                "booked: cancel it if its time should be freed.").format(
                name=patient_name))
            self.refresh()
            self.changed.emit()
        elif self._reference is not None:
            self.message.emit(refusal_text(result, self._reference))
        return result

    @Slot()
    def _update_buttons(self) -> None:
        chosen = self.selected_entry() is not None
        self.remove_button.setEnabled(chosen)
        self.find_button.setEnabled(chosen)
        self.offer_button.setEnabled(chosen and self.chosen_fit() is not None)
