"""Other providers at the wanted time (scheduling/alternatives.py): judging only as many
as the list can offer, passing those not working then before any rule, and sharing the
refusal's setup give the same alternatives as judging every provider with every rule."""

from __future__ import annotations

import random
from collections.abc import Collection
from datetime import datetime, time, timedelta

import pytest

from scheduling import alternatives as alt
from scheduling import placement as pl
from scheduling.availability import _as_alternative
from scheduling.commands import Actor, Alternative, Policy
from scheduling.model import (
    Blockout,
    ExceptionKind,
    Resource,
    ResourceKind,
    ScheduleException,
    WeeklySchedule,
)
from scheduling.slot_memo import SlotMemo
from scheduling.state import CalendarState
from tests.scheduling.calendar_fixtures import (
    CLINIC,
    CONSULT,
    DR_ADAMS,
    DR_BAKER,
    DR_CRUZ,
    GROUP,
    MONDAY,
    NOW,
    ORG,
    PROCEDURE,
    ROOM_1,
    ROOM_2,
    STAFF,
    SURGERY_TYPE,
    XRAY,
    XRAY_TYPE,
    clinic_state,
    existing,
    wall,
)

# Four more providers: one like the others, one working afternoons of Monday and
# Wednesday only, one with no hours at all, one away on Tuesday; and one inactive.
DR_DIAZ, DR_EVANS, DR_FORD, DR_GRAY, DR_HILL = (
    "dr-diaz",
    "dr-evans",
    "dr-ford",
    "dr-gray",
    "dr-hill",
)
PROVIDERS = (DR_ADAMS, DR_BAKER, DR_CRUZ, DR_DIAZ, DR_EVANS, DR_FORD, DR_GRAY)
KINDS = ((CONSULT, 30), (PROCEDURE, 45), (GROUP, 60), (SURGERY_TYPE, 60), (XRAY_TYPE, 15))


def old_find_alternatives(
    state: CalendarState,
    wanted: pl.Placement,
    *,
    now: datetime,
    actor: Actor,
    policy: Policy,
    ignore: Collection[str] = (),
) -> tuple[Alternative, ...]:
    """The function as it was before: every other provider judged with every rule until
    ``limit`` of them are found (busy ones, capacity 1, passed)."""
    limit = policy.max_alternatives
    if limit <= 0:
        return ()
    clinic = state.clinics.get(wanted.clinic_id)
    kind = state.appointment_types.get(wanted.appointment_type_id)
    if clinic is None or kind is None:
        return ()
    duration = wanted.end - wanted.start
    same_provider = alt._nearest_for_provider(
        state, wanted, duration, now, actor, policy, ignore, limit
    )
    others: list[Alternative] = []
    target = wanted.start.timestamp()
    for provider in sorted(state.providers_at(wanted.clinic_id), key=lambda r: r.name):
        if provider.id == wanted.provider_id or len(others) >= limit:
            continue
        if (
            kind.capacity == 1
            and alt.clash_until(state, provider.id, kind, duration, wanted.patient_id, ignore)(
                target
            )
            > target
        ):
            continue
        base = pl.Placement(
            wanted.clinic_id, wanted.patient_id, kind.id, provider.id, wanted.start, wanted.end
        )
        for candidate in pl.candidate_placements(state, base, kind, False, False):
            if not pl.violations(
                state, candidate, now=now, actor=actor, ignore=ignore, first_only=True
            ):
                others.append(_as_alternative(candidate))
                break
    reserved = min(len(others), 2)
    chosen = same_provider[: limit - reserved] + others[:reserved]
    rest = same_provider[limit - reserved :] + others[reserved:]
    chosen += rest[: limit - len(chosen)]
    return tuple(chosen)


