"""Colours and fonts from the platform: the application's palette (light or dark) and font.

Nothing on the desk hard-codes a light background or a point size: backgrounds, grid
lines and text come from :class:`QPalette` roles (or a blend of two of them), accent
colours keep their hue but are picked for the palette's lightness, and text on a
coloured block is black or white, whichever contrasts more (WCAG 2 contrast ratio).
Sizes are multiples of the application font, so a large system font or a high-DPI
screen scales the agenda's text with everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QWidget

_BLACK = QColor(0, 0, 0)
_WHITE = QColor(255, 255, 255)


def mix(first: QColor, second: QColor, amount: float) -> QColor:
    """``first`` moved ``amount`` (0..1) of the way towards ``second``."""
    keep = 1.0 - amount
    return QColor.fromRgbF(first.redF() * keep + second.redF() * amount,
                           first.greenF() * keep + second.greenF() * amount,
                           first.blueF() * keep + second.blueF() * amount)


def luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance (0 black .. 1 white)."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    return (0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF())
            + 0.0722 * linear(colour.blueF()))


def contrast(first: QColor, second: QColor) -> float:
    """WCAG 2 contrast ratio of two colours (1 .. 21; body text needs 4.5)."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_on(fill: QColor) -> QColor:
    """Black or white, whichever reads better on ``fill`` (always at least 4.5:1)."""
    return _BLACK if contrast(_BLACK, fill) >= contrast(_WHITE, fill) else _WHITE


def palette() -> QPalette:
    return QGuiApplication.palette()


def is_dark(colours: QPalette | None = None) -> bool:
    """Whether the palette draws light text on a dark base (a dark mode)."""
    colours = colours or palette()
    return colours.color(QPalette.ColorRole.Base).lightness() < 128


def readable(colour: QColor, background: QColor, minimum: float = 4.5) -> QColor:
    """``colour``'s hue, lightened or darkened until it reads on ``background``."""
    towards = _WHITE if luminance(background) < 0.18 else _BLACK
    shade = QColor(colour)
    step = 0
    while contrast(shade, background) < minimum and step < 10:
        step += 1
        shade = mix(colour, towards, step / 10)
    return shade


#: Accent hues (their light-mode shade); :func:`accent` adapts them to the palette.
ERROR = QColor("#b3261e")
SUCCESS = QColor("#1b5e20")
WARNING = QColor("#8a4b00")
LINK = QColor("#1a73e8")


def accent(colour: QColor, colours: QPalette | None = None, *, minimum: float = 4.5) -> QColor:
    """An accent colour readable on the window background of the palette (text needs
    4.5:1; an outline or a marker 3:1)."""
    colours = colours or palette()
    return readable(colour, colours.color(QPalette.ColorRole.Window), minimum)


def text_style(colour: QColor, *, bold: bool = False) -> str:
    """A style sheet fragment colouring a label with an accent (readable in light and
    dark palettes)."""
    return f"color: {accent(colour).name()};" + (" font-weight: bold;" if bold else "")


def hint_style() -> str:
    """Secondary text: the palette's text, part way to the window colour (still 4.5:1)."""
    colours = palette()
    window = colours.color(QPalette.ColorRole.Window)
    hint = readable(mix(colours.color(QPalette.ColorRole.WindowText), window, 0.4), window)
    return f"color: {hint.name()};"


def scaled_font(factor: float, *, bold: bool = False, base: QFont | None = None) -> QFont:
    """The application font (or ``base``) times ``factor``, in its own unit (points or
    pixels), so it follows the system's font size and the screen's DPI."""
    font = QFont(base if base is not None else QGuiApplication.font())
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * factor)
    elif font.pixelSize() > 0:
        font.setPixelSize(max(1, round(font.pixelSize() * factor)))
    if bold:
        font.setBold(True)
    return font


def set_heading(widget: QWidget, factor: float = 1.5) -> None:
    """Show ``widget``'s text as a heading: bold, ``factor`` times the application font."""
    widget.setFont(scaled_font(factor, bold=True))


def dark_palette() -> QPalette:
    """A dark mode as the platforms ship one (Windows, macOS and KDE differ only in
    shades): for tests and screenshots where the platform gives none."""
    role = QPalette.ColorRole
    shades = {role.Window: "#202124", role.WindowText: "#e8eaed", role.Base: "#121212",
              role.AlternateBase: "#1e1e1e", role.Text: "#e8eaed", role.Button: "#303134",
              role.ButtonText: "#e8eaed", role.Highlight: "#8ab4f8",
              role.HighlightedText: "#202124", role.PlaceholderText: "#9aa0a6",
              role.ToolTipBase: "#303134", role.ToolTipText: "#e8eaed", role.Mid: "#5f6368",
              role.Light: "#5f6368", role.Dark: "#0b0b0b", role.BrightText: "#ffffff",
              role.Link: "#8ab4f8"}
    colours = QPalette()
    for which, shade in shades.items():
        colours.setColor(which, QColor(shade))
    return colours


@dataclass(frozen=True, slots=True)
class AgendaColours:
    """The agenda's colours for one palette (read at every build of the scene)."""

    window: QColor
    working: QColor
    closed: QColor
    text: QColor
    header: QColor
    header_edge: QColor
    hour_line: QColor
    column_edge: QColor
    day_end: QColor
    selected: QColor
    reason: QColor
    blocked: QColor
    outage: QColor
    hatch: QColor
    holiday: QColor
    holiday_text: QColor
    dark: bool

    @classmethod
    def of(cls, colours: QPalette | None = None) -> AgendaColours:
        colours = colours or palette()
        role = QPalette.ColorRole
        base, text = colours.color(role.Base), colours.color(role.Text)
        window = colours.color(role.Window)
        highlight = colours.color(role.Highlight)
        holiday = mix(base, QColor("#c87878"), 0.3)
        return cls(
            window=window,
            working=base,
            closed=mix(base, text, 0.1),
            text=text,
            header=mix(base, highlight, 0.08),
            header_edge=mix(base, text, 0.6),
            hour_line=mix(base, text, 0.2),
            column_edge=mix(base, text, 0.3),
            day_end=mix(base, text, 0.65),
            selected=highlight,
            reason=mix(text, base, 0.2),
            blocked=mix(base, QColor("#7070b0"), 0.25),
            outage=mix(base, QColor("#c04848"), 0.25),
            hatch=mix(base, text, 0.4),
            holiday=holiday,
            holiday_text=readable(QColor("#7a1f1f"), holiday),
            dark=is_dark(colours),
        )

    def block_fill(self, colour: QColor, pending: bool) -> QColor:
        """An appointment's fill: its type colour, paler on a light base and deeper on a
        dark one (pending ones more so, under their hatching)."""
        if self.dark:
            return mix(colour, self.working, 0.55 if pending else 0.3)
        return colour.lighter(170 if pending else 130)


__all__ = ["ERROR", "LINK", "SUCCESS", "WARNING", "AgendaColours", "accent", "contrast",
           "dark_palette", "hint_style", "is_dark", "luminance", "mix", "readable", "scaled_font",
           "set_heading", "text_on", "text_style"]
