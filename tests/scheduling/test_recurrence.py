"""Recurrence: the RRULE subset, expanded in clinic local time with the DST gap/fold policy."""

from __future__ import annotations

import calendar
import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule as du
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.errors import RecurrenceError, UnknownTimeZoneError
from scheduling.recurrence import (
    WEEKDAY_CODES,
    Occurrence,
    RecurrenceRule,
    build_rrule,
    expand,
    parse_rrule,
    weekly_for_weeks,
)
from scheduling.timeutil import to_utc

NEW_YORK = "America/New_York"
MADRID = "Europe/Madrid"
ZONES = (NEW_YORK, MADRID)

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


def starts(occurrences: list[Occurrence]) -> list[datetime]:
    return [o.start for o in occurrences]


def local_starts(occurrences: list[Occurrence]) -> list[datetime]:
    return [o.local_start for o in occurrences]


# --------------------------------------------------------------------------- strategies


def clock_change_days(tz: str, first_year: int, last_year: int) -> Iterator[date]:
    """Local dates on which ``tz`` changes its UTC offset."""
    info = ZoneInfo(tz)
    day = date(first_year, 1, 1)
    while day.year <= last_year:
        before = datetime.combine(day, time()).replace(tzinfo=info).utcoffset()
        after = datetime.combine(day + timedelta(days=1), time()).replace(tzinfo=info).utcoffset()
        if before != after:
            yield day
        day += timedelta(days=1)


CLOCK_CHANGES = sorted({day for tz in ZONES for day in clock_change_days(tz, 2024, 2031)})

# Plain dates over several years, and dates in the week before a clock change.
start_dates = st.one_of(
    st.dates(date(2024, 1, 1), date(2030, 12, 31)),
    st.builds(lambda day, back: day - timedelta(days=back),
              st.sampled_from(CLOCK_CHANGES), st.integers(0, 7)),
)
# Both zones skip 02:00-02:59 in spring, so any other hour is never in a gap.
wall_times_outside_gaps = st.builds(
    time, st.integers(0, 23).filter(lambda hour: hour != 2), st.integers(0, 59)
)
any_wall_times = st.builds(time, st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))

FREQUENCIES: dict[str, Literal[1, 2, 3]] = {
    "DAILY": du.DAILY, "WEEKLY": du.WEEKLY, "MONTHLY": du.MONTHLY,
}
ORDINALS = (1, 2, 3, 4, 5, -1, -2)


@st.composite
def rule_bodies(draw: st.DrawFn) -> tuple[str, int, list[str]]:
    """(FREQ, INTERVAL, BYDAY codes) of a random supported rule."""
    freq = draw(st.sampled_from(sorted(FREQUENCIES)))
    interval = draw(st.integers(1, 4))
    plain = st.lists(st.sampled_from(WEEKDAY_CODES), unique=True, max_size=3)
    if freq == "MONTHLY":
        ordinal = st.builds(lambda n, code: f"{n}{code}",
                            st.sampled_from(ORDINALS), st.sampled_from(WEEKDAY_CODES))
        byday = draw(st.one_of(plain, st.lists(ordinal, unique=True, min_size=1, max_size=2)))
    else:
        byday = draw(plain)
    return freq, interval, byday


def rule_text(freq: str, interval: int, byday: list[str], bound: str) -> str:
    byday_part = f";BYDAY={','.join(byday)}" if byday else ""
    return f"FREQ={freq};INTERVAL={interval}{byday_part};{bound}"


def reference_rule(freq: str, interval: int, byday: list[str], first: datetime) -> du.rrule:
    """The same rule straight from dateutil, unbounded, on naive wall times."""
    weekdays = [parse_day(code) for code in byday]
    return du.rrule(FREQUENCIES[freq], dtstart=first, interval=interval, wkst=du.MO,
                    byweekday=weekdays or None)


