"""A desk's real backlog: one desk pushes 10,000 mixed mutations spread over 90 days,
beside the plain 10,000-booking push in the same run (goal: mixed ≤ 2× plain; a refused
booking costs no more than 2× an accepted one).

A real uvicorn sync server (its own process, 1 worker) over SQLite and/or PostgreSQL,
the end-to-end suite's clinic. Two fresh databases per backend, one after the other:

* plain: ``--count`` ``appointment.book`` mutations on free slots (as
  ``bench/sync_throughput.py``), pushed 1,000 per request;
* mixed: ``--count`` mutations queued as a desk queues them after a month offline,
  their appointments spread over 90 days in random order: 70 % bookings (a fifth of
  them refused: the same provider or the same patient at a time already booked),
  15 % moves and 10 % cancels of appointments booked earlier in the outbox, 5 %
  patient creates and updates; pushed 1,000 per request, each push going on from the
  answer's ``last_mutation_id`` (a push answers within a few seconds);
* then, on the mixed database, one push of ``--probe`` bookings that are all
  accepted and one of ``--probe`` that are all refused: the cost of each per mutation.

Only the HTTP exchanges are timed (the request bodies are built beforehand).

    .venv/bin/python bench/sync_mixed.py [--database both|sqlite|postgresql] [--count 10000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._server import ServerProcess, command_line, database, enroll, seeded_clinic
from bench.sync_throughput import SLOTS_PER_PROVIDER_WEEK, WEEKS
from bench.sync_throughput import mutations as plain_mutations
from scheduling.sync_protocol import DEVICE_TOKEN_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION
from tests.e2e.server_side import SLOT, TZ

GOAL_RATIO = 2.0
DAYS = 90
#: Bookings beyond the mixed outbox's, for the accepted probe (free slots kept aside).
SPARE = 1000


@dataclass
class Pushed:
    seconds: float
    pushes: int
    statuses: Counter[str]


def day_slots(first_day: Any, providers: list[str]) -> list[tuple[str, datetime]]:
    """Every free half-hour (provider, UTC start) of the weekdays in the 90 days."""
    out = []
    for offset in range(DAYS):
        day = first_day + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for k in range(14):
            local = datetime.combine(day, clock_time(9)) + SLOT * (k if k < 8 else k + 2)
            start = local.replace(tzinfo=ZoneInfo(TZ)).astimezone(UTC)
            out += [(provider, start) for provider in providers]
    return out


class Backlog:
    """The mixed outbox (see the module docstring), built as the desk queued it."""

    def __init__(self, clinic: Any, seed: int = 7) -> None:
        self.clinic = clinic
        self.rng = random.Random(seed)
        self.free = day_slots(clinic.first_day, clinic.provider_ids)
        self.rng.shuffle(self.free)
        self.spare = [self.free.pop() for _ in range(SPARE)]
        self.active: dict[str, dict[str, Any]] = {}  # appointment id -> its booking args
        #: (patient, start) of every appointment in ``active``: a booking or move queued
        #: onto its patient's booked time would itself be refused, so none is.
        self.busy: set[tuple[str, str]] = set()
        self.patients = list(clinic.patient_ids)
        self.out: list[dict[str, Any]] = []
        self.queued = datetime.now(UTC).isoformat()

    def add(self, name: str, args: dict[str, Any]) -> None:
        self.out.append({"id": len(self.out) + 1, "name": name, "args": args,
                         "client_time": self.queued})

    def booking(self, provider: str, start: datetime, patient: str) -> dict[str, Any]:
        clinic = self.clinic
        return {"appointment_id": str(uuid.uuid4()), "clinic_id": clinic.clinic_id,
                "patient_id": patient, "appointment_type_id": clinic.type_id,
                "provider_id": provider,
                "room_id": clinic.room_ids[clinic.provider_ids.index(provider)],
                "start": start.isoformat()}

    def build(self, count: int) -> list[dict[str, Any]]:
        rng = self.rng
        while len(self.out) < count:
            roll = rng.random()
            if roll < 0.70 or len(self.active) < 20:
                self.book(refused=rng.random() < 0.20 and bool(self.active))
            elif roll < 0.85:
                appointment_id = rng.choice(list(self.active))
                moved = self.active[appointment_id]
                provider, start = self.free_slot(moved["patient_id"])
                self.busy.discard((moved["patient_id"], moved["start"]))
                self.busy.add((moved["patient_id"], start.isoformat()))
                self.active[appointment_id] = {**moved, "provider_id": provider,
                                               "start": start.isoformat()}
                room = self.clinic.room_ids[self.clinic.provider_ids.index(provider)]
                self.add("appointment.move", {"appointment_id": appointment_id,
                                              "start": start.isoformat(),
                                              "provider_id": provider, "room_id": room})
            elif roll < 0.95:
                appointment_id = rng.choice(list(self.active))
                cancelled = self.active.pop(appointment_id)
                self.busy.discard((cancelled["patient_id"], cancelled["start"]))
                self.add("appointment.cancel", {"appointment_id": appointment_id,
                                                "reason": "patient called"})
            elif rng.random() < 0.5:
                patient_id = str(uuid.uuid4())
                self.patients.append(patient_id)
                self.add("patient.create", {"patient_id": patient_id, "given_name": "New",
                                            "family_name": f"Patient {len(self.out)}"})
            else:
                self.add("patient.update", {"patient_id": rng.choice(self.patients),
                                            "changes": {"phone": f"+34 600 {len(self.out):06d}"}})
        return self.out

    def book(self, *, refused: bool) -> None:
        if refused:  # after a day offline: someone else took the time, or the desk twice
            taken = self.active[self.rng.choice(list(self.active))]
            patient = taken["patient_id"] if self.rng.random() < 0.5 \
                else self.rng.choice(self.patients)
            args = self.booking(taken["provider_id"], datetime.fromisoformat(taken["start"]),
                                patient)
            self.add("appointment.book", args)
            return
        patient = self.rng.choice(self.patients)
        provider, start = self.free_slot(patient)
        args = self.booking(provider, start, patient)
        self.active[args["appointment_id"]] = args
        self.busy.add((patient, args["start"]))
        self.add("appointment.book", args)

    def free_slot(self, patient: str) -> tuple[str, datetime]:
        """A free (provider, start) at which ``patient`` has no appointment."""
        passed = []
        while (slot := self.free.pop()) and (patient, slot[1].isoformat()) in self.busy:
            passed.append(slot)
        self.free += passed[::-1]
        return slot

    def probes(self, size: int, first_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """``size`` bookings that fit (spare slots, patients free then) and ``size`` that
        clash, numbered on."""
        busy = set(self.busy)
        accepted = []
        for n in range(size):
            provider, start = self.spare[n]
            patient = self.rng.choice(self.patients)
            while (patient, start.isoformat()) in busy:
                patient = self.rng.choice(self.patients)
            busy.add((patient, start.isoformat()))
            accepted.append({"id": first_id + n, "name": "appointment.book",
                             "client_time": self.queued,
                             "args": self.booking(provider, start, patient)})
        taken = list(self.active.values())
        refused = []
        for n in range(size):
            clash = taken[n % len(taken)]
            refused.append({"id": first_id + size + n, "name": "appointment.book",
                            "client_time": self.queued, "args": self.booking(
                                clash["provider_id"], datetime.fromisoformat(clash["start"]),
                                self.rng.choice(self.patients))})
        return accepted, refused


def push_all(http: httpx.Client, client_id: str, outbox: list[dict[str, Any]],
             batch: int) -> Pushed:
    """Push ``outbox`` as a desk does: ``batch`` at a time from the server's position."""
    statuses: Counter[str] = Counter()
    pushes = 0
    done = outbox[0]["id"] - 1
    last_id = outbox[-1]["id"]
    offset = outbox[0]["id"]
    started = time.perf_counter()
    while done < last_id:
        page = outbox[done + 1 - offset:done + 1 - offset + batch]
        answer = http.post("/api/v1/sync/push", json={"client_id": client_id, "mutations": page})
        answer.raise_for_status()
        pushes += 1
        body = answer.json()
        statuses.update(r["status"] for r in body["results"] if r["status"] != "skipped")
        if body["last_mutation_id"] <= done:
            raise RuntimeError("a push processed nothing")
        done = body["last_mutation_id"]
    return Pushed(time.perf_counter() - started, pushes, statuses)