def wider_clinic(*, holiday: bool = False, blockout: bool = False) -> CalendarState:
    state = clinic_state()
    for provider_id in (DR_DIAZ, DR_EVANS, DR_FORD, DR_GRAY, DR_HILL):
        state.resources[provider_id] = Resource(
            provider_id,
            ORG,
            ResourceKind.PROVIDER,
            provider_id.title(),
            frozenset({CLINIC}),
            active=provider_id != DR_HILL,
        )
    state.schedules[DR_DIAZ] = [
        WeeklySchedule(f"ws-diaz-{d}", DR_DIAZ, CLINIC, d, time(9), time(17)) for d in range(5)
    ]
    state.schedules[DR_EVANS] = [
        WeeklySchedule(f"ws-evans-{d}", DR_EVANS, CLINIC, d, time(13), time(17)) for d in (0, 2)
    ]
    state.schedules[DR_GRAY] = [
        WeeklySchedule(f"ws-gray-{d}", DR_GRAY, CLINIC, d, time(8), time(18)) for d in range(5)
    ]
    state.schedules[DR_HILL] = list(state.schedules[DR_DIAZ])
    tuesday = MONDAY + timedelta(days=1)
    state.exceptions[DR_GRAY] = [
        ScheduleException(
            "off-gray", DR_GRAY, CLINIC, ExceptionKind.TIME_OFF, wall(tuesday, 8), wall(tuesday, 18)
        )
    ]
    if holiday:
        state.holidays[CLINIC] = {MONDAY + timedelta(days=3): "Thursday off"}
    if blockout:
        state.blockouts[CLINIC] = [
            Blockout("b-1", CLINIC, wall(MONDAY, 14), wall(MONDAY, 15), resource_id=DR_DIAZ)
        ]
    return state


def random_wanted(rng: random.Random) -> pl.Placement:
    day = MONDAY + timedelta(days=rng.randint(0, 4))
    start = wall(day, rng.randint(8, 17), rng.choice((0, 15, 30, 45)))
    kind, minutes = rng.choice(KINDS)
    room = rng.choice((None, None, ROOM_1, ROOM_2)) if kind == PROCEDURE else None
    return pl.Placement(
        CLINIC,
        rng.choice((f"pat-{rng.randint(1, 6)}", None)),
        kind,
        rng.choice(PROVIDERS),
        start,
        start + timedelta(minutes=minutes),
        room,
    )


def both(
    state: CalendarState, wanted: pl.Placement, policy: Policy, ignore: Collection[str] = ()
) -> tuple[tuple[Alternative, ...], ...]:
    new = alt.find_alternatives(state, wanted, now=NOW, actor=STAFF, policy=policy, ignore=ignore)
    old = old_find_alternatives(state, wanted, now=NOW, actor=STAFF, policy=policy, ignore=ignore)
    return new, old


@pytest.mark.parametrize("seed", range(16))
def test_other_providers_are_those_of_judging_every_provider_with_every_rule(seed: int) -> None:
    """Random calendars (bookings of every kind, the patients' own, ignored ones, a
    holiday, a blockout) and random refusals with random limits and horizons: the same
    alternatives as the function before, also through a push run's slot memo (a copy of
    the calendar with one); some of them name other providers."""
    rng = random.Random(seed)
    holiday, blockout = rng.random() < 0.5, rng.random() < 0.5
    state = wider_clinic(holiday=holiday, blockout=blockout)
    kept = wider_clinic(holiday=holiday, blockout=blockout)
    kept.slot_memo = SlotMemo()
    booked: list[str] = []
    for _ in range(rng.randint(10, 80)):
        day = MONDAY + timedelta(days=rng.randint(0, 4))
        start = wall(day, rng.randint(9, 16), rng.choice((0, 15, 30, 45)))
        kind = rng.choice((CONSULT, CONSULT, PROCEDURE, GROUP, XRAY_TYPE))
        appointment = existing(
            rng.choice(PROVIDERS),
            start,
            rng.choice((15, 30, 60)),
            patient=f"pat-{rng.randint(1, 6)}",
            kind=kind,
            room=rng.choice((ROOM_1, ROOM_2)) if kind == PROCEDURE else None,
            equipment_ids=(XRAY,) if kind == XRAY_TYPE else (),
        )
        state.put_appointment(appointment)
        kept.put_appointment(appointment)
        booked.append(appointment.id)
    others_offered = 0
    for _ in range(30):
        wanted = random_wanted(rng)
        policy = Policy(
            alternatives_horizon_days=rng.randint(0, 2), max_alternatives=rng.randint(0, 6)
        )
        ignore = frozenset(rng.sample(booked, 2)) if rng.random() < 0.3 else frozenset()
        new, old = both(state, wanted, policy, ignore)
        assert new == old
        assert new == alt.find_alternatives(
            kept, wanted, now=NOW, actor=STAFF, policy=policy, ignore=ignore
        )
        others_offered += sum(a.provider_id != wanted.provider_id for a in new)
    assert others_offered > 0


