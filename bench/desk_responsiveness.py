"""Desk responsiveness benchmark: does the UI thread stay free while syncs bring thousands of rows?

A real sync server (uvicorn in its own process, over SQLite or ``--database
postgresql``) serves a seeded clinic
of 50 providers (3,500 half-hour slots a week). The measured desk is the real
thing, offscreen: an encrypted store, the main window showing the week of the
clinic's first bookable day, the sync worker in its thread listening to the
server's event stream, and the UI-thread garbage collection pump. A 10 ms timer
on the UI thread records how late each tick is.

Scenarios (each on a fresh server and fresh desks):

* ``other desk 1000`` / ``other desk 10000``: another desk (a separate process,
  so its CPU is not this desk's) pushes that many bookings starting in the shown
  week (10,000 fill it — 3,500 — and the two weeks after); this desk is poked
  and pulls as the server applies them.
* ``catch up 10000``: the other desk pushed 10,000 while this desk was not
  syncing; this desk starts syncing with the week on screen.
* ``own push 10000``: this desk has 10,000 bookings of its own queued offline
  (shown pending) and pushes them; the server's confirmations come back.

Printed per scenario: the longest stall of the UI thread (the longest gap
between two ticks of the 10 ms timer), the p99 of how late a tick was, and how
long the agenda took to show the data after the sync that brought it — the
worst of the redraws and the last one. Goal: max stall <= 100 ms and data shown
<= 1 s after it reaches the desk.

    python bench/desk_responsiveness.py [--scenarios ...] [--scale 1.0] [--no-stream]
                                        [--database postgresql]

``--scale`` multiplies every count (the smoke test runs a tiny fraction).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench._server import (  # noqa: E402
    ServerProcess,
    command_line,
    database,
    percentile,
    seeded_clinic,
)

SCENARIOS = ("other desk 1000", "other desk 10000", "catch up 10000", "own push 10000")
PROVIDERS = 50
TICK_MS = 10
STALL_GOAL_MS = 100.0
SHOWN_GOAL_S = 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--providers", type=int, default=PROVIDERS)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="sqlite")
    parser.add_argument("--no-stream", action="store_true",
                        help="no event stream: the desk pulls every 2 s, as when it is down")
    parser.add_argument("--push-from", type=Path, help=argparse.SUPPRESS)  # the other desk
    args = parser.parse_args(argv)
    if args.push_from is not None:
        return push_from(args.push_from)

    from PySide6.QtWidgets import QApplication

    from desktop.ui.gc_pump import collect_in_ui_thread

    app = QApplication.instance() or QApplication([])
    collect_in_ui_thread(app)
    print(f"command: {command_line()}")
    print(f"{args.providers} providers, week view, server on {args.database}, "
          f"{'polling every 2 s' if args.no_stream else 'poked by the event stream'}; "
          f"a {TICK_MS} ms timer on the UI thread; goal: "
          f"max stall <= {STALL_GOAL_MS:.0f} ms, data shown <= {SHOWN_GOAL_S:.1f} s")
    floor = UiClock()
    floor.timer.start()
    wait(app, lambda: len(floor.ticks) >= 200, 30)  # two idle seconds: this machine's floor
    floor.timer.stop()
    stall, p99, ticks = floor.figures()
    print(f"idle floor (nothing syncing): max stall {stall:.0f} ms, p99 lateness {p99:.1f} ms "
          f"over {ticks} ticks")
    failed = False
    for name in args.scenarios:
        count = max(1, round(int(name.rsplit(" ", 1)[1]) * args.scale))
        figures = run_scenario(app, name, count, args.providers, args.timeout, args.database,
                               args.no_stream)
        met = (figures["max stall"] <= STALL_GOAL_MS and figures["shown worst"] <= SHOWN_GOAL_S)
        print(f"{name} ({count} bookings): max stall {figures['max stall']:.0f} ms, "
              f"p99 lateness {figures['p99']:.1f} ms over {figures['ticks']} ticks; data shown "
              f"{figures['shown last']:.2f} s after the last sync (worst "
              f"{figures['shown worst']:.2f} s over {figures['redraws']} redraws); "
              f"{figures['week']} in the shown week; the whole scenario "
              f"{figures['seconds']:.1f} s; goals {'met' if met else 'NOT met'}", flush=True)
        failed = failed or figures["week"] < figures["expected"]
    return 1 if failed else 0


# --------------------------------------------------------------------------- one scenario


class UiClock:
    """The 10 ms UI-thread timer: when each tick came."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def figures(self) -> tuple[float, float, int]:
        gaps = sorted((b - a) * 1000 for a, b in zip(self.ticks, self.ticks[1:], strict=False))
        if not gaps:
            return 0.0, 0.0, 0
        late = [gap - TICK_MS for gap in gaps]
        return gaps[-1], percentile(late, 0.99), len(gaps)


