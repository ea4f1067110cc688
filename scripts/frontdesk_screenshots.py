"""Save the screenshots of the front-desk screens (issue 18) from the real demo desk.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/frontdesk_screenshots.py \
        [--out docs/screenshots]

A real sync server subprocess with the demo organization and one enrolled desk.
The desk's clock is pinned to 10:20 in New York on the shown day, so the "now"
line, late patients and the default booking time are in the picture. Main-window
screens are saved at 1600×1000 and 1280×800, dialogs at their own size, each in
English and Spanish.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from PySide6.QtCore import QPoint, QPointF, QSettings  # noqa: E402
from PySide6.QtGui import QPageSize  # noqa: E402
from PySide6.QtPrintSupport import QPrinter, QPrintPreviewWidget  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from screenshots import save, shown_day  # noqa: E402

from desktop import demo  # noqa: E402
from desktop.demo_app import DEMO_CLINICS  # noqa: E402
from desktop.services import agenda, booking, patients  # noqa: E402
from desktop.services.appointment_details import load_details  # noqa: E402
from desktop.sync.worker import SyncStatus  # noqa: E402
from desktop.ui.appointment_card import print_appointment_card  # noqa: E402
from desktop.ui.booking_dialog import BookingDialog  # noqa: E402
from desktop.ui.cancel_dialog import CancelDialog, late_note  # noqa: E402
from desktop.ui.day_sheet import print_day_sheet  # noqa: E402
from desktop.ui.demo_splash import DemoSplash, demo_hint  # noqa: E402
from desktop.ui.main_window import MainWindow  # noqa: E402
from desktop.ui.text import set_language  # noqa: E402
from scheduling.timeutil import to_utc  # noqa: E402

SIZES = ((1600, 1000), (1280, 800))
RIVERSIDE = DEMO_CLINICS[0][0]
NEW_YORK = "America/New_York"


def capture(out: Path) -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setStyle("Fusion")
    day = shown_day(datetime.now(UTC).date() + timedelta(days=1))
    now = to_utc(datetime.combine(day, time(10, 20)), NEW_YORK)
    for language in ("en", "es"):
        set_language(language)
        splash = DemoSplash(3, demo_hint(demo.RECEPTIONIST, demo.DEMO_PASSWORD))
        splash.show()
        splash.progress.setValue(1)
        save(splash, out, f"demo-splash-{language}.png")
        splash.close()
    set_language("en")
    with tempfile.TemporaryDirectory(prefix="clinicdesk-shots-") as folder:
        environment = demo.start(Path(folder), 1, progress=lambda _text: None)
        try:
            desk = environment.desks[0]
            desk.client.sync_once()
            ctx = replace(desk.context, clock=lambda: now)
            desk.context.sessions._clock = lambda: now
            assert desk.context.sessions.sign_in_online(
                demo.RECEPTIONIST, demo.DEMO_PASSWORD, None,
                lambda e, p, t: desk.client.check_credentials("demo", e, p, t)).ok
            late_cancel(ctx, day)
            for width, height in SIZES:
                settings = QSettings(str(Path(folder) / f"w{width}.ini"),
                                     QSettings.Format.IniFormat)
                window = MainWindow(ctx, DEMO_CLINICS, day, desk.name, settings=settings)
                window.set_sign_in_hint(lambda: demo_hint(demo.RECEPTIONIST,
                                                          demo.DEMO_PASSWORD))
                window.on_sync_state(SyncStatus(True, 0, now, None))
                window.resize(width, height)
                window.show()
                for language in ("en", "es"):
                    set_language(language)
                    window_screens(window, out, f"{language}-{width}x{height}",
                                   first=(width, height) == SIZES[0], language=language)
                set_language("en")
                window.close()
        finally:
            environment.close()


def late_cancel(ctx: object, day: date) -> None:
    """Cancel one of the day's appointments late, so the details show the flag."""
    items = [i for i in agenda.range_view(ctx, RIVERSIDE, day, day).items  # type: ignore[arg-type]
             if i.status in ("booked", "confirmed") and i.start.hour >= 18
             and i.appointment_type_id == "type-consult"]  # 24 hours' notice
    if items:
        booking.cancel(ctx, items[0].appointment_id, "Patient called: ill")  # type: ignore[arg-type]


#: ``--today-board``: only the today board (with its per-provider statistics);
#: ``--patient-panel``: only the window with the patient panel.
ONLY = {"today_board": False, "patient_panel": False}


