"""The desk's rendering of domain messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from desktop.translations import translations
from desktop.ui import text as desk_text
from desktop.ui.text import render_message
from scheduling.refusals import MESSAGES, RefusalCode

NEW_YORK = "America/New_York"


@pytest.fixture(autouse=True)
def spanish(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spanish without telling the open screens (``set_language`` would retranslate
    whatever windows earlier tests left behind)."""
    monkeypatch.setitem(desk_text._state, "language", "es")
    monkeypatch.setitem(desk_text._state, "catalogue", translations("es"))


def test_a_spanish_refusal_ending_in_a_m_has_one_full_stop() -> None:
    params = {
        "provider": "dr-adams",
        "other_start": datetime(2026, 6, 1, 15, 20, tzinfo=UTC),
        "other_end": datetime(2026, 6, 1, 15, 50, tzinfo=UTC),
    }
    text = render_message(MESSAGES[RefusalCode.PROVIDER_BUSY], params, tz=NEW_YORK,
                          clinic_locale="en_US", names={"dr-adams": "Dr Adams"})
    assert text.endswith("a.m.") and "11:50" in text
    assert ".." not in text
    assert text.startswith("Dr Adams ya tiene una cita")


def test_a_full_stop_after_an_ordinary_value_stays() -> None:
    params = {"provider": "dr-adams",
              "other_start": datetime(2026, 6, 1, 14, 0, tzinfo=UTC),
              "other_end": datetime(2026, 6, 1, 14, 30, tzinfo=UTC)}
    text = render_message(MESSAGES[RefusalCode.PROVIDER_BUSY], params, tz="Europe/Madrid",
                          clinic_locale="es_ES", names={"dr-adams": "Dr Adams"})
    assert text.endswith("16:30.")
