"""mypy (strict, as configured in pyproject.toml) stays clean on the domain, the server
and the desk: run by the test suite, so CI enforces it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict_is_clean_on_the_domain_the_server_and_the_desk() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "-p", "scheduling", "-p", "sync_server",
         "-p", "desktop"],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "Success" in result.stdout