def parse_day(code: str) -> du.weekday:
    ordinal, name = code[:-2], code[-2:]
    return du.weekday(WEEKDAY_CODES.index(name), int(ordinal) if ordinal else None)


# --------------------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(st.sampled_from(ZONES), start_dates, wall_times_outside_gaps, rule_bodies(),
       st.integers(1, 40))
def test_every_occurrence_keeps_the_wall_clock_time_of_the_first(
    tz: str, day: date, moment: time, body: tuple[str, int, list[str]], count: int
) -> None:
    first = datetime.combine(day, moment)
    occurrences = expand(rule_text(*body, f"COUNT={count}"), first, tz)
    assert {o.local_start.time() for o in occurrences} == {moment}
    assert all(o.local_start == o.original_local for o in occurrences)


@PROPERTY_SETTINGS
@given(st.sampled_from(ZONES), start_dates, wall_times_outside_gaps, rule_bodies(),
       st.integers(1, 40))
def test_a_counted_rule_yields_exactly_count_occurrences_in_order(
    tz: str, day: date, moment: time, body: tuple[str, int, list[str]], count: int
) -> None:
    occurrences = expand(rule_text(*body, f"COUNT={count}"), datetime.combine(day, moment), tz)
    assert len(occurrences) == count
    assert starts(occurrences) == sorted(set(starts(occurrences)))


@PROPERTY_SETTINGS
@given(st.sampled_from(ZONES), start_dates, any_wall_times, rule_bodies(),
       st.integers(0, 120), any_wall_times)
def test_a_utc_until_keeps_exactly_the_occurrences_starting_by_that_instant(
    tz: str, day: date, moment: time, body: tuple[str, int, list[str]],
    days_later: int, until_time: time,
) -> None:
    first = datetime.combine(day, moment)
    until = datetime.combine(day + timedelta(days=days_later), until_time).replace(tzinfo=UTC)
    occurrences = expand(rule_text(*body, f"UNTIL={until:%Y%m%dT%H%M%SZ}"), first, tz)

    reference = reference_rule(*body, first)
    assert [o.original_local for o in occurrences] == list(islice(reference, len(occurrences)))
    assert all(o.start <= until for o in occurrences)
    following = next(islice(reference, len(occurrences), None))
    assert to_utc(following, tz) > until


@PROPERTY_SETTINGS
@given(st.sampled_from(ZONES), start_dates, any_wall_times, rule_bodies(),
       st.integers(0, 120), any_wall_times)
def test_a_local_until_keeps_exactly_the_occurrences_asked_for_by_that_wall_time(
    tz: str, day: date, moment: time, body: tuple[str, int, list[str]],
    days_later: int, until_time: time,
) -> None:
    first = datetime.combine(day, moment)
    until = datetime.combine(day + timedelta(days=days_later), until_time)
    occurrences = expand(rule_text(*body, f"UNTIL={until:%Y%m%dT%H%M%S}"), first, tz)

    reference = reference_rule(*body, first)
    assert [o.original_local for o in occurrences] == list(islice(reference, len(occurrences)))
    assert all(o.original_local <= until for o in occurrences)
    assert next(islice(reference, len(occurrences), None)) > until


@PROPERTY_SETTINGS
@given(st.sampled_from(ZONES), start_dates, any_wall_times, rule_bodies(), st.integers(0, 120))
def test_a_date_until_keeps_exactly_the_occurrences_up_to_the_end_of_that_local_day(
    tz: str, day: date, moment: time, body: tuple[str, int, list[str]], days_later: int
) -> None:
    first = datetime.combine(day, moment)
    last_day = day + timedelta(days=days_later)
    occurrences = expand(rule_text(*body, f"UNTIL={last_day:%Y%m%d}"), first, tz)

    reference = reference_rule(*body, first)
    assert [o.original_local for o in occurrences] == list(islice(reference, len(occurrences)))
    assert all(o.original_local.date() <= last_day for o in occurrences)
    assert next(islice(reference, len(occurrences), None)).date() > last_day


