"""Save the follow-up list and "Resource out of service" screenshots (EN and ES) for the docs.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/care_screenshots.py \
        [--out docs/screenshots]

A real sync server thread (SQLite, the end-to-end clinic with its records given a Madrid
clinic's names), a real desk enrolled on it and its main window on a day of bookings:
two visits completed on the server (one a few days ago: due; one forty days ago:
overdue) open the follow-ups the Care list shows (window at 1600x1000 and 1280x800);
then a provider marked out of service for a day of three appointments, the dialog
listing the rules' proposals (the dialog at 1400x800 and 1080x600).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.services.followups import FollowUpsService  # noqa: E402
from desktop.services.outages import OutagesService  # noqa: E402
from desktop.services.server_call import signed_in_call  # noqa: E402
from desktop.ui.main_window import MainWindow  # noqa: E402
from desktop.ui.qt_language import follow_desk_language  # noqa: E402
from desktop.ui.text import set_language  # noqa: E402
from scripts.notifications_screenshots import SIZES, save, settle  # noqa: E402
from scripts.waitlist_screenshots import book_a_day, online_window  # noqa: E402
from tests.desktop.ui.notifications_server import (  # noqa: E402
    LiveNotifications,
    live_notifications,
)
from tests.desktop.ui.test_follow_up_list import follow_ups_on, two_follow_ups  # noqa: E402
from tests.e2e.server_side import TZ  # noqa: E402

#: Clinic.slot's numbering: a provider's week of half hours, both providers' weeks.
WEEK = 140


def outage_dialogs(live: LiveNotifications, window: MainWindow, out: Path) -> None:
    """Per language: three bookings of the first provider on a Monday, the provider out
    that day (flu), the dialog with the proposals."""
    zone = ZoneInfo(TZ)
    for week, language in ((2, "en"), (3, "es")):
        set_language(language)
        for index in range(3):
            live.book(WEEK * week + 2 * index, patient=index)
        day = live.clinic.first_day + timedelta(days=7 * week)
        dialog = window.care.open_outage()
        assert dialog is not None
        dialog.choose_resource(live.clinic.provider_ids[0])
        dialog.set_period(datetime.combine(day, time(8), zone),
                          datetime.combine(day, time(20), zone))
        dialog.reason_edit.setText("gripe" if language == "es" else "flu")
        assert dialog.mark() is not None, dialog.last_message
        dialog.table.selectRow(0)
        for width, height, suffix in SIZES:
            dialog.resize(width - 200, height - 200)  # a dialog inside the window
            save(dialog, out / f"outage-dialog-{language}{suffix}.png")
        dialog.close()
    set_language("en")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    follow_desk_language()
    with tempfile.TemporaryDirectory() as tmp, \
            live_notifications(Path(tmp), patients=8) as live:
        live.give_names()
        follow_ups_on(live)
        book_a_day(live)
        two_follow_ups(live)
        window = online_window(live, Path(tmp))
        call = signed_in_call(live.client, live.ctx.sessions)
        window.care.set_service(FollowUpsService(call), OutagesService(call))
        panel = window.care.panel
        window.care.show_panel()  # reads the list from the server
        assert panel.list.count() == 2 and not panel.offline
        panel.list.setCurrentRow(0)
        for language in ("en", "es"):
            set_language(language)
            for width, height, suffix in SIZES:
                window.resize(width, height)
                settle()
                # The list gets the right column's lower half: both rows whole.
                window.resizeDocks([window.care.dock], [height // 2], Qt.Orientation.Vertical)
                save(window, args.out / f"follow-ups-{language}{suffix}.png")
        set_language("en")
        outage_dialogs(live, window, args.out)
        set_language("en")  # while the desk's store is open: the window re-reads it
        window.close()
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
