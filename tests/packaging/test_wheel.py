"""The wheel a server or a desk is installed from carries the catalogue and the resources."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(ROOT)], check=True, cwd=out)
    (built,) = out.glob("clinicdesk-*.whl")
    return built


def test_the_wheel_carries_the_compiled_catalogue_and_the_icon(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "scheduling/translations/es/LC_MESSAGES/clinicdesk.mo" in names
    assert "desktop/resources/icons/clinicdesk.svg" in names
    assert "desktop/store/migrations/versions/0001_initial_desk_schema.py" in names
    assert "sync_server/db/migrations/env.py" in names


def test_a_spanish_desk_installed_from_the_wheel_speaks_spanish(
    wheel: Path, tmp_path: Path,
) -> None:
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    probe = (
        "import scheduling, desktop.translations as i18n;"
        "print(scheduling.__file__);"
        "print(i18n.translations('es').gettext('Sign in to ClinicDesk'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "CLINICDESK_TRANSLATIONS_DIR"}
    env["PYTHONPATH"] = str(installed)  # ahead of the development install
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=True)
    module, spanish = done.stdout.splitlines()
    assert Path(module).is_relative_to(installed)
    assert spanish == "Iniciar sesión en ClinicDesk"
