"""Compile the gettext catalogue into a folder that ships with the product.

Used at build time by ``setup.py`` (the wheel carries
``scheduling/translations/<lang>/LC_MESSAGES/clinicdesk.mo``) and by
``packaging/desktop.spec`` (the desk bundle carries the same folder), so a
Spanish desk installed from either speaks Spanish. Fuzzy entries are left
out, as ``pybabel compile`` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SOURCE = Path(__file__).resolve().parent
DOMAIN = "clinicdesk"


def compile_catalogue(destination: Path, source: Path = SOURCE) -> list[Path]:
    """Write ``<destination>/<lang>/LC_MESSAGES/clinicdesk.mo`` for every ``.po``."""
    written = []
    for po in sorted(source.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        language = po.parent.parent.name
        with po.open("rb") as stream:
            catalog = read_po(stream, locale=language, domain=DOMAIN)
        target = destination / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as stream:
            write_mo(stream, catalog)
        written.append(target)
    if not written:
        raise RuntimeError(f"no {DOMAIN}.po found under {source}")
    return written


if __name__ == "__main__":
    for path in compile_catalogue(Path(sys.argv[1])):
        print(path)
