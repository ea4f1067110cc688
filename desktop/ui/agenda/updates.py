"""Keeping the agenda current while syncs bring changes, without freezing the desk.

Anki's shape: the work runs off the UI thread, then one "changed" answer comes
back. A sync pass says where its changes are (:class:`DataChanges`); the agenda
ignores those outside the shown range and otherwise asks the
:class:`RangeLoader`, which loads the range in a background thread, one load at
a time — requests made while one runs collapse into a single next load. The
answer (a :class:`RangeLoad`, plain values and the overlap lanes already worked
out) is applied by a :class:`SceneUpdate`: items that came are added, items that
moved or changed are updated in place, items that went are removed, a slice at a
time within a frame budget, so the view keeps its scroll position and selection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QGraphicsScene

from desktop.services import agenda
from desktop.services.agenda_frame import AgendaFrame, load_frame
from desktop.services.clinic_reference import ClinicReference, load_reference
from desktop.services.context import DeskContext
from desktop.services.dto import AgendaItem, AgendaView
from desktop.ui.agenda.fit import changed_elsewhere
from desktop.ui.agenda.layout import Lane, Span, day_axis, lay_out
from desktop.ui.agenda.scene import (
    NO_ROOM,
    AgendaGeometry,
    AppointmentItem,
    Column,
    ItemPainter,
)
from desktop.ui.server_read import courier

#: How long one slice of scene updates may hold the UI thread (a frame at 60 Hz).
SLICE_BUDGET_S = 0.012


@dataclass(frozen=True, slots=True)
class RangeRequest:
    """What the agenda shows: local days ``first`` .. ``first + days - 1`` of a clinic,
    in provider or room columns. ``reference`` None: load the clinic's reference too."""

    clinic_id: str
    first: date
    days: int
    columns: str
    reference: ClinicReference | None = None

    def same_range(self, other: RangeRequest) -> bool:
        return (self.clinic_id, self.first, self.days, self.columns) == (
            other.clinic_id, other.first, other.days, other.columns)


@dataclass(frozen=True, slots=True)
class RangeLoad:
    """A loaded range: plain values, each item's (day, column key) and overlap lane."""

    request: RangeRequest
    reference: ClinicReference
    data: AgendaView
    frame: AgendaFrame
    places: dict[str, tuple[date, str]]
    lanes: dict[Hashable, Lane]
    stamp: int = 0  # orders loads (see AgendaWidget): a higher one read the store later


@dataclass(frozen=True, slots=True)
class LoadFailed:
    """The load raised (the session locked, the permission went): the agenda says why."""

    request: RangeRequest
    error: Exception


def load_range(ctx: DeskContext, request: RangeRequest, stamp: int = 0) -> RangeLoad:
    """Load ``request`` (any thread: one store session per query, no Qt)."""
    reference = request.reference or load_reference(ctx, request.clinic_id)
    last = request.first + timedelta(days=request.days - 1)
    data = agenda.range_view(ctx, request.clinic_id, request.first, last)
    frame = load_frame(ctx, request.clinic_id, request.first, last)
    places, lanes = place_and_lay_out(data.items, reference.time_zone, request)
    return RangeLoad(request, reference, data, frame, places, lanes, stamp)


def place_and_lay_out(items: tuple[AgendaItem, ...], tz: str, request: RangeRequest
                      ) -> tuple[dict[str, tuple[date, str]], dict[Hashable, Lane]]:
    """Each item's (local day, column key) and its lane among the items it overlaps."""
    axes = [day_axis(request.first + timedelta(days=d), tz) for d in range(request.days)]
    places: dict[str, tuple[date, str]] = {}
    for item in items:
        axis = next((a for a in axes if a.contains(item.start)), None)
        if axis is None:
            continue
        key = (item.room_id or NO_ROOM) if request.columns == "room" else item.provider_id
        places[item.appointment_id] = (axis.day, key)
    by_id = {item.appointment_id: item for item in items}
    lanes = lay_out(Span(i, place, by_id[i].start, by_id[i].end) for i, place in places.items())
    return places, lanes


