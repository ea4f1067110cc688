"""``clinicdesk-server serve`` in a subprocess on a fixed loopback port (several instances
on one database; killable with SIGKILL and started again on the same port)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.server_side import free_port

ROOT = Path(__file__).resolve().parents[2]
#: The secret every instance shares (tokens signed by one are read by the others).
SECRET = "server-instances-shared-test-secret"


class Killable:
    """A subprocess the test may kill with SIGKILL (a crash, a power cut)."""

    process: subprocess.Popen[bytes] | None = None
    kills = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.kills += 1


class Instance(Killable):
    """One server instance; it starts at once (:meth:`start` starts it again)."""

    def __init__(self, database_url: str, data_dir: Path, name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"{name}.log"
        self.env = {
            **os.environ,
            "CLINICDESK_DATABASE_URL": database_url,
            "CLINICDESK_SECRET_KEY": SECRET,
            "CLINICDESK_DATA_DIR": str(data_dir / name),
            "CLINICDESK_ARGON2_TIME_COST": "1",
            "CLINICDESK_ARGON2_MEMORY_KIB": "1024",
            "CLINICDESK_ARGON2_PARALLELISM": "1",
        }
        self.start()

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sync_server.cli", "serve", "--port", str(self.port)],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
            if self.healthy():
                return
            time.sleep(0.05)  # polling readiness with a deadline
        raise AssertionError(f"server not ready within {timeout} s")

    def stop(self, timeout: float = 15.0) -> float:
        """SIGTERM (as a service manager stops it); how long it took to exit."""
        started = time.monotonic()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return time.monotonic() - started
