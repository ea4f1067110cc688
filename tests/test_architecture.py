"""The one-way import rule of DESIGN §1 (desktop → scheduling ← sync_server) and the
layers inside: the server's routers never import its database, the desk's screens
never import its store, and the domain does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = {"PySide6", "fastapi", "sqlalchemy", "requests", "starlette", "uvicorn", "alembic"}


def imported_top_levels(package: str, root: Path = ROOT) -> dict[str, set[str]]:
    """Map each module file of ``package`` to the top-level packages it imports."""
    found: dict[str, set[str]] = {}
    for path in (root / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(root))] = names
    return found


def violations(package: str, forbidden: set[str], root: Path = ROOT) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in imported_top_levels(package, root).items()
        for name in names & forbidden
    )


def test_scheduling_imports_no_framework_and_no_app_part() -> None:
    assert violations("scheduling", FRAMEWORKS | {"desktop", "sync_server"}) == []


def test_desktop_does_not_import_the_server() -> None:
    assert violations("desktop", {"sync_server"}) == []


def test_server_does_not_import_the_desktop_or_qt() -> None:
    assert violations("sync_server", {"desktop", "PySide6"}) == []


@pytest.mark.parametrize("package", ["scheduling", "desktop", "sync_server"])
def test_the_checker_sees_the_package(package: str) -> None:
    # Guards against the rule passing vacuously because a package moved.
    assert imported_top_levels(package), f"{package} has no modules"


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    (tmp_path / "scheduling").mkdir()
    (tmp_path / "scheduling" / "bad.py").write_text(
        "import sqlalchemy.orm\nfrom fastapi import FastAPI\nfrom . import model\n"
    )
    assert violations("scheduling", FRAMEWORKS, tmp_path) == [
        "scheduling/bad.py imports fastapi",
        "scheduling/bad.py imports sqlalchemy",
    ]


# --------------------------------------------------------------------------- inside the server


def imported_modules(folder: str, root: Path = ROOT) -> dict[str, set[str]]:
    """Map each module file under ``folder`` to the full dotted names it imports
    (``from x.y import z`` gives ``x.y`` and ``x.y.z``; relative imports resolved)."""
    found: dict[str, set[str]] = {}
    for path in (root / folder).rglob("*.py"):
        package = list(path.relative_to(root).parent.parts)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                names.add(module)
                names.update(f"{module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(root))] = names
    return found


def layer_violations(folder: str, forbidden: str, root: Path = ROOT) -> list[str]:
    """Modules under ``folder`` importing ``forbidden`` or anything inside it."""
    return sorted(
        f"{module} imports {name}"
        for module, names in imported_modules(folder, root).items()
        for name in names
        if name == forbidden or name.startswith(f"{forbidden}.")
    )


def test_the_server_api_does_not_import_the_database_layer() -> None:
    """Routers call services; no ORM row or query crosses into ``sync_server/api``."""
    assert imported_modules("sync_server/api"), "sync_server/api has no modules"
    assert layer_violations("sync_server/api", "sync_server.db") == []


def test_the_layer_checker_catches_an_api_module_importing_the_database(tmp_path: Path) -> None:
    api = tmp_path / "sync_server" / "api" / "routes"
    api.mkdir(parents=True)
    (api / "bad.py").write_text(
        "import sync_server.db.session\n"
        "from sync_server.db.models import Device\n"
        "from ...db import models\n"
        "from sync_server.services import booking\n"
    )
    assert layer_violations("sync_server/api", "sync_server.db", tmp_path) == [
        "sync_server/api/routes/bad.py imports sync_server.db",
        "sync_server/api/routes/bad.py imports sync_server.db.models",
        "sync_server/api/routes/bad.py imports sync_server.db.models.Device",
        "sync_server/api/routes/bad.py imports sync_server.db.session",
    ]


# --------------------------------------------------------------------------- inside the desk


def test_the_desk_screens_do_not_import_the_store() -> None:
    """Screens call ``desktop/services``; no session, query or ORM row reaches ``desktop/ui``."""
    assert imported_modules("desktop/ui"), "desktop/ui has no modules"
    assert layer_violations("desktop/ui", "desktop.store") == []


def test_the_layer_checker_catches_a_screen_importing_the_store(tmp_path: Path) -> None:
    screens = tmp_path / "desktop" / "ui" / "agenda"
    screens.mkdir(parents=True)
    (screens / "bad.py").write_text(
        "import desktop.store.engine\n"
        "from desktop.store.models import AppointmentRow\n"
        "from ...store import errors\n"
        "from desktop.services import agenda\n"
    )
    assert layer_violations("desktop/ui", "desktop.store", tmp_path) == [
        "desktop/ui/agenda/bad.py imports desktop.store",
        "desktop/ui/agenda/bad.py imports desktop.store.engine",
        "desktop/ui/agenda/bad.py imports desktop.store.errors",
        "desktop/ui/agenda/bad.py imports desktop.store.models",
        "desktop/ui/agenda/bad.py imports desktop.store.models.AppointmentRow",
    ]


# --------------------------------------------------------------------------- the domain does no I/O

#: Standard-library and client modules whose only use is reaching files, the environment,
#: processes or the network. ``scheduling`` is handed what it needs by its callers.
IO_MODULES = {"os", "io", "pathlib", "socket", "requests", "sqlite3", "subprocess", "shutil",
              "tempfile", "glob", "urllib", "http", "httpx", "ssl", "select", "selectors"}


#: In-memory buffers are no I/O (a catalogue's bytes are parsed through one).
IN_MEMORY = {"BytesIO", "StringIO"}


def io_violations(package: str, root: Path = ROOT) -> list[str]:
    """Modules of ``package`` importing an I/O module or calling the built-in ``open``."""
    found: set[str] = set()
    for path in (root / package).rglob("*.py"):
        module = path.relative_to(root)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                in_memory = node.module == "io" and {a.name for a in node.names} <= IN_MEMORY
                names = set() if in_memory else {node.module.split(".")[0]}
            else:
                names = set()
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == "open"):
                    found.add(f"{module} calls open()")
            found.update(f"{module} imports {name}" for name in names & IO_MODULES)
    return sorted(found)


def test_scheduling_does_no_file_environment_or_network_io() -> None:
    assert io_violations("scheduling") == []


def test_the_io_checker_catches_a_domain_module_reaching_outside(tmp_path: Path) -> None:
    (tmp_path / "scheduling").mkdir()
    (tmp_path / "scheduling" / "bad.py").write_text(
        "import os.path\n"
        "from pathlib import Path\n"
        "import socket\n"
        "from io import BytesIO, open as io_open\n"
        "def catalogue():\n"
        "    with open('messages.mo', 'rb') as stream:\n"
        "        return stream.read()\n"
    )
    assert io_violations("scheduling", tmp_path) == [
        "scheduling/bad.py calls open()",
        "scheduling/bad.py imports io",
        "scheduling/bad.py imports os",
        "scheduling/bad.py imports pathlib",
        "scheduling/bad.py imports socket",
    ]
