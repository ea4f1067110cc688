"""What the demo shows while its server prepares (~10 s): a small window with progress.

The demo's steps (start the server, seed it, enroll each desk) report through
:meth:`DemoSplash.advance`, which repaints at once, so the screen is never empty
while the user waits. The password the demo desks use is said here too.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QProgressBar, QVBoxLayout, QWidget

from desktop.ui.text import _
from desktop.ui.theme import hint_style, set_heading


def demo_hint(email: str, password: str) -> str:
    """The demo's sign-in line, in the current language."""
    return _("Demo: sign in as {email} with the password {password}").format(
        email=email, password=password)


class DemoSplash(QWidget):
    """A frameless window: what is being prepared, a progress bar, the demo password."""

    def __init__(self, steps: int, hint: str) -> None:
        super().__init__(None, Qt.WindowType.SplashScreen | Qt.WindowType.WindowStaysOnTopHint)
        self.title = QLabel(_("Preparing the ClinicDesk demo…"), self)
        set_heading(self.title, 1.55)
        self.detail = QLabel(_("Starting a sync server with a demo clinic and enrolling the "
                               "desks. This takes about ten seconds."), self)
        self.detail.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, steps)
        self.hint = QLabel(hint, self)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(hint_style())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        for widget in (self.title, self.detail, self.progress, self.hint):
            layout.addWidget(widget)
        self.resize(480, 180)
        #: Whether the splash was on screen at each step (for tests and logs).
        self.seen_at_steps: list[bool] = []

    def advance(self, _step_text: str = "") -> None:
        """One step done: move the bar and repaint now (the caller blocks the UI thread)."""
        self.progress.setValue(min(self.progress.maximum(), self.progress.value() + 1))
        self.seen_at_steps.append(self.isVisible())
        QApplication.processEvents()


__all__ = ["DemoSplash", "demo_hint"]
