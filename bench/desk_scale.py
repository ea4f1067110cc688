"""Desk scale benchmark: does a store with 100,000 appointments feel like one with 10,000?

Two encrypted desk stores are built (SQLCipher, the desk's own schema and
migrations) for one clinic of 50 providers working Monday-Friday 08:00-18:00
with 20,000 patients. Both hold the same *current* weeks — the shown week and
the next, booked at the same density (2,000 appointments a week) — and differ
only in history behind them: 10,000 appointments in all (five weeks) against
100,000 (fifty weeks, a year of a busy clinic group). So every figure for the
large store divided by the same figure for the small one says how much the
desk slows down as history grows: the goal is at most 1.5.

Each store is measured in a fresh process (imports are not timed):

* cold start: open the store (key, migrations check), sign in, build the main
  window and show the week, until it is painted;
* day / week / next-week: switching the shown range, each until the agenda's viewport
  is painted with the new range;
* dialog: opening the booking dialog;
* next available: the dialog's "Find next available" (8 earliest free times);
* patient search: the picker's query for a few typical texts (one letter, a
  family name start, given and family name, a full name, phone digits);
* floor: in the same process, a bare scene of as many rectangles as the week shows
  appointments, built and painted at the window's size — what any drawing of that
  week costs on this machine at this moment (the machine is shared: compare the
  switches with it, not only with the goals).

A wide range draws the columns on screen first and the rest between events after it
is painted (``desktop/ui/agenda/widget.py``); "week drawn whole" is the week switch
until its last column is drawn.

    python bench/desk_scale.py [--sizes 10000 100000] [--patients 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._server import command_line  # noqa: E402

ORG, CLINIC, TZ = "org-bench", "clinic-bench", "Europe/Madrid"
TYPE = "type-consult"
PROVIDERS = 50
PER_WEEK = 2_000
#: The shown week's Monday; the desk's clock is 07:30 local that day.
SHOWN_MONDAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)
EMAIL, PASSWORD = "desk@bench.example", "bench-desk-pass"
SEARCHES = ("m", "garc", "maría gar", "sofía núñez", "ortega", "600 000")
GOALS = {"cold start": 2000.0, "day view": 150.0, "week view": 150.0, "next week": 150.0,
         "next available": 200.0, "patient search": 50.0}
GIVEN = ("María", "José", "Lucía", "Ángel", "Sofía", "Iñaki", "Chloé", "Zoë", "Ana", "Tomás",
         "Björn", "Renée", "Nuno", "Inés", "Raúl", "Elena", "Óscar", "Noëlle", "Luis", "Marta")
FAMILY = ("García", "Fernández", "López", "Martín", "Sánchez", "Pérez", "Gómez", "Ruiz",
          "Díaz", "Álvarez", "Muñoz", "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres",
          "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Molina",
          "Morales", "Suárez", "Ortega", "Delgado", "Castro", "Ortiz", "Rubio", "Marín",
          "Núñez", "Iglesias", "Medina", "Garrido", "Cortés", "Castillo", "Santos", "Lozano")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=(10_000, 100_000))
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--per-week", type=int, default=PER_WEEK)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.repeat)))
        return 0

    print(f"command: {command_line()}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="clinicdesk-scale-") as temporary:
        for size in args.sizes:
            folder = Path(temporary) / str(size)
            started = time.perf_counter()
            build_store(folder, size, args.patients, args.per_week)
            print(f"store of {size} appointments, {args.patients} patients built in "
                  f"{time.perf_counter() - started:.1f} s "
                  f"({(folder / 'desk.db').stat().st_size / 2**20:.0f} MiB)", flush=True)
            child = subprocess.run(
                [sys.executable, __file__, "--measure", str(folder), "--repeat",
                 str(args.repeat)], cwd=ROOT, capture_output=True, text=True, check=False,
                env=os.environ | {"QT_QPA_PLATFORM": "offscreen"})
            if child.returncode != 0:
                print(child.stdout + child.stderr, file=sys.stderr)
                return 1
            results[size] = json.loads(child.stdout.strip().splitlines()[-1])
    small, large = args.sizes
    print(f"{'figure (median ms)':<22} {small:>9} {large:>9}  ratio  goal at {large}")
    worst = 0.0
    for name, goal in [*GOALS.items(), ("week drawn whole", 0.0), ("dialog open", 0.0),
                       ("floor", 0.0)]:
        a, b = results[small][name], results[large][name]
        ratio = b / a if a else float("inf")
        if name != "floor":  # the floor's ratio is the machine's drift between the runs
            worst = max(worst, ratio)
        goal_text = f"<= {goal:.0f} ms ({'met' if b <= goal else 'NOT met'})" if goal else ""
        over = f"  {b / results[large]['floor']:4.1f}x floor" if name != "floor" else ""
        print(f"{name:<22} {a:9.1f} {b:9.1f}  {ratio:5.2f}  {goal_text}{over}")
    print(f"patient search max: {results[small]['patient search max']:.1f} ms / "
          f"{results[large]['patient search max']:.1f} ms; week shows "
          f"{results[small]['week items']} / {results[large]['week items']} appointments")
    print(f"largest ratio {large} / {small}: {worst:.2f} (goal <= 1.5: "
          f"{'met' if worst <= 1.5 else 'NOT met'})")
    return 0


def floor(rectangles: int, size: Any) -> float:
    """Milliseconds to build a bare scene of ``rectangles`` rectangles and paint it into
    an image of ``size`` (no text, no items of ours)."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QGraphicsScene

    began = time.perf_counter()
    scene = QGraphicsScene()
    for index in range(rectangles):
        scene.addRect(QRectF(index % 350 * 64, index // 350 * 36, 60, 30))
    image = QImage(size.width(), size.height(), QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    scene.render(painter)
    painter.end()
    scene.clear()
    return (time.perf_counter() - began) * 1000


# --------------------------------------------------------------------------- the stores


def build_store(folder: Path, appointments: int, patient_count: int, per_week: int) -> None:
    from sqlalchemy import insert

    from desktop.store import patient_names
    from desktop.store.keys import create_store
    from desktop.store.models import (
        AppointmentRow,
        AppointmentTypeRow,
        ClinicRow,
        PatientNameKey,
        PatientRow,
        ResourceRow,
        WeeklyScheduleRow,
    )
    from scheduling.timeutil import to_utc
    from tests.e2e.desk import FAST_KDF, PASSPHRASE, FileKeyring

    folder.mkdir(parents=True)
    store = create_store(folder / "desk.db", PASSPHRASE, FileKeyring(folder / "keys.json"),
                         kdf=FAST_KDF)
    rng = random.Random(appointments)
    providers = [f"prov-{n:02d}" for n in range(PROVIDERS)]
    rooms = [f"room-{n:02d}" for n in range(PROVIDERS)]
    with store.write() as session:
        session.add(ClinicRow(id=CLINIC, organization_id=ORG, name="Bench clinic",
                              time_zone=TZ, locale="es_ES"))
        for n, (provider, room) in enumerate(zip(providers, rooms, strict=True)):
            session.add(ResourceRow(id=provider, organization_id=ORG, kind="provider",
                                    name=f"Dr {FAMILY[n % len(FAMILY)]} {n}",
                                    clinic_ids=[CLINIC]))
            session.add(ResourceRow(id=room, organization_id=ORG, kind="room",
                                    name=f"Room {n}", clinic_ids=[CLINIC]))
            for weekday in range(5):
                session.add(WeeklyScheduleRow(
                    id=f"{provider}-{weekday}", provider_id=provider, clinic_id=CLINIC,
                    weekday=weekday, start=wall_time(8), end=wall_time(18), breaks=[]))
        session.add(AppointmentTypeRow(
            id=TYPE, organization_id=ORG, name="Consultation", default_duration_seconds=1800,
            min_duration_seconds=900, max_duration_seconds=3600,
            requirement={"providers": [], "rooms": [], "equipment": []}, color="#4a90d9"))
    patients, keys = [], []
    for n in range(patient_count):
        given = GIVEN[n % len(GIVEN)]
        family = f"{FAMILY[(n // 7) % len(FAMILY)]} {FAMILY[(n // 3) % len(FAMILY)]}"
        phone = f"+34 600 {n:06d}"
        patients.append({"id": f"pat-{n}", "organization_id": ORG, "given_name": given,
                         "family_name": family, "active": True, "phone": phone, "email": "",
                         "preferred_language": "es", "server_version": 1,
                         "folded_name": patient_names.sort_key(given, family),
                         "phone_digits": patient_names.digits(phone)})
        keys.extend({"word": w, "patient_id": f"pat-{n}"}
                     for w in patient_names.name_words(given, family))
    # Every week: each provider's 20 half-hour slots a day, Monday-Friday, some booked.
    weeks = max(2, -(-appointments // per_week))
    first_monday = SHOWN_MONDAY - timedelta(weeks=weeks - 2)  # the last two: shown, next
    slots = [(provider, day, minute) for provider in providers for day in range(5)
             for minute in range(8 * 60, 18 * 60, 30)]
    rows: list[dict[str, Any]] = []
    for week in range(weeks):
        wanted = min(per_week, appointments - len(rows))
        monday = first_monday + timedelta(weeks=week)
        for provider, day, minute in rng.sample(slots, wanted):
            local = datetime.combine(monday + timedelta(days=day), wall_time()) + timedelta(
                minutes=minute)
            start = to_utc(local, TZ)
            n = len(rows)
            rows.append({
                "id": f"apt-{n}", "organization_id": ORG, "clinic_id": CLINIC,
                "patient_id": f"pat-{rng.randrange(patient_count)}", "appointment_type_id": TYPE,
                "provider_id": provider, "room_id": rooms[providers.index(provider)],
                "start": start, "end": start + timedelta(minutes=30),
                "status": "completed" if monday < SHOWN_MONDAY else "booked",
                "equipment_ids": [], "source": "staff", "notes": "", "patient_notes": "",
                "deleted": False, "version": 1, "reschedule_count": 0, "server_version": 1,
            })
    with store.write() as session:
        session.execute(insert(PatientRow), patients)
        session.execute(insert(PatientNameKey), keys)
        for start in range(0, len(rows), 20_000):
            session.execute(insert(AppointmentRow), rows[start:start + 20_000])
    store.close()


# --------------------------------------------------------------------------- measuring


def measure(folder: Path, repeat: int) -> dict[str, float]:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from desktop.services.context import DeskContext
    from desktop.services.session import ServerIdentity, SessionSettings, SignInService
    from desktop.store.keys import open_store
    from desktop.ui.main_window import MainWindow
    from desktop.ui.patient_picker import PatientPicker
    from desktop.ui.text import set_language
    from scheduling.commands import Permission
    from tests.e2e.desk import FileKeyring

    app = QApplication.instance() or QApplication([])
    set_language("es")
    permissions = frozenset(p.value for p in Permission) | {"patient:view", "patient:edit"}

    def accept(email: str, password: str, totp: str | None) -> ServerIdentity | None:
        return ServerIdentity("user-bench", ORG, "Front desk", ("receptionist",), permissions)

    settings = QSettings(str(folder / "desk.ini"), QSettings.Format.IniFormat)
    settings.setValue("preferences/days", 7)

    def painted(window: Any) -> None:
        window.agenda.view.viewport().repaint()
        app.processEvents()

    started = time.perf_counter()
    store = open_store(folder / "desk.db", keyring_backend=FileKeyring(folder / "keys.json"))
    sessions = SignInService(store, lambda: NOW, SessionSettings(), device_id="bench")
    assert sessions.sign_in_online(EMAIL, PASSWORD, None, accept).ok
    ctx = DeskContext(store, sessions, lambda: NOW)
    window = MainWindow(ctx, [(CLINIC, "Bench clinic", "es_ES")], SHOWN_MONDAY, "bench",
                        settings=settings)
    window.resize(1600, 1000)
    window.show()
    painted(window)
    figures: dict[str, Any] = {"cold start": (time.perf_counter() - started) * 1000}
    figures["week items"] = len(window.agenda._items)

    def timed(action: Any) -> float:
        """Milliseconds from ``action`` until the agenda shows its result (its viewport
        painted); events are processed afterwards, outside the figure, so the columns
        off screen, drawn in slices between events, are not in it ("week drawn whole"
        has them)."""
        began = time.perf_counter()
        action()
        window.agenda.view.viewport().repaint()
        shown = (time.perf_counter() - began) * 1000
        app.processEvents()
        return shown

    runs: dict[str, list[float]] = {name: [] for name in (
        "day view", "week view", "week drawn whole", "next week", "dialog open",
        "next available", "floor")}
    for _ in range(repeat):
        window.go_to(SHOWN_MONDAY)
        runs["day view"].append(timed(lambda: window.set_days(1)))
        window.set_days(1)
        painted(window)
        runs["week drawn whole"].append(timed(lambda: (window.set_days(7),
                                                       window.agenda._items)))
        window.set_days(1)
        painted(window)
        runs["week view"].append(timed(lambda: window.set_days(7)))
        runs["next week"].append(timed(window.next_action.trigger))
        window.go_to(SHOWN_MONDAY)
        painted(window)
        began = time.perf_counter()
        dialog = window.new_appointment()
        painted(window)
        runs["dialog open"].append((time.perf_counter() - began) * 1000)
        runs["next available"].append(timed(dialog.find_next_available))
        assert dialog.alternatives_model.rowCount() > 0, "no free time found"
        dialog.close()
        app.processEvents()
        runs["floor"].append(floor(figures["week items"], window.agenda.view.viewport().size()))
    picker = PatientPicker(ctx, TZ, "es_ES")
    searches = []
    for _ in range(repeat):
        for text in SEARCHES:
            picker.search.setText(text)
            began = time.perf_counter()
            picker.run_search()
            searches.append((time.perf_counter() - began) * 1000)
            assert picker.results_model.rowCount() > 0, text
    for name, values in runs.items():
        figures[name] = statistics.median(values)
    figures["patient search"] = statistics.median(searches)
    figures["patient search max"] = max(searches)
    window.close()
    store.close()
    return figures


if __name__ == "__main__":
    sys.exit(main())