# --------------------------------------------------------------------------- everyday rules


def test_weekly_mon_wed_for_six_weeks_yields_twelve_occurrences_at_nine() -> None:
    # Starts Monday 2 March 2026; New York springs forward on Sunday 8 March.
    occurrences = expand(weekly_for_weeks([0, 2], 6), datetime(2026, 3, 2, 9), NEW_YORK)

    assert len(occurrences) == 12
    assert {o.local_start.time() for o in occurrences} == {time(9)}
    assert {o.local_start.weekday() for o in occurrences} == {0, 2}
    assert occurrences[-1].local_start == datetime(2026, 4, 8, 9)
    assert [o.start.hour for o in occurrences[:2]] == [14, 14]  # 09:00 EST
    assert {o.start.hour for o in occurrences[2:]} == {13}  # 09:00 EDT


def test_weekly_for_weeks_counts_weekdays_times_weeks() -> None:
    assert weekly_for_weeks([2, 0], 6) == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE;COUNT=12"


def test_weekly_for_weeks_without_a_weekday_is_refused() -> None:
    with pytest.raises(RecurrenceError, match="weekday"):
        weekly_for_weeks([], 6)


def test_weekly_for_weeks_needs_at_least_one_week() -> None:
    with pytest.raises(RecurrenceError, match="weeks"):
        weekly_for_weeks([0], 0)


def test_monthly_on_the_second_tuesday() -> None:
    occurrences = expand("FREQ=MONTHLY;BYDAY=2TU;COUNT=3", datetime(2026, 1, 1, 10), MADRID)
    assert local_starts(occurrences) == [
        datetime(2026, 1, 13, 10), datetime(2026, 2, 10, 10), datetime(2026, 3, 10, 10)
    ]


def test_monthly_on_the_last_friday() -> None:
    occurrences = expand("FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", datetime(2026, 1, 1, 10), MADRID)
    assert local_starts(occurrences) == [
        datetime(2026, 1, 30, 10), datetime(2026, 2, 27, 10), datetime(2026, 3, 27, 10)
    ]


def test_monthly_on_the_31st_skips_short_months_without_counting_them() -> None:
    occurrences = expand("FREQ=MONTHLY;COUNT=3", datetime(2026, 1, 31, 10), MADRID)
    assert local_starts(occurrences) == [
        datetime(2026, 1, 31, 10), datetime(2026, 3, 31, 10), datetime(2026, 5, 31, 10)
    ]


def test_every_other_day_follows_the_interval() -> None:
    occurrences = expand("FREQ=DAILY;INTERVAL=2;COUNT=3", datetime(2026, 6, 1, 8), NEW_YORK)
    assert [o.local_start.day for o in occurrences] == [1, 3, 5]


def test_a_first_local_that_does_not_match_byday_is_not_an_occurrence() -> None:
    # 2 June 2026 is a Tuesday; dateutil starts the series on the next Monday.
    occurrences = expand("FREQ=WEEKLY;BYDAY=MO;COUNT=2", datetime(2026, 6, 2, 9), NEW_YORK)
    assert local_starts(occurrences) == [datetime(2026, 6, 8, 9), datetime(2026, 6, 15, 9)]


def test_wkst_changes_which_days_a_fortnightly_rule_picks() -> None:
    # The RFC 5545 §3.8.5.3 example.
    first = datetime(1997, 8, 5, 9)
    monday = expand("FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO", first, NEW_YORK)
    sunday = expand("FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU", first, NEW_YORK)
    assert [o.local_start.day for o in monday] == [5, 10, 19, 24]
    assert [o.local_start.day for o in sunday] == [5, 17, 19, 31]


