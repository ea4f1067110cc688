#!/usr/bin/env python3
"""Set up ClinicDesk in a local virtual environment and run it.

    python3 run.py demo    # set up, then start the demo (sync server + desk window)
    python3 run.py test    # set up, then run the whole test suite (on every core)
    python3 run.py test tests/some_file.py   # one file: in this process, no workers

Works with Python 3.11+ on Windows, macOS and Linux; the environment lives in
``.venv`` next to this file and is reused (re-installed only when
``pyproject.toml`` changes).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
EXTRAS = "desktop,server,postgres,test,packaging"
PYTEST_NO_TESTS_COLLECTED = 5
WORKERS_ENV = "CLINICDESK_TEST_WORKERS"


def venv_python() -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return VENV / scripts / ("python.exe" if os.name == "nt" else "python")


def ensure_environment() -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036 - the script must explain, not crash
        sys.exit(f"ClinicDesk needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    python = venv_python()
    if not python.exists():
        print(f"Creating the virtual environment in {VENV} …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".clinicdesk-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        print("Installing ClinicDesk and its dependencies (first run takes a few minutes) …",
              flush=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
             "-e", f".[{EXTRAS}]"],
            cwd=ROOT, check=True,
        )
        stamp.write_text(wanted)
    return python


def parallel_options(args: list[str]) -> list[str]:
    """pytest-xdist options for a run of many files: one worker per core (at least two:
    many tests wait on servers, browsers and child processes), whole files per worker so
    a module's server or database is set up once. None when the developer names a single
    file or test, chooses the workers (``-n``/``-p no:xdist``), or sets
    ``CLINICDESK_TEST_WORKERS=0``."""
    configured = os.environ.get(WORKERS_ENV, "").strip()
    workers = int(configured) if configured else max(2, os.cpu_count() or 1)
    chosen = any(arg in {"-n", "--numprocesses", "no:xdist"} or arg.startswith("-n")
                 or arg.startswith("--numprocesses") for arg in args)
    targets = [arg for arg in args if not arg.startswith("-")]
    single = len(targets) == 1 and ("::" in targets[0] or targets[0].endswith(".py"))
    if workers < 2 or chosen or single:
        return []
    # A worker that crashes is not replaced: under loadfile a replaced worker can wait
    # forever for work (pytest-xdist #784, #1327), and the run would hang instead of failing.
    return ["-n", str(workers), "--dist", "loadfile", "--max-worker-restart", "0"]


def run_tests(python: Path, args: list[str]) -> int:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    if env.get("CI"):
        # In CI a missing PostgreSQL, Qt platform plugin or browser fails the run.
        env["CLINICDESK_REQUIRE_ALL"] = "1"
        if not any(arg.startswith("--durations") for arg in args):
            args = [*args, "--durations=30"]  # the suite's time budget: name what spends it
    code = subprocess.run(
        [str(python), "-m", "pytest", *parallel_options(args), *args], cwd=ROOT, env=env,
        check=False
    ).returncode
    if code == PYTEST_NO_TESTS_COLLECTED:
        print("pytest collected no tests: treating that as a failure.", file=sys.stderr)
        return 1
    return code


def run_demo(python: Path, args: list[str]) -> int:
    return subprocess.run(
        [str(python), "-m", "desktop.cli", "demo", *args], cwd=ROOT, check=False
    ).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "setup"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    try:
        python = ensure_environment()
    except subprocess.CalledProcessError as exc:
        print(f"Setting up the environment failed ({exc}). Check the network access to PyPI "
              "and run the command again.", file=sys.stderr)
        return 1
    if command == "test":
        return run_tests(python, rest)
    if command == "demo":
        return run_demo(python, rest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
