"""A real sync server with the demo organization, and the desk bundle built once per run.

The bundle is ``$CLINICDESK_BUNDLE`` when set (``.ci/run`` builds it first and
prints how long that took), else it is built here with PyInstaller into the
session's temporary folder. Without PyInstaller the bundle tests skip, which
``CLINICDESK_REQUIRE_ALL=1`` (CI) turns into failures.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_ENV = "CLINICDESK_BUNDLE"
DEMO_PASSWORD = "demo-password-2026"
RECEPTIONIST = "reception@demo.clinicdesk.example"


def build_bundle(dist: Path, work: Path) -> Path:
    """Run PyInstaller on ``packaging/desktop.spec``; returns the executable."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         str(ROOT / "packaging" / "desktop.spec"), "--distpath", str(dist),
         "--workpath", str(work)],
        cwd=ROOT, check=True,
    )
    print(f"desk bundle built in {time.monotonic() - started:.0f} s")
    return dist / "ClinicDesk" / ("ClinicDesk.exe" if os.name == "nt" else "ClinicDesk")


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get(BUNDLE_ENV)
    if configured:
        path = Path(configured)
        assert path.is_file(), f"${BUNDLE_ENV} names {path}, which does not exist"
        return path
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (pip install -e '.[packaging]')")
    folder = tmp_path_factory.mktemp("bundle")
    return build_bundle(folder / "dist", folder / "build")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class DemoServer:
    url: str
    env: dict[str, str]

    def enrollment_code(self) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sync_server.cli", "enroll-code", "--org", "demo"],
            env=self.env, cwd=ROOT, capture_output=True, text=True, check=True)
        return done.stdout.strip()


def server_env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CLINICDESK_DATABASE_URL=f"sqlite:///{folder / 'server.db'}",
               CLINICDESK_DATA_DIR=str(folder), PYTHONPATH=str(ROOT))
    return env


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/v1/health", timeout=1).ok
    except requests.RequestException:
        return False


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """``clinicdesk-server`` from source, seeded with the demo, on a loopback port."""
    folder = tmp_path_factory.mktemp("server")
    env = server_env(folder)
    command = [sys.executable, "-m", "sync_server.cli"]
    for step in (["migrate"], ["seed-demo"]):
        subprocess.run([*command, *step], env=env, cwd=ROOT, check=True, capture_output=True)
    port = free_port()
    with (folder / "serve.log").open("wb") as log:
        process = subprocess.Popen([*command, "serve", "--port", str(port)], env=env, cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _healthy(url):
            assert process.poll() is None, (folder / "serve.log").read_text()
            assert time.monotonic() < deadline, "the server did not answer within 30 s"
            time.sleep(0.1)  # polling the health endpoint with a deadline
        yield DemoServer(url, env)
    finally:
        process.terminate()
        process.wait(10)
