"""Screenshots of the "Slot templates" administration screen and the cancel dialog (with
its categories), in English and Spanish, at 1600x1000 and 1280x800, into
``docs/screenshots/`` (the other admin screens: ``scripts/admin_screenshots.py``)::

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. .venv/bin/python scripts/slot_template_screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desktop.ui.admin import kinds  # noqa: E402
from desktop.ui.admin.record_editor import RecordEditorDialog  # noqa: E402
from desktop.ui.cancel_dialog import CancelDialog  # noqa: E402
from desktop.ui.qt_language import follow_desk_language  # noqa: E402
from desktop.ui.text import set_language  # noqa: E402
from scripts.admin_screenshots import ADMIN, add_examples, grab  # noqa: E402
from tests.desktop.ui.admin_server import live_admin  # noqa: E402


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    follow_desk_language()
    with tempfile.TemporaryDirectory() as folder, live_admin(Path(folder)) as live:
        add_examples(live)
        clinic, providers = live.clinic.clinic_id, live.clinic.provider_ids
        for weekday, start, end, name in ((0, "09:00", "10:00", "Primera visita"),
                                          (2, "16:00", "17:00", "Revisión rápida")):
            live.call("POST", f"{ADMIN}/slot-templates", json={
                "provider_id": providers[0], "clinic_id": clinic, "weekday": weekday,
                "start": start, "end": end, "name": name})
        for language in ("en", "es"):
            set_language(language)
            dialog = RecordEditorDialog(kinds.SLOT_TEMPLATES, live.service, live.lookups(),
                                        "Europe/Madrid")
            dialog.list.setCurrentRow(0)
            dialog.show()
            grab(dialog, "admin-slot-templates", language)
            dialog.close()
            cancel = CancelDialog()
            cancel.choose("no_transport")
            cancel.show()
            app.processEvents()
            picture = cancel.grab()
            path = ROOT / "docs" / "screenshots" / f"cancel-dialog-{language}.png"
            picture.save(str(path))
            print(path.relative_to(ROOT))
            cancel.close()
    set_language("en")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
