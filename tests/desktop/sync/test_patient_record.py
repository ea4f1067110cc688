"""The patient record on an enrolled desk against the real server: details (date of birth,
address, insurance) saved on the desk reach the server with the next push; the
appointments' money is read and written on the server, a negative amount is refused
before anything is sent and an inconsistent one in the server's words."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.services import patients
from desktop.services.financials import FinancialsService
from desktop.services.server_call import USER_HEADER
from desktop.ui.patient_record import PatientRecordDialog
from sync_server.db import models
from tests.desktop.sync.conftest import Desk
from tests.e2e.server_side import Clinic

ZONE, LOCALE = "Europe/Madrid", "en_US"


def money_service(desk: Desk) -> FinancialsService:
    user_id = desk.ctx.user().user_id

    def call(method: str, path: str, **kwargs: Any) -> Any:
        return desk.client.call(method, path, headers={USER_HEADER: user_id}, **kwargs)

    return FinancialsService(call)


def open_record(qtbot: QtBot, desk: Desk, clinic: Clinic,
                money: FinancialsService | None) -> PatientRecordDialog:
    patient = patients.get(desk.ctx, clinic.patient_ids[0])
    assert patient is not None
    dialog = PatientRecordDialog(desk.ctx, patient, money, ZONE, LOCALE)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_details_saved_on_the_desk_reach_the_server(qtbot: QtBot, desk: Desk, clinic: Clinic,
                                                    db: Session) -> None:
    dialog = open_record(qtbot, desk, clinic, None)
    dialog.text["date_of_birth"].setText("1984-02-29")
    dialog.text["insurance_provider"].setText("Sanitas")
    dialog.text["insurance_id"].setText("SAN-0042")
    dialog.address.setPlainText("Calle Mayor 1\n28013 Madrid")
    assert dialog.save_details()
    shown = patients.get(desk.ctx, clinic.patient_ids[0])
    assert shown is not None and (shown.date_of_birth, shown.insurance_id) == (
        "1984-02-29", "SAN-0042")
    desk.client.push()
    db.expire_all()
    row = db.get(models.Patient, clinic.patient_ids[0])
    assert row is not None
    assert (row.date_of_birth, row.address, row.insurance_provider, row.insurance_id) == (
        date(1984, 2, 29), "Calle Mayor 1\n28013 Madrid", "Sanitas", "SAN-0042")


def test_a_date_of_birth_in_the_future_is_refused_and_nothing_is_queued(
        qtbot: QtBot, desk: Desk, clinic: Clinic) -> None:
    dialog = open_record(qtbot, desk, clinic, None)
    before = desk.client.pending_count()
    dialog.text["date_of_birth"].setText("2999-01-01")
    assert not dialog.save_details()
    assert "YYYY-MM-DD" in dialog.details_note.text()
    assert desk.client.pending_count() == before


def test_offline_the_payments_tab_says_the_server_keeps_them(qtbot: QtBot, desk: Desk,
                                                             clinic: Clinic) -> None:
    dialog = open_record(qtbot, desk, clinic, None)
    assert dialog.table.rowCount() == 0 and not dialog.pay_button.isEnabled()
    assert "server" in dialog.money_note.text()


def test_amounts_and_a_payment_are_saved_on_the_server(qtbot: QtBot, desk: Desk,
                                                       clinic: Clinic, db: Session) -> None:
    appointment_id = desk.book(0)
    desk.client.push()
    dialog = open_record(qtbot, desk, clinic, money_service(desk))
    assert [line.appointment_id for line in dialog.lines] == [appointment_id]
    dialog.table.selectRow(0)
    dialog.charge.setText("120")
    dialog.coverage.setText("90,50")
    dialog.copay.setText("20")
    assert dialog.save_amounts()
    assert dialog.table.item(0, 6).text() == "29.50"  # due
    dialog.payment.setText("29.50")
    assert dialog.record_payment()
    assert dialog.table.item(0, 7).text() == "Paid"
    db.expire_all()
    row = db.scalar(select(models.AppointmentFinancials).where(
        models.AppointmentFinancials.appointment_id == appointment_id))
    assert row is not None
    assert (row.amount_due, row.payment_status) == (Decimal("0.00"), "paid")


def test_a_negative_amount_is_refused_before_sending_and_a_bad_copay_in_the_servers_words(
        qtbot: QtBot, desk: Desk, clinic: Clinic) -> None:
    desk.book(1)
    desk.client.push()
    dialog = open_record(qtbot, desk, clinic, money_service(desk))
    dialog.table.selectRow(0)
    dialog.charge.setText("-5")
    assert not dialog.save_amounts()
    assert "not negative" in dialog.money_note.text()
    dialog.charge.setText("50")
    dialog.coverage.setText("40")
    dialog.copay.setText("15")
    assert not dialog.save_amounts()
    assert "copay cannot exceed" in dialog.money_note.text()
    again = money_service(desk).appointments(clinic.patient_ids[0])
    assert again[0].total_charge == Decimal("0.00")
