"""Appointment financials (seed 002): read, enter charges, record payments, and the
late-cancellation fee posted when an appointment is cancelled late (seed 003).

The amounts and their rules are :mod:`scheduling.financials`; this module keeps
``appointment_financials`` rows equal to what they give (``amount_due`` and
``payment_status`` are stored for reports, never entered). An appointment or patient
of another organization (or, for a department-scoped user, of another department) is
a 404 with an ``access_denied`` audit entry; every read is audited (ids only) and
every write is an accepted change with its audit entry.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from scheduling import financials as money
from scheduling.audit import AuditOutcome
from scheduling.financials import FinancialError, Financials
from scheduling.model import AppointmentStatus
from scheduling.refusals import RefusalCode
from sync_server.db import models as db
from sync_server.services import access, departments
from sync_server.services.accounts import Principal
from sync_server.services.errors import InvalidInput
from sync_server.services.events import (
    AppointmentCancelled,
    ChangeAccepted,
    StatusChanged,
)
from sync_server.services.unit_of_work import UnitOfWork, unit_of

Values = dict[str, Any]
#: How many appointments one page of a patient's list holds at most.
MAX_PAGE = 200


def _financials(row: db.AppointmentFinancials | None) -> Financials:
    if row is None:
        return Financials()
    return Financials(row.total_charge or money.ZERO, row.insurance_coverage or money.ZERO,
                      row.copay_amount or money.ZERO, row.late_cancellation_fee,
                      row.amount_paid)


def _values(row: db.AppointmentFinancials | None) -> Values:
    """The API's shape: amounts as decimal text with two places."""
    amounts = _financials(row)
    return {
        "total_charge": str(amounts.total_charge),
        "insurance_coverage": str(amounts.insurance_coverage),
        "copay_amount": str(amounts.copay_amount),
        "late_cancellation_fee": str(amounts.late_cancellation_fee),
        "amount_paid": str(amounts.amount_paid),
        "amount_due": str(amounts.amount_due),
        "payment_status": amounts.payment_status,
        "payment_date": row.payment_date.isoformat() if row and row.payment_date else None,
        "late_cancellation": bool(row and row.late_cancellation),
        "fee_waived": str(row.fee_waived if row and row.fee_waived is not None
                          else money.ZERO),
    }


def _store(session: Session, row: db.AppointmentFinancials, amounts: Financials) -> None:
    row.total_charge, row.insurance_coverage = amounts.total_charge, amounts.insurance_coverage
    row.copay_amount = amounts.copay_amount
    row.late_cancellation_fee = amounts.late_cancellation_fee
    row.amount_paid, row.amount_due = amounts.amount_paid, amounts.amount_due
    row.payment_status = amounts.payment_status
    session.add(row)


def _row_of(session: Session, appointment: db.Appointment) -> db.AppointmentFinancials:
    found = session.scalar(select(db.AppointmentFinancials).where(
        db.AppointmentFinancials.appointment_id == appointment.id,
        db.AppointmentFinancials.organization_id == appointment.organization_id))
    return found or db.AppointmentFinancials(
        id=str(uuid.uuid4()), organization_id=appointment.organization_id,
        appointment_id=appointment.id, amount_paid=money.ZERO,
        late_cancellation_fee=money.ZERO, late_cancellation=False, fee_waived=money.ZERO)


def _appointment(session: Session, who: Principal, appointment_id: str,
                 now: datetime) -> db.Appointment:
    row = access.get_in_organization(session, db.Appointment, appointment_id,
                                     who.organization_id, who.actor, now,
                                     target_type="appointment")
    departments.check_appointment(session, who, departments.VIEW, row, now)
    return row


def _existing(session: Session, org: str,
              appointment_id: str) -> db.AppointmentFinancials | None:
    return session.scalar(select(db.AppointmentFinancials).where(
        db.AppointmentFinancials.appointment_id == appointment_id,
        db.AppointmentFinancials.organization_id == org))


