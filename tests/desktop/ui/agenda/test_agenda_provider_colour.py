"""A provider's agenda colour (set by an administrator) is a band under their column's
name; a provider without one gets no band."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsRectItem
from sqlalchemy import update

from desktop.services.agenda_frame import load_frame
from desktop.services.context import DeskContext
from desktop.store.models import ResourceRow
from tests.desktop.services.conftest import CLINIC, DR_LOPEZ, DR_RUIZ
from tests.desktop.ui.agenda.conftest import TUESDAY, OpenAgenda


def bands(agenda: object, colour: str) -> list[QGraphicsRectItem]:
    return [item for item in agenda.scene.items()  # type: ignore[attr-defined]
            if isinstance(item, QGraphicsRectItem)
            and item.brush().color() == QColor(colour)]


def test_a_providers_colour_is_drawn_under_their_column_header(
        ctx: DeskContext, open_agenda: OpenAgenda) -> None:
    with ctx.store.write() as session:
        session.execute(update(ResourceRow).where(ResourceRow.id == DR_RUIZ)
                        .values(color="#2e7d32"))
    frame = load_frame(ctx, CLINIC, TUESDAY, TUESDAY)
    assert dict(frame.colours) == {DR_RUIZ: "#2e7d32"}
    assert DR_LOPEZ not in frame.colours
    agenda = open_agenda(TUESDAY, 1)
    assert len(bands(agenda, "#2e7d32")) == 1


def test_without_colours_no_band_is_drawn(ctx: DeskContext, open_agenda: OpenAgenda) -> None:
    agenda = open_agenda(TUESDAY, 1)
    assert load_frame(ctx, CLINIC, TUESDAY, TUESDAY).colours == {}
    assert bands(agenda, "#2e7d32") == []
