"""Save the notification screens' screenshots (EN and ES) for the docs.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/notifications_screenshots.py \
        [--out docs/screenshots]

A real sync server thread (SQLite, the end-to-end clinic), a real desk enrolled on it
and its main window: three booked appointments whose messages reached no one (staff
alerts as the server's worker writes them), the exceptions panel read from the server
(1600x1000 and 1280x800); then one appointment's notification history, the settings
and the template editor with its server-rendered preview.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from desktop.app import desk_clinics  # noqa: E402
from desktop.sync.worker import SyncStatus  # noqa: E402
from desktop.ui.main_window import MainWindow  # noqa: E402
from desktop.ui.qt_language import follow_desk_language  # noqa: E402
from desktop.ui.text import set_language  # noqa: E402
from tests.desktop.ui.notifications_server import (  # noqa: E402
    add_history,
    live_notifications,
    raise_alert,
)

SIZES = ((1600, 1000, ""), (1280, 800, "-1280x800"))


def settle(ms: int = 400) -> None:
    """Let Qt lay out and paint (a screenshot script, not a test: waiting is fine)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget: QWidget, path: Path) -> None:
    settle()
    widget.grab().save(str(path))
    print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    follow_desk_language()
    with tempfile.TemporaryDirectory() as tmp, live_notifications(Path(tmp)) as live:
        first = live.book(2, patient=0)
        raise_alert(live, first, patient=0, reason="invalid_phone")
        raise_alert(live, live.book(5, patient=1), patient=1, reason="no_contact",
                    kind="created")
        raise_alert(live, live.book(9, patient=2), patient=2, reason="all_channels_failed",
                    kind="modified")
        _org, clinics = desk_clinics(live.store)
        settings = QSettings(str(Path(tmp) / "window.ini"), QSettings.Format.IniFormat)
        window = MainWindow(live.ctx, clinics, live.clinic.first_day, "Front desk",
                            settings=settings)
        window.show()
        window.on_sync_state(SyncStatus(online=True, pending=0,
                                        last_success=datetime.now(UTC), error=None))
        loop = QEventLoop()
        window.notifications.panel.loaded.connect(loop.quit)
        window.notifications.set_service(live.service)
        loop.exec()
        window.show_appointment(first)
        window.notifications.show_panel()
        window.notifications.panel.select_alert(window.notifications.panel.alerts[0].id)
        now = datetime.now(UTC).replace(microsecond=0)
        add_history(live, first, [
            {"kind": "created", "channel": "email", "state": "sent", "attempts": 1,
             "due_at": now, "sent_at": now + timedelta(seconds=12),
             "recipient_hint": "g…@example.org"},
            {"kind": "reminder", "channel": "sms", "state": "failed", "attempts": 3,
             "due_at": now + timedelta(hours=2), "error_code": "invalid_phone",
             "recipient_hint": "+34 …22", "offset_minutes": 1440},
            {"kind": "reminder", "channel": "email", "state": "pending",
             "due_at": now + timedelta(hours=3), "offset_minutes": 120}])
        for language in ("en", "es"):
            set_language(language)
            for width, height, suffix in SIZES:
                window.resize(width, height)
                save(window, args.out / f"exceptions-panel-{language}{suffix}.png")
            for name, dialog in (("notification-history", window.notifications.open_history()),
                                 ("notification-settings",
                                  window.notifications.open_settings()),
                                 ("message-templates", window.notifications.open_templates())):
                assert dialog is not None
                save(dialog, args.out / f"{name}-{language}.png")
                dialog.close()
        window.close()
    set_language("en")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