class RangeLoader(QObject):
    """Loads ranges in a background thread: at most one load in flight; requests made
    meanwhile coalesce into one more load (of the newest request).

    Signal ``loaded(object)``: a :class:`RangeLoad` or a :class:`LoadFailed`, in the
    UI thread.
    """

    loaded = Signal(object)
    _arrived = Signal(object)

    def __init__(self, load: Callable[[RangeRequest], RangeLoad],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._load = load
        self._courier = courier()
        self._busy = False
        self._next: RangeRequest | None = None
        self._arrived.connect(self._on_arrived, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        """A load is in flight or waiting."""
        return self._busy or self._next is not None

    def request(self, request: RangeRequest) -> None:
        if self._busy:
            self._next = request  # replaces any older waiting request
            return
        self._start(request)

    def _start(self, request: RangeRequest) -> None:
        self._busy = True
        carrier, load, arrived = self._courier, self._load, self._arrived

        def run() -> None:
            result: RangeLoad | LoadFailed
            try:
                result = load(request)
            except Exception as error:  # noqa: BLE001 - handed to the UI thread to explain
                result = LoadFailed(request, error)
            carrier.deliver(arrived, result)  # on the UI thread, if this loader is still there

        threading.Thread(target=run, name="clinicdesk-agenda-load", daemon=True).start()

    @Slot(object)
    def _on_arrived(self, result: RangeLoad | LoadFailed) -> None:
        self._busy = False
        waiting, self._next = self._next, None
        if waiting is not None:
            self._start(waiting)
        self.loaded.emit(result)


class SceneUpdate:
    """Brings the drawn appointment items to a new load, a slice at a time.

    ``drawn`` is the agenda's own dict of items by id; it is changed in place. Call
    :meth:`step` until it returns False (or :meth:`run_all`)."""

    def __init__(self, scene: QGraphicsScene, geometry: AgendaGeometry, painter: ItemPainter,
                 drawn: dict[str, AppointmentItem], load: RangeLoad) -> None:
        self._scene = scene
        self._drawn = drawn
        self._painter = painter
        columns = {(c.day, c.key): c for c in geometry.columns}
        self._work = self._operations(columns, load)
        self.changed = 0
        #: Appointments shown with a change made elsewhere (see ``changed_elsewhere``).
        self.elsewhere: list[str] = []

    def _operations(self, columns: dict[tuple[date, str], Column],
                    load: RangeLoad) -> Iterator[None]:
        wanted: dict[str, AgendaItem] = {}
        for item in load.data.items:
            if item.appointment_id in load.places:
                wanted[item.appointment_id] = item
        for appointment_id in [i for i in self._drawn if i not in wanted]:
            graphic = self._drawn.pop(appointment_id)
            self._scene.removeItem(graphic)
            self.changed += 1
            yield
        for appointment_id, item in wanted.items():
            column = columns.get(load.places[appointment_id])
            if column is None:
                continue
            lane = load.lanes[appointment_id]
            drawn = self._drawn.get(appointment_id)
            before = None if drawn is None else drawn.agenda_item
            if drawn is None:
                made = self._painter.make(item, column, lane)
                self._scene.addItem(made)
                self._drawn[appointment_id] = made
            elif not self._painter.update(drawn, item, column, lane):
                continue
            self.changed += 1
            if changed_elsewhere(before, item):
                self.elsewhere.append(appointment_id)
            yield

    def step(self, budget_s: float = SLICE_BUDGET_S) -> bool:
        """Work for at most ``budget_s``; True while there is more to do."""
        deadline = time.perf_counter() + budget_s
        for count, _done in enumerate(self._work):
            if count % 32 == 31 and time.perf_counter() >= deadline:
                return True
        return False

    def run_all(self) -> None:
        for _done in self._work:
            pass


class SliceRunner(QObject):
    """Runs a :class:`SceneUpdate` from the event loop, one slice per turn; ``finished``
    when it is done. ``paused()`` True (a drag in progress) waits without working."""

    finished = Signal()

    def __init__(self, paused: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._paused = paused
        self._update: SceneUpdate | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._tick)

    @property
    def running(self) -> bool:
        return self._update is not None

    def start(self, update: SceneUpdate) -> None:
        self._update = update
        self._timer.setInterval(0)
        self._timer.start()

    def stop(self) -> None:
        self._update = None
        self._timer.stop()

    def _tick(self) -> None:
        if self._update is None:
            self._timer.stop()
            return
        if self._paused():
            self._timer.setInterval(50)
            return
        self._timer.setInterval(0)
        if self._update.step():
            return
        self.stop()
        self.finished.emit()


__all__ = ["LoadFailed", "RangeLoad", "RangeLoader", "RangeRequest", "SceneUpdate",
           "SliceRunner", "load_range", "place_and_lay_out"]
