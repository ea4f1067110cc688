"""Refresh the ClinicDesk gettext catalogue: extract, update every language, compile.

Run from anywhere after adding or changing a translatable message::

    .venv/bin/python translations/update.py              # extract + update + compile
    .venv/bin/python translations/update.py --no-compile # sources only (what is committed)

It does, with Babel and the repository's ``babel.cfg``:

1. ``pybabel extract`` of ``_``, ``N_`` and ``ngettext`` messages from
   ``scheduling/``, ``desktop/`` and ``sync_server/`` into
   ``translations/clinicdesk.pot``;
2. ``pybabel update`` (``--init-missing``) of
   ``translations/<lang>/LC_MESSAGES/clinicdesk.po`` for every language in
   :data:`LANGUAGES`: new messages arrive with an empty translation, changed
   ones as *fuzzy* with the old translation as a hint;
3. ``pybabel compile`` to ``clinicdesk.mo`` next to each ``.po`` (ignored by
   git; the application compiles a ``.po`` in memory when no ``.mo`` exists).

Then translate the new and fuzzy entries of the Spanish ``.po`` (keep every
``{placeholder}`` name, remove the ``#, fuzzy`` flag) and run
``pytest tests/scheduling/test_i18n.py``, which fails while any Spanish
message is missing, fuzzy or has different placeholders.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = Path(__file__).resolve().parent
DOMAIN = "clinicdesk"
LANGUAGES = ("en", "es")
KEYWORDS = ("_", "N_", "ngettext:1,2")


def pybabel(*arguments: str) -> None:
    """Run one ``pybabel`` command in-process (no dependency on PATH)."""
    print("pybabel", " ".join(arguments))
    CommandLineInterface().run(["pybabel", "--quiet", *arguments])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-compile", action="store_true", help="skip building .mo files")
    args = parser.parse_args(argv)
    template = CATALOGUE / f"{DOMAIN}.pot"
    os.chdir(ROOT)  # babel.cfg patterns and the .pot's locations are relative to the root
    keyword_options = [option for keyword in KEYWORDS for option in ("-k", keyword)]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    pybabel(
        "extract", "-F", "babel.cfg", "--no-default-keywords", *keyword_options,
        "--add-comments=TRANSLATORS:", "--add-location=file", "--sort-by-file",
        "--project=ClinicDesk", f"--version={version}", "--copyright-holder=ClinicDesk",
        "-o", str(template), ".",
    )
    for language in LANGUAGES:
        pybabel(
            "update", "--init-missing", "--ignore-obsolete", "-i", str(template),
            "-d", str(CATALOGUE), "-D", DOMAIN, "-l", language,
        )
    if not args.no_compile:
        pybabel("compile", "--statistics", "-d", str(CATALOGUE), "-D", DOMAIN)
    return 0


if __name__ == "__main__":
    sys.exit(main())
