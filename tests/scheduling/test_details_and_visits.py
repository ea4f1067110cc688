"""The rules of issue 19 item 6 without a database: a type change judged again (online
bookability, length), visits all or nothing, the change-details intent, the clinics
that have room, slot templates."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from scheduling import intents
from scheduling.availability import get_available_clinics
from scheduling.commands import (
    Accepted,
    Actor,
    Alternative,
    BookAppointment,
    ChangeDetails,
    Permission,
    Refused,
)
from scheduling.model import (
    Appointment,
    AppointmentType,
    Clinic,
    Patient,
    Resource,
    ResourceKind,
    SlotTemplate,
    WeeklySchedule,
)
from scheduling.rules import check
from scheduling.state import CalendarState
from scheduling.visits import book_visit, cancel_visit, move_visit

START = datetime(2030, 1, 7, 9, tzinfo=UTC)  # a Monday
NOW = START - timedelta(days=3)
STAFF = Actor("u", permissions=frozenset(p.value for p in Permission))


def _type(type_id: str, minutes: int = 30, **extra: object) -> AppointmentType:
    return AppointmentType(type_id, "o", type_id, timedelta(minutes=minutes),
                           timedelta(minutes=15), timedelta(hours=2), **extra)  # type: ignore[arg-type]


def _state(*appointments: Appointment) -> CalendarState:
    return CalendarState.build(
        "o", clinics=[Clinic("c", "o", "Retiro", "UTC")],
        resources=[Resource(p, "o", ResourceKind.PROVIDER, p, frozenset({"c"}))
                   for p in ("p1", "p2")],
        appointment_types=[_type("online", online_bookable=True), _type("desk"),
                           _type("long", 60)],
        patients=[Patient("pt", "o", "G", "F"), Patient("pt2", "o", "G", "F")],
        schedules=[WeeklySchedule(f"w{p}", p, "c", 0, time(8), time(17)) for p in ("p1", "p2")],
        appointments=appointments)


def _booked(appointment_id: str, start: datetime, *, provider: str = "p1",
            kind: str = "online", patient: str = "pt", visit: str | None = None) -> Appointment:
    return Appointment(appointment_id, "o", "c", patient, kind, provider, start,
                       start + timedelta(minutes=30), visit_id=visit)


def _part(appointment_id: str, start: datetime, provider: str) -> BookAppointment:
    return BookAppointment(STAFF, appointment_id, "c", "pt", "desk", provider, start,
                           visit_id="v")


# --------------------------------------------------------------------------- change details


def test_an_online_patient_cannot_switch_to_a_type_not_bookable_online() -> None:
    state = _state(_booked("a", START))
    patient = Actor("pt", permissions=frozenset({Permission.MODIFY.value}), online_booking=True)
    refused = check(ChangeDetails(patient, "a", "desk"), state, NOW)
    assert isinstance(refused, Refused) and refused.code == "NOT_ONLINE_BOOKABLE"
    accepted = check(ChangeDetails(STAFF, "a", "desk"), state, NOW)
    assert isinstance(accepted, Accepted)
    assert accepted.appointment.appointment_type_id == "desk"


def test_a_longer_type_is_refused_over_the_next_booking_and_notes_alone_are_not_judged() -> None:
    state = _state(_booked("a", START), _booked("b", START + timedelta(minutes=30),
                                                 patient="pt2"))
    refused = check(ChangeDetails(STAFF, "a", "long"), state, NOW)
    assert isinstance(refused, Refused) and refused.code == "PROVIDER_BUSY"
    notes = check(ChangeDetails(STAFF, "a", notes="hello"), state, START + timedelta(days=9))
    assert isinstance(notes, Accepted) and notes.appointment.notes == "hello"
    no_right = check(ChangeDetails(Actor("x"), "a", notes="n"), state, NOW)
    assert isinstance(no_right, Refused) and no_right.code == "NOT_PERMITTED"


def test_change_details_intent_round_trips_and_reads_strictly() -> None:
    command = ChangeDetails(STAFF, "a", "long", "n", None, START, None)
    decoded = intents.decode(intents.APPOINTMENT_CHANGE_DETAILS,
                             intents.change_details(command, 3), STAFF)
    assert decoded.request == command and decoded.base_version == 3
    with pytest.raises(intents.IntentError):
        intents.decode(intents.APPOINTMENT_CHANGE_DETAILS, {"appointment_id": "a", "x": 1}, STAFF)
    with pytest.raises(intents.IntentError):
        intents.decode(intents.APPOINTMENT_CANCEL,
                       {"appointment_id": "a", "reason": "r", "category": "bored"}, STAFF)


# --------------------------------------------------------------------------- visits


def test_a_visit_is_booked_whole_or_not_at_all() -> None:
    state = _state(_booked("x", START + timedelta(minutes=30), provider="p2", patient="pt2"))
    whole = book_visit(state, [_part("a", START, "p1"),
                               _part("b", START + timedelta(minutes=30), "p1")], NOW)
    assert whole.refused is None and [a.visit_id for a in whole.accepted] == ["v", "v"]
    refused = book_visit(state, [_part("a", START, "p1"),
                                 _part("b", START + timedelta(minutes=30), "p2")], NOW)
    assert refused.accepted == []
    assert refused.refused is not None and refused.refused.code == "PROVIDER_BUSY"
    assert refused.refused.params["part"] == 1
    clash = book_visit(state, [_part("a", START, "p1"), _part("b", START, "p2")], NOW)
    assert clash.refused is not None and clash.refused.code == "PATIENT_DOUBLE_BOOKED"
    assert set(state.appointments) == {"x"}, "the state is restored"


def test_adjacent_parts_move_together_past_each_others_old_places() -> None:
    parts = [_booked("a", START, visit="v"),
             _booked("b", START + timedelta(minutes=30), provider="p2", visit="v")]
    state = _state(*parts)
    moved = move_visit(state, "v", timedelta(minutes=30), STAFF, NOW)
    assert moved.refused is None
    assert [a.start for a in moved.accepted] == [START + timedelta(minutes=30),
                                                START + timedelta(minutes=60)]
    blocked = _state(*parts, _booked("y", START + timedelta(minutes=60), provider="p2",
                                     patient="pt2"))
    refused = move_visit(blocked, "v", timedelta(minutes=30), STAFF, NOW)
    assert refused.accepted == [] and refused.refused is not None
    assert refused.refused.params["part"] == 1
    cancelled = cancel_visit(state, "v", STAFF, "ill", NOW, category="illness")
    assert [a.cancel_category for a in cancelled.accepted] == ["illness", "illness"]


# --------------------------------------------------------------------------- clinics, templates


def test_get_available_clinics_orders_by_earliest_slot() -> None:
    found = get_available_clinics({
        "b": [Alternative(START + timedelta(hours=1), START + timedelta(hours=2), "p")],
        "a": [Alternative(START + timedelta(hours=3), START + timedelta(hours=4), "p"),
              Alternative(START + timedelta(hours=2), START + timedelta(hours=3), "p")],
        "c": [],
    })
    assert [(c.clinic_id, c.free_slots, c.first.start.hour) for c in found] == [
        ("b", 1, 10), ("a", 2, 11)]


def test_a_slot_template_fits_inside_its_weekday_window_provider_and_type() -> None:
    slot = SlotTemplate("t", "p1", "c", 0, time(9), time(10), "New patient", "desk")
    half = timedelta(minutes=30)
    assert slot.fits("p1", "c", "desk", START, START + half, "UTC")
    assert not slot.fits("p1", "c", "desk", START + half, START + 3 * half, "UTC")
    assert not slot.fits("p2", "c", "desk", START, START + half, "UTC")
    assert not slot.fits("p1", "c", "long", START, START + half, "UTC")
    assert not slot.fits("p1", "c", "desk", START + timedelta(days=1),
                         START + timedelta(days=1) + half, "UTC")
    # 09:00 in Madrid is 08:00 UTC in winter
    assert slot.fits("p1", "c", "desk", START - timedelta(hours=1), START - half, "Europe/Madrid")


def test_a_type_is_named_in_the_desk_language_when_it_has_that_name() -> None:
    kind = _type("t")
    named = AppointmentType("t", "o", "First visit", timedelta(minutes=30),
                            timedelta(minutes=15), timedelta(hours=1),
                            names=(("es", "Primera visita"),))
    assert named.name_in("es") == named.name_in("es_MX") == "Primera visita"
    assert named.name_in("en") == "First visit"
    assert kind.name_in("es") == "t"  # no Spanish name: the one name