def run_scenario(app: Any, name: str, count: int, providers: int, timeout: float,
                 backend: str, no_stream: bool) -> dict[str, Any]:
    from PySide6.QtCore import Qt

    from desktop.sync.worker import SyncThread, SyncWorker

    with tempfile.TemporaryDirectory(prefix="clinicdesk-responsive-") as temporary:
        work = Path(temporary)
        with database(backend, work) as url:
            # 701 patients: booking i and j share a patient and a weekly slot only if
            # i = j modulo both 701 and 70, i.e. never below 49,070 (no double bookings).
            clinic = seeded_clinic(url, work, providers=providers, rooms=providers,
                                   patients=701, codes=2)
            with ServerProcess(url, work) as server:
                this = make_desk(work / "this", server.url, clinic.codes[0])
                other = make_desk(work / "other", server.url, clinic.codes[1])
                other.queue(clinic, count)
                other.store.close()
                if name.startswith("own push"):
                    this.queue(clinic, count)
                if name.startswith("catch up"):
                    pushing(other.folder).wait()
                window = this.window(clinic)
                agenda = window.agenda
                settle(app, window)  # the first layout and paint are the start's, not a sync's
                shown_at: list[float] = []
                asked_at: list[float] = []
                request_refresh = agenda.request_refresh

                def recorded_request(changes: Any = None) -> bool:
                    asked = request_refresh(changes)
                    if asked:
                        asked_at.append(time.perf_counter())
                    return asked

                agenda.request_refresh = recorded_request  # type: ignore[method-assign]
                agenda.sceneUpdated.connect(lambda: shown_at.append(time.perf_counter()))
                expected = min(count, 70 * providers)
                clock = UiClock()
                clock.timer.start()
                started = time.perf_counter()
                worker = SyncWorker(this.client, poll_seconds=2, listener_factory=(
                    None if no_stream else this.client.poke_listener))
                worker.stateChanged.connect(window.on_sync_state)
                worker.changesArrived.connect(window.on_changes,
                                              Qt.ConnectionType.QueuedConnection)
                thread = SyncThread(worker)
                thread.start()
                child = None if name.startswith(("catch up", "own push")) else pushing(
                    other.folder)

                def done() -> bool:
                    if child is not None and child.poll() is None:
                        return False
                    return (not agenda.refresh_pending and confirmed(agenda) >= expected)

                try:
                    wait(app, done, timeout)
                except TimeoutError:
                    raise TimeoutError(
                        f"{name}: {confirmed(agenda)} of {expected} shown, redraw pending "
                        f"{agenda.refresh_pending}, other desk "
                        f"{'done' if child is None or child.poll() is not None else 'pushing'}"
                        f", sync {worker.status}") from None
                seconds = time.perf_counter() - started
                clock.timer.stop()
                thread.shutdown()
                if child is not None and child.wait(30) != 0:
                    raise RuntimeError("the other desk's push failed")
                stall, p99, ticks = clock.figures()
                week = confirmed(agenda)
                window.close()
                window.deleteLater()  # its idle-lock timer must not outlive the store
                this.store.close()
                app.processEvents()
    delays = shown_delays(asked_at, shown_at)
    return {"max stall": stall, "p99": p99, "ticks": ticks, "week": week,
            "expected": expected, "seconds": seconds, "redraws": len(shown_at),
            "shown last": delays[-1] if delays else 0.0,
            "shown worst": max(delays, default=0.0)}