def test_the_week_starts_on_monday_whatever_the_process_calendar_says() -> None:
    text = "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU"
    first = datetime(1997, 8, 5, 9)
    before = calendar.firstweekday()
    calendar.setfirstweekday(calendar.SUNDAY)
    try:
        occurrences = expand(text, first, NEW_YORK)
    finally:
        calendar.setfirstweekday(before)
    assert [o.local_start.day for o in occurrences] == [5, 10, 19, 24]


# --------------------------------------------------------------------------- DST policy


@pytest.mark.parametrize(
    ("tz", "gap_wall", "expected_utc"),
    [
        pytest.param(NEW_YORK, datetime(2026, 3, 8, 2, 30), datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
                     id="new-york"),
        pytest.param(MADRID, datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
                     id="madrid"),
    ],
)
def test_a_wall_time_in_the_spring_forward_gap_is_read_with_the_offset_before_the_gap(
    tz: str, gap_wall: datetime, expected_utc: datetime
) -> None:
    occurrences = expand("FREQ=DAILY;COUNT=3", gap_wall - timedelta(days=1), tz)

    in_gap = occurrences[1]
    assert in_gap.original_local == gap_wall
    assert in_gap.start == expected_utc
    assert in_gap.local_start == gap_wall + timedelta(hours=1)  # 03:30, the real wall time
    assert [o.local_start.time() for o in (occurrences[0], occurrences[2])] == [time(2, 30)] * 2


@pytest.mark.parametrize(
    ("tz", "fold_wall", "expected_utc"),
    [
        pytest.param(NEW_YORK, datetime(2026, 11, 1, 1, 30),
                     datetime(2026, 11, 1, 5, 30, tzinfo=UTC), id="new-york"),
        pytest.param(MADRID, datetime(2026, 10, 25, 2, 30),
                     datetime(2026, 10, 25, 0, 30, tzinfo=UTC), id="madrid"),
    ],
)
def test_an_ambiguous_wall_time_in_the_fall_back_fold_means_its_first_occurrence(
    tz: str, fold_wall: datetime, expected_utc: datetime
) -> None:
    occurrences = expand("FREQ=DAILY;COUNT=3", fold_wall - timedelta(days=1), tz)

    in_fold = occurrences[1]
    assert in_fold.start == expected_utc  # still on summer time
    assert in_fold.local_start == in_fold.original_local == fold_wall
    assert occurrences[2].start - in_fold.start == timedelta(hours=25)


def test_an_occurrence_in_the_gap_is_cancelled_by_the_wall_time_the_rule_asked_for() -> None:
    occurrences = expand("FREQ=DAILY;COUNT=3", datetime(2026, 3, 7, 2, 30), NEW_YORK,
                         exdates={datetime(2026, 3, 8, 2, 30)})
    assert [o.original_local.day for o in occurrences] == [7, 9]


# --------------------------------------------------------------------------- UNTIL forms


def test_a_utc_until_is_compared_with_the_occurrences_instants() -> None:
    # 09:00 EDT on 10 March 2026 is 13:00 UTC; read as a wall time 12:59:59 would include it.
    first = datetime(2026, 3, 9, 9)
    included = expand("FREQ=DAILY;UNTIL=20260310T130000Z", first, NEW_YORK)
    excluded = expand("FREQ=DAILY;UNTIL=20260310T125959Z", first, NEW_YORK)
    assert [o.local_start.day for o in included] == [9, 10]
    assert [o.local_start.day for o in excluded] == [9]


def test_a_utc_until_in_the_fall_back_fold_compares_instants_not_wall_times() -> None:
    # 06:00 UTC is 01:00 EST, after 01:30 EDT (05:30 UTC) although 01:30 > 01:00 on the wall.
    occurrences = expand("FREQ=DAILY;UNTIL=20261101T060000Z", datetime(2026, 10, 31, 1, 30),
                         NEW_YORK)
    assert [o.local_start for o in occurrences] == [
        datetime(2026, 10, 31, 1, 30), datetime(2026, 11, 1, 1, 30)
    ]