def window_screens(window: MainWindow, out: Path, suffix: str, *, first: bool,
                   language: str) -> None:
    ctx = window._ctx
    window.set_clinic(RIVERSIDE)
    window.go_to(window.day)
    if ONLY["today_board"]:
        if first:
            board = window.open_today_board()
            board.resize(1280, 800)
            save(board, out, f"today-board-providers-{language}.png")
            board.close()
        return
    items = [i for i in agenda.range_view(ctx, RIVERSIDE, window.day, window.day).items]
    # 1. The agenda after a quick-created booking: stripes, legend, now line, the notice.
    # The first of the day's types with a free time in the next days (a day's first
    # type may be fully booked).
    free_type, free = next(
        (type_id, slot) for type_id in dict.fromkeys(i.appointment_type_id for i in items)
        for slot in agenda.free_slots(ctx, RIVERSIDE, type_id, window.day,
                                      window.day + timedelta(days=2), limit=1))
    patient = patients.search(ctx, "Smith", limit=1)[0]
    window.statusBar().clearMessage()  # nothing left from the other language's pass
    dialog = window.new_appointment(patient)
    dialog.type_combo.setCurrentIndex(dialog.type_combo.findData(free_type))
    dialog.set_start(free.start)
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(free.provider_id))
    dialog.submit()
    if dialog.isVisible():  # refused: say why, the picture would not show a booking
        print(f"booking refused at {suffix}: {dialog.message.text()}")
    if not ONLY["patient_panel"]:
        save(window, out, f"agenda-booked-{suffix}.png")
    window.agenda.history.undo()
    # 2. The patient panel and the details of a late cancellation.
    window.open_patient(patient.id)
    save(window, out, f"patient-panel-{suffix}.png")
    if ONLY["patient_panel"]:
        return
    cancelled = [i for i in agenda.range_view(ctx, RIVERSIDE, window.day, window.day,
                                              include_cancelled=True).items
                 if i.status == "cancelled"]
    if cancelled:
        window.open_appointment(cancelled[0].appointment_id)
        save(window, out, f"late-cancellation-details-{suffix}.png")
    # 3. The lock screen after a wrong password, with the demo's hint.
    window.lock_overlay.lock()
    window.lock_overlay.password.setText("wrong")
    window.lock_overlay.unlock()
    save(window, out, f"locked-hint-{suffix}.png")
    window.lock_overlay.password.setText(demo.DEMO_PASSWORD)
    window.lock_overlay.unlock()
    friction_screens(window, out, suffix, items)
    view_screens(window, out, suffix)
    if not first:
        return
    print_screens(window, out, language, items)
    # Dialogs and tool windows, at their own size.
    board = window.open_today_board()
    save(board, out, f"today-board-late-{language}.png")
    board.close()
    edit = window.edit_appointment(items[1].appointment_id)
    if edit is not None:
        save(edit, out, f"edit-dialog-{language}.png")
        edit.close()
    series = window.new_appointment(patient)
    series.type_combo.setCurrentIndex(series.type_combo.findData(free_type))
    series.set_start(free.start)
    series.provider_combo.setCurrentIndex(series.provider_combo.findData(free.provider_id))
    series.recurrence.setChecked(True)
    series.recurrence.set_weekdays({free.start.weekday(), (free.start.weekday() + 2) % 5})
    series.recurrence.weeks.setValue(4)
    series.submit()
    save(series, out, f"series-preview-{language}.png")
    series.close()
    duplicate = window.new_appointment()
    duplicate.patients.new_button.setChecked(True)
    duplicate.patients.given.setText(patient.given_name)
    duplicate.patients.family.setText(patient.family_name)
    duplicate.patients.phone.setText(patient.phone)
    duplicate.patients.create_patient()
    save(duplicate, out, f"duplicate-patient-{language}.png")
    duplicate.close()
    slot_menu(window, out, language)


def friction_screens(window: MainWindow, out: Path, suffix: str, items: list) -> None:  # type: ignore[type-arg]
    """The week without the closed weekend, the new confirmation steps, a change from
    another desk outlined; then the pinboard holding an appointment."""
    ctx = window._ctx
    booked = [i for i in items if i.status == "booked"]
    if booked:
        booking.change_status(ctx, booked[0].appointment_id, "message_left")
    arrived = [i for i in items if i.status == "arrived"]
    if arrived:
        booking.change_status(ctx, arrived[0].appointment_id, "ready")
    window.set_days(7)
    window.go_to(window.day)
    bar = window.agenda.view.horizontalScrollBar()
    bar.setValue(bar.maximum())  # the end of the week: Friday, the closed weekend left out
    shown = [window.agenda.appointment_item(i.appointment_id) for i in items[2:5]]
    window.agenda.highlight.flash(i for i in shown if i is not None)
    save(window, out, f"agenda-fit-{suffix}.png")
    window.agenda.highlight.clear()
    window.set_days(1)
    window.go_to(window.day)
    window.agenda.pinboardRequested.emit(items[-1].appointment_id)
    save(window, out, f"pinboard-{suffix}.png")
    window.pinboard.model.remove(0)
    window.pinboard.dock.hide()


