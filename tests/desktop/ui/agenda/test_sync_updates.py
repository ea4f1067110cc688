"""The agenda while syncs bring changes: only what is shown, merged, in the background, in place.

Changes arrive as a sync pull applies them: through :func:`desktop.sync.mirror.apply_changes`
on the real SQLCipher store, which reports where they are.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pytestqt.qtbot import QtBot

from desktop.services.changes import ChangeCollector, DataChanges
from desktop.services.context import DeskContext
from desktop.sync import mirror
from desktop.ui.agenda import AgendaWidget
from scheduling.model import Appointment
from scheduling.sync_protocol import ChangeRecord
from scheduling.wire import to_wire
from tests.desktop.services.conftest import ANA, BEN, CHECKUP, CLINIC, DR_LOPEZ, ORG, TUESDAY_9
from tests.desktop.ui.agenda.conftest import TUESDAY, OpenAgenda, book


def pulled(ctx: DeskContext, *starts: datetime, provider: str = DR_LOPEZ) -> tuple[
        list[str], DataChanges]:
    """Bookings another desk made, applied as a pull page applies them."""
    ids, changes = [], []
    for start in starts:
        record = Appointment(str(uuid.uuid4()), ORG, CLINIC, BEN, CHECKUP, provider, start,
                             start + timedelta(minutes=30))
        ids.append(record.id)
        changes.append(ChangeRecord("appointment", record.id, 1, to_wire(record)))
    report = ChangeCollector()
    with ctx.store.write() as session:
        mirror.apply_changes(session, changes, [], acknowledged=0, report=report)
    return ids, report.result()


def settle(qtbot: QtBot, agenda: AgendaWidget) -> None:
    qtbot.waitUntil(lambda: not agenda.refresh_pending, timeout=5000)


def test_a_sync_change_on_a_day_off_screen_does_nothing(
    qtbot: QtBot, ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    agenda = open_agenda(TUESDAY)
    drawn = dict(agenda._items)

    ids, changes = pulled(ctx, TUESDAY_9 + timedelta(days=2))

    assert not agenda.request_refresh(changes)
    assert not agenda.refresh_pending
    assert agenda.sync_redraws == 0
    assert agenda._items == drawn and agenda.appointment_item(ids[0]) is None


def test_a_sync_change_on_the_shown_day_is_drawn_in_place(
    qtbot: QtBot, ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    mine = book(ctx, ANA)
    agenda = open_agenda(TUESDAY)
    before = agenda.appointment_item(mine)

    ids, changes = pulled(ctx, TUESDAY_9 + timedelta(hours=2))
    with qtbot.waitSignal(agenda.sceneUpdated, timeout=5000):
        assert agenda.request_refresh(changes)

    theirs = agenda.appointment_item(ids[0])
    assert theirs is not None and theirs.scene() is agenda.scene
    assert agenda.appointment_item(mine) is before  # kept, not rebuilt


def test_two_sync_passes_in_quick_succession_cause_one_redraw(
    qtbot: QtBot, ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    agenda = open_agenda(TUESDAY)

    first, changes = pulled(ctx, TUESDAY_9)
    agenda.request_refresh(changes)
    second, more = pulled(ctx, TUESDAY_9 + timedelta(hours=1))
    agenda.request_refresh(more)
    settle(qtbot, agenda)

    assert agenda.sync_redraws == 1
    assert agenda.appointment_item(first[0]) is not None
    assert agenda.appointment_item(second[0]) is not None


def test_the_scroll_position_and_the_selection_survive_a_sync(
    qtbot: QtBot, ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    mine = book(ctx, ANA)
    agenda = open_agenda(TUESDAY, days=7)
    agenda.select(mine)
    bar = agenda.view.verticalScrollBar()
    bar.setValue(bar.maximum() // 3)
    scrolled = (bar.value(), agenda.view.horizontalScrollBar().value())
    assert scrolled[0] > 0

    ids, changes = pulled(ctx, TUESDAY_9 + timedelta(hours=1), TUESDAY_9 + timedelta(days=1))
    with qtbot.waitSignal(agenda.sceneUpdated, timeout=5000):
        agenda.request_refresh(changes)

    assert (bar.value(), agenda.view.horizontalScrollBar().value()) == scrolled
    assert agenda.selected_appointment() == mine
    item = agenda.appointment_item(mine)
    assert item is not None and item.isSelected()
    assert all(agenda.appointment_item(i) is not None for i in ids)


def test_an_appointment_another_desk_moved_away_leaves_the_agenda(
    qtbot: QtBot, ctx: DeskContext, open_agenda: OpenAgenda
) -> None:
    agenda = open_agenda(TUESDAY)
    ids, changes = pulled(ctx, TUESDAY_9)
    with qtbot.waitSignal(agenda.sceneUpdated, timeout=5000):
        agenda.request_refresh(changes)
    assert agenda.appointment_item(ids[0]) is not None

    moved = Appointment(ids[0], ORG, CLINIC, BEN, CHECKUP, DR_LOPEZ,
                        TUESDAY_9 + timedelta(days=3), TUESDAY_9 + timedelta(days=3, minutes=30),
                        version=2)
    report = ChangeCollector()
    with ctx.store.write() as session:
        mirror.apply_changes(session, [ChangeRecord("appointment", moved.id, 2, to_wire(moved))],
                             [], acknowledged=0, report=report)
    with qtbot.waitSignal(agenda.sceneUpdated, timeout=5000):
        assert agenda.request_refresh(report.result())  # where it was is on screen

    assert agenda.appointment_item(ids[0]) is None