def judged_providers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The providers :func:`scheduling.placement.violations` is asked about, in order."""
    asked: list[str] = []
    judge = pl.violations

    def counting(
        state: CalendarState, placement: pl.Placement, **kwargs: object
    ) -> list[pl.Violation]:
        asked.append(placement.provider_id)
        return judge(state, placement, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pl, "violations", counting)
    return asked


def asked_about_others(asked: list[str], wanted: pl.Placement) -> list[str]:
    return [p for p in asked if p != wanted.provider_id]


def test_with_no_other_provider_only_the_same_providers_times_are_offered() -> None:
    state = clinic_state()
    for provider_id in (DR_BAKER, DR_CRUZ):
        state.resources.pop(provider_id)
    state.put_appointment(existing(DR_ADAMS, wall(MONDAY, 10), 30))
    wanted = pl.Placement(
        CLINIC, "pat-1", CONSULT, DR_ADAMS, wall(MONDAY, 10), wall(MONDAY, 10, 30)
    )
    new, old = both(state, wanted, Policy(alternatives_horizon_days=1, max_alternatives=5))
    assert new == old
    assert len(new) == 5 and {a.provider_id for a in new} == {DR_ADAMS}


def test_with_every_other_provider_busy_or_away_none_is_judged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = wider_clinic()
    tuesday = MONDAY + timedelta(days=1)
    for provider_id in (DR_ADAMS, DR_BAKER, DR_CRUZ, DR_DIAZ):
        state.put_appointment(existing(provider_id, wall(tuesday, 10), 60))
    wanted = pl.Placement(
        CLINIC, "pat-1", CONSULT, DR_ADAMS, wall(tuesday, 10), wall(tuesday, 10, 30)
    )
    asked = judged_providers(monkeypatch)
    new = alt.find_alternatives(
        state,
        wanted,
        now=NOW,
        actor=STAFF,
        policy=Policy(alternatives_horizon_days=1, max_alternatives=5),
    )
    # Dr Evans and Dr Ford do not work on Tuesday, Dr Gray is away: passed unjudged.
    assert asked_about_others(asked, wanted) == []
    assert new == old_find_alternatives(
        state,
        wanted,
        now=NOW,
        actor=STAFF,
        policy=Policy(alternatives_horizon_days=1, max_alternatives=5),
    )
    assert {a.provider_id for a in new} == {DR_ADAMS}


def test_a_busy_patient_is_offered_no_other_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    state = wider_clinic()
    own = existing(DR_BAKER, wall(MONDAY, 10), 30, patient="pat-1")
    state.put_appointment(own)
    wanted = pl.Placement(
        CLINIC, "pat-1", CONSULT, DR_ADAMS, wall(MONDAY, 10), wall(MONDAY, 10, 30)
    )
    policy = Policy(alternatives_horizon_days=1, max_alternatives=5)
    asked = judged_providers(monkeypatch)
    new = alt.find_alternatives(state, wanted, now=NOW, actor=STAFF, policy=policy)
    assert asked_about_others(asked, wanted) == []
    assert new == old_find_alternatives(state, wanted, now=NOW, actor=STAFF, policy=policy)
    assert {a.provider_id for a in new} == {DR_ADAMS}
    # Her booking ignored (a move of it, say), the others free then are offered again.
    moved = alt.find_alternatives(
        state, wanted, now=NOW, actor=STAFF, policy=policy, ignore={own.id}
    )
    assert moved == old_find_alternatives(
        state, wanted, now=NOW, actor=STAFF, policy=policy, ignore={own.id}
    )
    assert {a.provider_id for a in moved} == {DR_ADAMS, DR_BAKER, DR_CRUZ}


@pytest.mark.parametrize(("limit", "judged", "judged_before"), [(1, 1, 1), (2, 2, 2), (5, 2, 6)])
def test_only_as_many_other_providers_are_judged_as_the_list_can_offer(
    monkeypatch: pytest.MonkeyPatch, limit: int, judged: int, judged_before: int
) -> None:
    """Dr Adams has free times all around: two places are kept for other providers, so
    two of the five free ones are judged; the function before judged providers until the
    limit was reached (Dr Ford, with no hours, among them)."""
    state = wider_clinic()
    wanted = pl.Placement(
        CLINIC, "pat-1", CONSULT, DR_ADAMS, wall(MONDAY, 14), wall(MONDAY, 14, 30)
    )
    policy = Policy(alternatives_horizon_days=1, max_alternatives=limit)
    asked = judged_providers(monkeypatch)
    new = alt.find_alternatives(state, wanted, now=NOW, actor=STAFF, policy=policy)
    assert len(asked_about_others(asked, wanted)) == judged
    asked.clear()
    old = old_find_alternatives(state, wanted, now=NOW, actor=STAFF, policy=policy)
    assert len(set(asked_about_others(asked, wanted))) == judged_before
    assert new == old and len(new) == limit


def test_a_day_without_the_wanted_providers_hours_offers_the_others_up_to_the_limit() -> None:
    """Nothing of Dr Evans near Friday: the others fill the list, in name order."""
    state = wider_clinic()
    friday = MONDAY + timedelta(days=4)
    wanted = pl.Placement(
        CLINIC, "pat-1", CONSULT, DR_EVANS, wall(friday, 10), wall(friday, 10, 30)
    )
    new, old = both(state, wanted, Policy(alternatives_horizon_days=0, max_alternatives=3))
    assert new == old
    assert [a.provider_id for a in new] == [DR_ADAMS, DR_BAKER, DR_CRUZ]


@pytest.mark.parametrize(
    ("busy_rooms", "ignored", "judged", "judged_before"),
    [
        ((ROOM_1,), False, [DR_BAKER, DR_CRUZ], [DR_BAKER, DR_BAKER, DR_CRUZ, DR_CRUZ]),
        ((ROOM_1, ROOM_2), False, [], [DR_BAKER, DR_BAKER, DR_CRUZ, DR_CRUZ]),
        ((ROOM_1, ROOM_2), True, [DR_BAKER, DR_CRUZ], [DR_BAKER, DR_BAKER, DR_CRUZ, DR_CRUZ]),
    ],
)
def test_a_room_busy_at_the_wanted_time_is_tried_with_no_provider(
    monkeypatch: pytest.MonkeyPatch,
    busy_rooms: tuple[str, ...],
    ignored: bool,
    judged: list[str],
    judged_before: list[str],
) -> None:
    """A procedure needs room 1 or 2; Dr Adams is busy in room 1 at 10:00 (and in room 2):
    each other provider is judged once, in the free room, or not at all when both rooms
    are taken (unless room 2's booking is ignored); the function before judged each in
    both rooms."""
    state = clinic_state()
    monday_ten = wall(MONDAY, 10)
    state.put_appointment(existing(DR_ADAMS, monday_ten, 45, kind=PROCEDURE, room=ROOM_1))
    ignore: frozenset[str] = frozenset()
    if ROOM_2 in busy_rooms:  # Dr Adams booked twice: a clash the desk pushed
        second = existing(DR_ADAMS, monday_ten, 45, kind=PROCEDURE, room=ROOM_2)
        state.put_appointment(second)
        ignore = frozenset({second.id}) if ignored else ignore
    wanted = pl.Placement(
        CLINIC, "pat-1", PROCEDURE, DR_ADAMS, monday_ten, monday_ten + timedelta(minutes=45), ROOM_1
    )
    policy = Policy(alternatives_horizon_days=0, max_alternatives=5)
    asked = judged_providers(monkeypatch)
    new = alt.find_alternatives(state, wanted, now=NOW, actor=STAFF, policy=policy, ignore=ignore)
    assert asked_about_others(asked, wanted) == judged
    asked.clear()
    assert new == old_find_alternatives(
        state, wanted, now=NOW, actor=STAFF, policy=policy, ignore=ignore
    )
    assert asked_about_others(asked, wanted) == judged_before
    offered = [(a.provider_id, a.room_id) for a in new if a.provider_id != DR_ADAMS]
    assert offered == ([(DR_BAKER, ROOM_2), (DR_CRUZ, ROOM_2)] if judged else [])