def test_a_local_until_is_compared_with_wall_times() -> None:
    first = datetime(2026, 6, 1, 9)
    assert len(expand("FREQ=DAILY;UNTIL=20260603T090000", first, MADRID)) == 3
    assert len(expand("FREQ=DAILY;UNTIL=20260603T085959", first, MADRID)) == 2


def test_a_date_until_includes_the_whole_local_day() -> None:
    occurrences = expand("FREQ=DAILY;UNTIL=20260603", datetime(2026, 6, 1, 23, 59, 59), MADRID)
    assert occurrences[-1].local_start == datetime(2026, 6, 3, 23, 59, 59)
    assert len(occurrences) == 3


def test_an_until_before_the_first_occurrence_yields_nothing() -> None:
    assert expand("FREQ=DAILY;UNTIL=20260531", datetime(2026, 6, 1, 9), MADRID) == []


# --------------------------------------------------------------------------- exdates and limits


def test_exdates_skip_cancelled_occurrences_by_their_original_wall_time() -> None:
    occurrences = expand(
        "FREQ=WEEKLY;BYDAY=MO;COUNT=4", datetime(2026, 6, 1, 9), NEW_YORK,
        exdates=[datetime(2026, 6, 8, 9), datetime(2026, 6, 9, 9)],  # the second never occurs
    )
    assert [o.local_start.day for o in occurrences] == [1, 15, 22]


def test_an_aware_exdate_is_refused() -> None:
    with pytest.raises(ValueError, match="exdate"):
        expand("FREQ=DAILY;COUNT=2", datetime(2026, 6, 1, 9), NEW_YORK,
               exdates=[datetime(2026, 6, 2, 13, tzinfo=UTC)])


def test_a_count_above_the_default_limit_of_520_is_refused() -> None:
    assert len(expand("FREQ=DAILY;COUNT=520", datetime(2026, 1, 1, 9), MADRID)) == 520
    with pytest.raises(RecurrenceError, match="520"):
        expand("FREQ=DAILY;COUNT=521", datetime(2026, 1, 1, 9), MADRID)


def test_an_until_yielding_more_than_max_occurrences_is_refused_not_truncated() -> None:
    with pytest.raises(RecurrenceError, match="more than the 520"):
        expand("FREQ=DAILY;UNTIL=20271231", datetime(2026, 1, 1, 9), MADRID)


def test_max_occurrences_is_configurable_per_call() -> None:
    text = "FREQ=WEEKLY;UNTIL=20260630"
    assert len(expand(text, datetime(2026, 6, 1, 9), MADRID, max_occurrences=5)) == 5
    with pytest.raises(RecurrenceError, match="more than the 4"):
        expand(text, datetime(2026, 6, 1, 9), MADRID, max_occurrences=4)


def test_exdates_do_not_lift_the_occurrence_limit() -> None:
    with pytest.raises(RecurrenceError, match="more than the 4"):
        expand("FREQ=WEEKLY;COUNT=5", datetime(2026, 6, 1, 9), MADRID, max_occurrences=4,
               exdates=[datetime(2026, 6, 8, 9)])


def test_a_rule_without_count_or_until_is_refused() -> None:
    with pytest.raises(RecurrenceError, match="COUNT or UNTIL"):
        expand("FREQ=WEEKLY;BYDAY=MO", datetime(2026, 6, 1, 9), MADRID)


