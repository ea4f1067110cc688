"""The appointment card: what a patient takes home after booking at the desk.

One small page (A6) with the clinic, the patient, the appointment's day and time,
type, provider and room, the patient's next few appointments after it, and how long
ahead to tell the clinic if they cannot come (the type's cancellation period).
Printed with Qt's print support, to paper or to a PDF file, from the appointment's
menu in the agenda (*Print appointment card…*). Nothing is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QPageSize
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QMenu, QWidget

from desktop.services.appointment_details import load_details
from desktop.services.clinic_reference import load_reference
from desktop.services.context import DeskContext
from desktop.services.dto import AgendaItem
from desktop.services.patient_history import patient_history
from desktop.ui.day_sheet import escape, pdf_printer, print_html
from desktop.ui.text import _, format_clock, format_duration, format_when

#: How many of the patient's later appointments the card lists.
LATER_SHOWN = 3


def appointment_card_html(ctx: DeskContext, appointment_id: str) -> str | None:
    """The card of ``appointment_id`` as HTML (None: the appointment is gone)."""
    details = load_details(ctx, appointment_id)
    if details is None:
        return None
    clinic = load_reference(ctx, details.clinic_id)
    tz, locale = details.time_zone, details.clinic_locale
    when = _("{day}, until {end}").format(day=format_when(details.start, tz, locale),
                                          end=format_clock(details.end, tz, locale))
    rows = [(_("When"), when), (_("Type"), details.type_name),
            (_("With"), details.provider_name)]
    if details.room_name:
        rows.append((_("Room"), details.room_name))
    title = _("Appointment card")
    parts = [f"<h3>{escape(clinic.name)}</h3>",
             f"<p><b>{escape(title)}</b> — {escape(details.patient_name)}</p>",
             '<table cellspacing="0" cellpadding="3">']
    parts += [f"<tr><td><i>{escape(title)}</i></td><td><b>{escape(value)}</b></td></tr>"
              for title, value in rows]
    parts.append("</table>")
    history = patient_history(ctx, details.patient_id)
    later = [] if history is None else [
        line for line in history.upcoming
        if line.start > details.start and line.appointment_id != appointment_id][:LATER_SHOWN]
    if later:
        heading = _("Your next appointments:")
        parts.append(f"<p>{escape(heading)}</p><ul>")
        parts += [f"<li>{escape(format_when(line.start, line.time_zone, line.clinic_locale))}"
                  f" — {escape(line.type_name)}</li>" for line in later]
        parts.append("</ul>")
    period = details.cancellation_period
    if period:
        parts.append("<p>" + escape(_("If you cannot come, please tell us at least {period} "
                                      "ahead.").format(period=format_duration(period, locale)))
                     + "</p>")
    return "\n".join(parts)


def print_appointment_card(ctx: DeskContext, appointment_id: str, printer: QPrinter) -> bool:
    """Print the card on ``printer``; False when the appointment is gone."""
    html = appointment_card_html(ctx, appointment_id)
    if html is None:
        return False
    print_html(html, printer)
    return True


def appointment_card_pdf(ctx: DeskContext, appointment_id: str, path: Path) -> Path:
    """Write the card to the PDF file ``path`` (A6)."""
    print_appointment_card(ctx, appointment_id, pdf_printer(path, QPageSize.PageSizeId.A6))
    return path


class CardPrinting(QObject):
    """Adds *Print appointment card…* to the agenda's appointment menu."""

    def __init__(self, ctx: DeskContext, parent: QWidget) -> None:
        super().__init__(parent)
        self._ctx, self._parent = ctx, parent
        #: The printer to print on (None: the user gave up). Tests replace it.
        self.ask_printer: Callable[[], QPrinter | None] = self._ask_printer

    def extend(self, menu: QMenu, item: AgendaItem) -> None:
        action = menu.addAction(_("Print appointment card…"))
        action.setData("card")
        action.triggered.connect(lambda _checked=False: self.print_card(item.appointment_id))

    def print_card(self, appointment_id: str) -> bool:
        printer = self.ask_printer()
        return printer is not None and print_appointment_card(self._ctx, appointment_id, printer)

    def _ask_printer(self) -> QPrinter | None:
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setPageSize(QPageSize(QPageSize.PageSizeId.A6))
        dialog = QPrintDialog(printer, self._parent)
        return printer if dialog.exec() == QDialog.DialogCode.Accepted else None


__all__ = ["LATER_SHOWN", "CardPrinting", "appointment_card_html", "appointment_card_pdf",
           "print_appointment_card"]
