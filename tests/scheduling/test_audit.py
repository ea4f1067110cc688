"""Every command, accepted or refused, yields an audit record without patient data."""

from __future__ import annotations

from scheduling.audit import AuditOutcome, audit_record
from scheduling.commands import CancelAppointment, ChangeStatus
from scheduling.model import AppointmentStatus
from scheduling.rules import check
from tests.scheduling.calendar_fixtures import (
    DR_ADAMS,
    MONDAY,
    NOW,
    STAFF,
    SUPERVISOR,
    book,
    clinic_state,
    existing,
    wall,
)


def test_an_accepted_booking_is_audited_with_actor_device_intent_and_target() -> None:
    state = clinic_state()
    command = book(DR_ADAMS, wall(MONDAY, 10))
    record = audit_record(command, check(command, state, NOW), NOW)
    assert (record.actor_id, record.device_id) == (STAFF.user_id, STAFF.device_id)
    assert record.intent == "appointment.book"
    assert record.target == command.appointment_id
    assert record.outcome is AuditOutcome.ACCEPTED
    assert record.at == NOW


def test_a_refused_booking_is_audited_with_its_code() -> None:
    state = clinic_state()
    state.put_appointment(existing(DR_ADAMS, wall(MONDAY, 10)))
    command = book(DR_ADAMS, wall(MONDAY, 10))
    record = audit_record(command, check(command, state, NOW), NOW)
    assert record.outcome is AuditOutcome.REFUSED
    assert record.reason == "PROVIDER_BUSY"


def test_an_override_is_audited_with_the_overridden_codes_and_the_reason() -> None:
    state = clinic_state()
    state.put_appointment(existing(DR_ADAMS, wall(MONDAY, 10)))
    command = book(DR_ADAMS, wall(MONDAY, 10), actor=SUPERVISOR,
                   override_reason="emergency fit-in")
    record = audit_record(command, check(command, state, NOW), NOW)
    assert record.outcome is AuditOutcome.OVERRIDDEN
    assert "PROVIDER_BUSY" in record.reason and "emergency fit-in" in record.reason


def test_status_changes_name_the_target_status_in_the_intent() -> None:
    state = clinic_state()
    appointment = existing(DR_ADAMS, wall(MONDAY, 10))
    state.put_appointment(appointment)
    command = ChangeStatus(STAFF, appointment.id, AppointmentStatus.CONFIRMED)
    record = audit_record(command, check(command, state, NOW), NOW)
    assert record.intent == "appointment.change_status:confirmed"


def test_a_cancellation_reason_is_not_copied_into_the_audit_trail() -> None:
    # Free-text reasons may hold health information; the audit names ids and codes only.
    state = clinic_state()
    appointment = existing(DR_ADAMS, wall(MONDAY, 10))
    state.put_appointment(appointment)
    command = CancelAppointment(STAFF, appointment.id, "chemotherapy session moved")
    record = audit_record(command, check(command, state, NOW), NOW)
    assert record.outcome is AuditOutcome.ACCEPTED
    assert "chemotherapy" not in repr(record)
