"""The server benchmarks still run, at a tiny size (their figures are read by people).

Each test runs a benchmark script as a user would, with the smallest settings, on
SQLite where the benchmark allows it, and checks the figures it prints make sense
(counts add up, rates are positive) — never how fast they are.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_bench(script: str, *args: str, timeout: int = 180) -> str:
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert f"command: .venv/bin/python bench/{script}" in finished.stdout
    return finished.stdout


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not in:\n{text}"
    return float(found.group(1))


def test_server_booking_books_and_refuses_contested_slots() -> None:
    out = run_bench("server_booking.py", "--database", "sqlite", "--no-pgbench",
                    "--clients", "3", "--seconds", "1.5", "--slots", "6")

    contested = next(line for line in out.splitlines()
                     if line.startswith("API booking, contested slots:"))
    tps = number(r"contested slots: ([\d.]+) transactions/s", contested)
    done = number(r"\((\d+) in [\d.]+ s:", contested)
    booked = number(r"(\d+) booked", contested)
    refused = number(r"(\d+) refused", contested)
    assert tps > 0
    assert booked + refused == done
    assert 0 < booked <= 6  # never more bookings than contested slots
    assert "other statuses none" in contested
    lines = out.splitlines()
    free = next(line for line in lines if line.startswith("API booking, free slots (random"))
    free_done = number(r"\((\d+) in [\d.]+ s:", free)
    assert number(r"(\d+) booked", free) == free_done > 6  # each request a slot of its own
    assert " 0 refused" in free
    assert "other statuses none" in free
    serial = next(line for line in lines
                  if line.startswith("context, API booking, free, consecutive slots"))
    assert number(r"(\d+) booked", serial) > 6
    assert " 0 refused" in serial
    assert "goal" not in serial  # context: the goals are judged on the random free load
    # each load's CPU per request: the server's processes and the bench's clients
    cpu = [line for line in lines if line.startswith("  CPU per request: ")]
    assert len(cpu) == 3
    for line in cpu:
        assert number(r"server ([\d.]+) ms", line) > 0
        assert number(r"bench clients ([\d.]+) ms", line) > 0
    assert number(r"GET /api/v1/health \(one SELECT 1\), same clients: ([\d.]+) requests/s",
                  out) > 0


def test_sync_throughput_pushes_every_mutation_and_pulls_it_back() -> None:
    out = run_bench("sync_throughput.py", "--database", "sqlite", "--count", "30",
                    "--batch", "10", "--limit", "20")

    assert "sqlite: push 30 mutations" in out
    assert "(3 pushes, 30 applied," in out
    assert "30 bookings back)" in out
    assert number(r"pull [\d.]+ s \((\d+) pages", out) >= 2  # pages of 20 changes
    push = number(r"push 30 mutations ([\d.]+) s", out)
    pull = number(r"pull ([\d.]+) s", out)
    assert abs(number(r"total ([\d.]+) s", out) - (push + pull)) <= 0.02


def test_availability_db_answers_next_available_and_the_windowed_search_agrees() -> None:
    out = run_bench("availability_db.py", "--database", "sqlite", "--appointments", "600",
                    "--providers", "5", "--days", "7", "--queries", "4", "--split", "3",
                    "--views", "2")

    assert "5 providers, 600 appointments over 7 days" in out
    assert "4 queries," in out
    p50 = number(r"over HTTP: .*?p50 = ([\d.]+) ms", out)
    p95 = number(r"over HTTP: .*?p95 = ([\d.]+) ms", out)
    assert 0 < p50 <= p95
    # the script checks every windowed answer against a search over the whole horizon
    assert "same answers both ways" in out
    # the clinic-wide free-slot view: every provider over 28 days, timed over HTTP
    assert number(r"clinic-wide view: 5 providers x 28 days\) over HTTP: 2 queries, the last "
                  r"listed (\d+) free slots", out) > 0
    assert number(r"clinic-wide view.*?p95 = ([\d.]+) ms", out) > 0
    assert number(r"windowed search \(as the server runs it\) p50 = ([\d.]+) ms", out) > 0


def test_sse_sessions_holds_streams_and_every_stream_hears_each_poke() -> None:
    out = run_bench("sse_sessions.py", "--database", "sqlite", "--sessions", "30",
                    "--concurrency", "10", "--hold", "0.5", "--pokes", "2",
                    "--poke-timeout", "15")

    assert "30 attempted" in out
    assert "30 held (0 failed); 30 still held after the pokes" in out
    assert number(r"server RSS with 30 streams: (\d+) MiB", out) > 0
    assert "over 60 deliveries (2 pokes)" in out  # 30 streams × 2 pokes, none missed
    assert "; 0 missed" in out


def test_feeds_serves_full_not_modified_and_changed_answers() -> None:
    out = run_bench("feeds.py", "--events", "60", "--requests", "5", "--changes", "2")

    assert "one provider feed of 60 events" in out
    for label in ("full GET", "304 Not Modified", "one changed event re-served"):
        assert number(rf"{label}: p50 ([\d.]+) ms", out) > 0
    assert number(r"naive icalendar rebuild of the same events .*median ([\d.]+) ms", out) > 0
    assert number(r"health \(one SELECT 1\) on the same connection: p50 ([\d.]+) ms", out) > 0
