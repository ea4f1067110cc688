"""A patient search says each patient's next appointment (desk, offline, from the store)."""

from __future__ import annotations

from datetime import timedelta

from pytestqt.qtbot import QtBot

from desktop.services import booking, patients
from desktop.services.context import DeskContext
from desktop.ui.booking_model import PatientResultsModel
from tests.desktop.services.conftest import ANA, CHECKUP, CLINIC, DR_RUIZ, TUESDAY_9


def _book(ctx: DeskContext, start: object) -> str:
    result = booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                          provider_id=DR_RUIZ, start=start)
    assert result.ok and result.appointment is not None, result.refusal
    return result.appointment.id


def _ana(ctx: DeskContext) -> patients.PatientDTO:
    return next(p for p in patients.search(ctx, "garc") if p.id == ANA)


def test_the_search_names_the_next_booked_appointment_and_skips_cancelled_ones(
    ctx: DeskContext, qtbot: QtBot
) -> None:
    assert _ana(ctx).next_appointment is None
    later = TUESDAY_9 + timedelta(days=1)
    _book(ctx, later)
    soon = _book(ctx, TUESDAY_9)
    assert _ana(ctx).next_appointment == TUESDAY_9
    assert booking.cancel(ctx, soon, "patient called", category="patient_request").ok
    assert _ana(ctx).next_appointment == later
    model = PatientResultsModel()
    model.describe_when = lambda moment: moment.strftime("%d/%m %H:%M")
    model.set_patients([_ana(ctx)])
    assert model.data(model.index(0)).endswith(" · next: " + later.strftime("%d/%m %H:%M"))
