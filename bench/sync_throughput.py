"""Sync throughput: one desk pushes 10,000 booking intents, then pulls them (goal ≤ 5 s).

A real uvicorn sync server (its own process) over SQLite and/or PostgreSQL, the
end-to-end suite's clinic with enough providers for every booking to fit (70
half-hour slots per provider-week over 8 weeks). One desk is enrolled through
the API and first downloads everything (untimed) to get its cursor. Timed:

* push: ``--count`` ``appointment.book`` mutations with gap-free ids in pushes of
  ``--batch`` (the server accepts at most 1000 per push), each answered
  ``applied``;
* pull: ``GET /api/v1/sync/pull?cursor=…`` pages of ``--limit`` until
  ``has_more`` is false; every booking comes back as a change.

Only the HTTP exchanges are timed (the request bodies are built beforehand).

    .venv/bin/python bench/sync_throughput.py [--database both|sqlite|postgresql] [--count 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._server import ServerProcess, command_line, database, enroll, seeded_clinic
from scheduling.sync_protocol import DEVICE_TOKEN_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION

GOAL_SECONDS = 5.0
SLOTS_PER_PROVIDER_WEEK = 70
WEEKS = 8


@dataclass
class Figures:
    backend: str
    count: int
    push_seconds: float
    pushes: int
    applied: int
    pull_seconds: float
    pages: int
    pulled: int

    @property
    def total(self) -> float:
        return self.push_seconds + self.pull_seconds


def mutations(clinic: Any, count: int) -> list[dict[str, Any]]:
    queued = datetime.now(UTC).isoformat()
    out = []
    for index in range(count):
        provider, start = clinic.slot(index)
        out.append({"id": index + 1, "name": "appointment.book", "client_time": queued, "args": {
            "appointment_id": str(uuid.uuid4()), "clinic_id": clinic.clinic_id,
            "patient_id": clinic.patient_ids[index % len(clinic.patient_ids)],
            "appointment_type_id": clinic.type_id, "provider_id": provider,
            "room_id": clinic.room_ids[clinic.provider_ids.index(provider)],
            "start": start.isoformat()}})
    return out


def pull_all(http: httpx.Client, cursor: int, limit: int) -> tuple[int, int, int, list[str]]:
    """Pull until done: (cursor, pages, changes, appointment ids)."""
    pages = changed = 0
    ids: list[str] = []
    while True:
        answer = http.get("/api/v1/sync/pull", params={"cursor": cursor, "limit": limit})
        answer.raise_for_status()
        page = answer.json()
        pages += 1
        changed += len(page["changes"])
        ids += [c["id"] for c in page["changes"] if c["entity"] == "appointment"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return cursor, pages, changed, ids


def measure(backend: str, count: int, batch: int, limit: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="clinicdesk-bench-") as temporary:
        work = Path(temporary)
        with database(backend, work) as url:
            providers = max(1, -(-count // (SLOTS_PER_PROVIDER_WEEK * WEEKS)))
            clinic = seeded_clinic(url, work, providers=providers, rooms=providers,
                                   patients=200, codes=1)
            outbox = mutations(clinic, count)
            with ServerProcess(url, work, workers=1) as server:
                desk = enroll(server.url, clinic.codes[0])
                headers = {DEVICE_TOKEN_HEADER: desk["device_token"],
                           PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
                with httpx.Client(base_url=server.url, headers=headers, timeout=300) as http:
                    cursor, _pages, _changed, _ids = pull_all(http, 0, limit)  # first download

                    started = time.perf_counter()
                    applied = pushes = 0
                    for first in range(0, count, batch):
                        answer = http.post("/api/v1/sync/push", json={
                            "client_id": desk["client_id"],
                            "mutations": outbox[first:first + batch]})
                        answer.raise_for_status()
                        pushes += 1
                        applied += sum(r["status"] == "applied" for r in answer.json()["results"])
                    push_seconds = time.perf_counter() - started

                    started = time.perf_counter()
                    _cursor, pages, _changed, ids = pull_all(http, cursor, limit)
                    pull_seconds = time.perf_counter() - started
    booked = {m["args"]["appointment_id"] for m in outbox}
    return Figures(backend, count, push_seconds, pushes, applied, pull_seconds, pages,
                   len(booked & set(ids)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000, help="mutations per push (≤ 1000)")
    parser.add_argument("--limit", type=int, default=5000, help="changes per pull page (≤ 5000)")
    args = parser.parse_args(argv)
    backends = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    print(f"command: {command_line()}")
    ok = True
    for backend in backends:
        f = measure(backend, args.count, args.batch, args.limit)
        verdict = "met" if f.total <= GOAL_SECONDS else "missed"
        print(f"{backend}: push {f.count} mutations {f.push_seconds:.2f} s "
              f"({f.pushes} pushes, {f.applied} applied, "
              f"{f.count / f.push_seconds:.0f} mutations/s); "
              f"pull {f.pull_seconds:.2f} s ({f.pages} pages, {f.pulled} bookings back); "
              f"total {f.total:.2f} s (goal <= {GOAL_SECONDS:.0f} s: {verdict})")
        ok = ok and f.applied == f.count and f.pulled == f.count
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
