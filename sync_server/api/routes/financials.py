"""Financials API (seed 002): a patient's appointments with their money, an
appointment's financial record, its charges and its payments.

Amounts travel as decimal text with two places (``"25.00"``), or JSON numbers on the
way in; never stored as float. Reading needs ``patient:view``, writing
``patient:edit``, waiving a posted late-cancellation fee ``booking:override``. The
logic is in :mod:`sync_server.services.financials`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from sync_server.api.deps import NowDep, SessionDep, require, sqlite_write_turn
from sync_server.api.fields import AppointmentIdPath, Day, IdPath, Reason
from sync_server.services import financials
from sync_server.services.accounts import Principal

router = APIRouter(tags=["financials"], dependencies=[Depends(sqlite_write_turn)])

Viewer = Annotated[Principal, Depends(require("patient:view"))]
Editor = Annotated[Principal, Depends(require("patient:edit"))]
#: Waiving a posted fee is the supervisor's decision an override at cancellation is.
Waiver = Annotated[Principal, Depends(require("booking:override"))]
Amount = Annotated[Decimal, Field(description="Decimal, at most two places, not negative",
                                  examples=["25.00"])]


class FinancialsOut(BaseModel):
    appointment_id: str
    total_charge: str
    insurance_coverage: str
    copay_amount: str
    late_cancellation_fee: str
    amount_paid: str
    amount_due: str = Field(description="total − coverage + late-cancellation fee − paid")
    payment_status: Literal["pending", "partial", "paid"]
    payment_date: date | None
    late_cancellation: bool
    fee_waived: str = Field(description="How much of the posted fee was waived afterwards")


class ChargesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total_charge: Amount | None = None
    insurance_coverage: Amount | None = None
    copay_amount: Amount | None = None


class PaymentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Amount
    paid_on: Day | None = Field(None, description="Left out: today")


class WaiverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Amount | None = Field(None, description="Left out: all that is left of the fee")
    reason: Reason = Field(description="Why the fee is waived (required)")


class PatientAppointmentOut(BaseModel):
    id: str
    clinic_id: str
    provider_id: str
    appointment_type_id: str
    start: datetime
    end: datetime
    status: str
    financials: dict[str, object]


@router.get("/patients/{patient_id}/appointments", response_model=list[PatientAppointmentOut],
            summary="A patient's appointments with their financials, newest first")
def patient_appointments(
    patient_id: IdPath, session: SessionDep, now: NowDep, who: Viewer,
    limit: Annotated[int, Query(ge=1, le=financials.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[financials.Values]:
    return financials.patient_appointments(session, who, patient_id, now, limit=limit,
                                           offset=offset)


@router.get("/appointments/{appointment_id}/financials", response_model=FinancialsOut,
            summary="An appointment's financial record")
def read_financials(appointment_id: AppointmentIdPath, session: SessionDep, now: NowDep,
                    who: Viewer) -> financials.Values:
    return financials.read(session, who, appointment_id, now)


@router.put("/appointments/{appointment_id}/financials", response_model=FinancialsOut,
            summary="Enter the charge, insurance coverage and copay")
def update_financials(appointment_id: AppointmentIdPath, body: ChargesBody,
                      session: SessionDep, now: NowDep, who: Editor) -> financials.Values:
    changes = {name: value for name, value in body.model_dump(exclude_unset=True).items()
               if value is not None}
    return financials.update_charges(session, who, appointment_id, changes, now)


@router.post("/appointments/{appointment_id}/payment", response_model=FinancialsOut,
             summary="Record a payment (the payment status follows)")
def record_payment(appointment_id: AppointmentIdPath, body: PaymentBody, session: SessionDep,
                   now: NowDep, who: Editor) -> financials.Values:
    return financials.record_payment(session, who, appointment_id, body.amount, body.paid_on,
                                     now)


@router.post("/appointments/{appointment_id}/waive-fee", response_model=FinancialsOut,
             summary="Waive (or reduce) a posted late-cancellation fee, with a reason")
def waive_fee(appointment_id: AppointmentIdPath, body: WaiverBody, session: SessionDep,
              now: NowDep, who: Waiver) -> financials.Values:
    return financials.waive_fee(session, who, appointment_id, body.amount, body.reason, now)
