"""Save the waitlist-with-offers screenshots (EN and ES, 1600x1000 and 1280x800) for the docs.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/waitlist_screenshots.py \
        [--out docs/screenshots]

A real sync server thread (SQLite, the end-to-end clinic with its records given a Madrid
clinic's names), a real desk enrolled on it and its main window (the colours' legend
closed, so the waitlist has the left column's height): a day of bookings in the agenda,
three waitlist entries added on the desk (one with priority and preferred days and
times, one preferring a provider), one offered a slot that ran out, one offered a slot
now ("Offer this slot"), and "Find a slot" listing the next fits of the first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.app import desk_clinics  # noqa: E402
from desktop.sync.worker import SyncStatus  # noqa: E402
from desktop.ui.main_window import MainWindow  # noqa: E402
from desktop.ui.qt_language import follow_desk_language  # noqa: E402
from desktop.ui.text import set_language  # noqa: E402
from scripts.notifications_screenshots import SIZES, save  # noqa: E402
from tests.desktop.ui.notifications_server import (  # noqa: E402
    LiveNotifications,
    live_notifications,
)
from tests.desktop.ui.waitlist_offers_server import (  # noqa: E402
    add_entries,
    expire_offers_of,
    offers_service,
)


def book_a_day(live: LiveNotifications) -> None:
    """Both providers' bookings on the agenda's first day, patients 3-7 (the waitlisted
    0-2 have none), with gaps."""
    per_provider = 70  # Clinic.slot: a provider's week of half hours
    for n, index in enumerate((0, 1, 3, 4, 6, 8, 9, 11)):
        live.book(index + per_provider * (n % 2), patient=3 + n % 5)


def online_window(live: LiveNotifications, folder: Path) -> MainWindow:
    """The desk's main window on the clinic's first bookable day, shown online, its
    exceptions panel read from the server (no message failed)."""
    _org, clinics = desk_clinics(live.store)
    settings = QSettings(str(folder / "window.ini"), QSettings.Format.IniFormat)
    window = MainWindow(live.ctx, clinics, live.clinic.first_day, "Front desk",
                        settings=settings)
    window.show()
    window.on_sync_state(SyncStatus(online=True, pending=0, last_success=datetime.now(UTC),
                                    error=None))
    loop = QEventLoop()
    window.notifications.panel.loaded.connect(loop.quit)
    window.notifications.set_service(live.service)
    loop.exec()
    return window


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    follow_desk_language()
    with tempfile.TemporaryDirectory() as tmp, \
            live_notifications(Path(tmp), patients=8) as live:
        live.give_names()
        book_a_day(live)
        _wishes, with_provider, plain = add_entries(live)
        service = offers_service(live)
        window = online_window(live, Path(tmp))
        window.legend_dock.hide()  # the waitlist takes the left column's height
        panel = window.waitlist_panel
        for entry_id, expire in ((with_provider, True), (plain, False)):
            panel.list.setCurrentIndex(panel.model.index(
                next(r for r in range(panel.model.rowCount())
                     if panel.model.entry(r).id == entry_id)))  # type: ignore[union-attr]
            panel.find_slots()
            fit = panel.chosen_fit()
            assert fit is not None
            service.offer(entry_id, fit.provider_id, fit.start, fit.end)
            if expire:
                expire_offers_of(live, entry_id)
        loop = QEventLoop()  # the offers' states, read from the server off the UI thread
        panel.offersLoaded.connect(loop.quit)
        panel.set_service(service)
        loop.exec()
        panel.list.setCurrentIndex(panel.model.index(0))
        panel.find_slots()
        for language in ("en", "es"):
            set_language(language)
            for width, height, suffix in SIZES:
                window.resize(width, height)
                save(window, args.out / f"waitlist-offers-{language}{suffix or '-1600x1000'}.png")
        set_language("en")  # while the desk's store is open: the window re-reads it
        window.close()
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
