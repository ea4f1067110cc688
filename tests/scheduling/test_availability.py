"""Availability: free slots, next available, and the inputs they refuse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from scheduling.availability import SlotQuery, earliest_slots, free_slots, next_available
from scheduling.commands import Alternative
from scheduling.errors import InvalidIntervalError, UnknownIdError
from scheduling.model import Holiday, Quota, QuotaPeriod
from scheduling.state import CalendarState
from scheduling.timeutil import to_local
from tests.scheduling.calendar_fixtures import (
    CLINIC,
    CONSULT,
    DR_ADAMS,
    DR_BAKER,
    DR_CRUZ,
    GROUP,
    MONDAY,
    NOW,
    PROCEDURE,
    ROOM_1,
    TZ,
    clinic_state,
    existing,
    wall,
)

TUESDAY = MONDAY + timedelta(days=1)
WEDNESDAY = MONDAY + timedelta(days=2)
SUNDAY = MONDAY + timedelta(days=6)


def local_times(slots: list[Alternative], tz: str = TZ) -> list[str]:
    return [to_local(slot.start, tz).strftime("%H:%M") for slot in slots]


def slots_of(state: CalendarState, kind: str, first: date, last: date | None = None,
             provider: str = DR_ADAMS) -> list[Alternative]:
    query = SlotQuery(CLINIC, kind, first, last or first, (provider,))
    return free_slots(state, query, now=NOW)


def test_free_slots_skip_the_break_and_existing_bookings() -> None:
    state = clinic_state()
    state.put_appointment(existing(DR_ADAMS, wall(MONDAY, 10), 30))
    assert local_times(slots_of(state, CONSULT, MONDAY)) == [
        "09:00", "09:15", "09:30",
        "10:30", "10:45", "11:00", "11:15", "11:30",
        "13:00", "13:15", "13:30", "13:45", "14:00", "14:15", "14:30", "14:45",
        "15:00", "15:15", "15:30", "15:45", "16:00", "16:15", "16:30",
    ]


def test_free_slots_keep_the_buffer_after_a_procedure() -> None:
    state = clinic_state()
    state.put_appointment(existing(DR_ADAMS, wall(MONDAY, 9), 45, kind=PROCEDURE, room=ROOM_1))
    assert local_times(slots_of(state, CONSULT, MONDAY))[:2] == ["10:00", "10:15"]


def test_a_procedure_slot_takes_the_other_room_when_one_is_busy() -> None:
    state = clinic_state()
    state.put_appointment(existing(DR_BAKER, wall(MONDAY, 9), 45, kind=PROCEDURE, room=ROOM_1))
    first = slots_of(state, PROCEDURE, MONDAY)[0]
    assert (first.start, first.room_id) == (wall(MONDAY, 9), "room-2")


def test_next_available_is_the_earliest_slot_across_providers() -> None:
    state = clinic_state()
    for provider, minutes in ((DR_ADAMS, 60), (DR_BAKER, 30), (DR_CRUZ, 45)):
        state.put_appointment(existing(provider, wall(MONDAY, 9), minutes))
    slot = next_available(state, CLINIC, CONSULT, now=NOW, after=wall(MONDAY, 0))
    assert slot is not None
    assert (slot.provider_id, slot.start) == (DR_BAKER, wall(MONDAY, 9, 30))


def test_next_available_never_offers_a_time_before_now() -> None:
    state = clinic_state()
    now = wall(MONDAY, 10, 5)
    slot = next_available(state, CLINIC, CONSULT, now=now)
    assert slot is not None
    assert slot.start == wall(MONDAY, 10, 15)


def test_a_week_query_offers_nothing_on_the_holiday_or_the_weekend() -> None:
    state = clinic_state(holidays=[Holiday("h-1", CLINIC, WEDNESDAY, "Clinic day off")])
    slots = slots_of(state, CONSULT, MONDAY, SUNDAY)
    days_with_slots = {to_local(slot.start, TZ).date() for slot in slots}
    assert days_with_slots == {MONDAY, TUESDAY, MONDAY + timedelta(days=3),
                               MONDAY + timedelta(days=4)}


def test_a_group_slot_with_free_places_is_offered() -> None:
    state = clinic_state()
    for patient in ("pat-2", "pat-3"):
        state.put_appointment(existing(DR_ADAMS, wall(MONDAY, 10), 60, patient=patient,
                                       kind=GROUP))
    assert "10:00" in local_times(slots_of(state, GROUP, MONDAY))


def test_a_full_group_slot_is_not_offered() -> None:
    state = clinic_state()
    for patient in ("pat-2", "pat-3", "pat-4"):
        state.put_appointment(existing(DR_ADAMS, wall(MONDAY, 10), 60, patient=patient,
                                       kind=GROUP))
    assert "10:00" not in local_times(slots_of(state, GROUP, MONDAY))


def test_a_reached_daily_quota_removes_the_whole_day() -> None:
    state = clinic_state(quotas=[Quota("q-1", CLINIC, QuotaPeriod.DAY, 1, DR_ADAMS)])
    state.put_appointment(existing(DR_ADAMS, wall(MONDAY, 9), 30))
    days_with_slots = {to_local(s.start, TZ).date() for s in slots_of(state, CONSULT, MONDAY,
                                                                      TUESDAY)}
    assert days_with_slots == {TUESDAY}


def test_a_query_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidIntervalError):
        SlotQuery(CLINIC, CONSULT, TUESDAY, MONDAY)


def test_an_unknown_appointment_type_is_an_unknown_id() -> None:
    with pytest.raises(UnknownIdError):
        free_slots(clinic_state(), SlotQuery(CLINIC, "massage", MONDAY, MONDAY), now=NOW)


def test_slots_stay_at_nine_local_across_the_madrid_spring_change() -> None:
    madrid = "Europe/Madrid"
    state = clinic_state(tz=madrid)
    first, last = date(2026, 3, 23), date(2026, 4, 3)  # clocks go forward on Sun 29 March
    query = SlotQuery(CLINIC, CONSULT, first, last, (DR_ADAMS,))
    slots = free_slots(state, query, now=datetime(2026, 3, 1, tzinfo=UTC))
    first_of_day: dict[date, Alternative] = {}
    for slot in slots:
        first_of_day.setdefault(to_local(slot.start, madrid).date(), slot)
    assert len(first_of_day) == 10
    assert all(to_local(s.start, madrid).hour == 9 for s in first_of_day.values())
    assert first_of_day[date(2026, 3, 27)].start == datetime(2026, 3, 27, 8, tzinfo=UTC)
    assert first_of_day[date(2026, 3, 30)].start == datetime(2026, 3, 30, 7, tzinfo=UTC)


def test_a_room_filter_on_a_type_without_required_rooms_offers_slots_in_that_room() -> None:
    state = clinic_state()
    query = SlotQuery(CLINIC, CONSULT, MONDAY, MONDAY, (DR_ADAMS,), room_ids=(ROOM_1,))
    slots = free_slots(state, query, now=NOW)
    assert slots
    assert {slot.room_id for slot in slots} == {ROOM_1}


def test_the_earliest_slots_are_the_first_free_slots_in_start_then_provider_order() -> None:
    state = clinic_state()
    for provider, minutes in ((DR_ADAMS, 60), (DR_BAKER, 30), (DR_CRUZ, 45)):
        state.put_appointment(existing(provider, wall(MONDAY, 9), minutes))
    every = free_slots(state, SlotQuery(CLINIC, CONSULT, MONDAY, SUNDAY), now=NOW)
    for limit in (1, 3, 8, 40):
        earliest = earliest_slots(state, CLINIC, CONSULT, now=NOW, after=wall(MONDAY, 0),
                                  limit=limit, horizon_days=6)
        assert earliest == every[:limit]


def test_the_earliest_slots_of_one_provider_are_only_theirs_and_start_after_the_time() -> None:
    state = clinic_state()
    earliest = earliest_slots(state, CLINIC, CONSULT, now=NOW, after=wall(MONDAY, 16),
                              limit=5, provider_ids=(DR_CRUZ,))
    assert len(earliest) == 5
    assert {slot.provider_id for slot in earliest} == {DR_CRUZ}
    assert all(slot.start >= wall(MONDAY, 16) for slot in earliest)
    assert earliest == sorted(earliest, key=lambda s: s.start)


@pytest.mark.parametrize("seed", range(12))
def test_the_nearest_same_provider_alternatives_are_those_of_a_search_of_every_day(
    seed: int,
) -> None:
    """The same provider's nearest free times stop being searched as soon as nothing
    further can be nearer: the answer is the one of enumerating every slot of every day
    of the horizon and keeping the nearest (ties by start)."""
    import random

    from scheduling import placement as pl
    from scheduling.alternatives import _nearest_for_provider
    from scheduling.availability import _provider_day_slots
    from scheduling.commands import Policy
    from tests.scheduling.calendar_fixtures import STAFF

    rng = random.Random(seed)
    state = clinic_state()
    for _ in range(rng.randint(0, 60)):  # a busy week for Dr Adams, some of it overlapping
        day = MONDAY + timedelta(days=rng.randint(0, 4))
        start = wall(day, rng.randint(9, 16), rng.choice((0, 15, 30, 45)))
        state.put_appointment(existing(DR_ADAMS, start, rng.choice((15, 30, 60, 90))))
    day = MONDAY + timedelta(days=rng.randint(1, 3))
    start = wall(day, rng.randint(9, 16), rng.choice((0, 15, 30, 45)))
    wanted = pl.Placement(CLINIC, "pat-1", CONSULT, DR_ADAMS, start,
                          start + timedelta(minutes=30))
    policy = Policy(alternatives_horizon_days=rng.choice((1, 2, 5)),
                    max_alternatives=rng.choice((1, 3, 5)))
    found = _nearest_for_provider(state, wanted, timedelta(minutes=30), NOW, STAFF, policy, (),
                                  policy.max_alternatives)
    query = SlotQuery(CLINIC, CONSULT, day, day, (DR_ADAMS,),
                      duration=timedelta(minutes=30), patient_id="pat-1")
    every = [slot for offset in range(-policy.alternatives_horizon_days,
                                      policy.alternatives_horizon_days + 1)
             for slot in _provider_day_slots(state, query, DR_ADAMS,
                                             day + timedelta(days=offset), NOW, policy, STAFF)
             if not (slot.start == wanted.start and slot.room_id == wanted.room_id)]
    every.sort(key=lambda slot: (abs((slot.start - start).total_seconds()), slot.start))
    assert found == every[:policy.max_alternatives]


@pytest.mark.parametrize("seed", range(12))
def test_jumping_over_clashing_bookings_finds_the_slots_of_judging_every_start(
    seed: int,
) -> None:
    """The alternatives' day search passes a booking of the provider or of the patient
    in one jump (:func:`scheduling.alternatives.clash_until`): the same slots as judging
    every grid start with the rules, buffers and ignored bookings included."""
    import random

    from scheduling.alternatives import clash_until
    from scheduling.availability import _provider_day_slots
    from scheduling.commands import Policy
    from tests.scheduling.calendar_fixtures import STAFF

    rng = random.Random(seed)
    state = clinic_state()
    booked = []
    for _ in range(rng.randint(5, 40)):  # overlapping bookings, some with a buffer after
        day = MONDAY + timedelta(days=rng.randint(0, 2))
        start = wall(day, rng.randint(8, 16), rng.choice((0, 10, 15, 30, 45)))
        provider, patient = rng.choice(((DR_ADAMS, "pat-2"), (DR_BAKER, "pat-1")))
        procedure = rng.random() < 0.3
        appointment = existing(provider, start, rng.choice((15, 30, 60, 90)), patient=patient,
                               kind=PROCEDURE if procedure else CONSULT,
                               room=ROOM_1 if procedure else None)
        state.put_appointment(appointment)
        booked.append(appointment.id)
    ignore = frozenset(rng.sample(booked, min(3, len(booked))))
    kind = state.appointment_types[CONSULT]
    policy = Policy()
    jumps = 0
    for offset in range(3):
        day = MONDAY + timedelta(days=offset)
        query = SlotQuery(CLINIC, CONSULT, day, day, (DR_ADAMS,),
                          duration=timedelta(minutes=30), patient_id="pat-1")
        skip = clash_until(state, DR_ADAMS, kind, timedelta(minutes=30), "pat-1", ignore)
        every = list(_provider_day_slots(state, query, DR_ADAMS, day, NOW, policy, STAFF,
                                         ignore=ignore))
        jumped = list(_provider_day_slots(state, query, DR_ADAMS, day, NOW, policy, STAFF,
                                          ignore=ignore, skip=skip))
        assert jumped == every
        jumps += sum(skip(wall(day, hour, minute).timestamp()) > wall(day, hour, minute)
                     .timestamp() for hour in range(9, 17) for minute in (0, 15, 30, 45))
    assert jumps > 0  # the calendars do clash: the jumps were taken
