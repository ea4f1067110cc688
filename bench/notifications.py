"""Reminders through the notification worker, against a bare ``smtplib`` loop.

One real SMTP server (aiosmtpd, a child process on loopback) receives everything. Per
database (SQLite and PostgreSQL unless ``--database`` names one):

* **throughput**: ``--count`` reminders (each with its appointment, written straight
  into the tables) all due at one instant; ``--workers`` ``clinicdesk-server worker``
  processes, already running, send them (render the template, attach the .ics,
  SMTP, record the outcome). Printed: reminders per minute, from the instant they
  were due to the last ``sent_at``;
* **lag**: ``--count`` more reminders falling due evenly over ``--spread`` seconds;
  printed: due-to-sent lag p50/p95 (``sent_at - due_at``);
* **floor**, in the same run: a bare ``smtplib`` loop (one connection, a plain
  message each) to the same SMTP server: messages per minute. The ratio
  worker/floor is printed.

Goals: throughput ≥ 0.5 of the floor; lag p95 ≤ 5 s at 10,000 due reminders.

    .venv/bin/python bench/notifications.py [--count 10000] [--workers 2] [--spread 60]
    .venv/bin/python bench/notifications.py --count 200 --spread 5 --database sqlite  # smoke
"""

from __future__ import annotations

import argparse
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._server import (  # noqa: E402
    SECRET,
    command_line,
    database,
    percentile,
    seeded_clinic,
)

GOAL_RATIO, GOAL_LAG_P95 = 0.5, 5.0


def start_sink(port: int) -> subprocess.Popen[str]:
    sink = subprocess.Popen([sys.executable, "-m", "tests.support.notify_servers", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
    return sink


def floor(port: int, count: int) -> float:
    """Messages per minute of a bare smtplib loop on one connection."""
    smtp = smtplib.SMTP("127.0.0.1", port)
    began = time.perf_counter()
    for index in range(count):
        message = EmailMessage()
        message["From"], message["To"] = "clinic@clinic.example", "patient@example.org"
        message["Subject"] = f"Reminder {index}"
        message.set_content("Your appointment is tomorrow at 10:30.")
        smtp.send_message(message)
    elapsed = time.perf_counter() - began
    smtp.quit()
    return count / elapsed * 60


def workers(url: str, work: Path, count: int) -> list[subprocess.Popen[bytes]]:
    env = os.environ | {"PYTHONPATH": str(ROOT), "CLINICDESK_SECRET_KEY": SECRET,
                        "CLINICDESK_DATA_DIR": str(work), "CLINICDESK_LOG_LEVEL": "WARNING",
                        "CLINICDESK_WORKER_IDLE_SECONDS": "0.1"}
    return [subprocess.Popen([sys.executable, "-m", "sync_server.cli", "--database-url", url,
                              "worker", "--batch", "50"], cwd=ROOT, env=env,
                             stderr=subprocess.DEVNULL) for _ in range(count)]


def wait_sent(setup: Any, ids: list[str], timeout: float) -> list[tuple[datetime, datetime]]:
    """(due_at, sent_at) of ``ids`` once all are sent."""
    from sqlalchemy import func, select

    from sync_server.notifications.models import Notification

    deadline = time.monotonic() + timeout
    with setup.sessions() as session:
        while time.monotonic() < deadline:
            done = session.scalar(select(func.count()).select_from(Notification).where(
                Notification.id.in_(ids[:1]) | Notification.id.in_(ids),
                Notification.state == "sent"))
            session.rollback()
            if done == len(ids):
                break
            time.sleep(0.2)
        rows = session.execute(select(Notification.due_at, Notification.sent_at).where(
            Notification.id.in_(ids), Notification.state == "sent")).all()
        session.rollback()
    if len(rows) != len(ids):
        raise SystemExit(f"only {len(rows)} of {len(ids)} reminders were sent in {timeout} s")
    return [(due, sent) for due, sent in rows]


def run(backend: str, args: argparse.Namespace, work: Path, port: int) -> dict[str, float]:
    from sync_server.db.session import make_engine, make_session_factory
    from tests.sync_server.notify_bulk import due_reminders
    from tests.sync_server.notify_setup import NotifyClinic

    with database(backend, work) as url:
        clinic = seeded_clinic(url, work, patients=50)
        engine = make_engine(url)
        setup = NotifyClinic(clinic, "Europe/Madrid", make_session_factory(engine))
        now = datetime.now(UTC)
        setup.configure(now, email_enabled=True, smtp_host="127.0.0.1", smtp_port=port,
                        smtp_starttls=False, email_sender="clinic@clinic.example",
                        public_base_url="https://clinic.example")
        for index in range(50):
            setup.patient(index, email=f"patient{index}@example.org")
        running = workers(url, work, args.workers)
        try:
            due = datetime.now(UTC) + timedelta(seconds=2)
            ids = due_reminders(setup, args.count, due)
            sent = wait_sent(setup, ids, timeout=args.count)
            elapsed = (max(s for _d, s in sent) - due).total_seconds()
            rate = args.count / elapsed * 60
            due = datetime.now(UTC) + timedelta(seconds=2)
            ids = due_reminders(setup, args.count, due, start=due + timedelta(days=2),
                               spread=timedelta(seconds=args.spread))
            lags = sorted((s - d).total_seconds()
                          for d, s in wait_sent(setup, ids, timeout=args.count + args.spread))
        finally:
            for process in running:
                process.terminate()
            for process in running:
                process.wait(timeout=30)
            engine.dispose()
    return {"rate": rate, "lag50": percentile(lags, 0.5), "lag95": percentile(lags, 0.95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--spread", type=float, default=60.0,
                        help="seconds over which the lag run's reminders fall due")
    parser.add_argument("--floor-count", type=int, default=3000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    from tests.support.notify_servers import free_port

    print(f"command: {command_line()}")
    port = free_port()
    sink = start_sink(port)
    try:
        with tempfile.TemporaryDirectory(prefix="clinicdesk-bench-notify-") as folder:
            for backend in args.database or ["sqlite", "postgresql"]:
                base = floor(port, args.floor_count)
                figures = run(backend, args, Path(folder), port)
                ratio = figures["rate"] / base
                print(f"{backend}: worker ({args.workers} processes) {figures['rate']:,.0f} "
                      f"reminders/min; bare smtplib floor {base:,.0f} messages/min; ratio "
                      f"{ratio:.2f} (goal ≥ {GOAL_RATIO})")
                print(f"{backend}: due-to-sent lag at {args.count} reminders due over "
                      f"{args.spread:g} s: p50 {figures['lag50']:.2f} s, p95 "
                      f"{figures['lag95']:.2f} s (goal ≤ {GOAL_LAG_P95:g} s)")
    finally:
        sink.kill()
        sink.wait()


if __name__ == "__main__":
    main()
