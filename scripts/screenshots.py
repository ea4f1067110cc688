"""Save the documentation screenshots from the real desk, started the way ``clinicdesk demo`` is.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

A real sync server subprocess with the demo organization, two enrolled desks on
their own encrypted stores, real main windows. Desk 1 books a slot and sends it;
desk 2 books the same slot without knowing, so the server refuses desk 2's
booking and its conflict inbox has something to show. Without a display the
script runs itself again under ``xvfb-run`` (``apt-get install xvfb``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from desktop import demo  # noqa: E402
from desktop.demo_app import DEMO_CLINICS  # noqa: E402
from desktop.services import agenda, booking, patients  # noqa: E402
from desktop.sync.worker import SyncStatus  # noqa: E402
from desktop.ui.main_window import MainWindow  # noqa: E402
from desktop.ui.text import set_language  # noqa: E402

WINDOW_SIZE = (1500, 900)


def settle(ms: int = 400) -> None:
    """Let Qt lay out and paint (a screenshot script, not a test: waiting is fine)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget: QWidget, out: Path, name: str) -> None:
    settle()
    path = out / name
    widget.grab().save(str(path))
    print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def shown_day(today: date) -> date:
    """Today on a weekday, else the next Monday (the demo clinics close at weekends)."""
    return today if today.weekday() < 5 else today + timedelta(days=7 - today.weekday())


def window_for(desk: demo.DemoDesk, folder: Path, day: date) -> MainWindow:
    settings = QSettings(str(folder / f"{desk.name}.ini"), QSettings.Format.IniFormat)
    window = MainWindow(desk.context, DEMO_CLINICS, day, desk.name, settings=settings)
    window.resize(*WINDOW_SIZE)
    result = desk.client.sync_once()
    window.on_sync_state(SyncStatus(True, result.pending, datetime.now(UTC), None))
    window.show()
    return window


def make_conflict(first: demo.DemoDesk, second: demo.DemoDesk, clinic_id: str,
                  day: date) -> None:
    """Both desks book the same free slot; the second one hears about it from the server."""
    ctx = first.context
    kinds = {i.appointment_type_id for i in agenda.day_view(ctx, clinic_id, day).items}
    for kind in sorted(kinds):
        slots = agenda.free_slots(ctx, clinic_id, kind, day, day + timedelta(days=3), limit=1)
        if slots:
            slot = slots[0]
            break
    else:
        raise RuntimeError("no free slot for the conflict example")
    names = patients.search(ctx, "López", limit=2) + patients.search(ctx, "Smith", limit=2)
    for desk, patient in ((first, names[0]), (second, names[-1])):
        result = booking.book(desk.context, clinic_id=clinic_id, patient_id=patient.id,
                              appointment_type_id=kind, provider_id=slot.provider_id,
                              start=slot.start, room_id=slot.room_id)
        assert result.ok, result.refusal
    first.client.sync_once()
    second.client.sync_once()


def booking_with_alternatives(window: MainWindow, desk: demo.DemoDesk, day: date) -> QWidget:
    """The booking dialog after trying a taken slot: the reason and the alternatives."""
    ctx = desk.context
    items = [i for i in agenda.day_view(ctx, window.clinic_id, day).items
             if i.status in ("booked", "confirmed")]
    taken = items[len(items) // 2]
    patient = patients.search(ctx, "Martín", limit=1) or patients.search(ctx, "a", limit=1)
    dialog = window.new_appointment(patient[0])
    dialog.type_combo.setCurrentIndex(max(0, dialog.type_combo.findData(
        taken.appointment_type_id)))
    dialog.provider_combo.setCurrentIndex(max(0, dialog.provider_combo.findData(
        taken.provider_id)))
    dialog.set_start(taken.start)
    dialog.submit()
    dialog.resize(780, 560)
    return dialog


def capture(out: Path) -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setStyle("Fusion")
    with tempfile.TemporaryDirectory(prefix="clinicdesk-shots-") as folder:
        environment = demo.start(Path(folder), 2)
        try:
            day = shown_day(datetime.now(UTC).date())
            first, second = environment.desks
            make_conflict(first, second, DEMO_CLINICS[0][0], day)
            window = window_for(second, Path(folder), day)
            for language in ("en", "es"):
                set_language(language)
                window.set_days(1)
                save(window, out, f"agenda-day-{language}.png")
                window.set_days(7)
                save(window, out, f"agenda-week-{language}.png")
                window.set_days(1)
                window.set_clinic(DEMO_CLINICS[1][0])
                save(window, out, f"agenda-day-retiro-{language}.png")
                window.set_clinic(DEMO_CLINICS[0][0])
                dialog = booking_with_alternatives(window, second, day)
                save(dialog, out, f"booking-alternatives-{language}.png")
                dialog.close()
                inbox = window.open_conflict_inbox()
                save(inbox, out, f"conflict-inbox-{language}.png")
                inbox.close()
                board = window.open_today_board()
                save(board, out, f"today-board-{language}.png")
                board.close()
                window.lock_overlay.lock()
                save(window, out, f"locked-{language}.png")
                window.lock_overlay.password.setText(demo.DEMO_PASSWORD)
                window.lock_overlay.unlock()
            set_language("en")
            window.close()
        finally:
            environment.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            print("No display and no xvfb-run: apt-get install -y xvfb", file=sys.stderr)
            return 2
        return subprocess.call([xvfb, "-a", "-s", "-screen 0 1920x1200x24", sys.executable,
                                __file__, "--out", str(args.out)],
                               env={**os.environ, "QT_QPA_PLATFORM": "xcb"})
    args.out.mkdir(parents=True, exist_ok=True)
    capture(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
