"""The Qt runtime the desk ships on is one that does not leak references to None.

PySide6 6.12.0 on Python 3.11 drops a reference to ``None`` on every call of a
method returning nothing and aborts after ~5,000 calls ("deallocating None");
pyproject.toml excludes that pair. This test catches any such build.
"""

from __future__ import annotations

import sys

import pytest

QtWidgets = pytest.importorskip("PySide6.QtWidgets", reason="PySide6 is not installed")


def test_calls_returning_nothing_leave_the_reference_count_of_none_unchanged(
    qapp: QtWidgets.QApplication,
) -> None:
    widget = QtWidgets.QWidget()
    widget.setWindowTitle("warm-up")  # first call may intern strings, cache wrappers…
    before = sys.getrefcount(None)
    for index in range(1000):
        widget.setWindowTitle(f"title {index % 7}")  # returns None
        widget.setEnabled(index % 2 == 0)  # returns None
    after = sys.getrefcount(None)
    assert abs(after - before) < 10, f"None changed by {after - before} references"