def view_screens(window: MainWindow, out: Path, suffix: str) -> None:
    """The work week (Monday to Friday) and the 3-day view, then back to the day."""
    window.work_week_action.trigger()
    window.go_to(window.day)
    save(window, out, f"agenda-work-week-{suffix}.png")
    shown = window.day
    window.three_day_action.trigger()
    # Three working days ending on the shown one (from a Friday the closed weekend
    # would be left out, leaving one column).
    window.go_to(shown - timedelta(days=min(shown.weekday(), 2)))
    save(window, out, f"agenda-3-days-{suffix}.png")
    window.day_action.trigger()
    window.go_to(shown)


def print_screens(window: MainWindow, out: Path, language: str, items: list) -> None:  # type: ignore[type-arg]
    """The Edit menu, an appointment's menu, the cancel dialog of a late cancellation,
    the print previews of the day sheet and of an appointment card."""
    ctx = window._ctx
    unconfirmed = next(i for i in agenda.range_view(ctx, RIVERSIDE, window.day, window.day).items
                       if i.status in ("booked", "message_left"))
    window.show_appointment(unconfirmed.appointment_id)
    window.agenda.appointment_actions.change_status(unconfirmed.appointment_id, "confirmed")
    window.edit_menu.popup(window.mapToGlobal(QPoint(60, 20)))
    save(window.edit_menu, out, f"edit-menu-{language}.png")
    window.edit_menu.close()
    window.agenda.history.undo()
    menu = window.agenda.context_menu(items[1].appointment_id)
    if menu is not None:
        menu.popup(window.mapToGlobal(QPoint(400, 200)))
        save(menu, out, f"appointment-menu-{language}.png")
        menu.close()
    now = ctx.now()
    soon = [i for i in items if i.status in ("booked", "confirmed") and now < i.start
            and late_note(load_details(ctx, i.appointment_id), now)]
    if soon:
        dialog = CancelDialog(window, late_note(load_details(ctx, soon[0].appointment_id), now))
        dialog.choose("illness")
        dialog.show()
        save(dialog, out, f"cancel-late-{language}.png")
        dialog.close()
    for name, paint in (
            ("day-sheet-preview", lambda printer: print_day_sheet(
                ctx, RIVERSIDE, window.day, printer, "provider")),
            ("appointment-card-preview", lambda printer: print_appointment_card(
                ctx, items[1].appointment_id, printer))):
        printer = QPrinter(QPrinter.PrinterMode.ScreenResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setPageSize(QPageSize(QPageSize.PageSizeId.A6 if "card" in name
                                      else QPageSize.PageSizeId.A4))
        preview = QPrintPreviewWidget(printer)
        preview.paintRequested.connect(paint)
        preview.resize(*((900, 1000) if "sheet" in name else (700, 560)))
        preview.show()
        preview.updatePreview()
        preview.fitInView()
        save(preview, out, f"{name}-{language}.png")
        preview.close()


def slot_menu(window: MainWindow, out: Path, language: str) -> None:
    agenda_widget = window.agenda
    geometry = agenda_widget.geometry_
    assert geometry is not None
    column = geometry.columns[0]
    top = agenda_widget.view.mapToScene(QPoint(10, 10))
    menu = agenda_widget.slot_menu_at(QPointF(geometry.column_x(column) + 10, top.y() + 5))
    if menu is not None:
        menu.popup(window.mapToGlobal(QPoint(400, 300)))
        save(menu, out, f"slot-menu-{language}.png")
        menu.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--today-board", action="store_true",
                        help="only the today board with its per-provider statistics")
    parser.add_argument("--patient-panel", action="store_true",
                        help="only the window with the patient panel")
    args = parser.parse_args()
    ONLY["today_board"] = args.today_board
    ONLY["patient_panel"] = args.patient_panel
    args.out.mkdir(parents=True, exist_ok=True)
    capture(args.out)
    for dialog in QApplication.topLevelWidgets():
        if isinstance(dialog, BookingDialog):
            dialog.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
