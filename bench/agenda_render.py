"""Agenda rendering benchmark: build and paint a busy week; time to a usable agenda at start.

    .venv/bin/python bench/agenda_render.py                 # both parts
    .venv/bin/python bench/agenda_render.py --skip-startup  # the render part only
    .venv/bin/python bench/agenda_render.py --columns 5 --appointments 50 --runs 2 --skip-startup

1. Render (goal ≤ 150 ms): a week (7 days) of ``--columns`` provider columns with
   ``--appointments`` synthetic appointments (seeded; 15–60 minutes, some
   overlapping, a tenth pending), laid out and drawn into a fresh scene by the
   agenda's own :func:`build_scene`, then the whole scene painted into a QImage.
   Timed per run (build + paint), after one untimed warm-up run; median and p95.
   The cyclic garbage collector runs as in the desk (only between frames, see
   :mod:`desktop.ui.gc_pump`); its pause between runs is printed apart.
2. Start-up (goal ≤ 2 s): the demo (``desktop.demo.start``: a real sync server
   and an enrolled desk with the demo calendar, untimed setup) is closed, then a
   fresh Python process opens the encrypted desk store, signs the receptionist in
   offline, shows today's agenda of the demo clinic in an ``AgendaWidget`` and
   paints it; the figure is the wall time from spawning that process to its
   "ready" line.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication, QGraphicsScene  # noqa: E402

from desktop.services.dto import AgendaItem  # noqa: E402
from desktop.ui.agenda.scene import AgendaGeometry, SceneContent, build_scene  # noqa: E402

TZ = "Europe/Madrid"
MONDAY = date(2026, 6, 1)
COLORS = ("#22aa66", "#3366cc", "#cc8833", "#aa3399", "#888888")
STATUSES = ("booked", "confirmed", "arrived", "completed", "no_show")


def synthetic_week(columns: int, appointments: int, seed: int) -> list[AgendaItem]:
    """``appointments`` items over a week of ``columns`` providers, 08:00–20:00 local."""
    rng = random.Random(seed)
    items = []
    for index in range(appointments):
        day = MONDAY + timedelta(days=rng.randrange(7))
        # 08:00 local in June is 06:00 UTC; starts on a 5-minute grid over 12 hours.
        start = datetime(day.year, day.month, day.day, 6, tzinfo=UTC) + timedelta(
            minutes=5 * rng.randrange(12 * 12))
        provider = f"prov-{rng.randrange(columns)}"
        items.append(AgendaItem(
            appointment_id=f"a-{index}", patient_id=f"p-{index}",
            patient_name=f"Patient {index:05d} Surname", appointment_type_id="t",
            type_name="Consultation", color=rng.choice(COLORS), provider_id=provider,
            provider_name=provider, room_id=None, room_name=None, start=start,
            end=start + timedelta(minutes=rng.choice((15, 20, 30, 45, 60))),
            status=rng.choice(STATUSES), pending=rng.random() < 0.1,
        ))
    return items


def render_once(columns: int, items: list[AgendaItem]) -> tuple[float, float, int]:
    """Build the scene of ``items`` and paint all of it (scaled to 1920×1080, so item
    texts are skipped as unreadable); then paint a 1600×1000 window of it at 1:1 (texts
    drawn). (build + full paint seconds, window paint seconds, items drawn)."""
    keys = [(f"prov-{i}", f"Provider {i}") for i in range(columns)]
    started = time.perf_counter()
    geometry = AgendaGeometry.for_range(TZ, MONDAY, 7, keys)
    scene = QGraphicsScene()
    drawn = build_scene(scene, SceneContent(geometry, items, None, "es_ES", "provider"))
    image = QImage(1920, 1080, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor("white"))
    painter = QPainter(image)
    scene.render(painter, QRectF(image.rect()), scene.sceneRect())
    painter.end()
    elapsed = time.perf_counter() - started
    window = QImage(1600, 1000, QImage.Format.Format_ARGB32_Premultiplied)
    window.fill(QColor("white"))
    started = time.perf_counter()
    painter = QPainter(window)
    # Monday 08:00 onwards, the first columns: what a receptionist's screen shows.
    top = geometry.y_of(MONDAY, datetime(2026, 6, 1, 6, tzinfo=UTC))
    scene.render(painter, QRectF(window.rect()), QRectF(0, top - 40, 1600, 1000))
    painter.end()
    visible = time.perf_counter() - started
    scene.clear()
    return elapsed, visible, len(drawn)


def measure_render(columns: int, appointments: int, runs: int, seed: int = 1) -> dict[str, float]:
    """Median and p95 (nearest rank) of ``runs`` timed build+paint runs, in milliseconds.

    Python's cyclic collector runs as in the desk (:mod:`desktop.ui.gc_pump`): never
    automatically, only from a UI-thread timer between frames. So each run is preceded
    by an untimed collection (timed apart: the pause the timer's collection costs)."""
    QApplication.instance() or QApplication([])
    items = synthetic_week(columns, appointments, seed)
    render_once(columns, items)  # warm-up: fonts, glyph caches, zone data
    timings: list[float] = []
    windows: list[float] = []
    collections: list[float] = []
    drawn = 0
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(runs):
            started = time.perf_counter()
            gc.collect()
            collections.append((time.perf_counter() - started) * 1000)
            elapsed, visible, drawn = render_once(columns, items)
            timings.append(elapsed * 1000)
            windows.append(visible * 1000)
    finally:
        if was_enabled:
            gc.enable()
    return {"median_ms": statistics.median(timings), "p95_ms": _p95(timings),
            "window_median_ms": statistics.median(windows), "window_p95_ms": _p95(windows),
            "collect_median_ms": statistics.median(collections),
            "collect_max_ms": max(collections), "drawn": drawn}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


# --------------------------------------------------------------------------- start-up


def startup_child(folder: Path) -> None:
    """Runs in the timed child process: open, sign in, show and paint today's agenda."""
    from sqlalchemy import select

    from desktop.demo import DEMO_PASSWORD, RECEPTIONIST, DemoKeyring
    from desktop.services.context import DeskContext
    from desktop.services.session import SignInService
    from desktop.store.keys import open_store
    from desktop.store.models import ClinicRow
    from desktop.ui.agenda import AgendaWidget
    from scheduling.timeutil import local_date

    app = QApplication.instance() or QApplication([])
    store = open_store(folder / "desk.db", keyring_backend=DemoKeyring(
        folder / "demo-keyring.json"))
    clock = lambda: datetime.now(UTC)  # noqa: E731 - the desk's wall clock
    sessions = SignInService(store, clock)
    if not sessions.sign_in_offline(RECEPTIONIST, DEMO_PASSWORD).ok:
        raise SystemExit("offline sign-in failed")
    ctx = DeskContext(store, sessions, clock)
    with store.session() as session:
        clinic = session.scalars(select(ClinicRow).order_by(ClinicRow.name)).first()
        assert clinic is not None
        clinic_id, tz = clinic.id, clinic.time_zone
    widget = AgendaWidget(ctx)
    widget.resize(1280, 800)
    widget.show()
    widget.show_range(clinic_id, local_date(clock(), tz), 1, "provider")
    widget.grab()  # paints the visible agenda
    app.processEvents()
    shown = sum(1 for _ in widget.scene.items())
    print(f"READY {shown}", flush=True)
    store.close()


def measure_startup(runs: int) -> list[float]:
    from desktop.demo import start

    with tempfile.TemporaryDirectory(prefix="agenda-bench-") as folder:
        environment = start(Path(folder), 1, progress=lambda _text: None)
        desk = Path(folder) / "desk-1"
        environment.close()
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            child = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--startup-child", str(desk)],
                capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
            elapsed = time.perf_counter() - started
            if child.returncode != 0 or "READY" not in child.stdout:
                raise RuntimeError(child.stderr or child.stdout)
            timings.append(elapsed)
        return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=40)
    parser.add_argument("--appointments", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--startup-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.startup_child is not None:
        startup_child(args.startup_child)
        return
    figures = measure_render(args.columns, args.appointments, args.runs, args.seed)
    print(f"week of {args.columns} columns, {args.appointments} appointments "
          f"({figures['drawn']:.0f} drawn), build + paint over {args.runs} runs:")
    print(f"render median = {figures['median_ms']:.1f} ms")
    print(f"render p95 = {figures['p95_ms']:.1f} ms (goal 150 ms)")
    print(f"window paint 1600x1000 at 1:1 median = {figures['window_median_ms']:.1f} ms, "
          f"p95 = {figures['window_p95_ms']:.1f} ms")
    print(f"full collection between runs (the desk's timer, not in a frame) median = "
          f"{figures['collect_median_ms']:.1f} ms, max = {figures['collect_max_ms']:.1f} ms")
    if args.skip_startup:
        return
    timings = sorted(measure_startup(args.startup_runs))
    print(f"start-up to a usable agenda on the demo data, {len(timings)} runs:")
    print(f"startup median = {statistics.median(timings):.2f} s")
    print(f"startup max = {timings[-1]:.2f} s (goal 2 s)")


if __name__ == "__main__":
    main()
