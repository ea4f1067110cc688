"""Qt's own dialog texts switch with the desk's language."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from desktop.ui.qt_language import follow_desk_language
from desktop.ui.text import set_language


def _cancel() -> str:
    return QCoreApplication.translate("QPlatformTheme", "Cancel")


def test_qt_standard_buttons_follow_the_desk_language(qapp: QApplication) -> None:
    follow_desk_language()
    assert _cancel() == "Cancel"

    set_language("es")
    assert _cancel() == "Cancelar"

    set_language("en")
    assert _cancel() == "Cancel"
