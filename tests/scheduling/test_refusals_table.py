"""Every refusal code the rules engine gives, one row per situation that causes it.

Each row builds a small situation on the fixture clinic (Mon–Fri 09:00–17:00,
break 12:00–13:00, New York) and names the code ``check`` must answer with.
Time and resource refusals must also offer bookable alternatives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import pytest

from scheduling.availability import DEFAULT_POLICY
from scheduling.commands import (
    Accepted,
    Actor,
    BookAppointment,
    CancelAppointment,
    ChangeStatus,
    Command,
    MoveAppointment,
    Permission,
    Policy,
    Refused,
    UndoStatus,
)
from scheduling.model import (
    Appointment,
    AppointmentStatus,
    Blockout,
    ExceptionKind,
    Holiday,
    Outage,
    Quota,
    QuotaPeriod,
    Resource,
    ResourceKind,
    ScheduleException,
    StatusChange,
)
from scheduling.refusals import OFFERS_ALTERNATIVES, RefusalCode
from scheduling.rules import check
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
    SUPERVISOR,
    SURGERY,
    SURGERY_TYPE,
    VIEWER,
    XRAY,
    XRAY_TYPE,
    book,
    clinic_state,
    existing,
    wall,
)

R = RefusalCode
TODAY = date(2026, 5, 25)  # NOW is 08:00 local on this Monday
SATURDAY = MONDAY + timedelta(days=5)
TEN = wall(MONDAY, 10)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Situation:
    """A calendar (fixture clinic + configuration + existing bookings) and a command."""

    command: Command
    existing: tuple[Appointment, ...] = ()
    config: dict[str, object] = field(default_factory=dict)
    adjust: Callable[[CalendarState], None] | None = None
    policy: Policy = DEFAULT_POLICY

    def build(self) -> CalendarState:
        state = clinic_state(**self.config)
        if self.adjust is not None:
            self.adjust(state)
        for appointment in self.existing:
            state.put_appointment(appointment)
        return state


# --------------------------------------------------------------------------- adjustments


def change_type(type_id: str, **changes: object) -> Callable[[CalendarState], None]:
    def adjust(state: CalendarState) -> None:
        state.appointment_types[type_id] = replace(state.appointment_types[type_id], **changes)

    return adjust


def change_resource(resource_id: str, **changes: object) -> Callable[[CalendarState], None]:
    def adjust(state: CalendarState) -> None:
        state.resources[resource_id] = replace(state.resources[resource_id], **changes)

    return adjust


def add_provider_elsewhere(state: CalendarState) -> None:
    state.resources["dr-away"] = Resource(
        "dr-away", ORG, ResourceKind.PROVIDER, "Dr Away", frozenset({"clinic-other"})
    )


def booked_at(start: datetime, minutes: int = 30, **extra: object) -> Appointment:
    """A consult of pat-1 with Dr Adams (the one the lifecycle rows act on)."""
    return existing(DR_ADAMS, start, minutes, patient="pat-1", **extra)


# Lifecycle rows act on fixed appointments so their commands can name them.
COMPLETED = booked_at(TEN, status=AppointmentStatus.COMPLETED)
RESCHEDULED_THRICE = booked_at(TEN, reschedule_count=3)
THIS_AFTERNOON = booked_at(wall(TODAY, 14))
NEXT_MONDAY = booked_at(TEN)
CONFIRMED_LONG_AGO = booked_at(
    TEN,
    status=AppointmentStatus.CONFIRMED,
    last_status_change=StatusChange(AppointmentStatus.BOOKED, NOW - timedelta(minutes=10),
                                    STAFF.user_id),
)
#: pat-1 missed 3 appointments in the policy's window (the server works that out).
AT_NO_SHOW_LIMIT = Policy(no_show_limited={"pat-1": 3})
ONLINE_PATIENT = Actor("portal-pat-1", None, frozenset({Permission.CREATE.value}),
                       online_booking=True)
ONLINE_PATIENT_CANCELLING = Actor("portal-pat-1", None, frozenset({Permission.CANCEL.value}),
                                  online_booking=True)
THREE_GROUP_MEMBERS = tuple(
    existing(DR_ADAMS, TEN, 60, patient=f"pat-{n}", kind=GROUP) for n in (2, 3, 4)
)


# --------------------------------------------------------------------------- the table

REFUSALS = [
    # who and what
    pytest.param(Situation(book(actor=VIEWER)), R.NOT_PERMITTED, id="viewer-books"),
    pytest.param(Situation(book(patient="pat-404")), R.UNKNOWN_RECORD, id="unknown-patient"),
    pytest.param(Situation(book("dr-nobody")), R.UNKNOWN_RECORD, id="unknown-provider"),
    pytest.param(Situation(book(kind="massage")), R.UNKNOWN_RECORD, id="unknown-type"),
    pytest.param(Situation(book(patient="pat-inactive")), R.PATIENT_INACTIVE,
                 id="inactive-patient"),
    pytest.param(Situation(book(), adjust=change_resource(DR_ADAMS, active=False)),
                 R.PROVIDER_INACTIVE, id="inactive-provider"),
    pytest.param(Situation(book("dr-away"), adjust=add_provider_elsewhere),
                 R.PROVIDER_NOT_AT_CLINIC, id="provider-of-another-clinic"),
    pytest.param(Situation(book(DR_ADAMS, kind=SURGERY_TYPE)), R.PROVIDER_NOT_QUALIFIED,
                 id="surgery-with-unqualified-provider"),
    pytest.param(Situation(book(kind=PROCEDURE, room_id=SURGERY)), R.RESOURCE_NOT_SUITABLE,
                 id="procedure-in-the-surgery-room"),
    pytest.param(Situation(book(kind=XRAY_TYPE, equipment_ids=())), R.NO_SUITABLE_ROOM,
                 id="x-ray-without-the-unit"),
    pytest.param(
        Situation(
            book(DR_ADAMS, kind=PROCEDURE),
            existing=(existing(DR_BAKER, TEN, 45, kind=PROCEDURE, room=ROOM_1),
                      existing(DR_CRUZ, TEN, 45, patient="pat-3", kind=PROCEDURE, room=ROOM_2)),
        ),
        R.NO_SUITABLE_ROOM,
        id="procedure-with-both-rooms-busy",
    ),
    pytest.param(Situation(book(actor=ONLINE_PATIENT)), R.NOT_ONLINE_BOOKABLE,
                 id="consult-booked-online"),
    pytest.param(Situation(book(actor=ONLINE_PATIENT), policy=AT_NO_SHOW_LIMIT,
                           adjust=change_type(CONSULT, online_bookable=True)),
                 R.NO_SHOW_LIMIT, id="patient-at-the-no-show-limit-booking-online"),
    # when
    pytest.param(Situation(book(start=wall(TODAY - timedelta(days=3), 10))), R.IN_THE_PAST,
                 id="last-friday"),
    pytest.param(Situation(book(start=wall(TODAY, 10)),
                           adjust=change_type(CONSULT, min_notice=timedelta(hours=48))),
                 R.TOO_SHORT_NOTICE, id="type-needs-48h-notice"),
    pytest.param(Situation(book(DR_CRUZ, wall(TODAY, 10), kind=SURGERY_TYPE)),
                 R.TOO_SHORT_NOTICE, id="surgery-room-needs-48h-lead-time"),
    pytest.param(Situation(book(start=wall(TODAY + timedelta(days=31), 10)),
                           adjust=change_type(CONSULT, max_days_ahead=30)),
                 R.TOO_FAR_AHEAD, id="31-days-ahead-of-a-30-day-window"),
    pytest.param(Situation(book(), config={"holidays": [Holiday("h-1", CLINIC, MONDAY)]}),
                 R.CLINIC_HOLIDAY, id="holiday"),
    pytest.param(Situation(book(start=wall(MONDAY, 8))), R.OUTSIDE_HOURS, id="before-nine"),
    pytest.param(Situation(book(start=wall(MONDAY, 12))), R.OUTSIDE_HOURS,
                 id="during-the-break"),
    pytest.param(Situation(book(start=wall(MONDAY, 11, 45))), R.OUTSIDE_HOURS,
                 id="running-into-the-break"),
    pytest.param(Situation(book(start=wall(SATURDAY, 10))), R.OUTSIDE_HOURS, id="saturday"),
    pytest.param(
        Situation(book(), config={"exceptions": [ScheduleException(
            "off-1", DR_ADAMS, CLINIC, ExceptionKind.TIME_OFF, TEN, TEN + HOUR)]}),
        R.PROVIDER_TIME_OFF, id="provider-time-off",
    ),
    pytest.param(
        Situation(book(), config={"blockouts": [Blockout("b-1", CLINIC, TEN, TEN + HOUR,
                                                         reason="staff meeting")]}),
        R.BLOCKED_OUT, id="clinic-blockout",
    ),
    pytest.param(
        Situation(book(kind=XRAY_TYPE),
                  config={"outages": [Outage("o-1", XRAY, TEN, TEN + HOUR, "repair")]}),
        R.RESOURCE_OUTAGE, id="x-ray-unit-out-of-service",
    ),
    pytest.param(Situation(book(end=TEN + timedelta(minutes=10))), R.DURATION_TOO_SHORT,
                 id="ten-minute-consult"),
    pytest.param(Situation(book(end=TEN + timedelta(minutes=90))), R.DURATION_TOO_LONG,
                 id="ninety-minute-consult"),
    # conflicts
    pytest.param(
        Situation(book(start=TEN + timedelta(minutes=45)),
                  existing=(existing(DR_ADAMS, TEN, 45, kind=PROCEDURE, room=ROOM_1),)),
        R.BUFFER_CONFLICT, id="right-after-a-procedure-with-a-15-minute-buffer",
    ),
    pytest.param(Situation(book(), existing=(existing(DR_ADAMS, TEN),)), R.PROVIDER_BUSY,
                 id="provider-busy"),
    pytest.param(
        Situation(book(DR_ADAMS, kind=PROCEDURE, room_id=ROOM_1),
                  existing=(existing(DR_BAKER, TEN, 45, kind=PROCEDURE, room=ROOM_1),)),
        R.ROOM_BUSY, id="room-busy",
    ),
    pytest.param(
        Situation(book(DR_ADAMS, kind=XRAY_TYPE, equipment_ids=(XRAY,)),
                  existing=(existing(DR_BAKER, TEN, 15, kind=XRAY_TYPE, equipment_ids=(XRAY,)),)),
        R.EQUIPMENT_BUSY, id="x-ray-unit-busy",
    ),
    pytest.param(Situation(book(DR_ADAMS), existing=(existing(DR_BAKER, TEN, patient="pat-1"),)),
                 R.PATIENT_DOUBLE_BOOKED, id="patient-already-with-another-provider"),
    pytest.param(Situation(book(kind=GROUP), existing=THREE_GROUP_MEMBERS), R.CAPACITY_REACHED,
                 id="group-of-three-full"),
    pytest.param(
        Situation(book(), existing=(existing(DR_ADAMS, wall(MONDAY, 9)),),
                  config={"quotas": [Quota("q-1", CLINIC, QuotaPeriod.DAY, 1, DR_ADAMS)]}),
        R.QUOTA_REACHED, id="one-a-day-quota-used",
    ),
    # changing what is booked
    pytest.param(Situation(MoveAppointment(STAFF, COMPLETED.id, TEN + HOUR),
                           existing=(COMPLETED,)),
                 R.NOT_MOVABLE, id="move-a-completed-appointment"),
    pytest.param(Situation(MoveAppointment(STAFF, RESCHEDULED_THRICE.id, TEN + HOUR),
                           existing=(RESCHEDULED_THRICE,)),
                 R.RESCHEDULE_LIMIT_REACHED, id="fourth-reschedule"),
    pytest.param(Situation(CancelAppointment(ONLINE_PATIENT_CANCELLING, THIS_AFTERNOON.id,
                                             "feels better"),
                           existing=(THIS_AFTERNOON,)),
                 R.LATE_CANCELLATION, id="cancel-six-hours-ahead"),
    pytest.param(Situation(CancelAppointment(STAFF, NEXT_MONDAY.id, "  "),
                           existing=(NEXT_MONDAY,)),
                 R.REASON_REQUIRED, id="cancel-without-reason"),
    pytest.param(Situation(ChangeStatus(STAFF, NEXT_MONDAY.id, AppointmentStatus.COMPLETED),
                           existing=(NEXT_MONDAY,)),
                 R.ILLEGAL_TRANSITION, id="booked-straight-to-completed"),
    pytest.param(Situation(ChangeStatus(STAFF, NEXT_MONDAY.id, AppointmentStatus.NO_SHOW),
                           existing=(NEXT_MONDAY,)),
                 R.TOO_EARLY_FOR_NO_SHOW, id="no-show-a-week-early"),
    pytest.param(Situation(ChangeStatus(STAFF, NEXT_MONDAY.id, AppointmentStatus.ARRIVED),
                           existing=(NEXT_MONDAY,)),
                 R.TOO_EARLY_FOR_CHECK_IN, id="arrived-a-week-early"),
    pytest.param(Situation(UndoStatus(STAFF, NEXT_MONDAY.id), existing=(NEXT_MONDAY,)),
                 R.NOTHING_TO_UNDO, id="undo-without-a-status-change"),
    pytest.param(Situation(UndoStatus(STAFF, CONFIRMED_LONG_AGO.id),
                           existing=(CONFIRMED_LONG_AGO,)),
                 R.UNDO_WINDOW_EXPIRED, id="undo-ten-minutes-later"),
    # overriding
    pytest.param(Situation(book(override_reason="urgent"), existing=(existing(DR_ADAMS, TEN),)),
                 R.OVERRIDE_NOT_PERMITTED, id="staff-override"),
    pytest.param(Situation(book(actor=SUPERVISOR, override_reason="  "),
                           existing=(existing(DR_ADAMS, TEN),)),
                 R.OVERRIDE_REASON_REQUIRED, id="override-without-reason"),
]

NOTICES = [
    pytest.param(Situation(book(DR_CRUZ, kind=SURGERY_TYPE)), R.NEEDS_APPROVAL,
                 id="restricted-surgery-room"),
    pytest.param(Situation(book(), policy=AT_NO_SHOW_LIMIT), R.NO_SHOW_LIMIT,
                 id="staff-booking-a-patient-at-the-no-show-limit"),
]


def test_staff_who_may_approve_book_a_patient_at_the_no_show_limit_as_usual() -> None:
    outcome = check(book(actor=SUPERVISOR), clinic_state(), NOW, AT_NO_SHOW_LIMIT)
    assert isinstance(outcome, Accepted) and outcome.notices == ()
    assert outcome.appointment.status is AppointmentStatus.BOOKED

WITH_ALTERNATIVES = [row for row in REFUSALS if row.values[1] in OFFERS_ALTERNATIVES]


@pytest.mark.parametrize(("situation", "code"), REFUSALS)
def test_the_situation_is_refused_with_its_code(situation: Situation, code: RefusalCode) -> None:
    outcome = check(situation.command, situation.build(), NOW, situation.policy)
    assert isinstance(outcome, Refused), outcome
    assert outcome.code is code


@pytest.mark.parametrize(("situation", "code"), WITH_ALTERNATIVES)
def test_time_and_resource_refusals_offer_up_to_five_bookable_alternatives(
    situation: Situation, code: RefusalCode
) -> None:
    state = situation.build()
    command = situation.command
    assert isinstance(command, BookAppointment)
    outcome = check(command, state, NOW)
    assert isinstance(outcome, Refused) and outcome.code is code
    assert 1 <= len(outcome.alternatives) <= 5
    for alternative in outcome.alternatives:
        retry = replace(
            command,
            appointment_id=f"{command.appointment_id}-retry",
            provider_id=alternative.provider_id,
            start=alternative.start,
            end=alternative.end,
            room_id=alternative.room_id,
            equipment_ids=alternative.equipment_ids,
        )
        assert isinstance(check(retry, state, NOW), Accepted), alternative


@pytest.mark.parametrize(("situation", "code"), NOTICES)
def test_a_restricted_resource_is_accepted_as_pending_with_a_notice(
    situation: Situation, code: RefusalCode
) -> None:
    outcome = check(situation.command, situation.build(), NOW, situation.policy)
    assert isinstance(outcome, Accepted), outcome
    assert outcome.notices == (code,)
    assert outcome.appointment.status is AppointmentStatus.PENDING


def test_every_refusal_code_has_a_row() -> None:
    shown = {row.values[1] for row in REFUSALS + NOTICES if not row.marks}
    # judged by the server, not the rules: versions, edit conflicts and slot templates
    # (tests/sync_server/test_appointment_details.py)
    assert set(RefusalCode) - shown == {R.STALE_VERSION, R.EDIT_CONFLICT,
                                        R.OUTSIDE_SLOT_TEMPLATE}