def read(session: Session, who: Principal, appointment_id: str, now: datetime) -> Values:
    """The appointment's financial record (zeros when nothing was entered); audited."""
    appointment = _appointment(session, who, appointment_id, now)
    found = _existing(session, appointment.organization_id, appointment.id)
    values = {"appointment_id": appointment.id, **_values(found)}
    access.record_reads(session, who.organization_id, who.actor, now,
                        "appointment_financials", [appointment.id])
    return values


def _accept(session: Session, who: Principal, now: datetime, intent: str,
            appointment_id: str) -> None:
    unit_of(session).emit(ChangeAccepted(
        who.organization_id, now, who.actor.user_id, who.actor.device_id, intent,
        "appointment_financials", appointment_id, outcome="done"))
    session.commit()


def update_charges(session: Session, who: Principal, appointment_id: str, changes: Values,
                   now: datetime) -> Values:
    """Enter the charge, coverage and copay (any of them; the others stay); the amount due
    and payment status follow. Negative or inconsistent amounts: 422, nothing saved."""
    appointment = _appointment(session, who, appointment_id, now)
    row = _row_of(session, appointment)
    try:
        amounts = money.with_charges(_financials(row), **changes)
    except FinancialError as exc:
        session.rollback()
        raise InvalidInput(str(exc), code="invalid_amount") from None
    _store(session, row, amounts)
    session.flush()
    _accept(session, who, now, "financials.update", appointment.id)
    return {"appointment_id": appointment.id, **_values(row)}


def record_payment(session: Session, who: Principal, appointment_id: str, amount: Any,
                   paid_on: date | None, now: datetime) -> Values:
    """Record a payment of ``amount`` (on ``paid_on``, default today UTC); the payment
    status becomes ``partial`` or ``paid``. More than the amount due: 422."""
    appointment = _appointment(session, who, appointment_id, now)
    row = _row_of(session, appointment)
    try:
        amounts = money.with_payment(_financials(row), amount)
    except FinancialError as exc:
        session.rollback()
        raise InvalidInput(str(exc), code="invalid_amount") from None
    _store(session, row, amounts)
    row.payment_date = paid_on or now.date()
    session.flush()
    _accept(session, who, now, "financials.payment", appointment.id)
    return {"appointment_id": appointment.id, **_values(row)}


def waive_fee(session: Session, who: Principal, appointment_id: str, amount: Any | None,
              reason: str, now: datetime) -> Values:
    """Waive ``amount`` of the appointment's posted late-cancellation fee (None: all that
    is left of it) for ``reason``; the amount due follows. No fee, too much, a paid fee
    or an empty reason: 422, nothing saved. The waiver (amount, reason, who, when) is
    kept in ``fee_waivers``; the audit entry names the appointment, not the reason."""
    appointment = _appointment(session, who, appointment_id, now)
    row = _existing(session, appointment.organization_id, appointment.id)
    if not reason.strip():
        raise InvalidInput("reason: say why the fee is waived.", code="reason_required")
    if row is None or not row.late_cancellation or row.late_cancellation_fee <= 0:
        raise InvalidInput("This appointment has no late-cancellation fee to waive.",
                           code="no_fee")
    amounts = _financials(row)
    try:
        after = money.with_fee_waived(amounts, amounts.late_cancellation_fee
                                      if amount is None else amount)
    except FinancialError as exc:
        session.rollback()
        raise InvalidInput(str(exc), code="invalid_amount") from None
    waived = amounts.late_cancellation_fee - after.late_cancellation_fee
    _store(session, row, after)
    row.fee_waived = (row.fee_waived or money.ZERO) + waived
    session.add(db.FeeWaiver(id=str(uuid.uuid4()), organization_id=who.organization_id,
                             appointment_id=appointment.id, amount=waived,
                             reason=reason.strip(), waived_by=who.user_id, waived_at=now))
    session.flush()
    _accept(session, who, now, "financials.waive_fee", appointment.id)
    return {"appointment_id": appointment.id, **_values(row)}


