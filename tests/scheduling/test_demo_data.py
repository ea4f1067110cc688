"""The demo organization is complete and its calendar is one the rules accept."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from itertools import pairwise

import pytest

from scheduling.demo_data import DemoData, build_demo
from scheduling.model import AppointmentStatus, ResourceKind


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return build_demo(date(2026, 11, 25))


def test_two_clinics_in_different_time_zones(demo: DemoData) -> None:
    assert len({c.time_zone for c in demo.clinics}) == 2


def test_eight_providers_six_rooms_equipment_and_a_restricted_room(demo: DemoData) -> None:
    kinds = [r.kind for r in demo.resources]
    assert kinds.count(ResourceKind.PROVIDER) == 8
    assert kinds.count(ResourceKind.ROOM) == 6
    assert ResourceKind.EQUIPMENT in kinds
    assert any(r.restriction and r.restriction.requires_approval for r in demo.resources)


def test_five_hundred_patients_with_english_and_spanish_names(demo: DemoData) -> None:
    assert len(demo.patients) == 500
    assert {p.preferred_language for p in demo.patients} == {"en", "es"}
    assert any("í" in p.display_name or "á" in p.display_name for p in demo.patients)


def test_appointments_in_every_status_a_series_and_a_waitlist(demo: DemoData) -> None:
    assert {a.status for a in demo.appointments} == set(AppointmentStatus)
    assert demo.series and any(a.series_id for a in demo.appointments)
    assert demo.waitlist


def test_no_resource_or_patient_is_double_booked(demo: DemoData) -> None:
    busy: dict[str, list[tuple[object, object]]] = defaultdict(list)
    for appointment in demo.appointments:
        if appointment.is_active:
            for key in (*appointment.resource_ids, appointment.patient_id):
                busy[key].append((appointment.start, appointment.end))
    for intervals in busy.values():
        intervals.sort()
        for (_, end), (start, _) in pairwise(intervals):
            assert end <= start


def test_the_recipe_is_deterministic() -> None:
    first, second = build_demo(date(2026, 11, 25)), build_demo(date(2026, 11, 25))
    assert first.appointments == second.appointments


def test_the_room_columns_show_the_demos_appointments_and_online_ones_are_online_types(
    demo: DemoData,
) -> None:
    """Issue 18: room columns that work (consultations and ECGs are seen in an exam room
    when one is free); only online-bookable types come from the online source."""
    from scheduling.model import AppointmentSource

    exam_rooms = {"room-ny-1", "room-ny-2", "room-md-1", "room-md-2"}
    consults = [a for a in demo.appointments if a.appointment_type_id == "type-consult"]
    in_rooms = [a for a in consults if a.room_id in exam_rooms]
    assert len(in_rooms) >= len(consults) // 2
    assert {a.room_id for a in in_rooms} == exam_rooms
    online_types = {t.id for t in demo.appointment_types if t.online_bookable}
    assert all(a.appointment_type_id in online_types for a in demo.appointments
               if a.source is AppointmentSource.ONLINE)
