"""Build hook: the wheel carries the compiled gettext catalogue and the desk's resources.

Everything else is declared in ``pyproject.toml``. ``translations/`` (the
``.po`` sources) and ``resources/`` sit outside every package, so ``build_py``
compiles the first into ``scheduling/translations/`` of the build (see
``translations/compile.py``) and copies the second to ``desktop/resources/``
(see ``desktop/assets.py``); an editable install reads both in place instead.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCatalogue(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        spec = importlib.util.spec_from_file_location(
            "clinicdesk_catalogue", ROOT / "translations" / "compile.py")
        assert spec is not None and spec.loader is not None
        catalogue = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(catalogue)
        build = Path(self.build_lib)
        catalogue.compile_catalogue(build / "scheduling" / "translations", ROOT / "translations")
        shutil.copytree(ROOT / "resources", build / "desktop" / "resources",
                        ignore=shutil.ignore_patterns("*.py", "__pycache__"), dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithCatalogue})
