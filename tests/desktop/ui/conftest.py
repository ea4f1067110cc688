"""Fixtures for the desk screens: the services' seeded SQLCipher clinic, English by default."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QAbstractItemModel
from PySide6.QtTest import QAbstractItemModelTester

from desktop.ui.text import set_language
from tests.desktop.services.conftest import clock, ctx, sessions, store  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Each test starts, and leaves the desk, in English."""
    set_language("en")
    yield
    set_language("en")


@pytest.fixture
def model_tester(qtlog: pytest.FixtureRequest) -> Iterator[Callable[[QAbstractItemModel], None]]:
    """``model_tester(model)`` runs ``QAbstractItemModelTester`` on ``model`` for the whole
    test; any failure it reports fails the test."""
    testers: list[QAbstractItemModelTester] = []

    def attach(model: QAbstractItemModel) -> None:
        testers.append(QAbstractItemModelTester(
            model, QAbstractItemModelTester.FailureReportingMode.Warning, model))

    yield attach
    failures = [r.message for r in qtlog.records if "FAIL" in r.message]  # type: ignore[attr-defined]
    assert testers and not failures, failures
