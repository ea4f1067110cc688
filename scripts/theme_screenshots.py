"""Save the agenda in the light and the dark palette, English and Spanish, at 1600×1000
and 1280×800, from the real demo desk (dark mode, issue 20).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/theme_screenshots.py \
        [--out /tmp/clinicdesk-theme] [--docs docs/screenshots]

Every picture goes to ``--out``; the dark English week at 1600×1000 also to ``--docs``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from PySide6.QtWidgets import QApplication  # noqa: E402
from screenshots import save, shown_day, window_for  # noqa: E402

from desktop import demo  # noqa: E402
from desktop.ui.text import set_language  # noqa: E402
from desktop.ui.theme import dark_palette  # noqa: E402

SIZES = ((1600, 1000), (1280, 800))
DOCS_PICTURE = "agenda-dark-en-1600x1000.png"


def capture(out: Path, docs: Path) -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setStyle("Fusion")
    light = app.palette()
    day = shown_day(datetime.now(UTC).date())
    with tempfile.TemporaryDirectory(prefix="clinicdesk-shots-") as folder:
        environment = demo.start(Path(folder), 1, progress=lambda _text: None)
        try:
            window = window_for(environment.desks[0], Path(folder), day)
            for mode, palette in (("light", light), ("dark", dark_palette())):
                app.setPalette(palette)
                for language in ("en", "es"):
                    set_language(language)
                    for width, height in SIZES:
                        window.resize(width, height)
                        window.set_days(7)
                        save(window, out, f"agenda-{mode}-{language}-{width}x{height}.png")
                    window.set_days(1)
                    save(window, out, f"agenda-day-{mode}-{language}-1280x800.png")
            set_language("en")
            app.setPalette(light)
            window.close()
        finally:
            environment.close()
    shutil.copy(out / DOCS_PICTURE, docs / DOCS_PICTURE)
    print(f"saved {docs / DOCS_PICTURE}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir())
                        / "clinicdesk-theme")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    capture(args.out, args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
