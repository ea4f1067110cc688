"""Qt's own texts (standard buttons, input dialogs, context menus) follow the desk's language.

:func:`follow_desk_language` installs Qt's bundled ``qtbase_<lang>`` catalogue
for the current language and swaps it whenever ``set_language`` switches, so a
``QMessageBox``'s "Cancel" reads "Cancelar" in Spanish. Idempotent: every
window may call it.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from desktop.ui.text import current_language, language_notifier

_installed: dict[str, QTranslator | None] = {"translator": None}
_connected: list[bool] = []


def follow_desk_language() -> None:
    """Apply the current language to Qt's texts now and after every switch."""
    _apply(current_language())
    if not _connected:
        language_notifier().languageChanged.connect(_apply)
        _connected.append(True)


def _apply(language: str) -> None:
    app = QCoreApplication.instance()
    if app is None:
        return
    previous = _installed["translator"]
    if previous is not None:
        app.removeTranslator(previous)
        _installed["translator"] = None
    QLocale.setDefault(QLocale(language))
    if language == "en":
        return  # Qt's texts are English already
    translator = QTranslator(app)
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if translator.load(f"qtbase_{language}", folder):
        app.installTranslator(translator)
        _installed["translator"] = translator
