"""The desk benchmarks still run (their figures are read by people, never asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_availability_benchmark_runs_and_prints_its_p95_lines() -> None:
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "availability.py"), "--quick", "--queries", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert "next_available p95 = " in finished.stdout
    assert "provider-week free_slots p95 = " in finished.stdout
    assert "of the 2 s budget" in finished.stdout


def _run(script: str, *args: str, timeout: int = 300) -> str:
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
        env=os.environ | {"QT_QPA_PLATFORM": "offscreen"},
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert f"command: .venv/bin/python bench/{script}" in finished.stdout
    return finished.stdout


def test_the_desk_responsiveness_benchmark_runs_every_scenario_and_prints_its_lines() -> None:
    out = _run("desk_responsiveness.py", "--scale", "0.005", "--providers", "4")

    assert "idle floor (nothing syncing): max stall " in out
    for scenario, count in (("other desk 1000", 5), ("other desk 10000", 50),
                            ("catch up 10000", 50), ("own push 10000", 50)):
        assert f"{scenario} ({count} bookings): max stall " in out
    assert out.count("p99 lateness ") == 5
    assert out.count(" s after the last sync (worst ") == 4


def test_the_desk_scale_benchmark_runs_and_prints_every_figure_and_ratio() -> None:
    out = _run("desk_scale.py", "--sizes", "400", "1000", "--patients", "300",
               "--per-week", "200", "--repeat", "1")

    for figure in ("cold start", "day view", "week view", "next week", "next available",
                   "patient search", "dialog open"):
        assert re.search(rf"^{figure} +[\d.]+ +[\d.]+ +[\d.]+", out, re.MULTILINE), figure
    assert "largest ratio 1000 / 400: " in out


def test_the_notification_benchmark_runs_and_prints_its_ratio_and_lag() -> None:
    out = _run("notifications.py", "--count", "40", "--spread", "2", "--floor-count", "40",
               "--database", "sqlite", timeout=240)
    assert re.search(r"sqlite: worker \(2 processes\) [\d,]+ reminders/min; bare smtplib floor "
                     r"[\d,]+ messages/min; ratio \d+\.\d\d", out)
    assert re.search(r"sqlite: due-to-sent lag at 40 reminders due over 2 s: p50 ", out)
