"""A record's place in the state's indexes is kept per record (scheduling/places.py), and
used only for that very record with the same zone and buffers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from scheduling import places
from scheduling.state import CalendarState
from tests.scheduling.calendar_fixtures import (
    CLINIC,
    CONSULT,
    DR_ADAMS,
    MONDAY,
    PROCEDURE,
    ROOM_1,
    clinic_state,
    existing,
    wall,
)


def busy(state: CalendarState, resource: str, start: datetime, end: datetime) -> list[str]:
    return [appointment_id for _s, _e, appointment_id in
            state.busy_for_resource(resource, start, end)]


def test_the_same_record_is_placed_alike_in_every_state() -> None:
    record = existing(DR_ADAMS, wall(MONDAY, 10), 45, kind=PROCEDURE, room=ROOM_1)
    first, second = clinic_state(), clinic_state()
    first.put_appointment(record)
    second.put_appointment(record)  # the kept place
    for state in (first, second):
        # a procedure's 15 minutes after keep the room busy until 10:45 + 0:15
        assert busy(state, ROOM_1, wall(MONDAY, 10, 50), wall(MONDAY, 10, 55)) == [record.id]
        assert not busy(state, ROOM_1, wall(MONDAY, 11), wall(MONDAY, 11, 30))
        assert [a.id for a in state.active_on_day(CLINIC, MONDAY)] == [record.id]
    assert places._KEPT[record.id][0] is record


def test_a_changed_record_is_placed_again() -> None:
    record = existing(DR_ADAMS, wall(MONDAY, 10))
    clinic_state().put_appointment(record)
    moved = replace(record, start=wall(MONDAY, 14), end=wall(MONDAY, 14, 30))
    state = clinic_state()
    state.put_appointment(moved)  # same id, another object: not the kept place
    assert busy(state, DR_ADAMS, wall(MONDAY, 14), wall(MONDAY, 14, 30)) == [record.id]
    assert not busy(state, DR_ADAMS, wall(MONDAY, 10), wall(MONDAY, 10, 30))


def test_other_buffers_place_the_same_record_again() -> None:
    record = existing(DR_ADAMS, wall(MONDAY, 10), kind=CONSULT)
    plain = clinic_state()
    plain.put_appointment(record)
    assert not busy(plain, DR_ADAMS, wall(MONDAY, 10, 30), wall(MONDAY, 10, 40))
    buffered = clinic_state()
    kind = buffered.appointment_types[CONSULT]
    buffered.appointment_types[CONSULT] = replace(kind, buffer_after=timedelta(minutes=10))
    buffered.put_appointment(record)
    assert busy(buffered, DR_ADAMS, wall(MONDAY, 10, 30), wall(MONDAY, 10, 40)) == [record.id]


def test_another_zone_places_the_same_record_on_its_own_local_day() -> None:
    # 03:00 UTC on Tuesday is still Monday evening in New York, Tuesday in Madrid
    at = datetime.combine(MONDAY + timedelta(days=1), datetime.min.time(), UTC) \
        + timedelta(hours=3)
    record = existing(DR_ADAMS, at)
    new_york, madrid = clinic_state(), clinic_state(tz="Europe/Madrid")
    new_york.put_appointment(record)
    madrid.put_appointment(record)
    assert [a.id for a in new_york.active_on_day(CLINIC, MONDAY)] == [record.id]
    assert not madrid.active_on_day(CLINIC, MONDAY)
    assert [a.id for a in madrid.active_on_day(CLINIC, MONDAY + timedelta(days=1))] == \
        [record.id]


def test_the_kept_places_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(places, "LIMIT", 3)
    monkeypatch.setattr(places, "_KEPT", {})
    state = clinic_state()
    records = [existing(DR_ADAMS, wall(MONDAY, 9) + timedelta(hours=i)) for i in range(5)]
    for record in records:
        state.put_appointment(record)
        assert len(places._KEPT) <= 3
    assert sorted(a.id for a in state.active_on_day(CLINIC, MONDAY)) == \
        sorted(r.id for r in records)
