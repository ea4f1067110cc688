"""The rules engine: what booking, moving, resizing, cancelling and status changes do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling.audit import AuditOutcome, audit_record
from scheduling.cancellation import was_cancelled_late
from scheduling.commands import (
    Accepted,
    CancelAppointment,
    ChangeStatus,
    MoveAppointment,
    Outcome,
    Refused,
    ResizeAppointment,
    UndoStatus,
)
from scheduling.errors import NaiveDatetimeError
from scheduling.model import Appointment, AppointmentStatus, ExceptionKind, ScheduleException
from scheduling.refusals import RefusalCode as R
from scheduling.rules import check
from scheduling.state import CalendarState
from tests.scheduling.calendar_fixtures import (
    CLINIC,
    DR_ADAMS,
    DR_BAKER,
    GROUP,
    MONDAY,
    NOW,
    STAFF,
    SUPERVISOR,
    book,
    clinic_state,
    existing,
    wall,
)

TEN = wall(MONDAY, 10)
MINUTES = timedelta(minutes=1)


def accept(outcome: Outcome, state: CalendarState) -> Appointment:
    """Assert ``outcome`` is accepted and apply it to ``state``."""
    assert isinstance(outcome, Accepted), outcome
    for appointment in outcome.appointments:
        state.put_appointment(appointment)
    return outcome.appointment


def refused(outcome: Outcome) -> R:
    assert isinstance(outcome, Refused), outcome
    return outcome.code


def booked(state: CalendarState, appointment: Appointment) -> Appointment:
    state.put_appointment(appointment)
    return appointment


# --------------------------------------------------------------------------- booking


def test_a_free_slot_is_booked_with_the_type_default_duration() -> None:
    state = clinic_state()
    appointment = accept(check(book(DR_ADAMS, TEN), state, NOW), state)
    assert (appointment.start, appointment.end) == (TEN, TEN + 30 * MINUTES)
    assert appointment.status is AppointmentStatus.BOOKED


def test_a_staff_request_marked_online_still_needs_an_online_bookable_type() -> None:
    from scheduling.model import AppointmentSource

    state = clinic_state()  # the consultation is not bookable online
    refused = check(book(DR_ADAMS, TEN, source=AppointmentSource.ONLINE), state, NOW)
    assert isinstance(refused, Refused) and refused.code is R.NOT_ONLINE_BOOKABLE
    assert isinstance(check(book(DR_ADAMS, TEN, source=AppointmentSource.PHONE), state, NOW),
                      Accepted)


def test_group_bookings_join_the_same_slot_until_capacity_is_reached() -> None:
    state = clinic_state()
    for patient in ("pat-1", "pat-2", "pat-3"):
        accept(check(book(DR_ADAMS, TEN, patient=patient, kind=GROUP), state, NOW), state)
    fourth = check(book(DR_ADAMS, TEN, patient="pat-4", kind=GROUP), state, NOW)
    assert refused(fourth) is R.CAPACITY_REACHED


def test_a_group_booking_at_another_time_of_the_same_provider_is_a_conflict() -> None:
    state = clinic_state()
    accept(check(book(DR_ADAMS, TEN, patient="pat-1", kind=GROUP), state, NOW), state)
    later = check(book(DR_ADAMS, TEN + 30 * MINUTES, patient="pat-2", kind=GROUP), state, NOW)
    assert refused(later) is R.PROVIDER_BUSY


def test_an_override_with_permission_and_reason_accepts_and_lists_what_it_overrode() -> None:
    state = clinic_state()
    booked(state, existing(DR_ADAMS, TEN, patient="pat-1"))
    outcome = check(book(DR_ADAMS, TEN, patient="pat-1", actor=SUPERVISOR,
                         override_reason="emergency fit-in"), state, NOW)
    assert isinstance(outcome, Accepted), outcome
    assert outcome.overridden == (R.PROVIDER_BUSY, R.PATIENT_DOUBLE_BOOKED)
    assert outcome.override_reason == "emergency fit-in"
    assert outcome.appointment.override_reason == "emergency fit-in"


def test_an_override_cannot_book_outside_working_hours() -> None:
    state = clinic_state()
    outcome = check(book(DR_ADAMS, wall(MONDAY, 8), actor=SUPERVISOR,
                         override_reason="early bird"), state, NOW)
    assert refused(outcome) is R.OUTSIDE_HOURS


def test_a_booking_without_an_override_records_no_override_reason() -> None:
    state = clinic_state()
    outcome = check(book(DR_ADAMS, TEN, actor=SUPERVISOR, override_reason="just in case"),
                    state, NOW)
    assert isinstance(outcome, Accepted)
    assert outcome.overridden == ()
    assert outcome.appointment.override_reason is None


# --------------------------------------------------------------------------- moving


def test_a_move_keeps_the_duration_and_counts_a_reschedule() -> None:
    state = clinic_state()
    original = booked(state, existing(DR_ADAMS, TEN, 45))
    moved = accept(check(MoveAppointment(STAFF, original.id, TEN + 240 * MINUTES), state, NOW),
                   state)
    assert (moved.start, moved.end) == (TEN + 240 * MINUTES, TEN + 285 * MINUTES)
    assert moved.reschedule_count == original.reschedule_count + 1
    assert moved.version == original.version + 1


def test_a_move_overlapping_its_own_old_time_is_not_a_conflict() -> None:
    state = clinic_state()
    original = booked(state, existing(DR_ADAMS, TEN, 30))
    moved = accept(check(MoveAppointment(STAFF, original.id, TEN + 15 * MINUTES), state, NOW),
                   state)
    assert moved.start == TEN + 15 * MINUTES


def test_a_move_onto_another_booking_is_refused_with_alternatives() -> None:
    state = clinic_state()
    original = booked(state, existing(DR_ADAMS, TEN, 30))
    booked(state, existing(DR_ADAMS, TEN + 60 * MINUTES, 30, patient="pat-3"))
    outcome = check(MoveAppointment(STAFF, original.id, TEN + 60 * MINUTES), state, NOW)
    assert refused(outcome) is R.PROVIDER_BUSY
    assert outcome.alternatives


def test_a_move_to_another_provider_changes_the_provider_at_the_same_time() -> None:
    state = clinic_state()
    original = booked(state, existing(DR_ADAMS, TEN, 30))
    moved = accept(check(MoveAppointment(STAFF, original.id, TEN, provider_id=DR_BAKER),
                         state, NOW), state)
    assert (moved.provider_id, moved.start, moved.end) == (DR_BAKER, TEN, original.end)


def test_a_move_to_a_busy_provider_is_refused() -> None:
    state = clinic_state()
    original = booked(state, existing(DR_ADAMS, TEN, 30))
    booked(state, existing(DR_BAKER, TEN, 30, patient="pat-3"))
    outcome = check(MoveAppointment(STAFF, original.id, TEN, provider_id=DR_BAKER), state, NOW)
    assert refused(outcome) is R.PROVIDER_BUSY


# --------------------------------------------------------------------------- resizing


def test_a_resize_within_the_type_bounds_is_accepted() -> None:
    state = clinic_state()
    original = booked(state, existing(DR_ADAMS, TEN, 30))
    resized = accept(check(ResizeAppointment(STAFF, original.id, TEN + 60 * MINUTES), state, NOW),
                     state)
    assert (resized.start, resized.end) == (TEN, TEN + 60 * MINUTES)


@pytest.mark.parametrize(
    ("minutes", "code"),
    [(10, R.DURATION_TOO_SHORT), (75, R.DURATION_TOO_LONG), (0, R.DURATION_TOO_SHORT),
     (-15, R.DURATION_TOO_SHORT)],
    ids=["shorter-than-min", "longer-than-max", "zero-length", "end-before-start"],
)
def test_a_resize_outside_the_type_bounds_is_refused(minutes: int, code: R) -> None:
    state = clinic_state()
    original = booked(state, existing(DR_ADAMS, TEN, 30))
    outcome = check(ResizeAppointment(STAFF, original.id, TEN + minutes * MINUTES), state, NOW)
    assert refused(outcome) is code


def test_a_resize_into_the_next_booking_is_refused() -> None:
    state = clinic_state()
    original = booked(state, existing(DR_ADAMS, TEN, 30))
    booked(state, existing(DR_ADAMS, TEN + 30 * MINUTES, 30, patient="pat-3"))
    outcome = check(ResizeAppointment(STAFF, original.id, TEN + 45 * MINUTES), state, NOW)
    assert refused(outcome) is R.PROVIDER_BUSY


def test_a_resize_into_the_break_is_refused() -> None:
    state = clinic_state()
    original = booked(state, existing(DR_ADAMS, wall(MONDAY, 11, 30), 30))
    outcome = check(ResizeAppointment(STAFF, original.id, wall(MONDAY, 12, 15)), state, NOW)
    assert refused(outcome) is R.OUTSIDE_HOURS


# --------------------------------------------------------------------------- cancelling


def test_cancelling_frees_the_slot_for_another_booking() -> None:
    state = clinic_state()
    original = booked(state, existing(DR_ADAMS, TEN, 30))
    cancelled = accept(check(CancelAppointment(STAFF, original.id, "moved away"), state, NOW),
                       state)
    assert cancelled.status is AppointmentStatus.CANCELLED
    assert cancelled.cancel_reason == "moved away"
    accept(check(book(DR_ADAMS, TEN, patient="pat-5"), state, NOW), state)


def test_a_late_cancellation_with_override_is_accepted_and_says_so() -> None:
    state = clinic_state()
    soon = booked(state, existing(DR_ADAMS, NOW + 6 * 60 * MINUTES, 30))
    outcome = check(CancelAppointment(SUPERVISOR, soon.id, "ill", override_reason="doctor ok"),
                    state, NOW)
    assert isinstance(outcome, Accepted), outcome
    assert outcome.overridden == (R.LATE_CANCELLATION,)


def test_a_late_cancellation_by_staff_is_recorded_with_a_notice_not_refused() -> None:
    state = clinic_state()
    soon = booked(state, existing(DR_ADAMS, NOW + 6 * 60 * MINUTES, 30))
    outcome = check(CancelAppointment(STAFF, soon.id, "called the evening before"), state, NOW)
    assert isinstance(outcome, Accepted), outcome
    assert outcome.notices == (R.LATE_CANCELLATION,)
    assert outcome.overridden == ()
    assert outcome.appointment.status is AppointmentStatus.CANCELLED
    kind = state.appointment_types[soon.appointment_type_id]
    assert was_cancelled_late(outcome.appointment, kind)
    record = audit_record(CancelAppointment(STAFF, soon.id, "x"), outcome, NOW)
    assert (record.outcome, record.reason) == (AuditOutcome.ACCEPTED, "LATE_CANCELLATION")


def test_a_timely_cancellation_is_not_flagged_late() -> None:
    state = clinic_state()
    later = booked(state, existing(DR_ADAMS, TEN, 30))
    outcome = check(CancelAppointment(STAFF, later.id, "moved away"), state, NOW)
    assert isinstance(outcome, Accepted)
    assert outcome.notices == ()
    assert not was_cancelled_late(outcome.appointment,
                                  state.appointment_types[later.appointment_type_id])


# --------------------------------------------------------------------------- status


def test_the_status_moves_forward_from_booked_to_completed() -> None:
    state = clinic_state()
    appointment = booked(state, existing(DR_ADAMS, TEN, 30))
    path = [AppointmentStatus.CONFIRMED, AppointmentStatus.ARRIVED,
            AppointmentStatus.IN_PROGRESS, AppointmentStatus.COMPLETED]
    on_the_day = TEN - 10 * MINUTES  # arrival and the rest only from the appointment's day
    for status in path:
        changed = accept(check(ChangeStatus(STAFF, appointment.id, status), state, on_the_day),
                         state)
        assert changed.status is status


def test_arrival_a_week_early_is_refused_but_confirming_is_not() -> None:
    state = clinic_state()
    appointment = booked(state, existing(DR_ADAMS, TEN, 30))
    early = check(ChangeStatus(STAFF, appointment.id, AppointmentStatus.ARRIVED), state, NOW)
    assert refused(early) is R.TOO_EARLY_FOR_CHECK_IN
    accept(check(ChangeStatus(STAFF, appointment.id, AppointmentStatus.CONFIRMED), state, NOW),
           state)


def test_a_completed_appointment_cannot_go_back_to_booked() -> None:
    state = clinic_state()
    appointment = booked(state, existing(DR_ADAMS, TEN, 30, status=AppointmentStatus.COMPLETED))
    outcome = check(ChangeStatus(STAFF, appointment.id, AppointmentStatus.BOOKED), state, NOW)
    assert refused(outcome) is R.ILLEGAL_TRANSITION


def test_approving_a_pending_booking_needs_the_approve_permission() -> None:
    state = clinic_state()
    pending = booked(state, existing(DR_ADAMS, TEN, 30, status=AppointmentStatus.PENDING))
    by_staff = check(ChangeStatus(STAFF, pending.id, AppointmentStatus.BOOKED), state, NOW)
    assert refused(by_staff) is R.NOT_PERMITTED
    approved = accept(check(ChangeStatus(SUPERVISOR, pending.id, AppointmentStatus.BOOKED),
                            state, NOW), state)
    assert approved.status is AppointmentStatus.BOOKED


def test_undo_within_the_window_restores_the_previous_status() -> None:
    state = clinic_state()
    appointment = booked(state, existing(DR_ADAMS, TEN, 30))
    accept(check(ChangeStatus(STAFF, appointment.id, AppointmentStatus.CONFIRMED), state, NOW),
           state)
    restored = accept(check(UndoStatus(STAFF, appointment.id), state, NOW + 4 * MINUTES), state)
    assert restored.status is AppointmentStatus.BOOKED
    assert restored.last_status_change is None


def test_undo_after_the_window_is_refused() -> None:
    state = clinic_state()
    appointment = booked(state, existing(DR_ADAMS, TEN, 30))
    accept(check(ChangeStatus(STAFF, appointment.id, AppointmentStatus.CONFIRMED), state, NOW),
           state)
    outcome = check(UndoStatus(STAFF, appointment.id), state, NOW + 6 * MINUTES)
    assert refused(outcome) is R.UNDO_WINDOW_EXPIRED


def test_undoing_a_cancellation_restores_the_booking_and_clears_the_reason() -> None:
    state = clinic_state()
    appointment = booked(state, existing(DR_ADAMS, TEN, 30))
    accept(check(CancelAppointment(STAFF, appointment.id, "oops"), state, NOW), state)
    restored = accept(check(UndoStatus(STAFF, appointment.id), state, NOW + MINUTES), state)
    assert restored.status is AppointmentStatus.BOOKED
    assert restored.cancel_reason is None


def test_undoing_a_cancellation_whose_slot_was_given_away_is_refused() -> None:
    state = clinic_state()
    appointment = booked(state, existing(DR_ADAMS, TEN, 30))
    accept(check(CancelAppointment(STAFF, appointment.id, "moved away"), state, NOW), state)
    accept(check(book(DR_ADAMS, TEN, patient="pat-5"), state, NOW), state)
    outcome = check(UndoStatus(STAFF, appointment.id), state, NOW + MINUTES)
    assert refused(outcome) is R.PROVIDER_BUSY


# --------------------------------------------------------------------------- purity and input


def test_check_never_changes_the_calendar() -> None:
    state = clinic_state()
    appointment = booked(state, existing(DR_ADAMS, TEN, 30, patient="pat-1"))
    before = dict(state.appointments)
    commands = [
        book(DR_ADAMS, TEN + 60 * MINUTES, patient="pat-3"),
        book(DR_ADAMS, TEN, patient="pat-3"),
        MoveAppointment(STAFF, appointment.id, TEN + 120 * MINUTES),
        ResizeAppointment(STAFF, appointment.id, TEN + 45 * MINUTES),
        CancelAppointment(STAFF, appointment.id, "ill"),
        ChangeStatus(STAFF, appointment.id, AppointmentStatus.CONFIRMED),
        UndoStatus(STAFF, appointment.id),
    ]
    for command in commands:
        check(command, state, NOW)
    assert state.appointments == before
    assert list(state.busy_for_resource(DR_ADAMS, TEN, TEN + 180 * MINUTES)) == [
        (TEN.timestamp(), (TEN + 30 * MINUTES).timestamp(), appointment.id)
    ]


def test_a_naive_datetime_in_a_command_is_a_value_error() -> None:
    with pytest.raises(NaiveDatetimeError) as raised:
        book(DR_ADAMS, datetime(2026, 6, 1, 10, 0))
    assert isinstance(raised.value, ValueError)


def test_a_naive_clock_is_a_value_error() -> None:
    with pytest.raises(NaiveDatetimeError):
        check(book(DR_ADAMS, TEN), clinic_state(), datetime(2026, 5, 25, 12, 0))


# --------------------------------------------------------------------------- daylight saving

NEW_YORK = ZoneInfo("America/New_York")
SPRING_FORWARD = datetime(2026, 3, 8, tzinfo=NEW_YORK).date()  # a Sunday
BEFORE_SPRING = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_booking_at_nine_on_the_spring_forward_day_lands_at_thirteen_utc() -> None:
    sunday_hours = ScheduleException(
        "sunday-clinic", DR_ADAMS, CLINIC, ExceptionKind.EXTRA_HOURS,
        datetime(2026, 3, 8, 9, 0, tzinfo=NEW_YORK), datetime(2026, 3, 8, 13, 0, tzinfo=NEW_YORK),
    )
    state = clinic_state(exceptions=[sunday_hours])
    outcome = check(book(DR_ADAMS, datetime(2026, 3, 8, 9, 0, tzinfo=NEW_YORK)), state,
                    BEFORE_SPRING)
    assert isinstance(outcome, Accepted), outcome
    assert outcome.appointment.start == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)


def test_weekly_hours_stay_at_nine_local_on_both_sides_of_the_spring_change() -> None:
    state = clinic_state()
    friday = check(book(DR_ADAMS, datetime(2026, 3, 6, 14, 0, tzinfo=UTC)), state, BEFORE_SPRING)
    monday = check(book(DR_ADAMS, datetime(2026, 3, 9, 13, 0, tzinfo=UTC), patient="pat-2"),
                   state, BEFORE_SPRING)
    assert isinstance(friday, Accepted) and isinstance(monday, Accepted)
    assert refused(check(book(DR_ADAMS, datetime(2026, 3, 9, 12, 30, tzinfo=UTC)), state,
                         BEFORE_SPRING)) is R.OUTSIDE_HOURS
