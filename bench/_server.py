"""Shared by the server benchmarks: a throw-away database and a real sync server process.

* :func:`database` yields a migrated database URL: a fresh PostgreSQL database
  (``CLINICDESK_BENCH_PG_URL``, default the local server; dropped afterwards) or an
  SQLite file in a temporary directory.
* :class:`ServerProcess` runs uvicorn in its own process (so the benchmark's clients
  never share the server's interpreter) on a loopback socket bound here; ``workers``
  instances, each its own process on its own port, as behind a load balancer; each
  socket is listening before its process starts, so clients can connect at once
  (connections wait in the backlog).
* :func:`seeded_clinic` writes the end-to-end suite's clinic (providers working
  Mon-Fri 09:00-17:00, rooms, a 30-minute check-up, patients, a receptionist,
  enrollment codes).

Run as ``python -m bench._server FD`` it is one server instance itself (settings
from ``CLINICDESK_*`` variables).
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/"
SECRET = "bench-signing-key-not-for-production"


def raise_open_files(wanted: int) -> int:
    """Raise this process's open-file limit towards ``wanted``; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


# --------------------------------------------------------------------------- databases


def pg_server_url() -> Any:
    from sqlalchemy.engine import make_url

    url = make_url(os.environ.get("CLINICDESK_BENCH_PG_URL") or DEFAULT_PG_URL)
    return url.set(drivername="postgresql+psycopg")


@contextlib.contextmanager
def pg_database(prefix: str = "clinicdesk_bench") -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped on exit."""
    from sqlalchemy import create_engine, text

    from sync_server.db.migrate import upgrade

    admin = create_engine(pg_server_url().set(database="postgres"),
                          isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_server_url().set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@contextlib.contextmanager
def database(backend: str, work: Path) -> Iterator[str]:
    """A migrated database of ``backend`` ("sqlite" or "postgresql")."""
    if backend == "postgresql":
        with pg_database() as url:
            yield url
        return
    if backend != "sqlite":
        raise ValueError(f"unknown backend {backend!r}")
    from sync_server.db.migrate import upgrade

    url = f"sqlite:///{work / f'server-{uuid.uuid4().hex[:6]}.db'}"
    upgrade(url)
    yield url


def settings_for(url: str, work: Path, **extra: Any) -> Any:
    from sync_server.core.config import Settings

    values: dict[str, Any] = {
        "database_url": url, "data_dir": work, "secret_key": SECRET,
        "argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1,
        "max_body_bytes": 8 * 1024 * 1024, "log_level": "WARNING", **extra,
    }
    return Settings(**values)


def seeded_clinic(url: str, work: Path, **sizes: int) -> Any:
    """Seed the end-to-end suite's clinic into ``url`` (see the module docstring)."""
    from sync_server.db.session import make_engine, make_session_factory
    from tests.e2e.server_side import seed_clinic

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return seed_clinic(session, settings_for(url, work), **sizes)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- server process


class ServerProcess:
    """A real uvicorn sync server in child processes; a context manager.

    ``workers`` > 1 runs that many instances, each its own process on its own loopback
    port (:attr:`ports`), as docs/admin.md deploys several instances behind a load
    balancer; a benchmark spreads its clients over them (:meth:`port_for`), as the
    balancer's round robin does. (uvicorn's own ``--workers`` share one listening
    socket, and a burst of keep-alive connections goes to whichever worker wakes
    first: 16 connections opened at once all went to one of two workers, measured.)"""

    def __init__(self, url: str, work: Path, *, workers: int = 1, backlog: int = 4096,
                 env: dict[str, str] | None = None) -> None:
        self.listeners = [_listener(backlog) for _ in range(max(1, workers))]
        self.ports = [int(listener.getsockname()[1]) for listener in self.listeners]
        self.port = self.ports[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = os.environ | {
            "CLINICDESK_DATABASE_URL": url, "CLINICDESK_DATA_DIR": str(work),
            "CLINICDESK_SECRET_KEY": SECRET, "CLINICDESK_ARGON2_TIME_COST": "1",
            "CLINICDESK_ARGON2_MEMORY_KIB": "1024", "CLINICDESK_ARGON2_PARALLELISM": "1",
            "CLINICDESK_MAX_BODY_BYTES": str(8 * 1024 * 1024), "CLINICDESK_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The first instance's process."""
        return self.processes[0] if self.processes else None

    def port_for(self, client: int) -> int:
        """The port of the instance that the ``client``-th client talks to (round robin)."""
        return self.ports[client % len(self.ports)]

    def __enter__(self) -> ServerProcess:
        for listener in self.listeners:
            fd = listener.fileno()
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "bench._server", str(fd)],
                cwd=ROOT, env=self.env, pass_fds=(fd,)))
            listener.close()
        try:
            for port in self.ports:
                self.wait_healthy(port)
        except BaseException:
            self.__exit__()  # no server left behind
            raise
        return self

    def wait_healthy(self, port: int, timeout: float = 120.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health",
                             timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not become healthy")
            time.sleep(0.1)

    def pids(self) -> list[int]:
        """The server's processes and their children."""
        found = [process.pid for process in self.processes]
        parents = set(found)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    # the field after "(name)": state, then the parent's pid
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) in parents:
                        found.append(int(entry.name))
        return found

    def rss_bytes(self) -> int:
        """Resident memory of the server (all its processes), from /proc."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total

    def __exit__(self, *_exc: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _listener(backlog: int) -> socket.socket:
    """A listening loopback socket on a free port, for an instance to inherit."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn takes an inherited fd for a Unix socket and never sets TCP_NODELAY on
    # what it accepts; set it on the listener (accepted sockets inherit it on Linux)
    # or every small response waits ~40 ms for the client's delayed ACK (Nagle).
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    return listener


