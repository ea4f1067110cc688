"""What the desk does before its first screen: log file, trust store, key store messages."""

from __future__ import annotations

import logging
import ssl
import sys
from pathlib import Path

import pytest

from desktop.logs import configure_logging
from desktop.store.errors import KeyStoreEntryMissing, NoKeyStoreError, StoreError
from desktop.ui.enrollment import error_text
from desktop.ui.recovery import key_store_problem


def test_the_log_file_rotates_in_the_data_folder_and_keeps_no_error_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        path = configure_logging(tmp_path)
        assert path == tmp_path / "logs" / "desk.log"
        patient = "patient María López, +34 600 000 000"  # not on the line that raises
        try:
            raise ValueError(patient)
        except ValueError:
            sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
        for handler in root.handlers:
            handler.flush()
        text = path.read_text(encoding="utf-8")
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
    assert "uncaught builtins.ValueError" in text
    assert "María" not in text and "600 000 000" not in text


def test_https_uses_the_operating_systems_certificate_store() -> None:
    import truststore

    from desktop.app import use_system_certificates

    try:
        use_system_certificates()
        assert ssl.SSLContext is truststore.SSLContext
    finally:
        truststore.extract_from_ssl()
    assert ssl.SSLContext is not truststore.SSLContext


@pytest.mark.parametrize("error", [NoKeyStoreError("x"), KeyStoreEntryMissing("x")])
def test_enrollment_names_the_key_store_problem(error: StoreError) -> None:
    text = error_text(error)
    assert text == key_store_problem(error)
    assert "key store" in text
    assert "Enrollment did not finish" not in text
