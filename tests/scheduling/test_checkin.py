"""Virtual check-in in the domain: the window around the start, the arrival recording
when it happened, the undo forgetting it, and the wire carrying it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduling.checkin import CheckInWindow, WindowState
from scheduling.commands import Accepted, ChangeStatus, UndoStatus
from scheduling.errors import NaiveDatetimeError
from scheduling.model import AppointmentStatus
from scheduling.rules import check
from scheduling.wire import from_wire, to_wire
from tests.scheduling.calendar_fixtures import DR_ADAMS, MONDAY, STAFF, clinic_state, existing, wall

START = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(("offset", "state"), [
    (-16, WindowState.EARLY), (-15, WindowState.OPEN), (0, WindowState.OPEN),
    (14, WindowState.OPEN), (15, WindowState.CLOSED), (240, WindowState.CLOSED)])
def test_the_default_window_opens_15_minutes_before_and_closes_15_after(
        offset: int, state: WindowState) -> None:
    assert CheckInWindow().state(START, START + offset * MINUTE) is state


def test_an_organizations_window_moves_both_edges() -> None:
    window = CheckInWindow(45 * MINUTE, 5 * MINUTE)
    assert window.state(START, START - 30 * MINUTE) is WindowState.OPEN
    assert window.state(START, START + 5 * MINUTE) is WindowState.CLOSED
    assert window.opens_at(START) == START - 45 * MINUTE


@pytest.mark.parametrize("minutes", [-1, 241])
def test_a_negative_or_overlong_window_is_refused(minutes: int) -> None:
    with pytest.raises(ValueError, match="between"):
        CheckInWindow(opens_before=minutes * MINUTE)


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        CheckInWindow().state(START, datetime(2026, 6, 1, 14, 0))


def test_a_virtual_check_in_records_when_and_its_undo_forgets_it() -> None:
    state = clinic_state()
    ten = wall(MONDAY, 10)
    appointment = existing(DR_ADAMS, ten, 30)
    state.put_appointment(appointment)
    now = ten - 10 * MINUTE
    outcome = check(ChangeStatus(STAFF, appointment.id, AppointmentStatus.ARRIVED,
                                 virtual=True), state, now)
    assert isinstance(outcome, Accepted)
    arrived = outcome.appointment
    assert arrived.status is AppointmentStatus.ARRIVED and arrived.virtual_checkin_at == now
    state.put_appointment(arrived)
    ready = check(ChangeStatus(STAFF, appointment.id, AppointmentStatus.READY), state, now)
    assert isinstance(ready, Accepted) and ready.appointment.virtual_checkin_at == now
    undone = check(UndoStatus(STAFF, appointment.id), state, now + MINUTE)
    assert isinstance(undone, Accepted)
    assert undone.appointment.status is AppointmentStatus.BOOKED
    assert undone.appointment.virtual_checkin_at is None


def test_a_desks_arrival_is_not_virtual() -> None:
    state = clinic_state()
    ten = wall(MONDAY, 10)
    appointment = existing(DR_ADAMS, ten, 30)
    state.put_appointment(appointment)
    outcome = check(ChangeStatus(STAFF, appointment.id, AppointmentStatus.ARRIVED), state, ten)
    assert isinstance(outcome, Accepted) and outcome.appointment.virtual_checkin_at is None


def test_the_wire_carries_the_check_in_and_reads_records_without_it() -> None:
    appointment = existing(DR_ADAMS, wall(MONDAY, 10), 30)
    checked = from_wire("appointment", to_wire(appointment) | {
        "virtual_checkin_at": "2026-06-01T13:50:00+00:00"})
    assert checked.virtual_checkin_at == datetime(2026, 6, 1, 13, 50, tzinfo=UTC)
    older = to_wire(appointment)
    del older["virtual_checkin_at"]  # a server from before the field
    assert from_wire("appointment", older).virtual_checkin_at is None