def login(base_url: str, clinic: Any) -> dict[str, str]:
    """The receptionist's Authorization header."""
    import httpx

    from tests.e2e.server_side import PASSWORD

    answer = httpx.post(f"{base_url}/api/v1/auth/login", timeout=30, json={
        "organization": clinic.org_slug, "email": clinic.user_email, "password": PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def enroll(base_url: str, code: str) -> dict[str, Any]:
    """Enroll a desk with ``code``: its device_token and client_id."""
    import httpx

    answer = httpx.post(f"{base_url}/api/v1/devices/enroll", timeout=30,
                        json={"code": code, "name": "bench desk"})
    answer.raise_for_status()
    enrolled: dict[str, Any] = answer.json()
    return enrolled


# --------------------------------------------------------------------------- the server itself


def app() -> Any:
    """The sync server, or the app ``CLINICDESK_BENCH_APP`` names (``module:factory``,
    e.g. a benchmark's floor)."""
    named = os.environ.get("CLINICDESK_BENCH_APP")
    if named:
        import importlib

        module, _, factory = named.partition(":")
        return getattr(importlib.import_module(module), factory)()
    from sync_server.app import create_app
    from sync_server.core.config import Settings

    return create_app(Settings())


def log_slow_collections(threshold_ms: float) -> None:
    """Print to stderr every garbage collection longer than ``threshold_ms`` (its
    generation and duration), for a benchmark's server."""
    import gc

    started: list[float] = [0.0]

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        spent = (time.perf_counter() - started[0]) * 1000
        if spent >= threshold_ms:
            print(f"gc: generation {info['generation']} took {spent:.0f} ms "
                  f"({info['collected']} collected)", file=sys.stderr, flush=True)

    gc.callbacks.append(watch)


def main() -> None:
    import uvicorn

    from sync_server.cli import EventAwareServer

    raise_open_files(1 << 20)
    if os.environ.get("CLINICDESK_BENCH_GC_LOG"):
        log_slow_collections(float(os.environ["CLINICDESK_BENCH_GC_LOG"]))
    fd = int(sys.argv[1])  # one instance per process (ServerProcess runs several)
    config = uvicorn.Config(app(), fd=fd, log_level="warning", log_config=None,
                            timeout_graceful_shutdown=2, backlog=4096)
    EventAwareServer(config, tune_collector=True).run()  # as clinicdesk-server serve


if __name__ == "__main__":
    main()


# --------------------------------------------------------------------------- a lean client


class RawConnection:
    """One keep-alive HTTP/1.1 connection over asyncio streams.

    Far cheaper per request than a full client library, so on a 2-core machine the
    benchmark's own clients take as little CPU from the server as pgbench's do.
    Handles exactly what the server sends: ``Content-Length`` bodies.
    """

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: Any = None
        self.writer: Any = None

    async def open(self) -> None:
        import asyncio

        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{self.fixed}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(share * len(sorted_values))))
    return sorted_values[rank - 1]


def command_line() -> str:
    """How this benchmark was started, to print next to its figures."""
    script = Path(sys.argv[0]).resolve()
    argv = [str(script.relative_to(ROOT)) if script.is_relative_to(ROOT) else sys.argv[0],
            *sys.argv[1:]]
    return " ".join([".venv/bin/python", *(a if " " not in a else repr(a) for a in argv)])
