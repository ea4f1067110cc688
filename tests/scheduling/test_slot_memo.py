"""The push run's slot memo (scheduling/slot_memo.py): refusals' alternatives are the
same with it as without, and a change of the state's appointments forgets the days it
touches."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from scheduling import placement as pl
from scheduling.alternatives import find_alternatives
from scheduling.commands import Alternative, Policy
from scheduling.model import AppointmentStatus
from scheduling.slot_memo import SlotMemo, for_patient
from scheduling.state import CalendarState
from tests.scheduling.calendar_fixtures import (
    CLINIC,
    CONSULT,
    DR_ADAMS,
    DR_BAKER,
    DR_CRUZ,
    MONDAY,
    NOW,
    PROCEDURE,
    ROOM_1,
    STAFF,
    clinic_state,
    existing,
    wall,
)

PROVIDERS = (DR_ADAMS, DR_BAKER, DR_CRUZ)
POLICY = Policy(alternatives_horizon_days=2, max_alternatives=5)


def wanted_at(rng: random.Random) -> pl.Placement:
    day = MONDAY + timedelta(days=rng.randint(0, 4))
    start = wall(day, rng.randint(9, 16), rng.choice((0, 15, 30, 45)))
    kind, minutes = rng.choice(((CONSULT, 30), (PROCEDURE, 45)))  # a procedure needs a room
    return pl.Placement(CLINIC, f"pat-{rng.randint(1, 6)}", kind, rng.choice(PROVIDERS),
                        start, start + timedelta(minutes=minutes))


def alternatives(state: CalendarState, wanted: pl.Placement, ignore: frozenset[str]
                 ) -> tuple[object, ...]:
    return find_alternatives(state, wanted, now=NOW, actor=STAFF, policy=POLICY,
                             ignore=ignore)


@pytest.mark.parametrize("seed", range(10))
def test_alternatives_are_the_same_with_the_memo_while_the_calendar_changes(
    seed: int,
) -> None:
    """Two copies of one calendar, one with a memo: each step books, moves or cancels
    in both (as a push run puts its mutations into its state), then asks both for the
    alternatives of a few refused placements; every answer is equal, and the memo did
    answer some of them."""
    rng = random.Random(seed)
    plain, memoized = clinic_state(), clinic_state()
    memo = memoized.slot_memo = SlotMemo()
    booked: list[str] = []
    for _ in range(120):
        roll = rng.random()
        if roll < 0.6 or not booked:
            day = MONDAY + timedelta(days=rng.randint(0, 4))
            start = wall(day, rng.randint(9, 16), rng.choice((0, 15, 30, 45)))
            procedure = rng.random() < 0.2
            appointment = existing(rng.choice(PROVIDERS), start, rng.choice((15, 30, 60)),
                                   patient=f"pat-{rng.randint(1, 6)}",
                                   kind=PROCEDURE if procedure else CONSULT,
                                   room=ROOM_1 if procedure else None)
            booked.append(appointment.id)
        elif roll < 0.8:  # a move, maybe to another day
            current = plain.appointments[rng.choice(booked)]
            shift = timedelta(days=rng.randint(-1, 1), minutes=rng.choice((-45, 15, 90)))
            appointment = replace(current, start=current.start + shift,
                                  end=current.end + shift)
        else:
            current = plain.appointments[rng.choice(booked)]
            appointment = replace(current, status=AppointmentStatus.CANCELLED)
        plain.put_appointment(appointment)
        memoized.put_appointment(appointment)
        for _ask in range(3):
            wanted = wanted_at(rng)
            ignore = frozenset(rng.sample(booked, 1)) if rng.random() < 0.2 else frozenset()
            assert alternatives(memoized, wanted, ignore) == alternatives(plain, wanted, ignore)
    assert memo.hits > 0 and memo.misses > 0


def test_a_booking_put_into_the_state_forgets_the_searches_of_its_resources_and_days(
) -> None:
    state = clinic_state()
    memo = state.slot_memo = SlotMemo()
    wanted = pl.Placement(CLINIC, "pat-1", CONSULT, DR_ADAMS, wall(MONDAY, 10),
                          wall(MONDAY, 10, 30))
    state.put_appointment(existing(DR_ADAMS, wall(MONDAY, 10), 30))
    first = alternatives(state, wanted, frozenset())
    assert wall(MONDAY, 10, 30) in [a.start for a in first]  # type: ignore[attr-defined]
    thursday = MONDAY + timedelta(days=3)
    list(memo.day_slots(thursday, "adams", frozenset({DR_ADAMS}), lambda: iter(())))
    list(memo.day_slots(MONDAY, "baker", frozenset({DR_BAKER}), lambda: iter(())))
    kept = memo.misses
    state.put_appointment(existing(DR_ADAMS, wall(MONDAY, 10, 30), 30))
    again = alternatives(state, wanted, frozenset())
    assert wall(MONDAY, 10, 30) not in [a.start for a in again]  # type: ignore[attr-defined]
    assert memo.misses > kept  # Dr Adams's Monday was judged again...
    hits = memo.hits
    list(memo.day_slots(thursday, "adams", frozenset({DR_ADAMS}), lambda: iter(())))
    list(memo.day_slots(MONDAY, "baker", frozenset({DR_BAKER}), lambda: iter(())))
    assert memo.hits == hits + 2  # ...his Thursday and Dr Baker's Monday were kept


def test_with_quotas_any_change_forgets_everything() -> None:
    from scheduling.model import Quota, QuotaPeriod

    state = clinic_state(quotas=[Quota("q-1", CLINIC, QuotaPeriod.WEEK, 50)])
    memo = state.slot_memo = SlotMemo()
    thursday = MONDAY + timedelta(days=3)
    list(memo.day_slots(thursday, "adams", frozenset({DR_ADAMS}), lambda: iter(())))
    state.put_appointment(existing(DR_BAKER, wall(MONDAY, 10), 30))
    misses = memo.misses
    list(memo.day_slots(thursday, "adams", frozenset({DR_ADAMS}), lambda: iter(())))
    assert memo.misses == misses + 1  # a weekly quota counts Monday's booking on Thursday


def test_a_day_is_searched_only_as_far_as_asked_and_goes_on_from_there() -> None:
    memo = SlotMemo()
    day = [Alternative(wall(MONDAY, 9 + n), wall(MONDAY, 9 + n, 30), DR_ADAMS, None, ())
           for n in range(4)]
    searched: list[Alternative] = []

    def search() -> Iterator[Alternative]:
        for slot in day:
            searched.append(slot)
            yield slot

    first = memo.day_slots(MONDAY, "k", frozenset(), search)
    assert [next(first), next(first)] == day[:2] and searched == day[:2]
    assert list(memo.day_slots(MONDAY, "k", frozenset(), search)) == day
    assert searched == day  # each start judged once


def test_the_kept_slots_are_filtered_for_the_patient() -> None:
    state = clinic_state()
    state.put_appointment(existing(DR_BAKER, wall(MONDAY, 11), 60, patient="pat-3"))
    slots = tuple(find_alternatives(
        state, pl.Placement(CLINIC, None, CONSULT, DR_ADAMS, wall(MONDAY, 11, 15),
                            wall(MONDAY, 11, 45)), now=NOW, actor=STAFF, policy=POLICY))
    assert any(wall(MONDAY, 11) <= s.start < wall(MONDAY, 12) for s in slots)
    mine = list(for_patient(state, slots, "pat-3", ()))
    assert mine and not any(wall(MONDAY, 10, 31) <= s.start < wall(MONDAY, 12) for s in mine)
    assert list(for_patient(state, slots, "pat-inactive", ())) == []
    ignored = {next(iter(state.appointments))}
    assert list(for_patient(state, slots, "pat-3", ignored)) == list(slots)
