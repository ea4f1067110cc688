"""The frame behind the appointments: working hours from the domain, holidays, blockouts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from PySide6.QtWidgets import QGraphicsSimpleTextItem

from desktop.services.agenda_frame import load_frame
from desktop.services.context import DeskContext
from desktop.store.models import BlockoutRow, HolidayRow
from desktop.ui.agenda.scene import AppointmentItem, ColumnBackdrop
from desktop.ui.text import set_language
from tests.desktop.services.conftest import CLINIC, DR_LOPEZ, DR_RUIZ, ROOM
from tests.desktop.ui.agenda.conftest import TUESDAY, OpenAgenda, book

WEDNESDAY = date(2025, 3, 5)


def _utc(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_working_hours_are_the_weekly_hours_minus_the_break(ctx: DeskContext) -> None:
    frame = load_frame(ctx, CLINIC, TUESDAY, TUESDAY)
    # 09:00–13:00 and 14:00–17:00 in Madrid (UTC+1).
    assert frame.working[(TUESDAY, DR_RUIZ)] == ((_utc(TUESDAY, 8), _utc(TUESDAY, 12)),
                                                (_utc(TUESDAY, 13), _utc(TUESDAY, 16)))
    # A room is open whenever a provider works.
    assert frame.working[(TUESDAY, ROOM)] == frame.working[(TUESDAY, DR_RUIZ)]


def test_a_holiday_has_no_working_hours_and_is_drawn_with_its_name(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    with ctx.store.write() as session:
        session.add(HolidayRow(id="h-1", clinic_id=CLINIC, day=WEDNESDAY, name="San José"))
    frame = load_frame(ctx, CLINIC, TUESDAY, WEDNESDAY)
    assert frame.holidays == {WEDNESDAY: "San José"}
    assert frame.working[(WEDNESDAY, DR_LOPEZ)] == ()
    agenda = open_agenda(TUESDAY, 2)
    holidays = [i for i in agenda.scene.items()
                if isinstance(i, ColumnBackdrop) and i._holiday == "San José"]
    assert len(holidays) == 2  # both providers' columns of Wednesday


def test_a_blockout_is_listed_with_its_reason_for_its_provider(ctx: DeskContext) -> None:
    with ctx.store.write() as session:
        session.add(BlockoutRow(id="b-1", clinic_id=CLINIC, start=_utc(TUESDAY, 10),
                                end=_utc(TUESDAY, 11), resource_id=DR_RUIZ,
                                reason="Staff meeting"))
    frame = load_frame(ctx, CLINIC, TUESDAY, TUESDAY)
    assert [(p.kind, p.resource_id, p.reason) for p in frame.closed] == [
        ("blockout", DR_RUIZ, "Staff meeting")]


def test_switching_to_spanish_retranslates_the_agenda(
    ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    ana = book(ctx)
    agenda = open_agenda()
    item = agenda.appointment_item(ana)
    assert item is not None and "not yet confirmed" in item.toolTip()

    set_language("es")
    agenda.retranslate()

    item = agenda.appointment_item(ana)
    assert item is not None and "aún sin confirmar" in item.toolTip()
    assert any(isinstance(i, AppointmentItem) for i in agenda.scene.items())
    assert "Dr Ruiz" in [i.text() for i in agenda.scene.items()
                         if isinstance(i, QGraphicsSimpleTextItem)]
