"""The desk as a clinic installs it: the PyInstaller bundle (and the same run from source).

Each run is ``ClinicDesk self-test``: the real start-up screens driven
unattended offscreen against a real sync server: enrollment, sign-in, one
sync, the week's agenda. English and Spanish; with the key store entry of the
database key present, and gone (the recovery passphrase unlocks the desk and
writes the entry again). The ``bundle`` marker selects what CI's packaging step
runs; the ``source`` runs prove the same flow without a build.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.store.keys import KEYRING_SERVICE, read_keyfile
from desktop.translations import translations
from tests.packaging.conftest import DEMO_PASSWORD, RECEPTIONIST, ROOT, DemoServer, server_env

PASSPHRASE = "the clinic's recovery passphrase"
RUNNERS = ["source", pytest.param("bundle", marks=pytest.mark.bundle)]


def desk_command(runner: str, request: pytest.FixtureRequest) -> list[str]:
    if runner == "bundle":
        return [str(request.getfixturevalue("bundle"))]
    return [sys.executable, "-m", "desktop.cli"]


def self_test(command: list[str], desk: Path, *args: str, language: str = "en",
              passphrase: str = PASSPHRASE) -> tuple[int, dict[str, object], str]:
    env = dict(os.environ)
    # XDG_CONFIG_HOME: the window settings (and the language they keep) start empty.
    env.update(CLINICDESK_DESK_DIR=str(desk / "data"), QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(desk / "config"),
               CLINICDESK_SELF_TEST_PASSWORD=DEMO_PASSWORD,
               CLINICDESK_SELF_TEST_PASSPHRASE=passphrase)
    env.pop("CLINICDESK_TRANSLATIONS_DIR", None)
    if command[0] == sys.executable:  # from source; a bundle must find everything inside
        env["PYTHONPATH"] = str(ROOT)
    else:
        env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [*command, "self-test", "--email", RECEPTIONIST, "--language", language,
         "--file-keyring", str(desk / "keyring.json"), *args],
        env=env, cwd=desk, capture_output=True, text=True, timeout=180, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no report (exit {done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}"
    return done.returncode, json.loads(lines[-1]), done.stdout


def enroll(command: list[str], desk: Path, server: DemoServer, language: str = "en",
           ) -> dict[str, object]:
    code, report, stdout = self_test(command, desk, "--server", server.url,
                                     "--code", server.enrollment_code(), language=language)
    assert code == 0, json.dumps(report)  # whole (pytest cuts a dict short)
    assert "AGENDA READY" in stdout
    return report


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("language", ["en", "es"])
def test_the_desk_enrolls_syncs_and_shows_the_agenda_in_its_language(
    runner: str, language: str, demo_server: DemoServer, tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    report = enroll(desk_command(runner, request), tmp_path, demo_server, language)

    catalogue = translations(language)
    assert report["unlocked_with"] == "key store"
    assert int(report["appointments_shown"]) > 0  # type: ignore[call-overload]
    assert report["sign_in_title"] == catalogue.gettext("Sign in to ClinicDesk")
    assert report["qt_cancel"] == {"en": "Cancel", "es": "Cancelar"}[language]
    if language == "es":
        assert report["sign_in_title"] != "Sign in to ClinicDesk"
    log_text = (tmp_path / "data" / "logs" / "desk.log").read_text(encoding="utf-8")
    assert "ClinicDesk desk" in log_text  # the version line of every start
    assert DEMO_PASSWORD not in log_text and PASSPHRASE not in log_text


def _forget_database_key(desk: Path) -> str:
    """Remove the database key's entry from the desk's key store (as a profile reset does)."""
    store_id = read_keyfile(desk / "data" / "desk.db.keys.json").store_id
    keyring_file = desk / "keyring.json"
    entries = json.loads(keyring_file.read_text())
    del entries[f"{KEYRING_SERVICE}|{store_id}"]
    keyring_file.write_text(json.dumps(entries))
    return store_id


@pytest.mark.parametrize("runner", RUNNERS)
def test_without_its_key_the_desk_opens_with_the_recovery_passphrase_and_restores_the_key(
    runner: str, demo_server: DemoServer, tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    command = desk_command(runner, request)
    enroll(command, tmp_path, demo_server)
    store_id = _forget_database_key(tmp_path)
    database = tmp_path / "data" / "desk.db"
    before = hashlib.sha256(database.read_bytes()).hexdigest()

    code, wrong, _out = self_test(command, tmp_path, passphrase="not the passphrase at all")
    assert code == 1
    assert "not correct" in str(wrong["failed"])
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before

    code, report, _out = self_test(command, tmp_path, language="es")
    assert code == 0, json.dumps(report)  # whole (pytest cuts a dict short)
    assert report["unlocked_with"] == "recovery passphrase"
    assert "almacén de claves" in str(report["recovery_problem"]).lower()
    assert int(report["appointments_shown"]) > 0  # type: ignore[call-overload]
    entries = json.loads((tmp_path / "keyring.json").read_text())
    assert f"{KEYRING_SERVICE}|{store_id}" in entries  # written again: next start needs none


@pytest.mark.bundle
def test_two_desks_cannot_share_a_data_folder(bundle: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    (tmp_path / "data").mkdir()
    holder = FileLock(str(tmp_path / "data" / "desk.lock"), timeout=0)
    with holder:
        done = subprocess.run(
            [str(bundle), "self-test", "--email", RECEPTIONIST], env={
                **os.environ, "CLINICDESK_DESK_DIR": str(tmp_path / "data"),
                "QT_QPA_PLATFORM": "offscreen"},
            capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "already running" in done.stderr


@pytest.mark.bundle
def test_the_bundled_demo_starts_its_server_child_through_the_dispatcher(
    bundle: Path, tmp_path: Path,
) -> None:
    env = server_env(tmp_path)
    done = subprocess.run([str(bundle), "--sync-server", "migrate"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "is at revision" in done.stdout
    failed = subprocess.run([str(bundle), "--sync-server", "enroll-code", "--org", "nowhere"],
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert failed.returncode == 1
    assert "nowhere" in failed.stderr  # the child's own error, not a bare exit code


@pytest.mark.bundle
def test_the_bundled_demo_opens_its_window(bundle: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(bundle), "demo", "--screenshot", str(tmp_path)],
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "demo-desk-1.png").stat().st_size > 10_000


def test_when_the_key_store_lost_everything_the_desk_unlocks_then_asks_to_connect_again(
    demo_server: DemoServer, tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    command = desk_command("source", request)
    enroll(command, tmp_path, demo_server)
    (tmp_path / "keyring.json").unlink()  # database key and server credential both gone

    code, report, _out = self_test(command, tmp_path)
    assert code == 1
    assert report["unlocked_with"] == "recovery passphrase"
    assert "not enrolled" in str(report["failed"])  # after unlocking it asks for a new code

    code, report, _out = self_test(command, tmp_path, "--server", demo_server.url,
                                   "--code", demo_server.enrollment_code())
    assert code == 0, json.dumps(report)  # whole (pytest cuts a dict short)
    assert report["unlocked_with"] == "key store"  # the unlock wrote the key back
    assert int(report["appointments_shown"]) > 0  # type: ignore[call-overload]
