"""Waitlist matching: which waiting patients a freed slot is offered to, and in what order."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.errors import InvalidIntervalError, NaiveDatetimeError, UnknownIdError
from scheduling.model import (
    AppointmentType,
    Clinic,
    Patient,
    Resource,
    ResourceKind,
    ResourceRequirement,
    WaitlistEntry,
)
from scheduling.state import CalendarState
from scheduling.timeutil import to_utc
from scheduling.waitlist import FreedSlot, matching_entries, rank

ORG = "org-1"
CLINIC, OTHER_CLINIC = "clinic-ny", "clinic-nj"
TZ = "America/New_York"
DR_ADAMS, DR_BAKER, DR_NJ, DR_RETIRED = "dr-adams", "dr-baker", "dr-nj", "dr-retired"
ROOM = "room-1"
CONSULT, LONG_VISIT, SURGERY = "consult", "long-visit", "surgery"  # 30, 60 and 45 minutes
MONDAY = date(2026, 6, 1)
NOW = datetime(2026, 5, 25, 12, 0, tzinfo=UTC)
CREATED = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

T = TypeVar("T")


def wall(day: date, hour: int, minute: int = 0) -> datetime:
    """The UTC instant of a New York wall-clock time."""
    return to_utc(datetime.combine(day, time(hour, minute)), TZ)


def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def calendar(*entries: WaitlistEntry) -> CalendarState:
    """Two New York providers (Baker alone does surgery), one New Jersey provider, one retired."""
    return CalendarState.build(
        ORG,
        clinics=[
            Clinic(CLINIC, ORG, "Manhattan", TZ),
            Clinic(OTHER_CLINIC, ORG, "Newark", TZ),
        ],
        resources=[
            Resource(DR_ADAMS, ORG, ResourceKind.PROVIDER, "Dr Adams", frozenset({CLINIC})),
            Resource(DR_BAKER, ORG, ResourceKind.PROVIDER, "Dr Baker", frozenset({CLINIC})),
            Resource(DR_NJ, ORG, ResourceKind.PROVIDER, "Dr Jersey", frozenset({OTHER_CLINIC})),
            Resource(
                DR_RETIRED,
                ORG,
                ResourceKind.PROVIDER,
                "Dr Gone",
                frozenset({CLINIC}),
                active=False,
            ),
            Resource(ROOM, ORG, ResourceKind.ROOM, "Room 1", frozenset({CLINIC})),
        ],
        appointment_types=[
            AppointmentType(CONSULT, ORG, "Consultation", minutes(30), minutes(15), minutes(60)),
            AppointmentType(LONG_VISIT, ORG, "Long visit", minutes(60), minutes(60), minutes(90)),
            AppointmentType(
                SURGERY,
                ORG,
                "Minor surgery",
                minutes(45),
                minutes(30),
                minutes(90),
                requirement=ResourceRequirement(providers=frozenset({DR_BAKER})),
            ),
        ],
        patients=[
            *(Patient(f"pat-{i}", ORG, f"Given{i}", f"Family{i}") for i in range(1, 6)),
            Patient("pat-inactive", ORG, "Old", "Record", active=False),
        ],
        waitlist=entries,
    )


def entry(
    entry_id: str,
    *,
    patient: str = "pat-1",
    kind: str = CONSULT,
    clinic: str = CLINIC,
    priority: int = 0,
    created_at: datetime = CREATED,
    providers: frozenset[str] = frozenset(),
    weekdays: frozenset[int] = frozenset(),
    times: tuple[tuple[time, time], ...] = (),
    active: bool = True,
) -> WaitlistEntry:
    return WaitlistEntry(
        id=entry_id,
        organization_id=ORG,
        clinic_id=clinic,
        patient_id=patient,
        appointment_type_id=kind,
        created_at=created_at,
        priority=priority,
        preferred_provider_ids=providers,
        preferred_weekdays=weekdays,
        preferred_times=times,
        active=active,
    )


def slot(
    start: datetime | None = None,
    length: int = 30,
    *,
    provider: str = DR_ADAMS,
    clinic: str = CLINIC,
) -> FreedSlot:
    begin = start or wall(MONDAY, 10)
    return FreedSlot(clinic, provider, begin, begin + minutes(length))


def offered(state: CalendarState, freed: FreedSlot, limit: int | None = None) -> list[str]:
    return [e.id for e in matching_entries(state, freed, now=NOW, limit=limit)]


# --------------------------------------------------------------------------- who matches


def test_an_entry_without_preferences_is_offered_a_slot_of_its_clinic() -> None:
    assert offered(calendar(entry("w1")), slot()) == ["w1"]


def test_an_inactive_entry_is_not_offered() -> None:
    assert offered(calendar(entry("w1", active=False)), slot()) == []


def test_an_entry_for_another_clinic_is_not_offered() -> None:
    state = calendar(entry("w1", clinic=OTHER_CLINIC))
    assert offered(state, slot()) == []


def test_an_entry_whose_appointment_type_is_unknown_is_not_offered() -> None:
    assert offered(calendar(entry("w1", kind="no-such-type")), slot()) == []


def test_a_slot_shorter_than_the_types_default_duration_is_not_offered() -> None:
    state = calendar(entry("w1", kind=LONG_VISIT))
    assert offered(state, slot(length=45)) == []


def test_a_slot_exactly_as_long_as_the_default_duration_is_offered() -> None:
    state = calendar(entry("w1", kind=LONG_VISIT))
    assert offered(state, slot(length=60)) == ["w1"]


def test_a_provider_the_type_does_not_list_cannot_serve_the_entry() -> None:
    state = calendar(entry("w1", kind=SURGERY))
    assert offered(state, slot(length=60, provider=DR_ADAMS)) == []


def test_a_provider_the_type_lists_serves_the_entry() -> None:
    state = calendar(entry("w1", kind=SURGERY))
    assert offered(state, slot(length=60, provider=DR_BAKER)) == ["w1"]


def test_a_provider_not_assigned_to_the_clinic_serves_no_entry() -> None:
    state = calendar(entry("w1"))
    assert offered(state, slot(provider=DR_NJ)) == []


def test_an_inactive_provider_serves_no_entry() -> None:
    state = calendar(entry("w1"))
    assert offered(state, slot(provider=DR_RETIRED)) == []


def test_a_room_is_not_a_provider_and_serves_no_entry() -> None:
    state = calendar(entry("w1"))
    assert offered(state, slot(provider=ROOM)) == []


def test_preferred_providers_exclude_every_other_provider() -> None:
    state = calendar(entry("w1", providers=frozenset({DR_BAKER})))
    assert offered(state, slot(provider=DR_ADAMS)) == []
    assert offered(state, slot(provider=DR_BAKER)) == ["w1"]


def test_preferred_weekdays_are_read_on_the_clinics_local_date() -> None:
    late_monday = slot(wall(MONDAY, 22))  # already Tuesday in UTC
    assert offered(calendar(entry("w1", weekdays=frozenset({0}))), late_monday) == ["w1"]
    assert offered(calendar(entry("w1", weekdays=frozenset({1}))), late_monday) == []


def test_preferred_times_are_local_wall_clock_times() -> None:
    mornings = entry("w1", times=((time(9), time(12)),))
    assert offered(calendar(mornings), slot(wall(MONDAY, 9))) == ["w1"]  # 13:00 UTC
    assert offered(calendar(mornings), slot(wall(MONDAY, 13))) == []


def test_a_preferred_time_range_must_hold_the_whole_appointment() -> None:
    state = calendar(entry("w1", times=((time(9), time(10)),)))
    assert offered(state, slot(wall(MONDAY, 9, 30))) == ["w1"]
    assert offered(state, slot(wall(MONDAY, 9, 45))) == []


def test_the_appointment_is_the_types_default_duration_not_the_whole_slot() -> None:
    state = calendar(entry("w1", times=((time(9), time(10)),)))
    assert offered(state, slot(wall(MONDAY, 9, 30), length=120)) == ["w1"]


def test_any_one_of_several_preferred_time_ranges_is_enough() -> None:
    state = calendar(entry("w1", times=((time(8), time(9)), (time(16), time(18)))))
    assert offered(state, slot(wall(MONDAY, 16, 30))) == ["w1"]


def test_an_appointment_running_past_local_midnight_fits_no_time_range() -> None:
    state = calendar(entry("w1", times=((time(23), time(23, 59)),)))
    assert offered(state, slot(wall(MONDAY, 23, 45))) == []


def test_a_time_range_that_ends_before_it_starts_holds_nothing() -> None:
    state = calendar(entry("w1", times=((time(18), time(8)),)))
    assert offered(state, slot(wall(MONDAY, 7))) == []
    assert offered(state, slot(wall(MONDAY, 19))) == []


def test_a_slot_that_starts_at_or_before_now_is_not_offered() -> None:
    state = calendar(entry("w1"))
    assert offered(state, slot(NOW)) == []
    assert offered(state, slot(NOW - timedelta(hours=1))) == []
    assert offered(state, slot(NOW + timedelta(minutes=1))) == ["w1"]


def test_entries_of_inactive_or_unknown_patients_are_not_offered() -> None:
    state = calendar(entry("w1", patient="pat-inactive"), entry("w2", patient="pat-404"))
    assert offered(state, slot()) == []


# --------------------------------------------------------------------------- order and limit


def test_higher_priority_entry_is_offered_first_then_the_oldest() -> None:
    state = calendar(
        entry("young-urgent", priority=5, created_at=CREATED + timedelta(days=3)),
        entry("old-normal", priority=0, created_at=CREATED),
        entry("old-urgent", priority=5, created_at=CREATED),
        entry("young-normal", priority=0, created_at=CREATED + timedelta(days=1)),
    )
    assert offered(state, slot()) == ["old-urgent", "young-urgent", "old-normal", "young-normal"]


def test_entries_of_equal_priority_and_age_are_ordered_by_id() -> None:
    state = calendar(entry("w-b"), entry("w-c"), entry("w-a"))
    assert offered(state, slot()) == ["w-a", "w-b", "w-c"]


def test_limit_keeps_the_first_entries_in_serving_order() -> None:
    state = calendar(entry("low", priority=1), entry("high", priority=9), entry("mid", priority=5))
    assert offered(state, slot(), limit=2) == ["high", "mid"]


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        offered(calendar(entry("w1")), slot(), limit=-1)


def test_rank_orders_a_pinboard_list_like_matching_does() -> None:
    pinboard = [
        entry("p1", priority=0, created_at=CREATED),
        entry("p2", priority=2, created_at=CREATED + timedelta(hours=1)),
        entry("p3", priority=2, created_at=CREATED),
    ]
    assert [e.id for e in rank(pinboard)] == ["p3", "p2", "p1"]


# --------------------------------------------------------------------------- malformed input


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        matching_entries(calendar(), slot(), now=datetime(2026, 5, 25, 12, 0))


def test_a_freed_slot_with_naive_times_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        FreedSlot(CLINIC, DR_ADAMS, datetime(2026, 6, 1, 10), datetime(2026, 6, 1, 11))


def test_a_freed_slot_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidIntervalError):
        FreedSlot(CLINIC, DR_ADAMS, wall(MONDAY, 11), wall(MONDAY, 10))


def test_a_freed_slot_is_kept_in_utc() -> None:
    madrid = datetime(2026, 6, 1, 16, 0, tzinfo=ZoneInfo("Europe/Madrid"))
    freed = FreedSlot(CLINIC, DR_ADAMS, madrid, madrid + timedelta(minutes=30))
    assert freed.start == madrid and freed.start.tzinfo is UTC


def test_a_slot_at_an_unknown_clinic_or_provider_is_an_error() -> None:
    with pytest.raises(UnknownIdError):
        matching_entries(calendar(), slot(clinic="clinic-404"), now=NOW)
    with pytest.raises(UnknownIdError):
        matching_entries(calendar(), slot(provider="dr-404"), now=NOW)


# --------------------------------------------------------------------------- properties

_quarter_hours = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
_time_ranges = st.tuples(_quarter_hours, _quarter_hours).map(lambda ends: tuple(sorted(ends)))


def _seldom(strategy: st.SearchStrategy[T], otherwise: T) -> st.SearchStrategy[T]:
    """``strategy`` one time in three, else ``otherwise``: most entries state no preference
    of a given kind, so that slots match several entries and ties are common."""
    return st.integers(0, 2).flatmap(lambda n: strategy if n == 0 else st.just(otherwise))


_entries = st.lists(
    st.fixed_dictionaries(
        {
            "patient": st.sampled_from(
                [f"pat-{i}" for i in range(1, 6)] + ["pat-inactive", "pat-404"]
            ),
            "kind": st.sampled_from([CONSULT] * 3 + [LONG_VISIT, SURGERY, "no-such-type"]),
            "clinic": st.sampled_from([CLINIC] * 5 + [OTHER_CLINIC]),
            "priority": st.integers(-1, 1),
            "created_at": st.sampled_from([CREATED + timedelta(hours=h) for h in range(3)]),
            "providers": _seldom(
                st.frozensets(st.sampled_from([DR_ADAMS, DR_BAKER]), min_size=1), frozenset()
            ),
            "weekdays": _seldom(st.frozensets(st.integers(0, 6), min_size=1), frozenset()),
            "times": _seldom(st.lists(_time_ranges, min_size=1, max_size=2).map(tuple), ()),
            "active": st.sampled_from([True] * 5 + [False]),
        }
    ),
    min_size=2,
    max_size=16,
)
_slots = st.builds(
    slot,
    # quarter hours from a day before NOW to two weeks after it
    st.integers(-96, 14 * 96).map(lambda n: NOW + timedelta(minutes=15 * n)),
    st.sampled_from([15, 30, 45, 60, 60, 90]),
    provider=st.sampled_from([DR_ADAMS, DR_BAKER]),
)


def _wanted(state: CalendarState, candidate: WaitlistEntry, freed: FreedSlot) -> bool:
    """An independent reading of the matching rules, straight from the specification."""
    kind = state.appointment_types.get(candidate.appointment_type_id)
    patient = state.patients.get(candidate.patient_id)
    if kind is None or patient is None or not patient.active or not candidate.active:
        return False
    local_start = freed.start.astimezone(ZoneInfo(TZ))
    local_end = (freed.start + kind.default_duration).astimezone(ZoneInfo(TZ))
    times_ok = not candidate.preferred_times or any(
        low <= local_start.time()
        and local_end.time() <= high
        and local_end.date() == local_start.date()
        for low, high in candidate.preferred_times
    )
    return (
        candidate.clinic_id == freed.clinic_id
        and freed.end - freed.start >= kind.default_duration
        and (not kind.requirement.providers or freed.provider_id in kind.requirement.providers)
        and (
            not candidate.preferred_provider_ids
            or freed.provider_id in candidate.preferred_provider_ids
        )
        and (
            not candidate.preferred_weekdays
            or local_start.weekday() in candidate.preferred_weekdays
        )
        and times_ok
        and freed.start > NOW
    )


@given(specs=_entries, freed=_slots)
def test_matches_are_in_serving_order_and_are_exactly_the_entries_the_slot_suits(
    specs: list[dict[str, Any]], freed: FreedSlot
) -> None:
    state = calendar(*(entry(f"w{i}", **spec) for i, spec in enumerate(specs)))
    matches = matching_entries(state, freed, now=NOW)
    keys = [(-e.priority, e.created_at) for e in matches]
    assert keys == sorted(keys)
    assert all(_wanted(state, e, freed) for e in matches)
    assert {e.id for e in matches} == {
        e.id for e in state.waitlist.values() if _wanted(state, e, freed)
    }
