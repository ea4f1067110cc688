"""Every domain record survives the trip through its wire form."""

from __future__ import annotations

import json
from datetime import date

import pytest

from scheduling.demo_data import build_demo
from scheduling.wire import ENTITIES, WireFormatError, entity_of, from_wire, to_wire

DEMO = build_demo(date(2026, 11, 25), patients=20, weeks=1)
RECORDS = [
    DEMO.organization, *DEMO.clinics, *DEMO.resources, *DEMO.appointment_types,
    *DEMO.schedules[:3], *DEMO.holidays, *DEMO.blockouts, *DEMO.patients[:3],
    *DEMO.appointments[:50], *DEMO.series, *DEMO.waitlist[:3],
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: f"{type(r).__name__}-{r.id}")
def test_a_record_round_trips_through_json(record: object) -> None:
    wire = json.loads(json.dumps(to_wire(record)))
    assert from_wire(entity_of(record), wire) == record


def test_every_kind_of_record_in_the_demo_has_an_entity_name() -> None:
    assert {type(r) for r in RECORDS} <= set(ENTITIES.values())


def test_instants_travel_as_utc_and_durations_as_seconds() -> None:
    appointment = DEMO.appointments[0]
    wire = to_wire(appointment)
    assert wire["start"].endswith("+00:00")
    assert to_wire(DEMO.appointment_types[0])["default_duration"] == 30 * 60


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "#fff"}, "unknown field"),
        ({"start": "2026-11-30T09:00:00"}, "time zone"),
        ({"status": "lost"}, "status"),
        ({"version": "2"}, "version"),
    ],
)
def test_malformed_wire_records_are_refused_with_the_field_named(
    change: dict[str, object], message: str
) -> None:
    wire = to_wire(DEMO.appointments[0]) | change
    with pytest.raises(WireFormatError, match=message):
        from_wire("appointment", wire)


def test_an_unknown_entity_is_refused() -> None:
    with pytest.raises(WireFormatError, match="unknown entity"):
        from_wire("invoice", {})
