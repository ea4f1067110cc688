"""Where a benchmark's cores go: CPU time of processes, read from ``/proc`` (Linux).

:class:`CpuMeter` measures, between entering and leaving it, the user + system CPU
seconds of groups of processes — e.g. the sync server and its workers, the PostgreSQL
backends serving the benchmark's database (:func:`postgres_backends`) — and of this
process and the children it waited for (the benchmark's own clients, pgbench). It
samples the known processes every ``interval`` seconds (and looks for new ones every
second), so a process that exits during the measure still counts up to its last
sample; one that starts during it counts from zero. Other databases' backends and
PostgreSQL's shared background processes (WAL writer, checkpointer) are not counted.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

#: Groups of processes to measure: name → how to list their pids now.
Processes = dict[str, Callable[[], Iterable[int]]]
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` and of its children it reaped (None if gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # after "(name)": field 3 (state) is fields[0]; utime, stime, cutime, cstime are 14-17
    return sum(int(value) for value in fields[11:15]) / TICKS


def postgres_backends(database: str) -> list[int]:
    """The PostgreSQL backends connected to ``database`` (their process title names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if f" {database} " in f"{title} ":
                found.append(int(entry.name))
    return found


def own_seconds() -> float:
    """CPU seconds of this process and of the children it waited for (e.g. pgbench)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuMeter:
    """CPU seconds per group of processes (``groups``: name → how to list its pids)
    and of this process (``"bench"``) between ``__enter__`` and ``__exit__``."""

    def __init__(self, groups: Processes, interval: float = 0.2) -> None:
        self.groups = groups
        self.interval = interval
        self.pids: dict[str, set[int]] = {name: set() for name in groups}
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.started = self.wall = self.own = 0.0

    def _find(self) -> None:
        for name, listing in self.groups.items():
            self.pids[name].update(listing())

    def _sample(self) -> None:
        for pids in self.pids.values():
            for pid in pids:
                seconds = process_seconds(pid)
                if seconds is not None:
                    self.last[pid] = seconds

    def _watch(self) -> None:
        looked = time.monotonic()
        while not self.stopping.wait(self.interval):
            if time.monotonic() - looked >= 1.0:
                self._find()
                looked = time.monotonic()
            self._sample()

    def __enter__(self) -> CpuMeter:
        self._find()
        self._sample()
        self.first = dict(self.last)
        self.own = own_seconds()
        self.started = time.perf_counter()
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        self.thread.join()
        self._find()
        self._sample()
        self.wall = time.perf_counter() - self.started
        self.own = own_seconds() - self.own

    def seconds(self, name: str) -> float:
        """CPU seconds the group ``name`` spent (``"bench"``: this process and children)."""
        if name == "bench":
            return self.own
        return sum(self.last.get(pid, 0.0) - self.first.get(pid, 0.0)
                   for pid in self.pids[name])

    def spent(self) -> dict[str, float]:
        """CPU seconds of every group, ``"bench"`` included, and ``"wall"`` seconds."""
        return {**{name: self.seconds(name) for name in (*self.groups, "bench")},
                "wall": self.wall}
