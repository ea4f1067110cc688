"""Properties of the rules engine and availability, over random calendars and commands.

(a) no sequence of accepted commands (undo included) double-books a provider, room, piece of
    equipment or patient (buffers included) without an override;
(b) availability and the rules agree: every free slot is accepted, every grid
    start the rules accept is a free slot, and next available is the first of them;
(d) no sequence of status commands reaches a status the status machine forbids.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduling.availability import SlotQuery, free_slots, next_available
from scheduling.commands import (
    Accepted,
    BookAppointment,
    CancelAppointment,
    ChangeStatus,
    Command,
    MoveAppointment,
    Policy,
    ResizeAppointment,
    UndoStatus,
)
from scheduling.model import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Blockout,
    ExceptionKind,
    Outage,
    Quota,
    QuotaPeriod,
    ResourceRequirement,
    ScheduleException,
)
from scheduling.rules import check
from scheduling.state import CalendarState
from scheduling.status import TERMINAL, TRANSITIONS
from scheduling.timeutil import Interval
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
    SUPERVISOR,
    SURGERY,
    SURGERY_TYPE,
    XRAY,
    XRAY_TYPE,
    clinic_state,
    wall,
)

# Alternatives do not change whether a command is accepted; skipping them keeps runs fast.
POLICY = Policy(max_alternatives=0)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])

# A type with buffers on both sides and a notice period, next to the fixture's types.
PREP = "prepared-exam"
PREP_TYPE = AppointmentType(
    PREP, ORG, "Prepared exam", timedelta(minutes=30), timedelta(minutes=15),
    timedelta(minutes=60), buffer_before=timedelta(minutes=10), buffer_after=timedelta(minutes=5),
    min_notice=timedelta(hours=2),
    requirement=ResourceRequirement(rooms=frozenset({ROOM_1, ROOM_2})),
)

DAYS = (MONDAY, MONDAY + timedelta(days=1))
PROVIDERS = (DR_ADAMS, DR_BAKER, DR_CRUZ)
PATIENTS = tuple(f"pat-{n}" for n in range(1, 6))
TYPES = (CONSULT, GROUP, PROCEDURE, SURGERY_TYPE, XRAY_TYPE, PREP)
ROOMS = (None, ROOM_1, ROOM_2, SURGERY)


def calendar(**config: object) -> CalendarState:
    state = clinic_state(**config)
    state.appointment_types[PREP] = PREP_TYPE
    return state


def at(day_index: int, minute_of_day: int) -> datetime:
    return wall(DAYS[day_index], minute_of_day // 60, minute_of_day % 60)


def apply(outcome: object, state: CalendarState) -> bool:
    if not isinstance(outcome, Accepted):
        return False
    for appointment in outcome.appointments:
        state.put_appointment(appointment)
    return True


days = st.integers(0, len(DAYS) - 1)
# Mostly inside working hours, often on popular starts so that bookings collide.
five_minute_times = (
    st.integers(8 * 60 + 30, 17 * 60 + 30).map(lambda m: m - m % 5)
    | st.sampled_from((9 * 60, 9 * 60 + 30, 10 * 60, 10 * 60 + 45, 14 * 60, 16 * 60 + 30))
)
lengths = st.integers(1, 24).map(lambda n: timedelta(minutes=5 * n))
durations = st.none() | lengths


# --------------------------------------------------------------------------- (a) no overlap


@dataclass(frozen=True)
class Book:
    provider: str
    patient: str
    kind: str
    day: int
    minute: int
    duration: timedelta | None
    room: str | None
    equipment: tuple[str, ...] | None


@dataclass(frozen=True)
class Move:
    target: int
    day: int
    minute: int
    provider: str | None
    room: str | None


@dataclass(frozen=True)
class Resize:
    target: int
    duration: timedelta


@dataclass(frozen=True)
class Cancel:
    target: int


@dataclass(frozen=True)
class Undo:
    """Undo a cancellation (or any last status step): the booking comes back to life."""

    target: int


targets = st.integers(0, 1_000)
GROUP_SESSION = (DR_ADAMS, 0, 10 * 60)  # one popular group session, so that it fills up
group_joins = st.builds(Book, st.just(GROUP_SESSION[0]), st.sampled_from(PATIENTS),
                        st.just(GROUP), st.just(GROUP_SESSION[1]), st.just(GROUP_SESSION[2]),
                        st.none(), st.none(), st.none())
steps = st.one_of(
    group_joins,
    st.builds(Book, st.sampled_from(PROVIDERS), st.sampled_from(PATIENTS), st.sampled_from(TYPES),
              days, five_minute_times, durations, st.sampled_from(ROOMS),
              st.sampled_from((None, (), (XRAY,)))),
    st.builds(Move, targets, days, five_minute_times, st.none() | st.sampled_from(PROVIDERS),
              st.sampled_from(ROOMS)),
    st.builds(Resize, targets, lengths),
    st.builds(Cancel, targets),
    st.builds(Undo, targets),
)


def command_for(step: Book | Move | Resize | Cancel | Undo, state: CalendarState,
                known: list[str], number: int) -> Command | None:
    if isinstance(step, Book):
        start = at(step.day, step.minute)
        return BookAppointment(
            STAFF, f"p-{number}", CLINIC, step.patient, step.kind, step.provider, start,
            end=start + step.duration if step.duration else None, room_id=step.room,
            equipment_ids=step.equipment,
        )
    if not known:
        return None
    target = known[step.target % len(known)]
    if isinstance(step, Move):
        return MoveAppointment(STAFF, target, at(step.day, step.minute), step.provider, step.room)
    if isinstance(step, Resize):
        return ResizeAppointment(STAFF, target, state.appointments[target].start + step.duration)
    if isinstance(step, Cancel):
        return CancelAppointment(STAFF, target, "changed plans")
    return UndoStatus(STAFF, target)


def padded(state: CalendarState, appointment: Appointment) -> Interval:
    before, after = state.padding(appointment)
    return Interval(appointment.start - before, appointment.end + after)


def group_mates(state: CalendarState, a: Appointment, b: Appointment) -> bool:
    return (
        state.appointment_types[a.appointment_type_id].capacity > 1
        and (a.appointment_type_id, a.provider_id, a.start, a.end)
        == (b.appointment_type_id, b.provider_id, b.start, b.end)
    )


def assert_nothing_double_booked(state: CalendarState) -> None:
    active = [a for a in state.appointments.values() if a.is_active]
    for a, b in combinations(active, 2):
        shared = set(a.resource_ids) & set(b.resource_ids)
        if shared and not group_mates(state, a, b):
            assert not padded(state, a).overlaps(padded(state, b)), (shared, a, b)
        if a.patient_id == b.patient_id:
            assert not a.interval.overlaps(b.interval), (a, b)
    groups = Counter(
        (a.appointment_type_id, a.provider_id, a.start, a.end)
        for a in active
        if state.appointment_types[a.appointment_type_id].capacity > 1
    )
    for (type_id, *_), members in groups.items():
        assert members <= state.appointment_types[type_id].capacity


@PROPERTY_SETTINGS
@given(st.lists(steps, min_size=1, max_size=30))
def test_accepted_commands_never_double_book_a_resource_or_patient(
    plan: list[Book | Move | Resize | Cancel | Undo],
) -> None:
    state = calendar()
    known: list[str] = []
    for number, step in enumerate(plan):
        command = command_for(step, state, known, number)
        if command is None:
            continue
        if apply(check(command, state, NOW, POLICY), state) and isinstance(
            command, BookAppointment
        ):
            known.append(command.appointment_id)
        assert_nothing_double_booked(state)


# --------------------------------------------------------------------------- (b) agreement


@st.composite
def calendars(draw: st.DrawFn) -> CalendarState:
    """A clinic with random obstacles and random (sometimes overridden) bookings."""
    config: dict[str, object] = {}
    if draw(st.booleans()):
        start = at(draw(days), draw(five_minute_times))
        config["blockouts"] = [Blockout(
            "b-1", CLINIC, start, start + draw(lengths),
            resource_id=draw(st.sampled_from((None, DR_ADAMS, ROOM_1, XRAY))),
        )]
    if draw(st.booleans()):
        start = at(draw(days), draw(five_minute_times))
        config["outages"] = [Outage("o-1", draw(st.sampled_from((ROOM_2, XRAY, DR_BAKER))), start,
                                    start + draw(lengths))]
    if draw(st.booleans()):
        start = at(draw(days), draw(five_minute_times))
        config["exceptions"] = [ScheduleException(
            "x-1", draw(st.sampled_from(PROVIDERS)), CLINIC,
            draw(st.sampled_from(tuple(ExceptionKind))), start,
            start + draw(lengths),
        )]
    if draw(st.booleans()):
        config["quotas"] = [Quota(
            "q-1", CLINIC, draw(st.sampled_from(tuple(QuotaPeriod))), draw(st.integers(0, 4)),
            draw(st.none() | st.sampled_from(PROVIDERS)),
            draw(st.none() | st.sampled_from(TYPES)),
        )]
    state = calendar(**config)
    bookings = draw(st.lists(st.tuples(st.sampled_from(PROVIDERS), st.sampled_from(PATIENTS),
                                       st.sampled_from(TYPES), days, five_minute_times,
                                       st.booleans()), max_size=20))
    members = draw(st.integers(0, 4))
    bookings += [(GROUP_SESSION[0], patient, GROUP, *GROUP_SESSION[1:], n >= 3)
                 for n, patient in enumerate(PATIENTS[:members])]
    for number, (provider, patient, kind, day, minute, forced) in enumerate(bookings):
        command = BookAppointment(
            SUPERVISOR if forced else STAFF, f"pre-{number}", CLINIC, patient, kind, provider,
            at(day, minute), override_reason="squeezed in" if forced else None,
        )
        apply(check(command, state, NOW, POLICY), state)
    return state


def whole_day_grid(day_index: int) -> list[datetime]:
    return [at(day_index, minute) for minute in range(0, 24 * 60, 15)]


def booking(
    patient: str, kind: str, provider: str, start: datetime, **extra: object
) -> BookAppointment:
    return BookAppointment(STAFF, "probe", CLINIC, patient, kind, provider, start,
                           **extra)  # type: ignore[arg-type]


agreement = st.tuples(
    calendars(), st.sampled_from(TYPES), st.sampled_from(PROVIDERS), days,
    st.sampled_from(PATIENTS),
    st.sampled_from((NOW, at(0, 10 * 60 + 37), at(0, 15 * 60))),
)


@PROPERTY_SETTINGS
@given(agreement)
def test_every_free_slot_is_accepted_by_the_rules(
    case: tuple[CalendarState, str, str, int, str, datetime],
) -> None:
    state, kind, provider, day, patient, now = case
    query = SlotQuery(CLINIC, kind, DAYS[day], DAYS[day], (provider,), patient_id=patient)
    for slot in free_slots(state, query, now=now, policy=POLICY):
        command = booking(patient, kind, slot.provider_id, slot.start, end=slot.end,
                          room_id=slot.room_id, equipment_ids=slot.equipment_ids)
        assert isinstance(check(command, state, now, POLICY), Accepted), slot


@PROPERTY_SETTINGS
@given(agreement)
def test_every_grid_start_the_rules_accept_is_a_free_slot(
    case: tuple[CalendarState, str, str, int, str, datetime],
) -> None:
    state, kind, provider, day, patient, now = case
    query = SlotQuery(CLINIC, kind, DAYS[day], DAYS[day], (provider,), patient_id=patient)
    offered = {slot.start for slot in free_slots(state, query, now=now, policy=POLICY)}
    for start in whole_day_grid(day):
        if isinstance(check(booking(patient, kind, provider, start), state, now, POLICY),
                      Accepted):
            assert start in offered, start


@PROPERTY_SETTINGS
@given(agreement)
def test_next_available_is_the_first_free_slot_across_providers(
    case: tuple[CalendarState, str, str, int, str, datetime],
) -> None:
    state, kind, _provider, day, patient, now = case
    query = SlotQuery(CLINIC, kind, DAYS[day], DAYS[day] + timedelta(days=1), patient_id=patient)
    slots = free_slots(state, query, now=now, policy=POLICY)
    found = next_available(state, CLINIC, kind, now=now, after=at(day, 0), horizon_days=1,
                           policy=POLICY, patient_id=patient)
    first = (slots[0].start, slots[0].provider_id) if slots else None
    assert ((found.start, found.provider_id) if found else None) == first


# --------------------------------------------------------------------------- (d) status machine

STATUS_COMMANDS = st.one_of(
    st.tuples(st.just("change"), st.sampled_from(tuple(AppointmentStatus)),
              st.sampled_from(("", "mistake"))),
    st.tuples(st.just("undo"), st.none(), st.none()),
    st.tuples(st.just("cancel"), st.none(), st.sampled_from((None, "doctor agreed"))),
)


@PROPERTY_SETTINGS
@given(
    st.sampled_from((AppointmentStatus.PENDING, AppointmentStatus.BOOKED)),
    st.lists(st.tuples(STATUS_COMMANDS, st.integers(0, 7)), max_size=25),
)
def test_status_commands_only_follow_the_status_machine_or_undo_its_last_step(
    initial: AppointmentStatus,
    plan: list[tuple[tuple[str, AppointmentStatus | str | None, str | None], int]],
) -> None:
    state = calendar()
    start = wall(MONDAY, 10)
    state.put_appointment(Appointment(
        "a-1", ORG, CLINIC, "pat-1", CONSULT, DR_ADAMS, start, start + timedelta(minutes=30),
        status=initial,
    ))
    now = start - timedelta(minutes=20)
    undoable: tuple[AppointmentStatus, datetime] | None = None  # (previous status, changed at)
    for (verb, target, text), minutes_later in plan:
        now += timedelta(minutes=minutes_later)
        command: Command
        if verb == "change":
            assert isinstance(target, AppointmentStatus)
            command = ChangeStatus(SUPERVISOR, "a-1", target, text or "")
        elif verb == "undo":
            command = UndoStatus(SUPERVISOR, "a-1")
        else:
            command = CancelAppointment(SUPERVISOR, "a-1", "unwell", override_reason=text)
        before = state.appointments["a-1"].status
        accepted = apply(check(command, state, now, POLICY), state)
        after = state.appointments["a-1"].status
        assert isinstance(after, AppointmentStatus)
        if not accepted:
            assert after is before
            continue
        if isinstance(command, UndoStatus):
            assert undoable is not None, "undo accepted with nothing to undo"
            previous, changed_at = undoable
            assert after is previous
            assert now - changed_at <= POLICY.undo_window
            undoable = None
        else:
            assert before not in TERMINAL
            assert after in TRANSITIONS[before], (before, after)
            undoable = (before, now)

