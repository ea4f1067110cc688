"""Suite-wide rules.

With ``CLINICDESK_REQUIRE_ALL=1`` (set by ``run.py test`` when ``CI`` is set)
a skipped test is a failure: in CI a missing PostgreSQL, Qt platform plugin
or browser must never pass silently. Tests that only apply to one database
backend are *deselected* for the other (marker ``only_backend``), so they are
not skips.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Generator, Iterator

import pytest

REQUIRE_ALL = os.environ.get("CLINICDESK_REQUIRE_ALL") == "1"
# Qt tests render offscreen unless a developer asks for a real screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _qt_garbage_dies_in_the_main_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """During a Qt test, collect reference cycles only here, in the main thread.

    Otherwise CPython may collect a cycle holding a widget with a running timer in a
    server or sync thread; Qt cannot stop the timer there and later fires it at freed
    memory (a segfault several tests later). The desk does the same: ``gc_pump``.
    """
    if not {"qtbot", "qapp"} & set(request.fixturenames):
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        if enabled:
            gc.enable()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("only_backend")
        params = getattr(getattr(item, "callspec", None), "params", {})
        backend = params.get("database_url")
        if marker is not None and backend is not None and backend != marker.args[0]:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI (CLINICDESK_REQUIRE_ALL=1) counts as a failure: {reason}"
