"""bench/agenda_render.py still runs (its figures are read by people, never asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from pytestqt.qtbot import QtBot

ROOT = Path(__file__).resolve().parents[4]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agenda_render",
                                                  ROOT / "bench" / "agenda_render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_render_benchmark_builds_and_paints_a_tiny_week(qtbot: QtBot) -> None:
    figures = _bench().measure_render(columns=3, appointments=20, runs=2)

    assert figures["drawn"] == 20
    assert {"median_ms", "p95_ms", "window_median_ms", "window_p95_ms"} <= set(figures)
