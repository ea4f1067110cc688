"""Helpers for driving the real agenda widget on the seeded SQLCipher clinic."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.services import booking
from desktop.services.context import DeskContext
from desktop.services.dto import ActionResult
from desktop.store import outbox
from desktop.store.models import AppointmentRow
from desktop.ui.agenda import AgendaWidget
from tests.desktop.services.conftest import ANA, CHECKUP, CLINIC, DR_RUIZ, TUESDAY_9

TUESDAY = date(2025, 3, 4)

OpenAgenda = Callable[..., AgendaWidget]


def book(ctx: DeskContext, patient: str = ANA, start: datetime = TUESDAY_9,
         provider: str = DR_RUIZ) -> str:
    result: ActionResult = booking.book(ctx, clinic_id=CLINIC, patient_id=patient,
                                        appointment_type_id=CHECKUP, provider_id=provider,
                                        start=start)
    assert result.ok and result.appointment is not None, result.refusal
    return result.appointment.id


def snapshot(ctx: DeskContext) -> tuple[list[tuple[object, ...]], int]:
    """Every appointment row as it stands, and the number of intents in the outbox."""
    with ctx.store.session() as session:
        rows = [(r.id, r.start, r.end, r.provider_id, r.room_id, r.status, r.version)
                for r in session.scalars(select(AppointmentRow).order_by(AppointmentRow.id))]
        return rows, outbox.pending_count(session)


def row(ctx: DeskContext, appointment_id: str) -> AppointmentRow:
    with ctx.store.session() as session:
        found = session.get(AppointmentRow, appointment_id)
        assert found is not None
        session.expunge(found)
        return found


@pytest.fixture
def open_agenda(qtbot: QtBot, ctx: DeskContext) -> OpenAgenda:
    def open_it(day: date = TUESDAY, days: int = 1, columns: str = "provider") -> AgendaWidget:
        widget = AgendaWidget(ctx)
        qtbot.addWidget(widget)
        widget.resize(900, 700)
        widget.show()
        widget.show_range(CLINIC, day, days, columns)
        return widget

    return open_it


def point_at(widget: AgendaWidget, day: date, key: str, instant: datetime,
             dx: float = 20.0) -> QPoint:
    """The viewport point of ``instant`` in the column of ``key`` on ``day`` (the view
    opens at the working hours and is not scrolled by this)."""
    geometry = widget.geometry_
    assert geometry is not None
    column = geometry.column_for(day, key)
    assert column is not None
    scene = QPointF(geometry.column_x(column) + dx, geometry.y_of(day, instant))
    return widget.view.mapFromScene(scene)


def mouse(widget: AgendaWidget, kind: QEvent.Type, at: QPoint,
          buttons: Qt.MouseButton = Qt.MouseButton.LeftButton) -> None:
    viewport = widget.view.viewport()
    event = QMouseEvent(kind, QPointF(at), QPointF(viewport.mapToGlobal(at)),
                        Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def drag(widget: AgendaWidget, start: QPoint, *path: QPoint) -> None:
    """Press at ``start``, move through ``path``, release at its last point."""
    mouse(widget, QEvent.Type.MouseButtonPress, start)
    for point in path:
        mouse(widget, QEvent.Type.MouseMove, point)
    mouse(widget, QEvent.Type.MouseButtonRelease, path[-1], Qt.MouseButton.NoButton)
