"""The agenda widget (see the package docstring for its contract).

It loads plain values (appointments, the clinic's frame of working hours, its
reference data), has :mod:`desktop.ui.agenda.scene` draw them, and answers the
view's drags: a :class:`DragJudge` loaded once per drag gives the live verdict,
and the release asks :mod:`desktop.services.booking` (or the waitlist service)
to do the one real write. A refused drop changes nothing and says why.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QGraphicsScene,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from desktop.services import agenda, booking, waitlist
from desktop.services.agenda_frame import AgendaFrame, FrameLoader
from desktop.services.changes import DataChanges
from desktop.services.clinic_reference import ClinicReference, load_reference
from desktop.services.context import DeskContext, NotPermitted
from desktop.services.dto import ActionResult, AgendaItem, AgendaView, RefusalDTO
from desktop.services.preview import DragJudge, Verdict
from desktop.services.session import SessionLocked
from desktop.ui.agenda.actions import AppointmentActions
from desktop.ui.agenda.fit import ChangeHighlight, hidden_days, zoom_step
from desktop.ui.agenda.now_line import NOW_LINE_MS, NowLine
from desktop.ui.agenda.pins import as_move, read_pin
from desktop.ui.agenda.scene import (
    NO_ROOM,
    AgendaGeometry,
    AppointmentItem,
    ItemPainter,
    SceneContent,
    SceneDrawing,
    column_width_for,
)
from desktop.ui.agenda.slot_menu import empty_slot_menu, slot_request
from desktop.ui.agenda.updates import (
    LoadFailed,
    RangeLoad,
    RangeLoader,
    RangeRequest,
    SceneUpdate,
    SliceRunner,
    load_range,
)
from desktop.ui.agenda.view import WAITLIST_MIME, Judgement, Mode, Target
from desktop.ui.agenda.view import AgendaView as GraphicsView
from desktop.ui.agenda.visit_actions import VISIT, VisitActions
from desktop.ui.text import _, format_clock, format_when, render_message
from desktop.ui.undo_history import Change, UndoHistory, booked, moved, resized
from scheduling.refusals import RefusalCode
from scheduling.timeutil import day_bounds

LOCKED = "The session is locked. Unlock it to continue."
#: Sync changes arriving within this many milliseconds are loaded and drawn once.
MERGE_MS = 40
#: A range of up to this many columns is drawn whole at once; a wider one (a week of
#: 50 providers is 350 columns, ~25 on screen) draws what is on screen, paints, and
#: draws the rest in slices of FILL_SLICE_SECONDS between events.
DRAW_AT_ONCE = 24
FILL_SLICE_SECONDS = 0.008


def _keys_of(geometry: AgendaGeometry) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for column in geometry.columns:
        seen.setdefault(column.key, column.name)
    return list(seen.items())


class AgendaWidget(QWidget):
    selectionChanged = Signal(object)
    activated = Signal(str)
    message = Signal(str)
    changed = Signal()
    openPatient = Signal(str)
    pinboardRequested = Signal(str)
    editRequested = Signal(str)
    #: Quick create: ``(what, SlotRequest)``, what = "new", "block" or "waitlist".
    slotRequested = Signal(str, object)

    #: A sync's changes are shown: the background load was applied to the scene.
    sceneUpdated = Signal()

    def __init__(self, ctx: DeskContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._stamps = itertools.count(1)  # orders loads: an older one never replaces a newer
        self._shown_stamp = 0
        #: How many background loads were applied (sync redraws), for tests and benches.
        self.sync_redraws = 0
        self._clinic_id: str | None = None
        self._first = date(2000, 1, 1)  # set by show_range()
        self._days = 1
        self._columns = "provider"
        self._reference: ClinicReference | None = None
        self._reference_stale = False
        self._data: AgendaView | None = None
        self._frame: AgendaFrame | None = None
        self._frames = FrameLoader(ctx)
        #: The scene being drawn: columns on screen first, the rest in slices after a paint.
        self._drawing: SceneDrawing | None = None
        self._drawn: dict[str, AppointmentItem] = {}
        self._selected: str | None = None
        self._judge: DragJudge | None = None
        self._last_reason = ""
        self._patients_hidden = False
        #: The vertical scale (Ctrl+= / Ctrl+- / Ctrl+0, see ``fit``).
        self.zoom = 1.0
        #: Outlines what another desk just changed.
        self.highlight = ChangeHighlight(self)
        self.scene = QGraphicsScene(self)
        self.view = GraphicsView(self.scene, self)
        #: Every change made in this window, for Undo/Redo (the window's Edit menu too).
        self.history = UndoHistory(ctx, say=self.message.emit, done=self._written,
                                   render=self.render_refusal, parent=self)
        self.appointment_actions = AppointmentActions(
            ctx, self, say=self.message.emit, done=self._written, render=self.render_refusal,
            history=self.history, zone=self._zone)
        self.appointment_actions.open_patient = self.openPatient.emit
        self.appointment_actions.to_pinboard = self.pinboardRequested.emit
        self.appointment_actions.edit = self.editRequested.emit
        self.visit_actions = VisitActions(ctx, self, say=self.message.emit, done=self._written,
                                          reference=lambda: self._reference)
        self.appointment_actions.visits = self.visit_actions
        #: Asks "this one / this and following / all" for a series; None = give up.
        self.choose_series_scope: Callable[[], str | None] = self._ask_series_scope
        self.view.clicked.connect(self.select)
        self.view.doubleClicked.connect(self.activated.emit)
        self.view.keyPressed.connect(self._on_key)
        self.view.slotChosen.connect(
            lambda slot: self.slotRequested.emit(
                "new", slot_request(slot, self._columns, self._frame)))
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_context_menu)
        # Columns share the grid's width: a resize lays them out again (once it settles).
        self._relayout = QTimer(self)
        self._relayout.setSingleShot(True)
        self._relayout.setInterval(30)
        self._relayout.timeout.connect(self._redraw)
        self.view.resized.connect(self._on_view_resized)
        # Sync changes: merged for a moment, loaded off the UI thread, applied in slices.
        self._wanted_load = False
        self._merge = QTimer(self)
        self._merge.setSingleShot(True)
        self._merge.setInterval(MERGE_MS)
        self._merge.timeout.connect(self._load_in_background)
        self._loader = RangeLoader(self._load_stamped, self)
        self._loader.loaded.connect(self._on_loaded)
        self._fill = QTimer(self)
        self._fill.setInterval(0)
        self._fill.timeout.connect(self._draw_more)
        self.view.horizontalScrollBar().valueChanged.connect(self._draw_visible)
        self.view.verticalScrollBar().valueChanged.connect(self._draw_visible)
        self._slices = SliceRunner(lambda: self.view.mode is not Mode.IDLE, self)
        self._slices.finished.connect(self._on_update_applied)
        self._update: SceneUpdate | None = None
        self.now_line = NowLine()
        self._now_timer = QTimer(self)
        self._now_timer.setInterval(NOW_LINE_MS)
        self._now_timer.timeout.connect(self.place_now_line)
        self._now_timer.start()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.setFocusProxy(self.view)

    # ------------------------------------------------------------------ the contract

    def show_range(self, clinic_id: str, first_day: date, days: int = 1,
                   columns: str = "provider") -> None:
        if clinic_id != self._clinic_id:
            self._reference = None
        self._clinic_id, self._first, self._days, self._columns = (
            clinic_id, first_day, days, columns)
        self.refresh()
        self._scroll_to_working_hours()

    def refresh(self) -> None:
        """Reload the range from the local store and redraw it (now, in the UI thread)."""
        if self._clinic_id is None:
            return
        self._shown_stamp = next(self._stamps)
        last = self._first + timedelta(days=self._days - 1)
        try:
            if self._reference is None:
                self._reference = load_reference(self._ctx, self._clinic_id)
            self._data = agenda.range_view(self._ctx, self._clinic_id, self._first, last)
            self._frame = self._frames.load(self._clinic_id, self._first, last)
        except SessionLocked:
            # Locked: show nothing of the patients, and say why.
            self._data = None
            self._redraw()
            self.message.emit(_(LOCKED))
            return
        except NotPermitted as refused:
            self._data = None
            self._redraw()
            self.message.emit(str(refused))
            return
        self._redraw()

    def request_refresh(self, changes: DataChanges | None = None) -> bool:
        """A sync changed the store: if ``changes`` (None: anywhere) touch the shown range,
        reload it in the background and update the scene in place — requests within
        ``MERGE_MS`` of each other and those made while a load runs become one load.
        Returns whether a load was asked for."""
        if self._clinic_id is None or self._data is None or self._reference is None:
            return False
        if changes is not None and not self._touched_by(changes):
            return False
        if changes is None or changes.configuration or changes.everything:
            self._reference_stale = True
            self._frames.forget()
        self._wanted_load = True
        if not self._merge.isActive():
            self._merge.start()
        return True

    @property
    def refresh_pending(self) -> bool:
        """A sync's changes are still being loaded or drawn."""
        return (self._merge.isActive() or self._wanted_load or self._loader.busy
                or self._slices.running)

    def retranslate(self) -> None:
        """Another language (or new colours): read the range again, as type names are
        per language."""
        self._reference = None
        self.refresh()

    def changeEvent(self, event: QEvent) -> None:
        """A new palette (the platform switched to dark mode or back): redraw with it."""
        if event.type() == QEvent.Type.PaletteChange and self._data is not None:
            self._redraw()
        super().changeEvent(event)

    def selected_appointment(self) -> str | None:
        return self._selected

    # ------------------------------------------------------------------ additions

    def set_patients_hidden(self, hidden: bool) -> None:
        """Hide (lock overlay) or show again the patients' names, without reloading."""
        self._patients_hidden = hidden
        self._redraw()

    def select(self, appointment_id: object) -> None:
        chosen = appointment_id if isinstance(appointment_id, str) else None
        item = None if chosen is None else self._item(chosen)
        if item is None:
            chosen = None
        for other in self.scene.selectedItems():
            if other is not item:
                other.setSelected(False)
        if item is not None:
            item.setSelected(True)
            self.view.ensureVisible(item, 20, 20)
        if chosen != self._selected:
            self._selected = chosen
            self.selectionChanged.emit(chosen)

    def undo(self) -> bool:
        return self.history.undo()

    def redo(self) -> bool:
        return self.history.redo()

    def place_now_line(self) -> bool:
        """Draw (or move) the "now" line; False when today is not shown."""
        return self.now_line.place(self.scene, self.view.geometry_, self._ctx.now())

    def _zone(self) -> str:
        return "UTC" if self._reference is None else self._reference.time_zone

    def _locale(self) -> str:
        return "en_US" if self._reference is None else self._reference.locale

    def forget_reference(self) -> None:
        """The clinic's configuration changed: the next refresh reads it again."""
        self._reference = None
        self._frames.forget()

    @property
    def reference(self) -> ClinicReference | None:
        """The shown clinic's configuration (None before a range is shown, or locked)."""
        return self._reference if self._reference is not None and \
            self._reference.clinic_id == self._clinic_id else None

    def appointment_item(self, appointment_id: str) -> AppointmentItem | None:
        return self._item(appointment_id)

    def _item(self, appointment_id: str) -> AppointmentItem | None:
        if self._drawing is not None:
            return self._drawing.item(appointment_id)
        return self._drawn.get(appointment_id)

    @property
    def _items(self) -> dict[str, AppointmentItem]:
        """Every appointment item of the scene (the columns not drawn yet drawn now)."""
        self._finish_drawing()
        return self._drawn

    @_items.setter
    def _items(self, items: dict[str, AppointmentItem]) -> None:
        self._fill.stop()
        self._drawing, self._drawn = None, items

    @property
    def geometry_(self) -> AgendaGeometry | None:
        return self.view.geometry_

    def context_menu(self, appointment_id: str) -> QMenu | None:
        item = self._item(appointment_id)
        return None if item is None else self.appointment_actions.context_menu(item.agenda_item)

    def slot_menu_at(self, point: QPointF) -> QMenu | None:
        """The right-click menu of the empty slot at scene ``point`` (None: not empty)."""
        slot = self.view.empty_slot_at(point)
        if slot is None:
            return None
        return empty_slot_menu(self, slot_request(slot, self._columns, self._frame),
                               self.slotRequested.emit)

    def render_refusal(self, refusal: RefusalDTO) -> str:
        ref = self._reference
        if ref is None:
            return _(refusal.message_id)
        return render_message(refusal.message_id, refusal.params, tz=ref.time_zone,
                              clinic_locale=ref.locale, names=ref.names)

    # ------------------------------------------------------------------ drawing

    def _keys(self) -> list[tuple[str, str]]:
        ref = self._reference
        if ref is None:
            return []
        if self._columns == "room":
            keys = [(r.id, r.name) for r in ref.rooms]
            if self._data is not None and any(i.room_id is None for i in self._data.items):
                keys.append((NO_ROOM, _("No room")))
            return keys
        return [(p.id, p.name) for p in ref.providers]

    def _redraw(self) -> None:
        """Rebuild the whole scene, keeping the scroll position (navigation scrolls after)."""
        self._relayout.stop()
        self._slices.stop()
        self._update = None
        self.view.forget_items()
        scrolled = (self.view.horizontalScrollBar().value(),
                    self.view.verticalScrollBar().value())
        self._build()
        self.view.horizontalScrollBar().setValue(scrolled[0])
        self.view.verticalScrollBar().setValue(scrolled[1])
        self._draw_visible()
        drawing = self._drawing
        if drawing is not None and not drawing.done:
            if drawing.pending_columns <= DRAW_AT_ONCE:
                self._finish_drawing()
            else:
                self._fill.start()  # the rest after the visible part is painted

    def _draw_visible(self) -> None:
        """Draw the columns on screen (and half a screen either side) not drawn yet."""
        drawing = self._drawing
        if drawing is None or drawing.done:
            return
        shown = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        drawing.draw_between(shown.left() - shown.width() / 2,
                             shown.right() + shown.width() / 2)

    def _draw_more(self) -> None:
        if self._drawing is None or self._drawing.draw_more(FILL_SLICE_SECONDS):
            self._fill.stop()

    def _finish_drawing(self) -> None:
        if self._drawing is not None and not self._drawing.done:
            self._fill.stop()
            self._drawing.finish()

    def _build(self) -> None:
        ref = self._reference
        if ref is None or self._data is None:
            self.scene.clear()
            self._items = {}
            self.view.apply_geometry(None)
            if self._clinic_id is not None:
                self.scene.addSimpleText(_("The agenda is hidden while the session is locked."))
            self.select(None)
            return
        geometry = AgendaGeometry.for_range(ref.time_zone, self._first, self._days, self._keys(),
                                            available=self.view.grid_width(),
                                            hidden=self._hidden_days(), zoom=self.zoom)
        self._items = {}
        self._drawing = SceneDrawing(self.scene, SceneContent(
            geometry, self._data.items, self._frame, ref.locale, self._columns,
            hide_patients=self._patients_hidden))
        self._drawn = self._drawing.items
        self.view.apply_geometry(geometry)
        self.place_now_line()
        self.select(self._selected)

    def _on_view_resized(self) -> None:
        geometry = self.view.geometry_
        if geometry is None or not geometry.columns:
            return
        shown = len(geometry.axes)
        wanted = column_width_for(shown, len(geometry.columns) // shown, self.view.grid_width())
        if wanted != geometry.column_width:
            self._relayout.start()

    def _scroll_to_working_hours(self) -> None:
        """Start the view half an hour before the first working hour (07:00 if none)."""
        geometry = self.view.geometry_
        if geometry is None:
            return
        first = min(geometry.axes)
        axis = geometry.axes[first]
        starts = [] if self._frame is None else [
            hours[0][0] for (day, _key), hours in self._frame.working.items()
            if day == first and hours]
        top = min(starts) - timedelta(minutes=30) if starts else axis.instant_at(7 * 60)
        # The grid shows scene y from HEADER down; its scroll value is the scene y at its top.
        self.view.verticalScrollBar().setValue(round(geometry.y_of(first, max(top, axis.start))))

    def _hidden_days(self) -> frozenset[date]:
        if self._reference is None or self._data is None:
            return frozenset()
        return hidden_days(self._first, self._days, self._frame, self._data.items,
                           self._reference.time_zone)

    def set_zoom(self, zoom: float) -> None:
        """Scale the hours by ``zoom`` (1.0: normal), keeping the time at the top."""
        geometry = self.view.geometry_
        if zoom == self.zoom:
            return
        top = None if geometry is None else geometry.minute_at(
            self.view.verticalScrollBar().value())
        self.zoom = zoom
        self._redraw()
        geometry = self.view.geometry_
        if top is not None and geometry is not None:
            self.view.verticalScrollBar().setValue(
                round(geometry.scale.top + top * geometry.scale.pixels_per_minute))

    # ------------------------------------------------------------------ sync updates

    def _touched_by(self, changes: DataChanges) -> bool:
        assert self._reference is not None and self._data is not None and self._clinic_id
        start, _ = day_bounds(self._first, self._reference.time_zone)
        _, end = day_bounds(self._first + timedelta(days=self._days - 1),
                            self._reference.time_zone)
        shown_patients = {item.patient_id for item in self._data.items}
        return changes.touches(self._clinic_id, start, end, shown_patients)

    def _request(self) -> RangeRequest | None:
        if self._clinic_id is None:
            return None
        return RangeRequest(self._clinic_id, self._first, self._days, self._columns,
                            None if self._reference_stale else self._reference)

    def _load_in_background(self) -> None:
        request = self._request()
        if request is None or not self._wanted_load:
            return
        self._wanted_load = False
        self._reference_stale = False
        self._loader.request(request)

    def _load_stamped(self, request: RangeRequest) -> RangeLoad:
        # Runs in the loading thread; the stamp is taken before reading the store.
        return load_range(self._ctx, request, stamp=next(self._stamps))

    def _on_loaded(self, result: RangeLoad | LoadFailed) -> None:
        current = self._request()
        if current is None or not result.request.same_range(current) or self._data is None:
            return  # moved on (that range was loaded then), or locked meanwhile
        if isinstance(result, LoadFailed):
            self.refresh()  # fails again, and says why, the way a direct refresh does
            return
        if result.stamp < self._shown_stamp:
            return  # a direct refresh has shown newer data meanwhile
        self._shown_stamp = result.stamp
        rebuild = (result.reference != self._reference or result.frame != self._frame)
        self._reference, self._data, self._frame = result.reference, result.data, result.frame
        geometry = self.view.geometry_
        drawing = self._drawing is not None and not self._drawing.done
        # Still drawing the columns off screen: draw the new data the same way instead.
        if (rebuild or drawing or geometry is None or self._keys() != _keys_of(geometry)
                or set(geometry.axes) != self._shown_days()):
            self._redraw()
            self._on_update_applied()
            return
        painter = ItemPainter(SceneContent(geometry, (), self._frame, result.reference.locale,
                                           self._columns, hide_patients=self._patients_hidden))
        self._update = SceneUpdate(self.scene, geometry, painter, self._items, result)
        self._slices.start(self._update)

    def _shown_days(self) -> set[date]:
        hidden = self._hidden_days()
        every = (self._first + timedelta(days=n) for n in range(self._days))
        return {day for day in every if day not in hidden} or {self._first}

    def _on_update_applied(self) -> None:
        update, self._update = self._update, None
        if update is not None:
            self.highlight.flash(self._items[i] for i in update.elsewhere if i in self._items)
        self.sync_redraws += 1
        if self._selected is not None and self._selected not in self._items:
            self.select(None)
        self.sceneUpdated.emit()

    def _written(self) -> None:
        self.changed.emit()
        self.refresh()

    # ------------------------------------------------------------------ drags (DropJudge)

    def begin_drag(self, appointment_id: str | None, entry_id: str | None) -> bool:
        if self._clinic_id is None or self._reference is None:
            return False
        pinned = None if entry_id is None else read_pin(entry_id)
        if pinned is not None:  # from the pinboard: a move of that appointment
            appointment_id, entry_id = pinned[0], None
        first, _end = day_bounds(self._first, self._reference.time_zone)
        _start, last = day_bounds(self._first + timedelta(days=self._days - 1),
                                  self._reference.time_zone)
        try:
            self._judge = DragJudge.load(self._ctx, first, last, appointment_id=appointment_id,
                                         waitlist_entry_id=entry_id)
        except SessionLocked:
            self.message.emit(_(LOCKED))
            return False
        self._last_reason = ""
        return True

    def end_drag(self) -> None:
        self._judge = None
        self._last_reason = ""

    def entry_duration(self, entry_id: str) -> timedelta | None:
        pinned = read_pin(entry_id)
        if pinned is not None:
            return timedelta(minutes=pinned[1])
        return None if self._judge is None else self._judge.entry_duration(entry_id)

    def judge(self, source: str, target: Target) -> Judgement:
        judgement = self._judge_target(as_move(source), target)
        if target.start is not None and target.end is not None:
            judgement = replace(judgement, label=_("{start} – {end}").format(
                start=format_clock(target.start, self._zone(), self._locale()),
                end=format_clock(target.end, self._zone(), self._locale())))
        if not judgement.ok and judgement.reason != self._last_reason:
            self.message.emit(judgement.reason)
        self._last_reason = "" if judgement.ok else judgement.reason
        return judgement

    def _judge_target(self, source: str, target: Target) -> Judgement:
        kind, ident = source.split(":", 1)
        if self._judge is None:
            return Judgement(False, _(LOCKED))
        if target.column is None or target.start is None or target.end is None:
            return Judgement(False, _("Drop it inside the agenda grid."))
        if not target.inside:
            return Judgement(False, _("That does not fit inside the day."))
        if kind == "resize":
            verdict = self._judge.resize(ident, target.end)
        elif kind == "move":
            provider_id, room_id = self._placement(target)
            verdict = self._judge.move(ident, target.start, provider_id=provider_id,
                                       room_id=room_id)
        else:
            verdict = self._waitlist_verdict(ident, target)[1]
        if verdict.ok or verdict.refusal is None:
            return Judgement(True)
        if (kind == "move" and verdict.refusal.code == RefusalCode.PATIENT_DOUBLE_BOOKED.value
                and self._judge.visit_of(ident) is not None):
            # Likely its own visit's next part, which moves too when the whole visit does:
            # the drop asks which, and the server (or the desk's rules) judges that.
            return Judgement(True)
        return Judgement(False, self.render_refusal(verdict.refusal))

    def _placement(self, target: Target) -> tuple[str | None, str | None]:
        """(provider, room) a drop on ``target``'s column asks for."""
        assert target.column is not None
        if self._columns == "room":
            return None, (target.column.key or None)
        return target.column.key, None

    def _waitlist_verdict(self, entry_id: str, target: Target) -> tuple[str | None, Verdict]:
        """The provider to book with and the verdict; in room columns, the first provider
        the rules accept."""
        assert self._judge is not None and target.start is not None
        assert self._reference is not None
        provider_id, room_id = self._placement(target)
        candidates = ([provider_id] if provider_id is not None
                      else [p.id for p in self._reference.providers])
        verdict = Verdict(False)
        for candidate in candidates:
            verdict = self._judge.book_from_waitlist(entry_id, target.start,
                                                     provider_id=candidate, room_id=room_id)
            if verdict.ok:
                return candidate, verdict
        return (candidates[0] if candidates else None), verdict

    def commit(self, source: str, target: Target) -> None:
        """Release/drop: one real write if the rules accept, else nothing and the reason."""
        judgement = self.judge(source, target)
        if not judgement.ok:
            self.message.emit(judgement.reason)
            return
        kind, ident = as_move(source).split(":", 1)
        assert target.start is not None and target.end is not None
        current = self._items.get(ident)
        before = None if current is None else current.agenda_item
        if kind == "resize":
            end = target.end
            self._apply(self.appointment_actions.run(
                lambda: booking.resize(self._ctx, ident, end)),
                None if before is None else resized(self._ctx, ident, before.end, end),
                _("Now ends at {time}.").format(
                    time=format_clock(end, self._zone(), self._locale())))
        elif kind == "move":
            self._commit_move(ident, target, before)
        else:
            provider_id, _verdict = self._waitlist_verdict(ident, target)
            _provider, room_id = self._placement(target)
            start = target.start
            if provider_id is not None:
                result = self.appointment_actions.run(lambda: waitlist.book_from(
                    self._ctx, ident, provider_id=provider_id, start=start,
                    room_id=room_id))
                made = None if result is None else result.appointment
                self._apply(result, None if made is None else booked(self._ctx, made.id),
                            _("Booked from the waitlist for {when}.").format(
                                when=self._when(target.start)))

    def _when(self, start: datetime) -> str:
        return format_when(start, self._zone(), self._locale())

    def _commit_move(self, appointment_id: str, target: Target,
                     before: AgendaItem | None) -> None:
        assert target.start is not None and self._judge is not None
        start = target.start
        provider_id, room_id = self._placement(target)
        undo = None if before is None else moved(
            self._ctx, appointment_id,
            (before.start, before.provider_id,
             before.room_id if self._columns == "room" else None),
            (start, provider_id, room_id))
        said = _("Moved to {when}.").format(when=self._when(start))
        scope, position = self.visit_actions.scope(appointment_id)
        if scope is None:
            self.message.emit(_("Nothing was moved."))
            return
        if position is not None and scope == VISIT:
            self.visit_actions.move(position, start)
            return
        if self._judge.series_of(appointment_id) is None:
            self._apply(self.appointment_actions.run(lambda: booking.move(
                self._ctx, appointment_id, start, provider_id=provider_id, room_id=room_id)),
                undo, said)
            return
        scope = self.choose_series_scope()
        if scope is None:
            self.message.emit(_("Nothing was moved."))
            return
        self._apply(self.appointment_actions.run(lambda: booking.edit_series(
            self._ctx, appointment_id, scope, action="move", start=start,
            provider_id=provider_id, room_id=room_id)), undo if scope == "this" else None, said)

    def _apply(self, result: ActionResult | None, undo: Change | None,
               said: str) -> None:
        """After a write: remember how to undo it and say what happened (which also
        replaces any earlier refusal in the status bar)."""
        if result is None or not result.ok:
            return
        if undo is not None:
            self.history.record(undo)
        self.message.emit(said)
        self._written()

    def _ask_series_scope(self) -> str | None:
        box = QMessageBox(QMessageBox.Icon.Question, _("Recurring appointment"),
                          _("This appointment is part of a series. Which ones should change?"),
                          parent=self)
        choices: dict[QAbstractButton, str] = {
            box.addButton(_("This one"), QMessageBox.ButtonRole.AcceptRole): "this",
            box.addButton(_("This and following"), QMessageBox.ButtonRole.AcceptRole):
                "following",
            box.addButton(_("All"), QMessageBox.ButtonRole.AcceptRole): "all",
        }
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return choices.get(box.clickedButton())

    # ------------------------------------------------------------------ keyboard and menu

    def _on_key(self, event: QKeyEvent) -> None:
        key = event.key()
        arrows = {Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1),
                  Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0)}
        if key in arrows:
            self.select(self._neighbour(*arrows[Qt.Key(key)]))
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._selected is not None:
            self.activated.emit(self._selected)
        elif key == Qt.Key.Key_Delete and self._selected is not None:
            self.appointment_actions.cancel(self._selected)
        elif key == Qt.Key.Key_Z and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.undo()
        elif (zoom := zoom_step(self.zoom, event)) is not None:
            self.set_zoom(zoom)
        else:
            event.ignore()
            return
        event.accept()

    def _neighbour(self, across: int, along: int) -> str | None:
        """The appointment next to the selection: up/down in its column by time,
        left/right in the nearest column that has one, closest in time."""
        items = sorted(self._items.values(),
                       key=lambda i: (i.rect().left(), i.agenda_item.start))
        if not items:
            return None
        current = self._items.get(self._selected or "")
        if current is None:
            return items[0].appointment_id
        x, start = current.rect().left(), current.agenda_item.start
        if along:
            same = [i for i in items if i.rect().left() == x]
            index = same.index(current) + along
            return same[index].appointment_id if 0 <= index < len(same) else current.appointment_id
        lefts = sorted({i.rect().left() for i in items})
        index = lefts.index(x) + across
        if not 0 <= index < len(lefts):
            return current.appointment_id
        column = [i for i in items if i.rect().left() == lefts[index]]
        return min(column, key=lambda i: abs((i.agenda_item.start - start).total_seconds())
                   ).appointment_id

    def _on_context_menu(self, position: QPoint) -> None:
        point = self.view.mapToScene(position)
        item = next((i for i in self.scene.items(point) if isinstance(i, AppointmentItem)), None)
        if item is None:
            menu = self.slot_menu_at(point)
            if menu is not None:
                menu.exec(self.view.viewport().mapToGlobal(position))
            return
        self.select(item.appointment_id)
        menu = self.appointment_actions.context_menu(item.agenda_item)
        menu.exec(self.view.viewport().mapToGlobal(position))


__all__ = ["WAITLIST_MIME", "AgendaWidget"]
