"""Parts of the server benchmarks that decide what their figures mean: the free-slot load
of ``bench/server_booking.py``, the CPU meter of ``bench/_cpu.py`` and the server
instances of ``bench/_server.py``."""

from __future__ import annotations

import os
import subprocess
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from bench._cpu import TICKS, CpuMeter, postgres_backends, process_seconds
from bench._server import ServerProcess, database
from bench.server_booking import RandomSlots
from tests.e2e.server_side import TZ, Clinic


def clinic(providers: int = 2, patients: int = 20) -> Clinic:
    return Clinic("org", "slug", "desk@clinic.example", "clinic",
                  [f"provider-{n}" for n in range(providers)], ["room-0", "room-1"], "type",
                  [f"patient-{n}" for n in range(patients)], date(2031, 1, 6))


def test_the_random_free_load_never_asks_for_a_slot_twice_and_stays_in_working_hours() -> None:
    weeks = 3
    slots = RandomSlots(clinic(), first=100, weeks=weeks)
    taken = [slots.take() for _ in range(weeks * 140)]  # every slot of 3 weeks, 2 providers

    assert len({(provider, start) for provider, start, _ in taken}) == len(taken)
    assert slots.end == (1 + weeks) * 140  # whole weeks, after the first 100 slots
    for _provider, start, _patient in taken:
        local = datetime.fromisoformat(start).astimezone(ZoneInfo(TZ))
        assert local.weekday() < 5
        assert 9 <= local.hour < 17 and local.hour != 13
    assert [start for _, start, _ in taken[:10]] != sorted(start for _, start, _ in taken[:10])


def test_the_random_free_load_gives_the_providers_of_one_moment_different_patients() -> None:
    slots = RandomSlots(clinic(providers=3), first=0, weeks=2)
    by_moment: dict[str, set[str | None]] = {}
    for _ in range(2 * 210):
        _provider, start, patient = slots.take()
        by_moment.setdefault(start, set()).add(patient)

    assert all(len(patients) == 3 for patients in by_moment.values())


def test_the_cpu_meter_counts_this_process_and_no_foreign_backend() -> None:
    me = os.getpid()
    with CpuMeter({"me": lambda: [me]}) as meter:
        first = process_seconds(me)
        assert first is not None
        # work until the kernel counts ten ticks: /proc counts whole ticks, so a
        # single one may stand for much less CPU than getrusage's exact figure
        while (process_seconds(me) or 0.0) < first + 10 / TICKS:
            sum(range(10_000))

    spent = meter.spent()
    assert spent["me"] > 0
    assert spent["bench"] >= spent["me"] * 0.5
    assert spent["wall"] > 0
    assert postgres_backends("no_such_database_for_clinicdesk") == []


def test_several_server_instances_each_serve_their_own_clients(tmp_path: Path) -> None:
    """``ServerProcess(workers=2)`` runs two instances, each its own process on its own
    port, and the clients alternate between them (as behind a load balancer), so no
    instance is left idle by a burst of keep-alive connections."""
    with database("sqlite", tmp_path) as url, \
            ServerProcess(url, tmp_path, workers=2) as server:
        assert len(set(server.ports)) == 2
        assert [server.port_for(i) for i in range(4)] == [*server.ports, *server.ports]
        answered = {port: httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10)
                    for port in server.ports}
        assert all(answer.status_code == 200 for answer in answered.values())
        instances = {process.pid for process in server.processes}
        assert len(instances) == 2 and instances <= set(server.pids())
        # each port is served by its own process: the listening socket's owner
        owners = {_listening_pid(port) for port in server.ports}
        assert owners == instances
    assert all(process.poll() is not None for process in server.processes)


def _listening_pid(port: int) -> int:
    """The process listening on loopback ``port`` (from ``ss``)."""
    out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True,
                         text=True, check=True).stdout
    return int(out.split("pid=", 1)[1].split(",", 1)[0])
