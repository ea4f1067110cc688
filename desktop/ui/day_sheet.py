"""The day sheet: one page section per provider (or room) with the day's appointments,
printed with Qt's print support (to paper or to a PDF file).

The sheet is an HTML document (``QTextDocument``): a heading with the clinic and
the day, then for each column its appointments in time order (time, patient,
type, room or provider, status). Patient data leaves the desk only on paper or in
the file the user chose; nothing is logged.
"""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path

from PySide6.QtCore import QMarginsF
from PySide6.QtGui import QPageLayout, QPageSize, QTextDocument
from PySide6.QtPrintSupport import QPrinter

from desktop.services import agenda
from desktop.services.clinic_reference import ClinicReference, load_reference
from desktop.services.context import DeskContext
from desktop.services.dto import AgendaItem
from desktop.ui.text import _, format_clock, format_day
from scheduling.i18n import TERMS


def day_sheet_html(ctx: DeskContext, clinic_id: str, day: date, columns: str = "provider") -> str:
    """The sheet of ``day`` at ``clinic_id`` as HTML, by provider or by room."""
    reference = load_reference(ctx, clinic_id)
    items = agenda.range_view(ctx, clinic_id, day, day).items
    parts = [f"<h2>{escape(reference.name)} — {escape(format_day(day, reference.locale))}</h2>"]
    groups = _groups(reference, items, columns)
    if not any(members for _name, members in groups):
        parts.append(f"<p>{escape(_('No appointments on this day.'))}</p>")
    for name, members in groups:
        if not members:
            continue
        parts.append(f"<h3>{escape(name)}</h3>")
        parts.append('<table border="1" cellspacing="0" cellpadding="4" width="100%">')
        other = _("Room") if columns == "provider" else _("Provider")
        heads = (_("Time"), _("Patient"), _("Type"), other, _("Status"))
        parts.append("<tr>" + "".join(f"<th align='left'>{escape(h)}</th>" for h in heads)
                     + "</tr>")
        for item in sorted(members, key=lambda i: i.start):
            when = _("{start} – {end}").format(
                start=format_clock(item.start, reference.time_zone, reference.locale),
                end=format_clock(item.end, reference.time_zone, reference.locale))
            place = (item.room_name or "—") if columns == "provider" else item.provider_name
            status = _(TERMS.get(item.status, item.status))
            cells = (when, item.patient_name, item.type_name, place, status)
            parts.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    return "\n".join(parts)


def print_html(html: str, printer: QPrinter) -> None:
    """Print an HTML document on ``printer`` (a paper printer, or one set to a PDF file)."""
    document = QTextDocument()
    document.setHtml(html)
    document.print_(printer)


def pdf_printer(path: Path, page: QPageSize.PageSizeId = QPageSize.PageSizeId.A4) -> QPrinter:
    """A printer writing the PDF file ``path`` on ``page``-sized portrait pages with
    15 mm margins (10 mm on pages smaller than A5)."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    margin = 10 if page in (QPageSize.PageSizeId.A6, QPageSize.PageSizeId.A7) else 15
    printer.setPageLayout(QPageLayout(QPageSize(page), QPageLayout.Orientation.Portrait,
                                      QMarginsF(margin, margin, margin, margin),
                                      QPageLayout.Unit.Millimeter))
    return printer


def print_day_sheet(ctx: DeskContext, clinic_id: str, day: date, printer: QPrinter,
                    columns: str = "provider") -> None:
    """Print the sheet on ``printer`` (a paper printer, or one set to a PDF file)."""
    print_html(day_sheet_html(ctx, clinic_id, day, columns), printer)


def day_sheet_pdf(ctx: DeskContext, clinic_id: str, day: date, path: Path,
                  columns: str = "provider") -> Path:
    """Write the sheet to the PDF file ``path`` (A4, 15 mm margins)."""
    print_day_sheet(ctx, clinic_id, day, pdf_printer(path), columns)
    return path


def _groups(reference: ClinicReference, items: tuple[AgendaItem, ...],
            columns: str) -> list[tuple[str, list[AgendaItem]]]:
    if columns == "room":
        groups = [(room.name, [i for i in items if i.room_id == room.id])
                  for room in reference.rooms]
        groups.append((_("No room"), [i for i in items if i.room_id is None]))
        return groups
    return [(provider.name, [i for i in items if i.provider_id == provider.id])
            for provider in reference.providers]


def escape(text: str) -> str:
    """``text`` as HTML text."""
    return html.escape(text)


__all__ = ["day_sheet_html", "day_sheet_pdf", "escape", "pdf_printer", "print_day_sheet",
           "print_html"]