def patient_appointments(session: Session, who: Principal, patient_id: str, now: datetime,
                         *, limit: int, offset: int) -> list[Values]:
    """The patient's appointments, newest first, each with its financial record; the
    patient's read is audited (one entry, ids only)."""
    patient = access.get_in_organization(session, db.Patient, patient_id, who.organization_id,
                                         who.actor, now, target_type="patient")
    rows = session.execute(
        select(db.Appointment, db.AppointmentFinancials)
        .outerjoin(db.AppointmentFinancials,
                   and_(db.AppointmentFinancials.appointment_id == db.Appointment.id,
                        db.AppointmentFinancials.organization_id == who.organization_id))
        .where(db.Appointment.organization_id == who.organization_id,
               db.Appointment.patient_id == patient.id, db.Appointment.deleted.is_(False))
        .order_by(db.Appointment.start_at.desc(), db.Appointment.id)
        .limit(min(limit, MAX_PAGE)).offset(offset)).all()
    hidden = departments.hidden_resources(session, who)
    found = [{"id": appointment.id, "clinic_id": appointment.clinic_id,
              "provider_id": appointment.provider_id,
              "appointment_type_id": appointment.appointment_type_id,
              "start": appointment.start_at, "end": appointment.end_at,
              "status": appointment.status, "financials": _values(financial)}
             for appointment, financial in rows
             if not {appointment.provider_id, appointment.room_id} & hidden]
    access.record_reads(session, who.organization_id, who.actor, now, "patient", [patient.id])
    return found


# --------------------------------------------------------------------------- late cancellations


def _accepted_change(uow: UnitOfWork) -> ChangeAccepted | None:
    """The accepted change being handled (its ``ChangeAccepted`` is emitted first)."""
    return next((e for e in reversed(uow.events) if isinstance(e, ChangeAccepted)), None)


def post_late_cancellation_fee(uow: UnitOfWork, change: AppointmentCancelled) -> None:
    """A late cancellation (the rules' ``LATE_CANCELLATION`` notice) is flagged on the
    appointment's financial record with the fee of its type's booking policy; a
    supervisor's override waives the fee but the cancellation stays flagged late."""
    accepted = _accepted_change(uow)
    if accepted is None or RefusalCode.LATE_CANCELLATION.value not in accepted.reason:
        return
    session = uow.session
    appointment = db.get_in_org(session, db.Appointment, change.organization_id,
                                change.appointment_id)
    kind = session.get(db.AppointmentType, change.appointment_type_id or "")
    if appointment is None or kind is None:
        return
    waived = accepted.outcome == AuditOutcome.OVERRIDDEN.value
    fee = money.from_cents(kind.late_cancellation_fee_cents or 0) if not waived else money.ZERO
    row = _row_of(session, appointment)
    amounts = _financials(row)
    row.late_cancellation, row.fee_waived = True, money.ZERO
    _store(session, row, Financials(amounts.total_charge, amounts.insurance_coverage,
                                    amounts.copay_amount, fee, amounts.amount_paid))
    session.flush()


def take_back_late_cancellation_fee(uow: UnitOfWork, change: StatusChanged) -> None:
    """Undoing a cancellation takes its fee back (unless the fee was already paid)."""
    if change.before is None or change.before.status is not AppointmentStatus.CANCELLED:
        return
    row = _existing(uow.session, change.organization_id, change.appointment_id)
    if row is None or not row.late_cancellation:
        return
    amounts = _financials(row)
    unpaid = Financials(amounts.total_charge, amounts.insurance_coverage, amounts.copay_amount,
                        money.ZERO, amounts.amount_paid)
    if unpaid.amount_due < 0:
        return  # the fee was paid: a refund is the clinic's decision, not the undo's
    row.late_cancellation, row.fee_waived = False, money.ZERO
    _store(uow.session, row, unpaid)
    uow.session.flush()


__all__ = ["patient_appointments", "post_late_cancellation_fee", "read", "record_payment",
           "take_back_late_cancellation_fee", "update_charges", "waive_fee"]
