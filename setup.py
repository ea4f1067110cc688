"""Build hook: the wheel carries the compiled gettext catalogue as package data.

Everything else is declared in ``pyproject.toml``. ``translations/`` (the
``.po`` sources) sits outside every package, so ``build_py`` compiles it into
``scheduling/translations/`` of the build (see ``translations/compile.py``);
an editable install reads the sources in place instead.
"""

from __future__ import annotations

import importlib.util
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
        catalogue.compile_catalogue(Path(self.build_lib) / "scheduling" / "translations",
                          ROOT / "translations")


setup(cmdclass={"build_py": BuildWithCatalogue})
