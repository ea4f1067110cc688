"""The README's demo command runs end to end: server, seeded organization, desks, windows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from desktop.app import DeskStart
from desktop.config import DeskConfig
from desktop.ui.enrollment import EnrollmentScreen

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_books_refuses_with_alternatives_in_two_languages_and_books_a_series() -> None:
    result = subprocess.run([sys.executable, "-m", "desktop.cli", "demo", "--terminal"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "alternative:" in result.stdout
    assert "[en]" in result.stdout and "[es]" in result.stdout
    assert "occurrences can be booked" in result.stdout


def test_the_window_demo_starts_a_server_enrolls_two_desks_and_shows_their_windows(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "desktop.cli", "demo", "--desks", "2", "--screenshot",
         str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert shots == ["demo-desk-1.png", "demo-desk-2.png"]
    assert all((tmp_path / name).stat().st_size > 10_000 for name in shots)


def test_clinicdesk_on_a_desk_that_is_not_enrolled_opens_the_enrollment_screen(
    qtbot: QtBot, tmp_path: Path
) -> None:
    flow = DeskStart(DeskConfig(data_dir=tmp_path / "desk"))
    assert flow.start()
    assert flow.screen is not None
    qtbot.addWidget(flow.screen)
    assert isinstance(flow.screen, EnrollmentScreen)
    assert flow.screen.isVisible()
    assert flow.window is None  # nothing of the clinic before enrollment and sign-in
