"""A sign-in flood: server memory and ``/health`` latency, throttled against unbounded.

A real uvicorn sync server (its own process) with the production Argon2id cost
(64 MiB, 3 passes, 4 lanes) and the end-to-end suite's clinic. ``--clients``
concurrent clients send sign-ins for made-up e-mails of the clinic's organization
(each checked against a dummy hash at the full Argon2id cost) for ``--seconds``,
while one client asks ``/health`` every 100 ms and the server's resident memory is
sampled. Two runs, each on a fresh server:

* **unbounded** — rate limits and hashing slots lifted (what the server did before);
* **throttled** — the defaults (30 sign-ins a minute per client, 10 per account,
  hashing slots sized to memory).

Prints, per run, the idle figures measured first on the same server (the baseline),
the flood's peak memory and ``/health`` p50/p95/max, and how many answers were 401
and 429; then the documented memory bound (idle + slots × 64 MiB + 64 MiB).

    .venv/bin/python bench/login_flood.py [--clients 40] [--seconds 20] [--database sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._server import (
    ServerProcess,
    command_line,
    database,
    percentile,
    seeded_clinic,
)
from sync_server.core.throttle import password_slots

MIB = 1024 * 1024
ARGON2 = {"CLINICDESK_ARGON2_TIME_COST": "3", "CLINICDESK_ARGON2_MEMORY_KIB": "65536",
          "CLINICDESK_ARGON2_PARALLELISM": "4"}
UNBOUNDED = {"CLINICDESK_LOGIN_PER_CLIENT_PER_MINUTE": "1000000",
             "CLINICDESK_LOGIN_PER_ACCOUNT_PER_MINUTE": "1000000",
             "CLINICDESK_PASSWORD_HASH_CONCURRENCY": "1000"}


async def health_times(client: httpx.AsyncClient, url: str, stop: asyncio.Event,
                       every: float = 0.1) -> list[float]:
    times = []
    while not stop.is_set():
        started = time.perf_counter()
        response = await client.get(f"{url}/api/v1/health")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        await asyncio.sleep(every)
    return times


async def memory_peak(server: ServerProcess, stop: asyncio.Event) -> int:
    peak = 0
    while not stop.is_set():
        peak = max(peak, server.rss_bytes())
        await asyncio.sleep(0.2)
    return peak


async def flood(server: ServerProcess, body: dict[str, str], clients: int,
                seconds: float) -> tuple[Counter[int], list[float], int]:
    stop = asyncio.Event()
    answers: Counter[int] = Counter()
    sent = 0
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        async def attacker() -> None:
            nonlocal sent
            while not stop.is_set():
                sent += 1
                guess = {**body, "email": f"guess{sent}@clinic.example"}
                try:
                    response = await http.post(f"{server.url}/api/v1/auth/login", json=guess)
                    answers[response.status_code] += 1
                except httpx.HTTPError:
                    answers[0] += 1

        async with httpx.AsyncClient(timeout=120) as probe:
            tasks = [asyncio.create_task(attacker()) for _ in range(clients)]
            watch = asyncio.create_task(health_times(probe, server.url, stop))
            peak = asyncio.create_task(memory_peak(server, stop))
            await asyncio.sleep(seconds)
            stop.set()
            await asyncio.gather(*tasks)
            return answers, sorted(await watch), await peak


async def idle(server: ServerProcess) -> tuple[list[float], int]:
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=30) as probe:
        watch = asyncio.create_task(health_times(probe, server.url, stop, every=0.02))
        await asyncio.sleep(2)
        stop.set()
        return sorted(await watch), server.rss_bytes()


def run(label: str, url: str, work: Path, clinic: Any, env: dict[str, str],
        args: argparse.Namespace) -> int:
    body = {"organization": clinic.org_slug, "email": clinic.user_email,
            "password": "not the password"}
    with ServerProcess(url, work, env={**ARGON2, **env}) as server:
        quiet, idle_rss = asyncio.run(idle(server))
        answers, loaded, peak = asyncio.run(flood(server, body, args.clients, args.seconds))
    print(f"{label}: idle /health p50 {percentile(quiet, 0.5):.1f} ms, "
          f"p95 {percentile(quiet, 0.95):.1f} ms; idle RSS {idle_rss / MIB:.0f} MiB")
    p95 = percentile(loaded, 0.95)
    print(f"{label}: flood /health p50 {percentile(loaded, 0.5):.1f} ms, p95 {p95:.1f} ms, "
          f"max {loaded[-1] if loaded else 0:.1f} ms "
          f"({p95 / max(percentile(quiet, 0.95), 0.01):.1f}x idle p95); "
          f"peak RSS {peak / MIB:.0f} MiB ({peak / max(idle_rss, 1):.2f}x idle)")
    print(f"{label}: answers {dict(sorted(answers.items()))} "
          f"in {args.seconds:.0f} s from {args.clients} clients")
    return idle_rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="sqlite")
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--skip-unbounded", action="store_true",
                        help="only the throttled run (the unbounded one needs ~1.5 GiB)")
    args = parser.parse_args()
    print(f"command: {command_line()}")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        with database(args.database, work) as url:
            clinic = seeded_clinic(url, work, patients=5, codes=1)
            if not args.skip_unbounded:
                run("unbounded", url, work, clinic, UNBOUNDED, args)
            idle_rss = run("throttled", url, work, clinic, {}, args)
    slots = password_slots(65536)
    print(f"documented bound: idle + {slots} hashing slot(s) x 64 MiB + 64 MiB = "
          f"{(idle_rss + slots * 64 * MIB + 64 * MIB) / MIB:.0f} MiB")


if __name__ == "__main__":
    main()
