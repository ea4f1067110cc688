"""Recurring series: per-occurrence outcomes and this / following / all edits."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from scheduling.commands import Accepted, CancelAppointment, MoveAppointment, Refused
from scheduling.model import Series
from scheduling.recurrence import weekly_for_weeks
from scheduling.refusals import RefusalCode
from scheduling.series import SeriesScope, book_series, cancel_in_series, move_in_series
from tests.scheduling.calendar_fixtures import (
    CLINIC,
    DR_ADAMS,
    MONDAY,
    NOW,
    ORG,
    STAFF,
    book,
    clinic_state,
    existing,
    wall,
)


def mon_wed_six_weeks(series_id: str = "series-1") -> Series:
    return Series(series_id, ORG, CLINIC, weekly_for_weeks([0, 2], 6),
                  datetime.combine(MONDAY, time(9)))


def booked_series(state, series):  # type: ignore[no-untyped-def]
    outcome = book_series(state, book(DR_ADAMS, wall(MONDAY, 9)), series, NOW)
    for appointment in outcome.accepted:
        state.put_appointment(appointment)
    return outcome


def later(appointment, hours: int = 1) -> MoveAppointment:  # type: ignore[no-untyped-def]
    return MoveAppointment(STAFF, appointment.id, appointment.start + timedelta(hours=hours))


def test_mon_wed_for_six_weeks_gives_twelve_results_at_nine_local() -> None:
    state = clinic_state()
    outcome = book_series(state, book(DR_ADAMS, wall(MONDAY, 9)), mon_wed_six_weeks(), NOW)
    assert len(outcome.results) == 12
    assert len(outcome.accepted) == 12
    assert {a.start.hour for a in outcome.accepted} == {13}  # 09:00 EDT is 13:00 UTC


def test_a_clashing_occurrence_is_refused_with_alternatives_and_the_rest_accepted() -> None:
    state = clinic_state()
    state.put_appointment(existing(DR_ADAMS, wall(MONDAY + timedelta(days=7), 9)))
    outcome = book_series(state, book(DR_ADAMS, wall(MONDAY, 9)), mon_wed_six_weeks(), NOW)
    assert len(outcome.accepted) == 11
    [clash] = outcome.refused
    assert isinstance(clash.outcome, Refused)
    assert clash.outcome.code is RefusalCode.PROVIDER_BUSY
    assert clash.outcome.alternatives
    assert clash.original_start == wall(MONDAY + timedelta(days=7), 9)


def test_booking_a_series_leaves_the_state_unchanged() -> None:
    state = clinic_state()
    before = dict(state.appointments)
    book_series(state, book(DR_ADAMS, wall(MONDAY, 9)), mon_wed_six_weeks(), NOW)
    assert state.appointments == before


def test_occurrences_carry_the_series_id_and_their_original_start() -> None:
    state = clinic_state()
    outcome = booked_series(state, mon_wed_six_weeks())
    assert all(a.series_id == "series-1" for a in outcome.accepted)
    assert all(a.original_start == a.start for a in outcome.accepted)


def test_moving_this_occurrence_moves_only_it() -> None:
    state = clinic_state()
    series = mon_wed_six_weeks()
    outcome = booked_series(state, series)
    first = outcome.accepted[0]
    moved = move_in_series(state, later(first),
                           SeriesScope.THIS, series, NOW)
    assert [a.id for a in moved.accepted] == [first.id]


def test_moving_this_and_following_splits_the_series() -> None:
    state = clinic_state()
    series = mon_wed_six_weeks()
    outcome = booked_series(state, series)
    fifth = outcome.accepted[4]
    moved = move_in_series(state, later(fifth),
                           SeriesScope.FOLLOWING, series, NOW, new_series_id="series-2")
    assert len(moved.accepted) == 8
    assert all(a.series_id == "series-2" for a in moved.accepted)
    assert all(a.start.hour == 14 for a in moved.accepted)
    old, new = moved.series
    assert "UNTIL=" in old.rrule and "COUNT" not in old.rrule
    assert new.id == "series-2" and new.first_local.hour == 10


def test_moving_all_occurrences_reports_each_clash_separately() -> None:
    state = clinic_state()
    series = mon_wed_six_weeks()
    outcome = booked_series(state, series)
    state.put_appointment(existing(DR_ADAMS, wall(MONDAY + timedelta(days=14), 10)))
    first = outcome.accepted[0]
    moved = move_in_series(state, later(first),
                           SeriesScope.ALL, series, NOW)
    assert len(moved.accepted) == 11
    assert len(moved.refused) == 1


def test_cancelling_one_occurrence_records_an_exception_date() -> None:
    state = clinic_state()
    series = mon_wed_six_weeks()
    outcome = booked_series(state, series)
    third = outcome.accepted[2]
    cancelled = cancel_in_series(state, CancelAppointment(STAFF, third.id, "patient asked"),
                                 SeriesScope.THIS, series, NOW)
    assert isinstance(cancelled.results[0].outcome, Accepted)
    [updated] = cancelled.series
    assert updated.exdates == {datetime.combine(MONDAY + timedelta(days=7), time(9))}


def test_splitting_without_a_new_series_id_is_an_input_error() -> None:
    state = clinic_state()
    series = mon_wed_six_weeks()
    outcome = booked_series(state, series)
    first = outcome.accepted[0]
    with pytest.raises(ValueError, match="new series"):
        move_in_series(state, later(first),
                       SeriesScope.FOLLOWING, series, NOW)


def test_cancelling_an_occurrence_moved_out_of_the_spring_gap_records_the_asked_wall_time() -> None:
    # 02:30 does not exist on 2026-03-08 in New York; the occurrence happens at 03:30 but
    # its identity, and so its exception date, is the 02:30 the rule asked for.
    from scheduling.model import Break, WeeklySchedule

    state = clinic_state(schedules=[
        WeeklySchedule(f"ws-{d}", DR_ADAMS, CLINIC, d, time(0), time(23, 59),
                       (Break(time(12), time(12, 30)),))
        for d in range(7)
    ])
    first = datetime(2026, 3, 7, 2, 30)  # Saturday 02:30, then daily
    series = Series("gap", ORG, CLINIC, "FREQ=DAILY;COUNT=3", first)
    start = wall(first.date(), 2, 30)
    outcome = book_series(state, book(DR_ADAMS, start), series,
                          datetime(2026, 3, 1, tzinfo=start.tzinfo))
    for appointment in outcome.accepted:
        state.put_appointment(appointment)
    gap_day = next(a for a in outcome.accepted if a.start.day == 8)
    cancelled = cancel_in_series(state, CancelAppointment(STAFF, gap_day.id, "closed"),
                                 SeriesScope.THIS, series, datetime(2026, 3, 1,
                                                                    tzinfo=start.tzinfo))
    assert cancelled.series[0].exdates == {datetime(2026, 3, 8, 2, 30)}


def test_moving_all_occurrences_moves_the_series_record_to_the_new_time() -> None:
    state = clinic_state()
    series = mon_wed_six_weeks()
    outcome = booked_series(state, series)
    moved = move_in_series(state, later(outcome.accepted[0]), SeriesScope.ALL, series, NOW)
    [record] = moved.series
    assert record.first_local == datetime.combine(MONDAY, time(10))
    assert all(a.original_start == a.start for a in moved.accepted)


def test_cancelling_an_occurrence_of_a_split_off_tail_records_it_at_the_tail_time() -> None:
    from scheduling.recurrence import expand

    state = clinic_state()
    series = mon_wed_six_weeks()
    outcome = booked_series(state, series)
    moved = move_in_series(state, later(outcome.accepted[4]), SeriesScope.FOLLOWING, series,
                           NOW, new_series_id="series-2")
    for appointment in moved.accepted:
        state.put_appointment(appointment)
    _, tail = moved.series
    second = moved.accepted[1]
    cancelled = cancel_in_series(state, CancelAppointment(STAFF, second.id, "patient asked"),
                                 SeriesScope.THIS, tail, NOW)
    [updated] = cancelled.series
    assert updated.exdates == {to_wall(second.start)}
    starts = [o.start for o in expand(updated.rrule, updated.first_local, "America/New_York",
                                      exdates=updated.exdates)]
    assert second.start not in starts
    assert len(starts) == 7


def to_wall(instant: datetime) -> datetime:
    from scheduling.timeutil import to_local

    return to_local(instant, "America/New_York")