def test_a_rule_that_runs_past_the_end_of_the_calendar_is_refused() -> None:
    with pytest.raises(RecurrenceError, match="end of the calendar"):
        expand("FREQ=DAILY;INTERVAL=2000000;COUNT=3", datetime(2026, 1, 1, 9), MADRID)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "named"),
    [
        pytest.param("FREQ=YEARLY;COUNT=3", "FREQ=YEARLY", id="yearly"),
        pytest.param("FREQ=HOURLY;COUNT=3", "FREQ=HOURLY", id="hourly"),
        pytest.param("FREQ=MINUTELY;COUNT=3", "FREQ=MINUTELY", id="minutely"),
        pytest.param("FREQ=SECONDLY;COUNT=3", "FREQ=SECONDLY", id="secondly"),
        pytest.param("FREQ=FORTNIGHTLY;COUNT=3", "FREQ=FORTNIGHTLY", id="unknown-frequency"),
        pytest.param("FREQ=MONTHLY;BYMONTHDAY=15;COUNT=3", "BYMONTHDAY", id="bymonthday"),
        pytest.param("FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2;COUNT=3", "BYSETPOS", id="bysetpos"),
        pytest.param("FREQ=DAILY;BYHOUR=9;COUNT=3", "BYHOUR", id="byhour"),
        pytest.param("FREQ=DAILY;BYMINUTE=30;COUNT=3", "BYMINUTE", id="byminute"),
        pytest.param("FREQ=DAILY;BYSECOND=0;COUNT=3", "BYSECOND", id="bysecond"),
        pytest.param("FREQ=DAILY;BYMONTH=6;COUNT=3", "BYMONTH", id="bymonth"),
        pytest.param("FREQ=DAILY;BYYEARDAY=100;COUNT=3", "BYYEARDAY", id="byyearday"),
        pytest.param("FREQ=WEEKLY;BYWEEKNO=20;COUNT=3", "BYWEEKNO", id="byweekno"),
        pytest.param("FREQ=DAILY;X-COLOUR=RED;COUNT=3", "X-COLOUR", id="unknown-part"),
        pytest.param("FREQ=DAILY;COUNT=3;UNTIL=20260601", "COUNT and UNTIL", id="count-and-until"),
        pytest.param("FREQ=DAILY;INTERVAL=0;COUNT=3", "INTERVAL", id="interval-zero"),
        pytest.param("FREQ=DAILY;INTERVAL=two;COUNT=3", "INTERVAL", id="interval-not-a-number"),
        pytest.param("FREQ=DAILY;COUNT=0", "COUNT", id="count-zero"),
        pytest.param("FREQ=DAILY;COUNT=-1", "COUNT", id="count-negative"),
        pytest.param("FREQ=DAILY;COUNT", "COUNT", id="part-without-value"),
        pytest.param("FREQ=WEEKLY;BYDAY=XX;COUNT=3", "BYDAY", id="unknown-weekday"),
        pytest.param("FREQ=WEEKLY;BYDAY=MO,MO;COUNT=3", "BYDAY", id="weekday-twice"),
        pytest.param("FREQ=WEEKLY;BYDAY=2TU;COUNT=3", "BYDAY=2TU", id="ordinal-in-weekly"),
        pytest.param("FREQ=MONTHLY;BYDAY=6MO;COUNT=3", "BYDAY=6MO", id="ordinal-too-large"),
        pytest.param("FREQ=MONTHLY;BYDAY=0MO;COUNT=3", "BYDAY=0MO", id="ordinal-zero"),
        pytest.param("FREQ=DAILY;UNTIL=2026-06-01", "UNTIL", id="until-with-dashes"),
        pytest.param("FREQ=DAILY;UNTIL=20260231", "UNTIL", id="until-not-a-date"),
        pytest.param("FREQ=DAILY;UNTIL=20260601T250000Z", "UNTIL", id="until-not-a-time"),
        pytest.param("FREQ=DAILY;WKST=XX;COUNT=3", "WKST", id="unknown-week-start"),
        pytest.param("FREQ=DAILY;FREQ=WEEKLY;COUNT=3", "FREQ", id="part-twice"),
        pytest.param("INTERVAL=2;COUNT=3", "FREQ", id="no-frequency"),
        pytest.param("FREQ=DAILY;;COUNT=3", "malformed", id="empty-part"),
        pytest.param("", "empty", id="empty-rule"),
    ],
)
def test_each_unsupported_or_malformed_part_is_refused_by_name(text: str, named: str) -> None:
    with pytest.raises(RecurrenceError, match=named):
        parse_rrule(text)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(UnknownTimeZoneError):
        expand("FREQ=DAILY;COUNT=2", datetime(2026, 6, 1, 9), "Europe/Atlantis")