def desk_client(server: ServerProcess, code: str) -> tuple[httpx.Client, str]:
    desk = enroll(server.url, code)
    headers = {DEVICE_TOKEN_HEADER: desk["device_token"], PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
    return httpx.Client(base_url=server.url, headers=headers, timeout=300), desk["client_id"]


def measure_plain(backend: str, count: int, batch: int) -> Pushed:
    with tempfile.TemporaryDirectory(prefix="clinicdesk-bench-") as temporary:
        work = Path(temporary)
        with database(backend, work) as url:
            providers = max(1, -(-count // (SLOTS_PER_PROVIDER_WEEK * WEEKS)))
            clinic = seeded_clinic(url, work, providers=providers, rooms=providers,
                                   patients=200, codes=1)
            outbox = plain_mutations(clinic, count)
            with ServerProcess(url, work, workers=1) as server:
                http, client_id = desk_client(server, clinic.codes[0])
                with http:
                    return push_all(http, client_id, outbox, batch)


def measure_mixed(backend: str, count: int, batch: int, probe: int
                  ) -> tuple[Pushed, Pushed, Pushed]:
    with tempfile.TemporaryDirectory(prefix="clinicdesk-bench-") as temporary:
        work = Path(temporary)
        with database(backend, work) as url:
            # 90 days hold 64 weekdays of 14 slots per provider: room for every booking
            # and move of the outbox, and the spare slots.
            providers = max(2, -(-(count + SPARE) // (64 * 14)) + 1)
            clinic = seeded_clinic(url, work, providers=providers, rooms=providers,
                                   patients=200, codes=1)
            backlog = Backlog(clinic)
            outbox = backlog.build(count)
            accepted, refused = backlog.probes(probe, count + 1)
            with ServerProcess(url, work, workers=1) as server:
                http, client_id = desk_client(server, clinic.codes[0])
                with http:
                    mixed = push_all(http, client_id, outbox, batch)
                    fits = push_all(http, client_id, accepted, batch)
                    clashes = push_all(http, client_id, refused, batch)
    return mixed, fits, clashes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000, help="mutations per push (≤ 1000)")
    parser.add_argument("--probe", type=int, default=1000,
                        help="bookings in each of the accepted and refused probes")
    args = parser.parse_args(argv)
    backends = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    print(f"command: {command_line()}")
    ok = True
    for backend in backends:
        plain = measure_plain(backend, args.count, args.batch)
        mixed, fits, clashes = measure_mixed(backend, args.count, args.batch, args.probe)
        ratio = mixed.seconds / plain.seconds
        accepted_ms = 1000 * fits.seconds / args.probe
        refused_ms = 1000 * clashes.seconds / args.probe
        print(f"{backend}: plain push {args.count} bookings {plain.seconds:.2f} s "
              f"({plain.pushes} pushes, {dict(plain.statuses)})")
        print(f"{backend}: mixed push {args.count} mutations over {DAYS} days "
              f"{mixed.seconds:.2f} s ({mixed.pushes} pushes, {dict(mixed.statuses)}); "
              f"mixed / plain {ratio:.2f} (goal <= {GOAL_RATIO:.0f}: "
              f"{'met' if ratio <= GOAL_RATIO else 'missed'})")
        cost = refused_ms / accepted_ms
        print(f"{backend}: per booking: accepted {accepted_ms:.2f} ms ({dict(fits.statuses)}), "
              f"refused {refused_ms:.2f} ms ({dict(clashes.statuses)}); refused / accepted "
              f"{cost:.2f} (goal <= {GOAL_RATIO:.0f}: {'met' if cost <= GOAL_RATIO else 'missed'})")
        ok = ok and plain.statuses["applied"] == args.count \
            and fits.statuses["applied"] == args.probe \
            and clashes.statuses["refused"] == args.probe
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
