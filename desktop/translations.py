"""The desk's catalogue files: found on disk and handed to :mod:`scheduling.i18n`.

A compiled ``clinicdesk.mo`` is used when it is present and not older than its
``.po``; otherwise the ``.po`` is compiled in memory, so a fresh clone needs no build
step. The folder is ``scheduling/translations/`` where a build put it (wheel, bundle),
else ``translations/`` at the repository root, or ``$CLINICDESK_TRANSLATIONS_DIR``.
"""

from __future__ import annotations

import gettext
import os
from functools import lru_cache
from pathlib import Path

import scheduling
from scheduling.i18n import catalogue_files, compiled_catalogue, source_catalogue

TRANSLATIONS_ENV = "CLINICDESK_TRANSLATIONS_DIR"
#: A wheel or a desk bundle carries the compiled catalogue inside the package (built by
#: ``translations/compile.py``); a source checkout reads ``translations/`` at the root.
PACKAGED_TRANSLATIONS_DIR = Path(scheduling.__file__).resolve().parent / "translations"
SOURCE_TRANSLATIONS_DIR = Path(scheduling.__file__).resolve().parent.parent / "translations"
DEFAULT_TRANSLATIONS_DIR = (PACKAGED_TRANSLATIONS_DIR if PACKAGED_TRANSLATIONS_DIR.is_dir()
                            else SOURCE_TRANSLATIONS_DIR)


def translations_dir() -> Path:
    """Where the catalogue lives: ``$CLINICDESK_TRANSLATIONS_DIR`` or the package's."""
    configured = os.environ.get(TRANSLATIONS_ENV)
    return Path(configured) if configured else DEFAULT_TRANSLATIONS_DIR


def translations(language: str) -> gettext.NullTranslations:
    """The catalogue for ``language``; an unknown language gets English (msgids as they are)."""
    return _load(language, str(translations_dir()))


def clear_cache() -> None:
    """Forget loaded catalogues (after editing a ``.po``, or in tests)."""
    _load.cache_clear()


@lru_cache(maxsize=32)
def _load(language: str, directory: str) -> gettext.NullTranslations:
    root = Path(directory)
    for compiled_name, source_name in catalogue_files(language):
        compiled, source = root / compiled_name, root / source_name
        if compiled.is_file() and (
            not source.is_file() or compiled.stat().st_mtime >= source.stat().st_mtime
        ):
            return compiled_catalogue(compiled.read_bytes())
        if source.is_file():
            return source_catalogue(source.read_bytes())
    return gettext.NullTranslations()