def test_an_aware_first_local_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        expand("FREQ=DAILY;COUNT=2", datetime(2026, 6, 1, 9, tzinfo=UTC), NEW_YORK)


def test_a_first_local_with_a_fraction_of_a_second_is_refused() -> None:
    with pytest.raises(ValueError, match="whole second"):
        expand("FREQ=DAILY;COUNT=2", datetime(2026, 6, 1, 9, 0, 0, 500), NEW_YORK)


# --------------------------------------------------------------------------- parsing and building


def test_a_leading_rrule_prefix_is_accepted() -> None:
    assert parse_rrule("RRULE:FREQ=DAILY;COUNT=2") == parse_rrule("FREQ=DAILY;COUNT=2")


def test_parsing_ignores_case_and_part_order() -> None:
    rule = parse_rrule("rrule:count=12;byday=we,mo;freq=weekly")
    assert rule == RecurrenceRule("WEEKLY", 1, ("MO", "WE"), 12, None)


def test_to_rrule_writes_canonical_text_that_parses_back_to_the_same_rule() -> None:
    rule = parse_rrule("BYDAY=-1FR,+2TU;UNTIL=20261231;FREQ=MONTHLY;INTERVAL=2;WKST=SU")
    text = rule.to_rrule()
    assert text == "FREQ=MONTHLY;INTERVAL=2;BYDAY=2TU,-1FR;UNTIL=20261231;WKST=SU"
    assert parse_rrule(text) == rule


def test_replacing_a_part_of_a_rule_validates_the_result() -> None:
    rule = parse_rrule("FREQ=WEEKLY;BYDAY=MO;COUNT=6")
    ended = dataclasses.replace(rule, count=None, until="20260630T085959")
    assert ended.to_rrule() == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO;UNTIL=20260630T085959"
    with pytest.raises(RecurrenceError, match="COUNT and UNTIL"):
        dataclasses.replace(rule, until="20260630")


def test_build_rrule_turns_weekday_numbers_into_byday_codes() -> None:
    assert build_rrule("WEEKLY", weekdays=[4, 0], count=4) == (
        "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,FR;COUNT=4"
    )


def test_build_rrule_writes_a_date_until_as_a_whole_local_day() -> None:
    assert build_rrule("DAILY", interval=2, until=date(2026, 6, 30)) == (
        "FREQ=DAILY;INTERVAL=2;UNTIL=20260630"
    )


def test_build_rrule_writes_a_naive_until_as_wall_time_and_an_aware_one_in_utc() -> None:
    wall = datetime(2026, 6, 30, 9)
    instant = datetime(2026, 6, 30, 9, tzinfo=ZoneInfo(NEW_YORK))
    assert build_rrule("DAILY", until=wall).endswith(";UNTIL=20260630T090000")
    assert build_rrule("DAILY", until=instant).endswith(";UNTIL=20260630T130000Z")


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        pytest.param({"freq": "YEARLY", "count": 2}, "FREQ=YEARLY", id="frequency"),
        pytest.param({"freq": "WEEKLY", "interval": 0, "count": 2}, "INTERVAL", id="interval"),
        pytest.param({"freq": "WEEKLY", "weekdays": [7], "count": 2}, "weekday", id="weekday"),
        pytest.param({"freq": "WEEKLY", "count": 2, "until": date(2026, 6, 30)},
                     "COUNT and UNTIL", id="count-and-until"),
    ],
)
def test_build_rrule_refuses_what_parse_rrule_refuses(
    arguments: dict[str, object], named: str
) -> None:
    with pytest.raises(RecurrenceError, match=named):
        build_rrule(**arguments)  # type: ignore[arg-type]
