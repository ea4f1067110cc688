"""An appointment's money (seed 002 ``appointment_financials``): the charge, what
insurance covers, the copay, the amount due and the payment status.

Money is :class:`~decimal.Decimal` with two places (cents), never float. The
calculation, in the clinic's currency::

    patient share = total charge − insurance coverage + late-cancellation fee
    amount due    = patient share − amount paid

The copay is the part of the patient's share collected at the visit, so it may not
exceed that share. The payment status follows from the amounts: ``pending`` while
nothing is paid (or nothing is charged), ``partial`` while some of the share is
still due, ``paid`` once nothing is. A late cancellation (seed 003) adds the fee of
the appointment type's booking policy, which insurance does not cover.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from scheduling.errors import SchedulingInputError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: The largest amount a ``Numeric(10, 2)`` column holds.
MAXIMUM = Decimal("99999999.99")
PAYMENT_STATUSES = ("pending", "partial", "paid")
#: The amounts an administrator enters (the fee and payments come from elsewhere).
CHARGE_FIELDS = ("total_charge", "insurance_coverage", "copay_amount")


class FinancialError(SchedulingInputError):
    """Amounts that cannot be recorded; the message names the field, never its value."""


def money(value: object, field: str) -> Decimal:
    """``value`` (Decimal, int or decimal text; not float) as an amount with two places."""
    if isinstance(value, float | bool):
        raise FinancialError(f"{field}: give amounts as decimal text such as \"12.50\".")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise FinancialError(f"{field}: not an amount (write it like 12.50).") from None
    if not amount.is_finite():
        raise FinancialError(f"{field}: not an amount (write it like 12.50).")
    if amount < 0:
        raise FinancialError(f"{field}: amounts cannot be negative.")
    if amount > MAXIMUM:  # before quantizing: a huge exponent cannot be quantized
        raise FinancialError(f"{field}: the amount is too large.")
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise FinancialError(f"{field}: amounts have at most two decimal places.")
    return amount.quantize(CENT)


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def from_cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(CENT)


@dataclass(frozen=True, slots=True)
class Financials:
    """One appointment's amounts; build it with :func:`checked` to enforce the rules."""

    total_charge: Decimal = ZERO
    insurance_coverage: Decimal = ZERO
    copay_amount: Decimal = ZERO
    late_cancellation_fee: Decimal = ZERO
    amount_paid: Decimal = ZERO

    @property
    def patient_share(self) -> Decimal:
        return self.total_charge - self.insurance_coverage + self.late_cancellation_fee

    @property
    def amount_due(self) -> Decimal:
        return self.patient_share - self.amount_paid

    @property
    def payment_status(self) -> str:
        if self.amount_paid == 0 or self.patient_share == 0:
            return "pending"
        return "partial" if self.amount_due > 0 else "paid"


def checked(financials: Financials) -> Financials:
    """``financials`` when its amounts are consistent, else :class:`FinancialError`."""
    if financials.insurance_coverage > financials.total_charge:
        raise FinancialError("insurance_coverage: the coverage cannot exceed the total charge.")
    if financials.copay_amount > financials.total_charge - financials.insurance_coverage:
        raise FinancialError("copay_amount: the copay cannot exceed the part insurance does "
                             "not cover (total charge − coverage).")
    if financials.amount_due < 0:
        raise FinancialError("amount_paid: more has been paid than the patient owes; lower "
                             "the charge only after a refund.")
    return financials


def with_charges(financials: Financials, **amounts: object) -> Financials:
    """The record with new charge amounts (:data:`CHARGE_FIELDS`), checked."""
    return checked(replace(financials, **{name: money(value, name)
                                          for name, value in amounts.items()}))


def with_payment(financials: Financials, amount: object) -> Financials:
    """The record after a payment of ``amount`` (positive, at most the amount due)."""
    paid = money(amount, "amount")
    if paid == 0:
        raise FinancialError("amount: a payment must be more than zero.")
    if paid > financials.amount_due:
        raise FinancialError("amount: the payment is more than the amount due.")
    return replace(financials, amount_paid=financials.amount_paid + paid)


def with_fee_waived(financials: Financials, amount: object) -> Financials:
    """The record after waiving ``amount`` of its late-cancellation fee (positive, at
    most the fee; a fee already paid is refunded before it is waived)."""
    waived = money(amount, "amount")
    if waived == 0:
        raise FinancialError("amount: a waiver must be more than zero.")
    if waived > financials.late_cancellation_fee:
        raise FinancialError("amount: the waiver is more than the late-cancellation fee.")
    after = replace(financials, late_cancellation_fee=financials.late_cancellation_fee - waived)
    if after.amount_due < 0:
        raise FinancialError("amount: that part of the fee has been paid; refund it before "
                             "waiving it.")
    return after


__all__ = ["CHARGE_FIELDS", "PAYMENT_STATUSES", "FinancialError", "Financials", "cents",
           "checked", "from_cents", "money", "with_charges", "with_fee_waived",
           "with_payment"]
