"""bench/availability.py still runs (its figures are read by people, never asserted)."""

from __future__ import annotations

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
