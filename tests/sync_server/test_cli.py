"""``clinicdesk-server`` commands, called in-process: exit codes and messages."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sync_server.cli import YOUNG_GENERATION_THRESHOLD, main
from sync_server.db.models import AuditEntry, Organization
from sync_server.services import devices


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINICDESK_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("CLINICDESK_ARGON2_TIME_COST", "1")


def run(database_url: str, *args: str) -> int:
    return main(["--database-url", database_url, *args])


def new_org(database_url: str) -> str:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    assert run(database_url, "create-org", "CLI Clinic", "--slug", slug) == 0
    return slug


def test_migrate_creates_a_new_sqlite_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alembic.script import ScriptDirectory

    from sync_server.db.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'new.db'}"
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert main(["--database-url", url, "migrate"]) == 0
    assert f"is at revision {head}" in capsys.readouterr().out


def test_migrate_is_idempotent(database_url: str) -> None:
    assert run(database_url, "migrate") == 0


def test_commands_on_an_unmigrated_database_say_to_migrate_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database-url", f"sqlite:///{tmp_path / 'empty.db'}", "create-org", "X"]) == 1
    assert "run 'clinicdesk-server migrate' first" in capsys.readouterr().err


def test_create_org_refuses_a_duplicate_slug_without_a_traceback(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    slug = new_org(database_url)
    assert run(database_url, "create-org", "Again", "--slug", slug) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "Traceback" not in err


def test_create_user_reads_the_password_from_stdin(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    slug = new_org(database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    code = run(
        database_url,
        "create-user",
        "--org",
        slug,
        "desk@clinic.example",
        "--role",
        "receptionist",
        "--password-stdin",
    )
    assert code == 0
    assert "desk@clinic.example" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("org", "role", "password", "message"),
    [
        ("no-such-org", "viewer", "a long enough password", "No organization"),
        (None, "janitor", "a long enough password", "Unknown role"),
        (None, "viewer", "short", "at least 10 characters"),
    ],
)
def test_create_user_explains_what_is_wrong(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    org: str | None,
    role: str,
    password: str,
    message: str,
) -> None:
    slug = org or new_org(database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    code = run(
        database_url,
        "create-user",
        "--org",
        slug,
        "x@clinic.example",
        "--role",
        role,
        "--password-stdin",
    )
    assert code == 1
    assert message in capsys.readouterr().err


def test_enroll_code_prints_a_code_that_enrolls_a_desk_once(
    database_url: str, db: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    slug = new_org(database_url)
    capsys.readouterr()
    assert run(database_url, "enroll-code", "--org", slug, "--ttl-hours", "2") == 0
    code = capsys.readouterr().out.strip()
    enrolled = devices.enroll(db, code, "Desk", datetime.now(UTC))
    assert enrolled.client_id


def test_revoke_device_revokes_by_client_id(
    database_url: str, db: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    slug = new_org(database_url)
    capsys.readouterr()
    run(database_url, "enroll-code", "--org", slug)
    enrolled = devices.enroll(db, capsys.readouterr().out.strip(), "Desk", datetime.now(UTC))
    db.close()
    assert run(database_url, "revoke-device", "--org", slug, enrolled.client_id) == 0
    assert run(database_url, "revoke-device", "--org", slug, str(uuid.uuid4())) == 1


def test_verify_audit_passes_an_untouched_log_and_names_a_tampered_entry(
    database_url: str, db: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    slug = new_org(database_url)
    assert run(database_url, "verify-audit", "--org", slug) == 0
    org_id = db.scalars(select(Organization.id).where(Organization.slug == slug)).one()
    db.execute(
        update(AuditEntry)
        .where(AuditEntry.organization_id == org_id, AuditEntry.seq == 1)
        .values(reason="edited")
    )
    db.commit()
    capsys.readouterr()
    assert run(database_url, "verify-audit", "--org", slug) == 1
    out = capsys.readouterr().out
    assert "TAMPERED" in out and "entry #1" in out


def test_seed_demo_runs_once_and_refuses_a_second_time(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(database_url, "seed-demo") == 0
    assert "desk enrollment code" in capsys.readouterr().out
    assert run(database_url, "seed-demo") != 0
    assert "already exists" in capsys.readouterr().err


def test_an_unknown_command_is_a_usage_error() -> None:
    assert main(["frobnicate"]) == 2


def test_the_serving_process_freezes_its_startup_heap_and_collects_young_objects_later() -> None:
    # In a process of its own: the collector's settings are the whole process's.
    probe = ("import gc\n"
             "from sync_server.cli import tune_collector_for_serving\n"
             "before = gc.get_threshold()\n"
             "tune_collector_for_serving()\n"
             "print(before[0], gc.get_threshold()[0], gc.get_freeze_count() > 1000)\n")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, timeout=120).stdout.split()
    assert shown == ["700", str(YOUNG_GENERATION_THRESHOLD), "True"]
