"""Exports from the desk's store to .ics: parsed back with icalendar, and with vobject
(which reads the VTIMEZONE), and only the chosen privacy level's patient words."""

from __future__ import annotations

from datetime import UTC, timedelta

import icalendar
import pytest
import vobject

from desktop.services import booking
from desktop.services.calendar_export import export_appointments, export_days
from desktop.services.context import DeskContext
from desktop.services.session import SessionLocked
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CHECKUP,
    CLINIC,
    DR_LOPEZ,
    DR_RUIZ,
    ROOM,
    TUESDAY_9,
)


def _book(ctx: DeskContext, patient: str, start_hours: float, provider: str = DR_RUIZ,
          notes: str = "") -> str:
    result = booking.book(ctx, clinic_id=CLINIC, patient_id=patient, appointment_type_id=CHECKUP,
                          provider_id=provider, start=TUESDAY_9 + timedelta(hours=start_hours),
                          room_id=ROOM if provider == DR_RUIZ else None, notes=notes)
    assert result.ok and result.appointment is not None, result.refusal
    return result.appointment.id


def test_the_shown_day_exports_every_visit_in_the_clinic_zone(ctx: DeskContext) -> None:
    first = _book(ctx, ANA, 0, notes="Knee; left")
    second = _book(ctx, BEN, 1, provider=DR_LOPEZ)
    cancelled = _book(ctx, BEN, 3)
    assert booking.cancel(ctx, cancelled, "Ill").ok
    body = export_days(ctx, CLINIC, TUESDAY_9.date(), TUESDAY_9.date())

    calendar = icalendar.Calendar.from_ical(body)
    found = {str(e["UID"]): (e["DTSTART"].dt.astimezone(UTC), str(e["STATUS"]),
                             str(e["SUMMARY"])) for e in calendar.walk("VEVENT")}
    assert found == {
        f"{first}@clinicdesk": (TUESDAY_9, "CONFIRMED", "Check-up (A. G.)"),
        f"{second}@clinicdesk": (TUESDAY_9 + timedelta(hours=1), "CONFIRMED",
                                 "Check-up (B. S.)"),
        f"{cancelled}@clinicdesk": (TUESDAY_9 + timedelta(hours=3), "CANCELLED",
                                    "Cancelled: Check-up (B. S.)"),
    }
    assert b"Knee" not in body and b"Ana" not in body and b"Garc" not in body
    assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == ["Europe/Madrid"]
    parsed = vobject.readOne(body.decode())
    assert sorted(e.dtstart.value.astimezone(UTC) for e in parsed.vevent_list) == \
        [TUESDAY_9, TUESDAY_9 + timedelta(hours=1), TUESDAY_9 + timedelta(hours=3)]


def test_one_provider_and_the_selection_export_only_theirs(ctx: DeskContext) -> None:
    first = _book(ctx, ANA, 0)
    _book(ctx, BEN, 1, provider=DR_LOPEZ)
    provider = icalendar.Calendar.from_ical(export_days(
        ctx, CLINIC, TUESDAY_9.date(), TUESDAY_9.date() + timedelta(days=6),
        resource_id=DR_RUIZ, language="es"))
    assert [str(e["UID"]) for e in provider.walk("VEVENT")] == [f"{first}@clinicdesk"]
    assert str(provider["X-WR-CALNAME"]) == "Dr Ruiz — citas"
    selected = icalendar.Calendar.from_ical(export_appointments(ctx, [first], privacy="busy"))
    (event,) = selected.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Busy" and str(event["LOCATION"]) == "Madrid, Room 1"


def test_a_locked_desk_exports_nothing(ctx: DeskContext) -> None:
    _book(ctx, ANA, 0)
    ctx.sessions.lock()
    with pytest.raises(SessionLocked):
        export_days(ctx, CLINIC, TUESDAY_9.date(), TUESDAY_9.date())
