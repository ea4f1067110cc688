"""The patient record on an enrolled desk against the real server: details (date of birth,
address, insurance) saved on the desk reach the server with the next push; the
appointments' money is read and written on the server, a negative amount is refused
before anything is sent and an inconsistent one in the server's words."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.services import patients
from desktop.services.financials import FinancialsService
from desktop.services.server_call import USER_HEADER
from desktop.ui.fee_waiver_dialog import FeeWaiverDialog, WaiverChoice
from desktop.ui.patient_record import PatientRecordDialog
from sync_server.core.config import Settings
from sync_server.core.security import Passwords, password_hasher
from sync_server.db import models
from sync_server.services import accounts
from tests.desktop.sync.conftest import Desk
from tests.e2e.server_side import PASSWORD, Clinic
from tests.support.records import by_id

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
    row = by_id(db, models.Patient, clinic.patient_ids[0])
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


def posted_fee(db: Session, clinic: Clinic, appointment_id: str) -> None:
    """The server's record of a late cancellation with a 25.00 fee (as its handler posts)."""
    db.add(models.AppointmentFinancials(
        id=f"money-{appointment_id}", organization_id=clinic.org_id,
        appointment_id=appointment_id, total_charge=Decimal("100.00"),
        insurance_coverage=Decimal("80.00"), copay_amount=Decimal("0.00"),
        amount_paid=Decimal("0.00"), late_cancellation=True,
        late_cancellation_fee=Decimal("25.00"), fee_waived=Decimal("0.00"),
        amount_due=Decimal("45.00"), payment_status="pending"))
    db.commit()


def manager(db: Session, server_settings: Settings, clinic: Clinic) -> str:
    email = f"manager-{uuid.uuid4().hex[:6]}@clinic.example"
    accounts.create_user(db, Passwords(password_hasher(server_settings)), clinic.org_id, email,
                         PASSWORD, ["administrator"], datetime.now(UTC))
    db.commit()
    return email


def test_a_manager_waives_part_of_a_posted_fee_with_a_reason_and_the_amount_due_follows(
        qtbot: QtBot, desk: Desk, clinic: Clinic, db: Session,
        server_settings: Settings) -> None:
    appointment_id = desk.book(2)
    desk.client.push()
    posted_fee(db, clinic, appointment_id)
    reception = open_record(qtbot, desk, clinic, money_service(desk))
    assert not reception.waive_button.isEnabled()  # a receptionist may not waive
    desk._ctx = desk.sign_in(manager(db, server_settings, clinic))
    dialog = open_record(qtbot, desk, clinic, money_service(desk))
    dialog.table.selectRow(0)
    assert dialog.waive_button.isEnabled()
    assert not dialog.waive(WaiverChoice("10", ""))
    assert "why the fee is waived" in dialog.money_note.text()
    assert not dialog.waive(WaiverChoice("30", "bus strike"))
    assert "more than the late-cancellation fee" in dialog.money_note.text()
    assert dialog.waive(WaiverChoice("10,50", "bus strike"))
    assert [dialog.table.item(0, c).text() for c in (4, 6)] == ["14.50", "34.50"]
    assert "10.50 of the fee waived" in dialog.table.item(0, 0).text()
    db.expire_all()
    [waiver] = db.scalars(select(models.FeeWaiver).where(
        models.FeeWaiver.appointment_id == appointment_id)).all()
    assert (waiver.amount, waiver.reason) == (Decimal("10.50"), "bus strike")


def test_the_waiver_dialog_offers_the_whole_fee_and_asks_for_a_reason(qtbot: QtBot) -> None:
    dialog = FeeWaiverDialog("25.00", "25.00")
    qtbot.addWidget(dialog)
    dialog.reason.setText("  hospitalised ")
    assert dialog.choice() == WaiverChoice("25.00", "hospitalised")
    assert dialog.reason.maxLength() == 500
