"""Save the "Calendar feeds" dialog's screenshots (EN and ES) for docs/feeds.md.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/feeds_screenshots.py [--out docs/screenshots]

A real sync server thread (SQLite, the end-to-end clinic) and the real dialog: two
links made (one revoked), a third just created, its link and QR code shown.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.ui.feeds_dialog import FeedsDialog  # noqa: E402
from desktop.ui.qt_language import follow_desk_language  # noqa: E402
from desktop.ui.text import set_language  # noqa: E402
from tests.desktop.ui.feeds_server import live_feeds  # noqa: E402


def settle(ms: int = 300) -> None:
    """Let Qt lay out and paint (a screenshot script, not a test: waiting is fine)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    follow_desk_language()
    for language in ("en", "es"):
        set_language(language)
        with tempfile.TemporaryDirectory() as tmp, live_feeds(Path(tmp)) as live:
            dialog = FeedsDialog(live.service, live.resources, "Europe/Madrid", "es_ES")
            dialog.resize(760, 760)
            dialog.show()
            dialog.label_edit.setText("Office PC")
            dialog.create_button.click()
            dialog.table.selectRow(0)
            dialog.revoke_selected(confirm=False)
            dialog.table.clearSelection()
            dialog.resource_combo.setCurrentIndex(1)
            dialog.label_edit.setText("Teléfono" if language == "es" else "Phone")
            dialog.privacy_combo.setCurrentIndex(1)
            dialog.create_button.click()
            settle()
            path = args.out / f"feeds-dialog-{language}.png"
            dialog.grab().save(str(path))
            print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
            dialog.close()
    set_language("en")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
