"""Desk cold start: the bundle next to running from source, and the demo, to a usable agenda.

    python bench/cold_start.py [--bundle dist/ClinicDesk/ClinicDesk] [--runs 3]

One demo sync server (from source, SQLite in a temporary folder) and one
enrolled desk data folder are prepared first. Then each run starts a fresh
process of ``ClinicDesk self-test`` (sign in, open the window, first sync, the
week's agenda) and stops the clock when it prints ``AGENDA READY``: the
bundle's executable and ``python -m desktop.cli`` from source, alternating, in
the same run (and, on the way, when the sign-in screen shows: the cold start
proper, before the online sign-in and the first sync). Goal: bundle ≤ 2 s and
≤ 1.2× source. The first bundle start
after it was built is the coldest (files not yet in the OS cache); it is
printed apart. Last, ``clinicdesk demo`` from source, from the command to
``ClinicDesk demo ready`` (goal ≤ 5 s once the environment exists), twice:
the first may prepare the day's demo database, the second copies it.

Without ``--bundle`` the bundle is built first (PyInstaller, timed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.packaging.conftest import (  # noqa: E402 - the repository's own test helpers
    DEMO_PASSWORD,
    RECEPTIONIST,
    build_bundle,
    free_port,
    server_env,
)

PASSPHRASE = "bench recovery passphrase"
FIRST_MARKS: list[float] = []


def timed_until(command: list[str], marker: str, env: dict[str, str], cwd: Path,
                timeout: float = 120.0, first: str | None = None) -> float:
    """Seconds from starting ``command`` until a stdout line contains ``marker``
    (with ``first``: the seconds until that earlier marker go to ``FIRST_MARKS``)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if first is not None and first in line:
                FIRST_MARKS.append(time.perf_counter() - started)
            if marker in line:
                return time.perf_counter() - started
        raise RuntimeError(f"{command[0]} ended without printing {marker!r}")
    finally:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clinicdesk-cold-") as scratch:
        work = Path(scratch)
        bundle = args.bundle
        if bundle is None:
            started = time.perf_counter()
            bundle = build_bundle(work / "dist", work / "build")
            print(f"bundle build                       {time.perf_counter() - started:6.1f} s")
        env = server_env(work / "server")
        (work / "server").mkdir()
        server = [sys.executable, "-m", "sync_server.cli"]
        subprocess.run([*server, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([*server, "seed-demo"], env=env, check=True, capture_output=True)
        port = free_port()
        serving = subprocess.Popen([*server, "serve", "--port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            code = subprocess.run([*server, "enroll-code", "--org", "demo"], env=env,
                                  check=True, capture_output=True, text=True).stdout.strip()
            desk_env = dict(os.environ, CLINICDESK_DESK_DIR=str(work / "desk" / "data"),
                            QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(work / "config"),
                            CLINICDESK_SELF_TEST_PASSWORD=DEMO_PASSWORD,
                            CLINICDESK_SELF_TEST_PASSPHRASE=PASSPHRASE, PYTHONPATH=str(ROOT))
            common = ["self-test", "--email", RECEPTIONIST,
                      "--file-keyring", str(work / "desk" / "keyring.json")]
            (work / "desk").mkdir()
            source = [sys.executable, "-m", "desktop.cli"]
            for _attempt in range(60):  # the server is starting: enroll once it answers
                done = subprocess.run([*source, *common, "--server", url, "--code", code],
                                      env=desk_env, cwd=work, capture_output=True, text=True,
                                      check=False)
                if done.returncode == 0:
                    break
                time.sleep(0.5)  # the server is not up yet (bounded retries)
            else:
                raise RuntimeError(f"enrollment failed: {done.stdout[-500:]}")
            first = timed_until([str(bundle), *common], "AGENDA READY", desk_env, work)
            timings: dict[str, list[float]] = {"source": [], "bundle": []}
            screens: dict[str, list[float]] = {"source": [], "bundle": []}
            for _run in range(args.runs):
                for kind, command in (("source", source), ("bundle", [str(bundle)])):
                    FIRST_MARKS.clear()
                    timings[kind].append(timed_until([*command, *common], "AGENDA READY",
                                                     desk_env, work, first="SIGN-IN SHOWN"))
                    screens[kind].extend(FIRST_MARKS)
        finally:
            serving.terminate()
            serving.wait(10)
        first_src, first_bun = (statistics.median(screens[k]) for k in ("source", "bundle"))
        print(f"source start to sign-in screen     {first_src:6.2f} s")
        print(f"bundle start to sign-in screen     {first_bun:6.2f} s   "
              f"{first_bun / first_src:.2f} x source")
        src, bun = (statistics.median(timings[k]) for k in ("source", "bundle"))
        print(f"bundle first start to agenda       {first:6.2f} s")
        print(f"source start to agenda (median)    {src:6.2f} s  "
              f"({', '.join(f'{t:.2f}' for t in timings['source'])})")
        print(f"bundle start to agenda (median)    {bun:6.2f} s  "
              f"({', '.join(f'{t:.2f}' for t in timings['bundle'])})   goal <= 2 s")
        print(f"bundle / source                    {bun / src:6.2f} x   goal <= 1.2 x")
        demo_env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
                        XDG_CONFIG_HOME=str(work / "config"), PYTHONPATH=str(ROOT))
        for label in ("first", "second"):
            seconds = timed_until([sys.executable, "-m", "desktop.cli", "demo"],
                                  "ClinicDesk demo ready", demo_env, work)
            print(f"demo to usable agenda ({label:6})    {seconds:6.2f} s   goal <= 5 s   "
                  f"{seconds / src:.2f} x one desk from source")


if __name__ == "__main__":
    main()
