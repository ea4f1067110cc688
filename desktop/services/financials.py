"""A patient's appointments and their money, read and written on the server.

Financial records are not mirrored on the desk: the desk asks the server (as itself,
naming the signed-in user), which checks ``patient:view`` / ``patient:edit`` and
audits each read. Amounts are :class:`~decimal.Decimal`; what a person types is
read with :func:`amount` (a comma is accepted as the decimal mark) and checked the
way the server checks it, so a negative amount is refused before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from desktop.services.admin import ServerCall
from desktop.services.context import DeskContext
from desktop.store.models import AppointmentTypeRow, ResourceRow
from scheduling.financials import FinancialError, money

API = "/api/v1"


@dataclass(frozen=True, slots=True)
class AppointmentMoney:
    """One appointment of the patient with its financial record."""

    appointment_id: str
    start: datetime
    status: str
    provider_id: str
    appointment_type_id: str
    total_charge: Decimal
    insurance_coverage: Decimal
    copay_amount: Decimal
    late_cancellation_fee: Decimal
    amount_paid: Decimal
    amount_due: Decimal
    payment_status: str
    late_cancellation: bool
    fee_waived: Decimal = Decimal("0.00")


def amount(text: str, field: str) -> Decimal:
    """A typed amount ("12,50", "12.50", "12"); :class:`FinancialError` when it is not one
    (negative, more than two decimals, not a number)."""
    return money(text.strip().replace(",", ".") or "0", field)


def _money(record: dict[str, Any], appointment: dict[str, Any]) -> AppointmentMoney:
    def decimal(name: str) -> Decimal:
        return Decimal(str(record.get(name, "0.00")))

    return AppointmentMoney(
        str(appointment["id"]), datetime.fromisoformat(str(appointment["start"])),
        str(appointment["status"]), str(appointment["provider_id"]),
        str(appointment["appointment_type_id"]), total_charge=decimal("total_charge"),
        insurance_coverage=decimal("insurance_coverage"), copay_amount=decimal("copay_amount"),
        late_cancellation_fee=decimal("late_cancellation_fee"),
        amount_paid=decimal("amount_paid"), amount_due=decimal("amount_due"),
        payment_status=str(record["payment_status"]),
        late_cancellation=bool(record["late_cancellation"]), fee_waived=decimal("fee_waived"))


class FinancialsService:
    """The financials API for one desk session (raises the server's refusals)."""

    def __init__(self, call: ServerCall) -> None:
        self._call = call

    def appointments(self, patient_id: str) -> list[AppointmentMoney]:
        answer = self._call("GET", f"{API}/patients/{patient_id}/appointments",
                            params={"limit": 100})
        return [_money(item["financials"], item) for item in answer]

    def _with(self, record: dict[str, Any], previous: AppointmentMoney) -> AppointmentMoney:
        return _money(record, {"id": previous.appointment_id, "start": previous.start,
                               "status": previous.status, "provider_id": previous.provider_id,
                               "appointment_type_id": previous.appointment_type_id})

    def set_charges(self, current: AppointmentMoney, *, total_charge: Decimal,
                    insurance_coverage: Decimal, copay_amount: Decimal) -> AppointmentMoney:
        answer = self._call("PUT", f"{API}/appointments/{current.appointment_id}/financials",
                            json={"total_charge": str(total_charge),
                                  "insurance_coverage": str(insurance_coverage),
                                  "copay_amount": str(copay_amount)})
        return self._with(answer, current)

    def record_payment(self, current: AppointmentMoney, paid: Decimal) -> AppointmentMoney:
        answer = self._call("POST", f"{API}/appointments/{current.appointment_id}/payment",
                            json={"amount": str(paid)})
        return self._with(answer, current)

    def waive_fee(self, current: AppointmentMoney, waived: Decimal | None,
                  reason: str) -> AppointmentMoney:
        """Waive ``waived`` of the posted late-cancellation fee (None: all of it) for
        ``reason`` (the server checks ``booking:override`` and keeps the reason)."""
        body: dict[str, str] = {"reason": reason}
        if waived is not None:
            body["amount"] = str(waived)
        answer = self._call("POST", f"{API}/appointments/{current.appointment_id}/waive-fee",
                            json=body)
        return self._with(answer, current)


#: Who may waive a posted fee: the supervisor's override (as at cancellation time).
WAIVE_PERMISSION = "booking:override"


def record_names(ctx: DeskContext) -> dict[str, str]:
    """Provider and appointment type names by id, from this desk's copy (to label lines)."""
    with ctx.store.session() as session:
        rows = [*session.execute(select(ResourceRow.id, ResourceRow.name)),
                *session.execute(select(AppointmentTypeRow.id, AppointmentTypeRow.name))]
    return {str(row_id): str(name) for row_id, name in rows}


__all__ = ["WAIVE_PERMISSION", "AppointmentMoney", "FinancialError", "FinancialsService",
           "amount", "record_names"]
