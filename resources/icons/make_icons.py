"""Render the application icon in every size from ``clinicdesk.svg``, the one source.

    python resources/icons/make_icons.py OUT_DIR

writes ``clinicdesk-<size>.png`` (16 … 1024 px), ``clinicdesk.ico`` (Windows:
16–256 px) and ``clinicdesk.icns`` (macOS: 16–1024 px) into ``OUT_DIR``.
``packaging/desktop.spec`` runs it at build time; nothing generated is committed.
Needs PySide6 (QtSvg renders the SVG) and Pillow (writes .ico and .icns).
"""

from __future__ import annotations

import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().with_name("clinicdesk.svg")
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def render_pngs(out_dir: Path) -> dict[int, Path]:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(["make_icons", "-platform", "offscreen"])
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise RuntimeError(f"{SOURCE} is not a valid SVG")
    written = {}
    for size in PNG_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        target = out_dir / f"clinicdesk-{size}.png"
        if not image.save(str(target)):
            raise RuntimeError(f"could not write {target}")
        written[size] = target
    return written


def make_icons(out_dir: Path) -> dict[str, Path]:
    """Write the PNGs, the .ico and the .icns; returns the two container files."""
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = render_pngs(out_dir)
    largest = Image.open(pngs[max(PNG_SIZES)])
    ico = out_dir / "clinicdesk.ico"
    largest.save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES])
    icns = out_dir / "clinicdesk.icns"
    largest.save(icns, format="ICNS",
                 append_images=[Image.open(pngs[s]) for s in ICNS_SIZES if s != max(PNG_SIZES)])
    return {"ico": ico, "icns": icns}


if __name__ == "__main__":
    for kind, path in make_icons(Path(sys.argv[1])).items():
        print(kind, path)
