"""Appointment statistics and provider utilization (seed 001, "Statistics and Analytics")."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import count

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.errors import InvalidIntervalError, UnknownIdError, UnknownTimeZoneError
from scheduling.model import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Break,
    Clinic,
    ExceptionKind,
    Holiday,
    Patient,
    Resource,
    ResourceKind,
    ScheduleException,
    WeeklySchedule,
)
from scheduling.state import CalendarState
from scheduling.statistics import (
    AppointmentStatistics,
    Utilization,
    appointment_statistics,
    utilization,
)
from scheduling.timeutil import to_utc

S = AppointmentStatus
ORG = "org-1"
CLINIC, OTHER_CLINIC = "clinic-ny", "clinic-bk"
TZ = "America/New_York"
MADRID = "Europe/Madrid"
# Ids are in the opposite order of the names, so sorting by name is visible.
DR_ZHANG, DR_YOUNG, DR_TRAVEL = "dr-a-zhang", "dr-b-young", "dr-c-travel"
CONSULT, GROUP, CHECKUP = "consult", "group", "checkup"
MONDAY = date(2026, 6, 1)
SPRING_FORWARD_MONDAY = date(2026, 3, 23)  # Madrid skips 02:00-03:00 on Sunday 29 March

_ids = count(1)


def hours(amount: float) -> timedelta:
    return timedelta(hours=amount)


def wall(day: date, hour: int, minute: int = 0, tz: str = TZ) -> datetime:
    """The UTC instant of a local wall-clock time."""
    return to_utc(datetime.combine(day, time(hour, minute)), tz)


def appointment(
    start: datetime,
    minutes: int = 30,
    *,
    status: AppointmentStatus = S.BOOKED,
    provider: str = DR_ZHANG,
    kind: str = CONSULT,
    clinic: str = CLINIC,
    deleted: bool = False,
) -> Appointment:
    return Appointment(
        id=f"appt-{next(_ids)}",
        organization_id=ORG,
        clinic_id=clinic,
        patient_id=f"pat-{next(_ids)}",
        appointment_type_id=kind,
        provider_id=provider,
        start=start,
        end=start + timedelta(minutes=minutes),
        status=status,
        deleted=deleted,
    )


def stats(
    appointments: list[Appointment],
    first: date = MONDAY,
    last: date = MONDAY,
    tz: str = TZ,
    provider_id: str | None = None,
) -> AppointmentStatistics:
    return appointment_statistics(appointments, first, last, tz, provider_id=provider_id)


def calendar(
    *appointments: Appointment,
    tz: str = TZ,
    holidays: tuple[Holiday, ...] = (),
    exceptions: tuple[ScheduleException, ...] = (),
) -> CalendarState:
    """Zhang and Young work Mon-Fri 09:00-17:00 with a 12:00-13:00 break (7 hours a day).

    Travel works Mondays 09:00-13:00 here and is also assigned to the other clinic.
    """
    clinics = [Clinic(CLINIC, ORG, "Main", tz), Clinic(OTHER_CLINIC, ORG, "Annex", tz)]
    providers = [
        Resource(DR_ZHANG, ORG, ResourceKind.PROVIDER, "Dr Zhang", frozenset({CLINIC})),
        Resource(DR_YOUNG, ORG, ResourceKind.PROVIDER, "Dr Young", frozenset({CLINIC})),
        Resource(
            DR_TRAVEL, ORG, ResourceKind.PROVIDER, "Dr Travel", frozenset({CLINIC, OTHER_CLINIC})
        ),
    ]
    lunch = (Break(time(12), time(13)),)
    schedules = [
        WeeklySchedule(f"ws-{p}-{d}", p, CLINIC, d, time(9), time(17), lunch)
        for p in (DR_ZHANG, DR_YOUNG)
        for d in range(5)
    ]
    schedules.append(WeeklySchedule("ws-travel", DR_TRAVEL, CLINIC, 0, time(9), time(13)))
    minutes = timedelta(minutes=1)
    types = [
        AppointmentType(
            CONSULT,
            ORG,
            "Consultation",
            30 * minutes,
            15 * minutes,
            120 * minutes,
            buffer_before=10 * minutes,
            buffer_after=15 * minutes,
        ),
        AppointmentType(
            GROUP, ORG, "Group session", 60 * minutes, 60 * minutes, 60 * minutes, capacity=4
        ),
    ]
    return CalendarState.build(
        ORG,
        clinics=clinics,
        resources=providers,
        appointment_types=types,
        patients=[Patient("pat-0", ORG, "Ann", "Example")],
        schedules=schedules,
        holidays=holidays,
        exceptions=exceptions,
        appointments=appointments,
    )


def report(
    state: CalendarState,
    first: date = MONDAY,
    last: date = MONDAY,
    providers: list[str] | None = None,
) -> dict[str, Utilization]:
    return {u.provider_id: u for u in utilization(state, CLINIC, first, last, providers)}


# --------------------------------------------------------------------------- statistics


def test_total_counts_appointments_starting_within_the_range_both_ends_included() -> None:
    appointments = [
        appointment(wall(MONDAY - timedelta(days=1), 10)),
        appointment(wall(MONDAY, 0, 0)),
        appointment(wall(MONDAY + timedelta(days=2), 23, 30)),
        appointment(wall(MONDAY + timedelta(days=3), 0, 0)),
    ]
    assert stats(appointments, MONDAY, MONDAY + timedelta(days=2)).total == 2


def test_days_are_local_days_in_the_given_time_zone() -> None:
    late_sunday = appointment(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))  # 22:00 on 31 May in NY
    assert stats([late_sunday], tz=TZ).total == 0
    assert stats([late_sunday], tz="UTC").total == 1


def test_deleted_appointments_are_not_counted() -> None:
    appointments = [appointment(wall(MONDAY, 10)), appointment(wall(MONDAY, 11), deleted=True)]
    assert stats(appointments).total == 1


def test_every_status_is_reported_with_zeros_included() -> None:
    result = stats([appointment(wall(MONDAY, 10), status=S.CANCELLED)])
    assert dict(result.by_status) == {s: (1 if s is S.CANCELLED else 0) for s in S}


def test_cancelled_and_entered_in_error_appointments_count_in_the_total() -> None:
    appointments = [
        appointment(wall(MONDAY, 10), status=S.CANCELLED),
        appointment(wall(MONDAY, 11), status=S.ENTERED_IN_ERROR),
    ]
    assert stats(appointments).total == 2


def test_by_type_counts_each_appointment_type() -> None:
    appointments = [
        appointment(wall(MONDAY, 9), kind=CONSULT),
        appointment(wall(MONDAY, 10), kind=GROUP),
        appointment(wall(MONDAY, 11), kind=CONSULT),
    ]
    assert dict(stats(appointments).by_type) == {CONSULT: 2, GROUP: 1}


def test_a_provider_filter_counts_only_that_providers_appointments() -> None:
    appointments = [
        appointment(wall(MONDAY, 9), provider=DR_ZHANG, status=S.NO_SHOW),
        appointment(wall(MONDAY, 10), provider=DR_YOUNG, status=S.COMPLETED),
        appointment(wall(MONDAY, 11), provider=DR_ZHANG, status=S.COMPLETED),
    ]
    result = stats(appointments, provider_id=DR_ZHANG)
    assert (result.total, result.by_status[S.COMPLETED], result.no_show_rate) == (2, 1, 0.5)


def test_average_per_day_divides_the_total_by_the_days_in_the_range() -> None:
    appointments = [appointment(wall(MONDAY, 9 + i)) for i in range(6)]
    assert stats(appointments, MONDAY, MONDAY + timedelta(days=3)).average_per_day == 1.5


def test_a_23_hour_dst_day_counts_as_one_day_in_the_average() -> None:
    week = [SPRING_FORWARD_MONDAY + timedelta(days=d) for d in range(7)]
    appointments = [appointment(wall(day, 10, tz=MADRID)) for day in week for _ in range(2)]
    result = stats(appointments, week[0], week[-1], tz=MADRID)
    assert (result.total, result.average_per_day) == (14, 2.0)


def test_no_show_rate_is_no_shows_over_appointments_whose_attendance_is_known() -> None:
    statuses = [S.COMPLETED, S.COMPLETED, S.ARRIVED, S.IN_PROGRESS, S.NO_SHOW]
    not_yet_known = [S.PENDING, S.BOOKED, S.CONFIRMED, S.CANCELLED, S.ENTERED_IN_ERROR]
    appointments = [
        appointment(wall(MONDAY, 8) + timedelta(minutes=30 * i), status=status)
        for i, status in enumerate(statuses + not_yet_known)
    ]
    assert stats(appointments).no_show_rate == pytest.approx(1 / 5)


def test_no_show_rate_is_none_when_no_attendance_is_known() -> None:
    appointments = [
        appointment(wall(MONDAY, 9), status=S.BOOKED),
        appointment(wall(MONDAY, 10), status=S.CANCELLED),
    ]
    assert stats(appointments).no_show_rate is None


def test_a_range_without_appointments_reports_zeros() -> None:
    result = stats([], MONDAY, MONDAY + timedelta(days=6))
    assert (result.total, result.average_per_day, result.no_show_rate) == (0, 0.0, None)
    assert set(result.by_status.values()) == {0} and dict(result.by_type) == {}


def test_the_breakdowns_cannot_be_changed_by_the_caller() -> None:
    result = stats([appointment(wall(MONDAY, 10))])
    with pytest.raises(TypeError):
        result.by_status[S.BOOKED] = 5  # type: ignore[index]


def test_statistics_refuse_a_range_that_ends_before_it_starts() -> None:
    with pytest.raises(InvalidIntervalError):
        stats([], MONDAY, MONDAY - timedelta(days=1))


def test_statistics_refuse_an_unknown_time_zone() -> None:
    with pytest.raises(UnknownTimeZoneError):
        stats([], tz="Mars/Olympus_Mons")


_appointment_lists = st.lists(
    st.builds(
        appointment,
        st.integers(-48, 24 * 9).map(lambda h: wall(MONDAY, 0) + hours(h)),
        status=st.sampled_from(list(S)),
        provider=st.sampled_from([DR_ZHANG, DR_YOUNG]),
        kind=st.sampled_from([CONSULT, GROUP]),
        deleted=st.booleans(),
    ),
    max_size=40,
)


@given(appointments=_appointment_lists, days=st.integers(0, 6))
def test_the_status_breakdown_always_adds_up_to_the_total(
    appointments: list[Appointment], days: int
) -> None:
    result = stats(appointments, MONDAY, MONDAY + timedelta(days=days))
    assert sum(result.by_status.values()) == result.total == sum(result.by_type.values())


@given(
    appointments=_appointment_lists,
    days=st.integers(0, 6),
    provider=st.sampled_from([None, DR_ZHANG]),
)
def test_the_no_show_rate_is_always_a_fraction(
    appointments: list[Appointment], days: int, provider: str | None
) -> None:
    rate = stats(appointments, MONDAY, MONDAY + timedelta(days=days), provider_id=provider)
    assert rate.no_show_rate is None or 0 <= rate.no_show_rate <= 1


# --------------------------------------------------------------------------- utilization


def test_available_time_is_the_working_time_over_the_range() -> None:
    week = report(calendar(), MONDAY, MONDAY + timedelta(days=6))
    assert week[DR_ZHANG].available == hours(35)  # five days of 7 hours, weekend off


def test_booked_time_is_the_active_appointment_time_in_working_hours() -> None:
    state = calendar(appointment(wall(MONDAY, 9), 30), appointment(wall(MONDAY, 14), 60))
    assert report(state)[DR_ZHANG].booked == hours(1.5)


def test_cancelled_no_show_and_deleted_appointments_are_not_booked_time() -> None:
    state = calendar(
        appointment(wall(MONDAY, 9), status=S.CANCELLED),
        appointment(wall(MONDAY, 10), status=S.NO_SHOW),
        appointment(wall(MONDAY, 11), deleted=True),
        appointment(wall(MONDAY, 14), status=S.COMPLETED),
    )
    assert report(state)[DR_ZHANG].booked == hours(0.5)


def test_appointment_time_outside_working_windows_is_not_booked_time() -> None:
    over_lunch = appointment(wall(MONDAY, 11, 30), 60)
    after_hours = appointment(wall(MONDAY, 16, 45), 60)
    assert report(calendar(over_lunch, after_hours))[DR_ZHANG].booked == hours(0.75)


def test_overlapping_appointments_are_booked_time_once() -> None:
    group = [appointment(wall(MONDAY, 10), 60, kind=GROUP) for _ in range(3)]
    assert report(calendar(*group))[DR_ZHANG].booked == hours(1)


def test_buffers_are_not_booked_time() -> None:
    consult_with_buffers = appointment(wall(MONDAY, 10), 30, kind=CONSULT)
    assert report(calendar(consult_with_buffers))[DR_ZHANG].booked == hours(0.5)


def test_appointments_at_another_clinic_are_not_booked_time_here() -> None:
    elsewhere = appointment(wall(MONDAY, 10), 60, provider=DR_TRAVEL, clinic=OTHER_CLINIC)
    assert report(calendar(elsewhere))[DR_TRAVEL].booked == timedelta(0)


def test_the_ratio_is_booked_over_available_time() -> None:
    state = calendar(*(appointment(wall(MONDAY, 9 + h), 60) for h in (0, 1, 4, 5)))
    assert report(state)[DR_ZHANG].ratio == pytest.approx(4 / 7)


def test_the_ratio_is_none_without_working_time() -> None:
    saturday = MONDAY + timedelta(days=5)
    result = report(calendar(), saturday, saturday)[DR_ZHANG]
    assert (result.available, result.ratio) == (timedelta(0), None)


def test_holidays_and_time_off_reduce_the_available_time() -> None:
    tuesday = MONDAY + timedelta(days=1)
    state = calendar(
        holidays=(Holiday("h-1", CLINIC, MONDAY, "Clinic closed"),),
        exceptions=(
            ScheduleException(
                "x-1", DR_ZHANG, CLINIC, ExceptionKind.TIME_OFF, wall(tuesday, 9), wall(tuesday, 11)
            ),
        ),
    )
    assert report(state, MONDAY, tuesday)[DR_ZHANG].available == hours(5)


def test_providers_default_to_those_at_the_clinic_sorted_by_name() -> None:
    result = utilization(calendar(), CLINIC, MONDAY, MONDAY)
    assert [u.provider_id for u in result] == [DR_TRAVEL, DR_YOUNG, DR_ZHANG]


def test_named_providers_limit_the_report() -> None:
    result = utilization(calendar(), CLINIC, MONDAY, MONDAY, [DR_ZHANG, DR_YOUNG, DR_ZHANG])
    assert [u.provider_id for u in result] == [DR_YOUNG, DR_ZHANG]


def test_a_spring_forward_week_in_madrid_counts_its_23_hour_sunday_as_23_hours() -> None:
    sunday = SPRING_FORWARD_MONDAY + timedelta(days=6)
    on_call_all_sunday = ScheduleException(
        "x-on-call",
        DR_ZHANG,
        CLINIC,
        ExceptionKind.EXTRA_HOURS,
        wall(sunday, 0, tz=MADRID),
        wall(sunday + timedelta(days=1), 0, tz=MADRID),
    )
    across_the_gap = appointment(wall(sunday, 1, 30, tz=MADRID), 60)  # 01:30 to 03:30 local
    weekday = appointment(wall(SPRING_FORWARD_MONDAY, 10, tz=MADRID), 60)
    state = calendar(across_the_gap, weekday, tz=MADRID, exceptions=(on_call_all_sunday,))
    result = report(state, SPRING_FORWARD_MONDAY, sunday)[DR_ZHANG]
    assert (result.available, result.booked) == (hours(5 * 7 + 23), hours(2))


def test_utilization_refuses_a_range_that_ends_before_it_starts() -> None:
    with pytest.raises(InvalidIntervalError):
        utilization(calendar(), CLINIC, MONDAY, MONDAY - timedelta(days=1))


def test_utilization_of_an_unknown_clinic_or_provider_is_an_error() -> None:
    with pytest.raises(UnknownIdError):
        utilization(calendar(), "clinic-404", MONDAY, MONDAY)
    with pytest.raises(UnknownIdError):
        utilization(calendar(), CLINIC, MONDAY, MONDAY, ["dr-404"])


@given(
    appointments=st.lists(
        st.builds(
            appointment,
            st.integers(0, 5 * 24 * 4).map(lambda q: wall(MONDAY, 0) + timedelta(minutes=15 * q)),
            st.sampled_from([15, 30, 60, 120, 240]),
            status=st.sampled_from(list(S)),
            provider=st.sampled_from([DR_ZHANG, DR_YOUNG]),
        ),
        max_size=30,
    )
)
def test_booked_time_never_exceeds_the_available_time(appointments: list[Appointment]) -> None:
    for result in utilization(calendar(*appointments), CLINIC, MONDAY, MONDAY + timedelta(days=4)):
        assert timedelta(0) <= result.booked <= result.available