def shown_delays(asked_at: list[float], shown_at: list[float]) -> list[float]:
    """For each sync that asked the agenda to redraw, how long until it was shown."""
    delays = []
    for asked in asked_at:
        after = [shown for shown in shown_at if shown >= asked]
        if after:
            delays.append(after[0] - asked)
    return delays


def confirmed(agenda: Any) -> int:
    """Appointments in the shown week that the server has confirmed."""
    return sum(1 for item in agenda._items.values() if not item.agenda_item.pending)


def wait(app: Any, condition: Callable[[], bool], timeout: float) -> None:
    from PySide6.QtCore import QEventLoop

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the scenario did not finish in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)


def settle(app: Any, window: Any) -> None:
    from PySide6.QtCore import QEventLoop

    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # the relayout after the first resize, then paints
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    window.agenda.view.viewport().repaint()


def pushing(folder: Path) -> subprocess.Popen[bytes]:
    """The other desk pushing its queued bookings, in its own process."""
    return subprocess.Popen([sys.executable, __file__, "--push-from", str(folder)], cwd=ROOT)


def push_from(folder: Path) -> int:
    desk = Desk.reopen(folder)
    desk.client.push()
    desk.store.close()
    return 0


# --------------------------------------------------------------------------- desks


class Desk:
    """An enrolled desk: its folder, store and sync client."""

    def __init__(self, folder: Path, store: Any, client: Any) -> None:
        self.folder, self.store, self.client = folder, store, client

    @classmethod
    def reopen(cls, folder: Path) -> Desk:
        import requests

        from desktop.config import DESK_DIR_ENV, load_config
        from desktop.store.keys import open_store
        from desktop.sync.client import SyncClient
        from tests.e2e.desk import FileKeyring

        keys = FileKeyring(folder / "keys.json")
        config = load_config({DESK_DIR_ENV: str(folder)})
        store = open_store(folder / "desk.db", keyring_backend=keys)
        # A load generator on a busy machine: wait for the server rather than give up.
        return cls(folder, store, SyncClient(store, config, requests.Session(),
                                             keyring_backend=keys, timeout=(5.0, 300.0)))

    def queue(self, clinic: Any, count: int) -> None:
        from bench.desk_sync import queue_bookings

        queue_bookings(self.store, clinic, count)

    def window(self, clinic: Any) -> Any:
        from datetime import timedelta

        from PySide6.QtCore import QSettings

        from desktop.services.context import DeskContext
        from desktop.services.session import SessionSettings, SignInService
        from desktop.ui.main_window import MainWindow
        from tests.e2e.server_side import PASSWORD

        client = self.client
        # No idle lock while the benchmark waits (nobody types during a scenario).
        sessions = SignInService(self.store, _now, SessionSettings(
            idle_lock_after=timedelta(hours=8)), device_id="bench")

        def check(email: str, password: str, totp: str | None) -> Any:
            return client.check_credentials(clinic.org_slug, email, password, totp)

        assert sessions.sign_in_online(clinic.user_email, PASSWORD, None, check).ok
        settings = QSettings(str(self.folder / "desk.ini"), QSettings.Format.IniFormat)
        settings.setValue("preferences/days", 7)
        window = MainWindow(DeskContext(self.store, sessions, _now),
                            [(clinic.clinic_id, "Retiro", "es_ES")], clinic.first_day, "bench",
                            settings=settings)
        window.resize(1600, 1000)
        window.show()
        return window


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def make_desk(folder: Path, server_url: str, code: str) -> Desk:
    import requests

    from desktop.config import DeskConfig
    from desktop.store.keys import create_store
    from desktop.sync.client import SyncClient
    from tests.e2e.desk import FAST_KDF, PASSPHRASE, FileKeyring

    keys = FileKeyring(folder / "keys.json")
    store = create_store(folder / "desk.db", PASSPHRASE, keys, kdf=FAST_KDF)
    client = SyncClient(store, DeskConfig(data_dir=folder), requests.Session(),
                        keyring_backend=keys)
    client.enroll(server_url, code)
    return Desk(folder, store, client)


if __name__ == "__main__":
    sys.exit(main())
