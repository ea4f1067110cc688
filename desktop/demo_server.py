"""The demo's sync server child: started first, before the desk has even imported Qt.

Only the standard library is used here, so ``clinicdesk demo`` can launch the
server (1–2 s to import and start) and let it boot while the desk imports its
own code and opens its window (:mod:`desktop.demo` finishes the job).

The first demo of the day (per version and number of desks) migrates and seeds
a fresh SQLite database; :mod:`desktop.demo` then enrolls the desks and keeps
a snapshot of the folder in the user cache folder (``CLINICDESK_DEMO_CACHE``
overrides it). A later demo copies the snapshot instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

from desktop.version import desk_version

APP_NAME = "ClinicDesk"  # the same as desktop.config.APP_NAME (not imported: it is heavier)
DEMO_CACHE_ENV = "CLINICDESK_DEMO_CACHE"
READY_MARK = "ready"


@dataclass
class ServerLaunch:
    """A demo folder with its server child starting; ``prepared``: copied from a snapshot."""

    folder: Path
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    desks: int
    prepared: bool
    snapshot: Path
    codes: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: The desk bundle's dispatcher runs the sync server CLI for this first argument
#: (``packaging/clinicdesk_entry.py``); from source the child is ``python -m``.
BUNDLE_SERVER_FLAG = "--sync-server"


#: The console twin of a windowed bundle (Windows, macOS): its standard output works, so
#: the server child's codes and errors reach the demo (``packaging/desktop.spec``).
CONSOLE_TWIN = "clinicdesk-cli.exe" if os.name == "nt" else "clinicdesk-cli"
#: No console window flashes up for the child on Windows.
NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)


def server_command(*args: str) -> list[str]:
    """The command line of a sync server child, from source or from a desk bundle."""
    if getattr(sys, "frozen", False):
        twin = Path(sys.executable).with_name(CONSOLE_TWIN)
        executable = str(twin) if twin.is_file() else sys.executable
        return [executable, BUNDLE_SERVER_FLAG, *args]
    return [sys.executable, "-m", "sync_server.cli", *args]


class DemoServerError(RuntimeError):
    """The demo's sync server child failed; the message quotes the end of its output."""


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run_server_command(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(server_command(*args), env=env, capture_output=True, text=True,
                          check=False, creationflags=NO_WINDOW)
    if done.returncode != 0:
        raise DemoServerError(
            f"the demo sync server command '{args[0]}' failed (exit code {done.returncode}):\n"
            f"{_tail(done.stderr or done.stdout)}")
    return done.stdout


#: The migration trees whose revisions a prepared demo was made with (read as files:
#: the desk never imports the server's code).
_MIGRATION_TREES = (("sync_server", "db", "migrations", "versions"),
                    ("desktop", "store", "migrations", "versions"))


def _schema_mark() -> str:
    """A short fingerprint of the migrations shipped with this build: a demo prepared by
    a build with other migrations (another branch, an upgrade the same day) is not reused."""
    root = Path(__file__).resolve().parents[1]
    names = sorted(f"{'/'.join(tree)}/{path.name}" for tree in _MIGRATION_TREES
                   for path in root.joinpath(*tree).glob("*.py"))
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:10]


def demo_cache_dir() -> Path:
    """Where the day's prepared demo is kept (per version, migrations and date)."""
    configured = os.environ.get(DEMO_CACHE_ENV, "").strip()
    base = (Path(configured) if configured
            else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "demo")
    return base / f"{desk_version()}-{_schema_mark()}-{datetime.now(UTC).date().isoformat()}"


def launch(folder: Path, desks: int = 1, progress: Callable[[str], None] = print,
           ) -> ServerLaunch:
    """Fill ``folder`` (copy today's snapshot, or migrate and seed) and start the server."""
    env = dict(os.environ)
    env["CLINICDESK_DATABASE_URL"] = f"sqlite:///{folder / 'server.db'}"
    env["CLINICDESK_DATA_DIR"] = str(folder / "server")
    (folder / "server").mkdir(parents=True, exist_ok=True)
    snapshot = demo_cache_dir() / f"{desks}-desks"
    prepared = (snapshot / READY_MARK).is_file()
    codes: list[str] = []
    if prepared:
        progress("Copying today's prepared demo …")
        shutil.copytree(snapshot, folder, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(READY_MARK))
    else:
        progress("Preparing the demo sync server (the first demo of the day) …")
        _run_server_command(env, "migrate")
        seeded = _run_server_command(env, "seed-demo")
        codes = [line.split()[-1] for line in seeded.splitlines() if "enrollment code" in line]
    port = _free_port()
    # Notifications: the worker runs inside the demo server; nothing is sent until an
    # administrator enables a channel (docs/notifications.md, "The demo").
    env["CLINICDESK_RUN_WORKER"] = "1"
    env["CLINICDESK_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    log_path = folder / "server.log"
    with log_path.open("wb") as server_log:  # the child keeps its own handle
        process = subprocess.Popen(
            server_command("serve", "--host", "127.0.0.1", "--port", str(port)), env=env,
            stdout=server_log, stderr=subprocess.STDOUT, creationflags=NO_WINDOW,
        )
    return ServerLaunch(folder, f"http://127.0.0.1:{port}", process, log_path, desks,
                        prepared, snapshot, codes)


def wait_for(launched: ServerLaunch, timeout: float = 30.0) -> None:
    """Return once the server answers its health check; DemoServerError if it stopped."""
    _wait_for(launched.url, launched.process, launched.log_path, timeout)


def _wait_for(url: str, server: subprocess.Popen[bytes], log_path: Path,
              timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise DemoServerError(
                f"the demo sync server stopped at start (exit code {server.returncode}):\n"
                f"{_tail(log_path.read_text(errors='replace'))}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # polling the server's health with a deadline
    raise DemoServerError("the demo sync server did not start within 30 seconds:\n"
                          f"{_tail(log_path.read_text(errors='replace'))}")


