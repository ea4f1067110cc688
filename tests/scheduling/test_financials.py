"""The money of an appointment (seed 002): exact decimals, the amount due, the payment
status, and what is refused (negative, too precise, inconsistent, overpaid)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.financials import (
    FinancialError,
    Financials,
    cents,
    checked,
    from_cents,
    money,
    with_charges,
    with_payment,
)

AMOUNTS = st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2)


@given(total=AMOUNTS, covered=AMOUNTS, paid_share=st.floats(0, 1))
def test_the_amount_due_is_the_share_less_what_was_paid(total: Decimal, covered: Decimal,
                                                        paid_share: float) -> None:
    covered = min(covered, total)
    record = with_charges(Financials(), total_charge=total, insurance_coverage=covered)
    paid = (record.amount_due * Decimal(str(round(paid_share, 2)))).quantize(Decimal("0.01"))
    if paid > 0:
        record = with_payment(record, paid)
    assert record.amount_due == total - covered - record.amount_paid
    assert record.amount_due >= 0
    expected = ("pending" if record.amount_paid == 0 or record.patient_share == 0
                else "paid" if record.amount_due == 0 else "partial")
    assert record.payment_status == expected


@pytest.mark.parametrize(("value", "words"), [
    ("-0.01", "cannot be negative"), ("1.005", "two decimal places"),
    ("1e40", "too large"), ("NaN", "not an amount"), ("abc", "not an amount"),
    (1.5, "decimal text"),
])
def test_bad_amounts_are_refused_naming_the_field(value: object, words: str) -> None:
    with pytest.raises(FinancialError, match=words) as refused:
        money(value, "total_charge")
    assert str(refused.value).startswith("total_charge:")


def test_coverage_copay_and_payments_must_fit_the_charge() -> None:
    with pytest.raises(FinancialError, match="coverage cannot exceed"):
        with_charges(Financials(), total_charge="10", insurance_coverage="11")
    with pytest.raises(FinancialError, match="copay cannot exceed"):
        with_charges(Financials(), total_charge="10", insurance_coverage="5", copay_amount="6")
    owed = with_charges(Financials(), total_charge="10")
    with pytest.raises(FinancialError, match="more than the amount due"):
        with_payment(owed, "10.01")
    with pytest.raises(FinancialError, match="more than zero"):
        with_payment(owed, "0")
    with pytest.raises(FinancialError, match="more has been paid"):
        checked(Financials(Decimal("10"), amount_paid=Decimal("11")))


def test_a_late_cancellation_fee_is_owed_on_top_of_the_share() -> None:
    record = Financials(Decimal("100"), Decimal("100"), late_cancellation_fee=from_cents(2550))
    assert (record.amount_due, cents(record.late_cancellation_fee)) == (Decimal("25.50"), 2550)
