"""Appointment financials on SQLite and PostgreSQL (seed 002; late cancellations, seed 003).

amount due = total charge − insurance coverage + late-cancellation fee − amount paid;
amounts are decimal text with two places; negative or inconsistent amounts are refused
with a message naming the field and nothing is saved; another organization's
appointment or patient is a 404 with an ``access_denied`` audit entry.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import intents
from sync_server.core.config import Settings
from sync_server.db import models
from tests.sync_server.booking_setup import Booked, enroll_desk, seed_booked, slot
from tests.sync_server.conftest import Clock, Tenants, sign_in

API = "/api/v1"
THIRTY_DAYS = 30 * 86_400


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def book(client: TestClient, booked: Booked, index: int = 0, **extra: Any) -> str:
    response = client.post(f"{API}/appointments", json=booked.book_body(slot(index), **extra),
                           headers=booked.reception)
    assert response.status_code == 201, response.text
    appointment_id: str = response.json()["appointments"][0]["id"]
    return appointment_id


def financials(client: TestClient, booked: Booked, appointment_id: str) -> dict[str, Any]:
    response = client.get(f"{API}/appointments/{appointment_id}/financials",
                          headers=booked.reception)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def put_charges(client: TestClient, booked: Booked, appointment_id: str,
                **amounts: Any) -> Any:
    return client.put(f"{API}/appointments/{appointment_id}/financials", json=amounts,
                      headers=booked.reception)


def pay(client: TestClient, booked: Booked, appointment_id: str, amount: Any) -> Any:
    return client.post(f"{API}/appointments/{appointment_id}/payment",
                       json={"amount": amount, "paid_on": "2026-03-10"},
                       headers=booked.reception)


def test_a_new_appointment_owes_nothing_and_is_pending(client: TestClient,
                                                       booked: Booked) -> None:
    found = financials(client, booked, book(client, booked))
    assert (found["amount_due"], found["payment_status"], found["late_cancellation"]) == (
        "0.00", "pending", False)


def test_the_amount_due_is_the_charge_less_coverage_and_payments(
        client: TestClient, booked: Booked, db: Session) -> None:
    appointment_id = book(client, booked)
    answer = put_charges(client, booked, appointment_id, total_charge="120.00",
                         insurance_coverage="90.50", copay_amount=20)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["amount_due"], answer.json()["payment_status"]) == ("29.50", "pending")
    partial = pay(client, booked, appointment_id, "20.00").json()
    assert (partial["amount_due"], partial["amount_paid"], partial["payment_status"]) == (
        "9.50", "20.00", "partial")
    paid = pay(client, booked, appointment_id, 9.5).json()
    assert (paid["amount_due"], paid["payment_status"], paid["payment_date"]) == (
        "0.00", "paid", "2026-03-10")
    db.rollback()
    row = db.scalar(select(models.AppointmentFinancials).where(
        models.AppointmentFinancials.appointment_id == appointment_id))
    assert row is not None
    assert (row.amount_due, row.amount_paid, row.payment_status) == (
        Decimal("0.00"), Decimal("29.50"), "paid")


@pytest.mark.parametrize(("amounts", "words"), [
    ({"total_charge": "-5.00"}, "total_charge: amounts cannot be negative"),
    ({"total_charge": "10", "insurance_coverage": "-1"}, "insurance_coverage: amounts cannot"),
    ({"total_charge": "10.005"}, "at most two decimal places"),
    ({"total_charge": "50", "insurance_coverage": "60"}, "cannot exceed the total charge"),
    ({"total_charge": "50", "insurance_coverage": "40", "copay_amount": "15"},
     "copay cannot exceed"),
])
def test_bad_amounts_are_refused_in_words_and_nothing_is_saved(
        client: TestClient, booked: Booked, amounts: dict[str, str], words: str) -> None:
    appointment_id = book(client, booked)
    answer = put_charges(client, booked, appointment_id, **amounts)
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["error"]["message"]
    assert financials(client, booked, appointment_id)["total_charge"] == "0.00"


def test_a_negative_or_excessive_payment_is_refused(client: TestClient, booked: Booked) -> None:
    appointment_id = book(client, booked)
    put_charges(client, booked, appointment_id, total_charge="40")
    negative = pay(client, booked, appointment_id, "-10")
    too_much = pay(client, booked, appointment_id, "40.01")
    assert (negative.status_code, too_much.status_code) == (422, 422)
    assert "cannot be negative" in negative.json()["error"]["message"]
    assert "more than the amount due" in too_much.json()["error"]["message"]
    assert financials(client, booked, appointment_id)["amount_paid"] == "0.00"


def test_a_patients_appointments_come_with_their_financials_and_the_read_is_audited(
        client: TestClient, booked: Booked, db: Session) -> None:
    first, second = book(client, booked, 0), book(client, booked, 2)
    put_charges(client, booked, second, total_charge="80")
    patient_id = booked.clinic.patient_ids[0]
    answer = client.get(f"{API}/patients/{patient_id}/appointments", headers=booked.reception)
    assert answer.status_code == 200, answer.text
    listed = answer.json()
    assert [a["id"] for a in listed] == [second, first]  # newest first
    assert listed[0]["financials"]["amount_due"] == "80.00"
    db.rollback()
    reads = db.scalars(select(models.AuditEntry.target_id).where(
        models.AuditEntry.organization_id == booked.org_id, models.AuditEntry.intent == "read",
        models.AuditEntry.target_type == "patient")).all()
    db.rollback()
    assert patient_id in reads


def test_another_organizations_appointment_and_patient_are_404_and_audited(
        client: TestClient, booked: Booked, tenants: Tenants, db: Session) -> None:
    appointment_id = book(client, booked)
    stranger = tenants.organization("administrator")
    headers = sign_in(client, stranger)
    patient_id = booked.clinic.patient_ids[0]
    answers = [
        client.get(f"{API}/appointments/{appointment_id}/financials", headers=headers),
        client.put(f"{API}/appointments/{appointment_id}/financials",
                   json={"total_charge": "1"}, headers=headers),
        client.post(f"{API}/appointments/{appointment_id}/payment", json={"amount": "1"},
                    headers=headers),
        client.get(f"{API}/patients/{patient_id}/appointments", headers=headers),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    db.rollback()
    denied = db.scalars(select(models.AuditEntry.target_id).where(
        models.AuditEntry.organization_id == stranger.org_id,
        models.AuditEntry.intent == "access_denied")).all()
    db.rollback()
    assert denied.count(appointment_id) == 3 and patient_id in denied
    assert financials(client, booked, appointment_id)["total_charge"] == "0.00"


def set_policy(client: TestClient, booked: Booked, fee_cents: int | None) -> None:
    answer = client.patch(f"{API}/admin/appointment-types/{booked.clinic.type_id}",
                          json={"cancellation_period_seconds": THIRTY_DAYS,
                                "late_cancellation_fee_cents": fee_cents},
                          headers=booked.admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["late_cancellation_fee_cents"] == fee_cents


def cancel(client: TestClient, booked: Booked, appointment_id: str, **extra: str) -> None:
    answer = client.post(f"{API}/appointments/{appointment_id}/cancel",
                         json={"reason": "patient called", **extra}, headers=booked.admin)
    assert answer.status_code == 200, answer.text


def test_a_late_cancellation_is_flagged_and_posts_the_policys_fee(
        client: TestClient, booked: Booked) -> None:
    set_policy(client, booked, 2500)
    appointment_id = book(client, booked)
    put_charges(client, booked, appointment_id, total_charge="100", insurance_coverage="100")
    cancel(client, booked, appointment_id)
    found = financials(client, booked, appointment_id)
    assert (found["late_cancellation"], found["late_cancellation_fee"], found["amount_due"]) == (
        True, "25.00", "25.00")


def test_undoing_a_late_cancellation_takes_the_fee_back(client: TestClient,
                                                         booked: Booked) -> None:
    set_policy(client, booked, 1000)
    appointment_id = book(client, booked)
    cancel(client, booked, appointment_id)
    undone = client.post(f"{API}/appointments/{appointment_id}/undo-status", json={},
                         headers=booked.admin)
    assert undone.status_code == 200, undone.text
    found = financials(client, booked, appointment_id)
    assert (found["late_cancellation"], found["amount_due"]) == (False, "0.00")


def test_a_supervisors_override_waives_the_fee_but_keeps_the_flag(
        client: TestClient, booked: Booked) -> None:
    set_policy(client, booked, 2500)
    appointment_id = book(client, booked)
    cancel(client, booked, appointment_id, override_reason="hospitalised")
    found = financials(client, booked, appointment_id)
    assert (found["late_cancellation"], found["amount_due"]) == (True, "0.00")


def test_a_cancellation_in_good_time_posts_no_fee(client: TestClient, booked: Booked) -> None:
    set_policy(client, booked, None)
    client.patch(f"{API}/admin/appointment-types/{booked.clinic.type_id}",
                 json={"cancellation_period_seconds": 3600}, headers=booked.admin)
    appointment_id = book(client, booked)
    cancel(client, booked, appointment_id)
    found = financials(client, booked, appointment_id)
    assert (found["late_cancellation"], found["amount_due"]) == (False, "0.00")


def test_a_negative_policy_fee_is_refused(client: TestClient, booked: Booked) -> None:
    answer = client.patch(f"{API}/admin/appointment-types/{booked.clinic.type_id}",
                          json={"late_cancellation_fee_cents": -1}, headers=booked.admin)
    assert answer.status_code == 422
    assert "late_cancellation_fee_cents" in answer.json()["error"]["message"]


def test_a_late_cancellation_pushed_by_a_desk_posts_the_fee(
        client: TestClient, booked: Booked, db: Session, clock: Clock) -> None:
    set_policy(client, booked, 1500)
    appointment_id = book(client, booked)
    desk = enroll_desk(db, booked.clinic, clock)
    answer = client.post("/api/v1/sync/push", headers=desk.headers, json=desk.push_body([
        desk.mutation(intents.APPOINTMENT_CANCEL, {
            "appointment_id": appointment_id, "reason": "patient called",
            "override_reason": None, "base_version": 1})]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] == "applied", answer.text
    found = financials(client, booked, appointment_id)
    assert (found["late_cancellation"], found["amount_due"]) == (True, "15.00")


def waive(client: TestClient, booked: Booked, appointment_id: str,
          headers: dict[str, str] | None = None, **body: Any) -> Any:
    return client.post(f"{API}/appointments/{appointment_id}/waive-fee", json=body,
                       headers=headers or booked.admin)


def late_cancelled(client: TestClient, booked: Booked, fee_cents: int = 2500) -> str:
    set_policy(client, booked, fee_cents)
    appointment_id = book(client, booked)
    put_charges(client, booked, appointment_id, total_charge="100", insurance_coverage="80")
    cancel(client, booked, appointment_id)
    return appointment_id


def test_a_supervisor_reduces_a_posted_fee_later_with_a_reason_and_it_is_kept_and_audited(
        client: TestClient, booked: Booked, db: Session) -> None:
    appointment_id = late_cancelled(client, booked)
    answer = waive(client, booked, appointment_id, amount="10.50", reason="  bus strike ")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["late_cancellation_fee"], found["fee_waived"], found["amount_due"],
            found["late_cancellation"]) == ("14.50", "10.50", "34.50", True)
    rest = waive(client, booked, appointment_id, reason="hospitalised").json()
    assert (rest["late_cancellation_fee"], rest["fee_waived"], rest["amount_due"]) == (
        "0.00", "25.00", "20.00")
    db.rollback()
    waivers = db.execute(select(models.FeeWaiver.amount, models.FeeWaiver.reason,
                                models.FeeWaiver.waived_by)
                         .where(models.FeeWaiver.appointment_id == appointment_id)
                         .order_by(models.FeeWaiver.amount)).all()
    audited = db.scalars(select(models.AuditEntry.target_id).where(
        models.AuditEntry.organization_id == booked.org_id,
        models.AuditEntry.intent == "financials.waive_fee")).all()
    db.rollback()
    assert [(w.amount, w.reason) for w in waivers] == [
        (Decimal("10.50"), "bus strike"), (Decimal("14.50"), "hospitalised")]
    assert {w.waived_by for w in waivers} == {booked.admin_user.user_id}
    assert audited == [appointment_id, appointment_id]


@pytest.mark.parametrize(("body", "words"), [
    ({"amount": "25.01", "reason": "x"}, "more than the late-cancellation fee"),
    ({"amount": "-1", "reason": "x"}, "cannot be negative"),
    ({"amount": "0", "reason": "x"}, "more than zero"),
    ({"reason": "   "}, "say why the fee is waived"),
])
def test_a_bad_waiver_is_refused_in_words_and_the_fee_stays(
        client: TestClient, booked: Booked, body: dict[str, str], words: str) -> None:
    appointment_id = late_cancelled(client, booked)
    answer = waive(client, booked, appointment_id, **body)
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["error"]["message"]
    found = financials(client, booked, appointment_id)
    assert (found["late_cancellation_fee"], found["fee_waived"]) == ("25.00", "0.00")


def test_no_fee_a_paid_fee_and_a_nul_reason_cannot_be_waived(
        client: TestClient, booked: Booked) -> None:
    on_time = book(client, booked, 2)
    assert waive(client, booked, on_time, reason="x").json()["error"]["code"] == "no_fee"
    appointment_id = late_cancelled(client, booked)
    assert pay(client, booked, appointment_id, "45.00").status_code == 200
    paid = waive(client, booked, appointment_id, reason="goodwill")
    nul = waive(client, booked, appointment_id, reason="a\x00b")
    assert (paid.status_code, nul.status_code) == (422, 422)
    assert "refund it before waiving it" in paid.json()["error"]["message"]
    assert financials(client, booked, appointment_id)["late_cancellation_fee"] == "25.00"


def test_waiving_needs_the_override_permission_and_another_organization_gets_404(
        client: TestClient, booked: Booked, tenants: Tenants, db: Session) -> None:
    appointment_id = late_cancelled(client, booked)
    denied = waive(client, booked, appointment_id, booked.reception, reason="kind")
    stranger = waive(client, booked, appointment_id,
                     sign_in(client, tenants.organization("administrator")), reason="kind")
    assert (denied.status_code, stranger.status_code) == (403, 404)
    assert financials(client, booked, appointment_id)["late_cancellation_fee"] == "25.00"
    db.rollback()
    refused = db.scalars(select(models.AuditEntry.target_id).where(
        models.AuditEntry.organization_id == booked.org_id,
        models.AuditEntry.intent == "permission_denied")).all()
    db.rollback()
    assert refused == ["booking:override"]
