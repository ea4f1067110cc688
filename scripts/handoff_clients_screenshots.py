"""Screenshots of Administration → "Hand-off and FHIR clients" and of the new client's
secret, in English and Spanish, at 1600x1000 and 1280x800, into ``docs/screenshots/``::

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. .venv/bin/python scripts/handoff_clients_screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desktop.ui.admin.handoff_clients import PATH, HandoffClientsDialog  # noqa: E402
from desktop.ui.qt_language import follow_desk_language  # noqa: E402
from desktop.ui.text import set_language  # noqa: E402
from scripts.admin_screenshots import grab  # noqa: E402
from tests.desktop.ui.admin_server import live_admin  # noqa: E402


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    follow_desk_language()
    with tempfile.TemporaryDirectory() as folder, live_admin(Path(folder)) as live:
        live.call("POST", PATH, json={"name": "Transporte Sanitario Madrid",
                                      "return_urls": ["https://traslados.example/vuelta"]})
        for language in ("en", "es"):
            set_language(language)
            dialog = HandoffClientsDialog(live.service, live.lookups(), "Europe/Madrid")
            dialog.show()
            dialog.start_new()
            editors = {e.spec.name: e.widget for e in dialog.editors}
            editors["name"].setText("CareRide")  # type: ignore[attr-defined]
            editors["return_urls"].setPlainText(  # type: ignore[attr-defined]
                "https://app.careride.example/booking/return\n"
                "https://app.careride.example/v2/*")
            dialog.save()
            grab(dialog, "admin-handoff-clients", language)
            assert dialog.secret_dialog is not None
            secret = dialog.secret_dialog
            secret.adjustSize()
            QApplication.processEvents()
            path = ROOT / "docs" / "screenshots" / f"admin-handoff-client-secret-{language}.png"
            secret.grab().save(str(path))
            print(path.relative_to(ROOT))
            dialog.secret_dialog.close()
            dialog.close()
            live.call("PATCH", f"{PATH}/{dialog.records()[0]['id']}", json={"active": False})
    set_language("en")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
