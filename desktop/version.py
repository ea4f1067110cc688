"""The desk's version: stamped into a bundle at build time, else the installed package's."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

_STAMP = Path(__file__).resolve().with_name("VERSION")  # written by packaging/desktop.spec


def desk_version() -> str:
    if _STAMP.is_file():
        return _STAMP.read_text(encoding="utf-8").strip()
    try:
        return metadata.version("clinicdesk")
    except metadata.PackageNotFoundError:
        return "0+source"
