"""The waitlist dock with offers, against a real sync server and a real desk: priority,
preferences and offer state per row; "Find a slot" lists the next fits; "Offer this slot"
has the server offer it; the offers' states as the server keeps them; EN and ES."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.services.dto import AlternativeDTO
from desktop.ui.text import set_language
from desktop.ui.waitlist_dock import WaitlistPanel
from tests.desktop.ui.notifications_server import LiveNotifications, live_notifications
from tests.desktop.ui.test_texts_fit import clipped
from tests.desktop.ui.waitlist_offers_server import (
    add_entries,
    expire_offers_of,
    offers_on_server,
    offers_service,
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNotifications]:
    with live_notifications(tmp_path_factory.mktemp("offers")) as running:
        running.sign_in(running.admin_email)
        yield running


def panel_for(qtbot: QtBot, live: LiveNotifications) -> WaitlistPanel:
    panel = WaitlistPanel(live.ctx)
    qtbot.addWidget(panel)
    panel.resize(380, 700)
    panel.set_clinic(live.clinic.clinic_id)
    panel.show()
    with qtbot.waitSignal(panel.offersLoaded, timeout=20_000):
        panel.set_service(offers_service(live))
    return panel


def row_text(panel: WaitlistPanel, entry_id: str) -> str:
    for row in range(panel.model.rowCount()):
        entry = panel.model.entry(row)
        if entry is not None and entry.id == entry_id:
            return str(panel.model.index(row).data())
    raise AssertionError(f"entry {entry_id} is not listed")


def select(panel: WaitlistPanel, entry_id: str) -> None:
    for row in range(panel.model.rowCount()):
        entry = panel.model.entry(row)
        if entry is not None and entry.id == entry_id:
            panel.list.setCurrentIndex(panel.model.index(row))
            return
    raise AssertionError(entry_id)


def test_find_a_slot_and_offer_it_then_the_rows_say_the_offer_state(
        qtbot: QtBot, live: LiveNotifications) -> None:
    wishes, with_provider, plain = add_entries(live)
    panel = panel_for(qtbot, live)
    first = row_text(panel, wishes).split("\n")
    assert first[0] == "Given0 Family0 · priority 3"
    assert first[2] == "Prefers: Tue Thu; 09:00–12:00"
    assert "Prefers: provider 0" in row_text(panel, with_provider)
    assert not panel.offer_button.isEnabled()

    select(panel, wishes)
    panel.find_button.click()
    fits = [panel.fits.item(row).data(Qt.ItemDataRole.UserRole)
            for row in range(panel.fits.count())]
    assert fits and panel.fits.isVisible() and panel.offer_button.isEnabled()
    assert panel.fits.horizontalScrollBar().maximum() == 0  # wrapped, not cut off
    for fit in fits:  # Tuesday or Thursday mornings in the clinic's zone, earliest first
        local = fit.start.astimezone(ZoneInfo("Europe/Madrid"))
        assert local.weekday() in (1, 3) and 9 <= local.hour < 12
    assert [f.start for f in fits] == sorted(f.start for f in fits)

    with qtbot.waitSignal(panel.offersLoaded, timeout=20_000):
        panel.offer_button.click()
    (offer,) = offers_on_server(live, wishes)
    assert (offer.state, offer.offered_by, offer.rank) == ("open", live.ctx.user().user_id, 1)
    assert panel.offers_state.text() == ""
    assert row_text(panel, wishes).split("\n")[-1].startswith("Offered ")
    assert ", held until " in row_text(panel, wishes)
    assert not panel.fits.isVisible()

    expire_offers_of(live, wishes)
    select(panel, plain)
    panel.find_button.click()
    with qtbot.waitSignal(panel.offersLoaded, timeout=20_000):
        panel.offer_button.click()
    with qtbot.waitSignal(panel.offersLoaded, timeout=20_000):
        panel.refresh()
    assert row_text(panel, wishes).split("\n")[-1].startswith("Did not answer the offer of ")
    assert row_text(panel, plain).split("\n")[-1].startswith("Offered ")
    assert clipped(panel) == []

    set_language("es")
    try:
        assert row_text(panel, wishes).split("\n")[0] == "Given0 Family0 · prioridad 3"
        assert row_text(panel, plain).split("\n")[-1].startswith("Ofrecida ")
        assert panel.offer_button.text() == "Ofrecer esta hora"
        panel.layout().activate()  # laid out again for the longer words
        assert clipped(panel) == []
    finally:
        set_language("en")


def test_a_slot_the_server_would_not_book_is_not_offered(
        qtbot: QtBot, live: LiveNotifications) -> None:
    panel = panel_for(qtbot, live)
    entry = panel.model.entry(0)
    assert entry is not None
    provider, start = live.clinic.slot(0)
    live.book(0, patient=2)  # the provider is busy then
    select(panel, entry.id)
    panel._show_fits((AlternativeDTO(start, start + timedelta(minutes=30), provider),))
    before = [(o.id, o.state) for o in offers_on_server(live, entry.id)]
    said: list[str] = []
    panel.message.connect(said.append)
    panel.offer_button.click()
    assert said == ["The slot was not offered: This slot cannot be offered to this entry: the "
                    "rules would not book it now, or the entry is closed."]
    assert [(o.id, o.state) for o in offers_on_server(live, entry.id)] == before
