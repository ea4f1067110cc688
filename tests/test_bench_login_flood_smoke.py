"""bench/login_flood.py still runs, at a tiny size (its figures are read by people)."""

from __future__ import annotations

from tests.test_bench_server_smoke import number, run_bench


def test_login_flood_prints_throttled_answers_and_the_memory_bound() -> None:
    out = run_bench("login_flood.py", "--clients", "4", "--seconds", "2", "--skip-unbounded")
    assert "throttled: answers" in out
    assert number(r"peak RSS (\d+) MiB", out) > 0
    assert number(r"= (\d+) MiB", out) > number(r"idle RSS (\d+) MiB", out)
