"""Inputs that used to answer 500 are refused clearly (422), on SQLite and PostgreSQL.

NUL and other control characters, text one character past its column, ids of 37-64
characters where the column holds 36, instants near year 1 or 9999, time zone
aliases: each is refused before it reaches the database, and a desk's push records
it as an ``invalid`` mutation and goes on with the next one.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from scheduling import intents, limits
from sync_server.core.config import Settings
from tests.sync_server.booking_setup import Booked, enroll_desk, seed_booked, slot
from tests.sync_server.conftest import Clock, Tenants

YEAR_1 = "0001-01-01T00:00:00+00:00"
YEAR_9999 = "9999-12-31T23:59:59+00:00"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def _bad_requests(booked: Booked) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, options) of requests that must be refused with 422."""
    appointment = str(uuid.uuid4())
    clinic = booked.clinic.clinic_id
    book = booked.book_body(slot(0))
    return [
        ("POST", "/api/v1/auth/login", {"json": {"organization": "a\x00b", "email": "a@b.c",
                                                 "password": "x"}}),
        ("POST", "/api/v1/auth/login", {"json": {"organization": booked.clinic.org_slug,
                                                 "email": "a\x00@b.c", "password": "x"}}),
        ("GET", "/api/v1/patients", {"params": {"q": "An\x00a"}}),
        ("POST", "/api/v1/appointments", {"json": {**book, "clinic_id": "c" * 40}}),
        ("POST", "/api/v1/appointments", {"json": {**book, "notes": "n" * (limits.NOTE + 1)}}),
        ("POST", "/api/v1/appointments", {"json": {**book, "notes": "a\x00b"}}),
        ("POST", "/api/v1/appointments", {"json": {**book, "start": YEAR_1}}),
        ("POST", "/api/v1/appointments", {"json": {**book, "start": YEAR_9999}}),
        ("POST", "/api/v1/appointments", {"json": {**book, "end": YEAR_9999}}),
        ("POST", f"/api/v1/appointments/{appointment}/cancel",
         {"json": {"reason": "r" * (limits.REASON + 1)}}),
        ("POST", f"/api/v1/appointments/{appointment}/move", {"json": {"start": YEAR_1}}),
        ("POST", f"/api/v1/appointments/{appointment}/resize", {"json": {"end": YEAR_9999}}),
        ("GET", "/api/v1/appointments/a%00b", {}),
        ("GET", f"/api/v1/appointments/{'x' * 65}", {}),
        ("GET", "/api/v1/appointments", {"params": {"from": YEAR_1,
                                                    "to": "0001-01-02T00:00:00+00:00"}}),
        ("GET", "/api/v1/availability", {"params": {
            "clinic_id": clinic, "appointment_type_id": booked.clinic.type_id,
            "from": "9999-12-30", "to": "9999-12-31"}}),
        ("GET", "/api/v1/availability/next", {"params": {
            "clinic_id": clinic, "appointment_type_id": booked.clinic.type_id,
            "after": "9999-12-31T23:00:00+00:00"}}),
        ("POST", "/api/v1/patients", {"json": {"given_name": "Ana", "family_name": "Ruiz",
                                               "phone": "6" * (limits.PHONE + 1)}}),
        # Ids of the care-loop, feed and FHIR-client routes (a NUL reached PostgreSQL: 500).
        ("POST", "/api/v1/feeds", {"json": {"resource_id": "a\x00b"}}),
        ("POST", "/api/v1/feeds", {"json": {"resource_id": booked.clinic.provider_ids[0],
                                            "label": "a\x00b"}}),
        ("POST", "/api/v1/feeds", {"json": {"resource_id": booked.clinic.provider_ids[0],
                                            "expires_at": YEAR_9999}}),
        ("POST", "/api/v1/waitlist-offers/a%00b/withdraw", {}),
        ("GET", "/api/v1/patients/a%00b/no-shows", {}),
        ("GET", "/api/v1/outages/incidents/a%00b", {}),
        ("GET", "/api/v1/follow-ups", {"params": {"clinic_id": "a\x00b"}}),
        ("POST", "/api/v1/waitlist-offers", {"json": {
            "entry_id": "a\x00b", "provider_id": booked.clinic.provider_ids[0],
            "start": slot(0).isoformat(), "end": slot(1).isoformat()}}),
        ("POST", "/api/v1/waitlist-offers", {"json": {
            "entry_id": str(uuid.uuid4()), "provider_id": booked.clinic.provider_ids[0],
            "start": YEAR_9999, "end": YEAR_9999}}),
        ("POST", f"/api/v1/follow-ups/{uuid.uuid4()}/calls", {"json": {"note": "a\x00b"}}),
        ("GET", "/api/v1/follow-ups/summary", {"params": {
            "clinic_id": clinic, "first": "2026-01-31", "last": "2026-01-01"}}),
        ("POST", "/api/v1/outages/incidents", {"json": {
            "resource_id": booked.clinic.provider_ids[0], "start": YEAR_1, "end": YEAR_9999}}),
        ("POST", "/api/v1/outages/incidents", {"json": {
            "resource_id": booked.clinic.provider_ids[0], "start": slot(0).isoformat(),
            "end": slot(1).isoformat(), "reason": "a\x00b"}}),
        ("POST", "/api/v1/admin/clinics", {"json": {"name": "X", "time_zone": "localtime"}}),
        ("POST", "/api/v1/admin/clinics", {"json": {"name": "X", "time_zone": "US/Eastern"}}),
        ("POST", "/api/v1/admin/clinics", {"json": {"name": "X", "time_zone": "Mars/Olympus"}}),
    ]


def test_bad_inputs_are_refused_with_422_never_500(client: TestClient, booked: Booked) -> None:
    answers = []
    for method, path, options in _bad_requests(booked):
        response = client.request(method, path, headers=booked.admin, **options)
        answers.append((method, path, response.status_code))
    assert [a for a in answers if a[2] != 422] == []


def test_bad_outage_apply_bodies_are_refused_with_422(client: TestClient,
                                                      booked: Booked) -> None:
    """The appointment id and the placement of a re-route (a NUL id reached PostgreSQL)."""
    incident = client.post("/api/v1/outages/incidents", headers=booked.admin, json={
        "resource_id": booked.clinic.provider_ids[0], "start": slot(0).isoformat(),
        "end": slot(1).isoformat()})
    assert incident.status_code == 201, incident.text
    placement = {"start": slot(0).isoformat(), "end": slot(1).isoformat(),
                 "provider_id": booked.clinic.provider_ids[1]}
    path = f"/api/v1/outages/incidents/{incident.json()['id']}/apply"
    bodies = [{"appointment_id": "a\x00b", "placement": placement},
              {"appointment_id": "x" * (limits.APPOINTMENT_ID + 1), "placement": placement},
              {"appointment_id": str(uuid.uuid4()), "placement": {**placement, "kind": "a\x00"}},
              {"appointment_id": str(uuid.uuid4()), "placement": {**placement,
                                                                  "start": YEAR_9999}}]
    answers = [client.post(path, headers=booked.admin, json=body).status_code
               for body in bodies]
    assert answers == [422] * len(bodies)


def test_a_canonical_time_zone_is_accepted(client: TestClient, booked: Booked) -> None:
    response = client.post("/api/v1/admin/clinics", headers=booked.admin,
                           json={"name": "Norte", "time_zone": "America/Argentina/Cordoba"})
    assert response.status_code == 201


BAD_MUTATIONS: list[tuple[str, dict[str, Any]]] = [
    (intents.PATIENT_CREATE, {"given_name": "Ana\x00"}),
    (intents.PATIENT_CREATE, {"given_name": "A" * (limits.PERSON_NAME + 1)}),
    (intents.PATIENT_CREATE, {"phone": "6" * (limits.PHONE + 1)}),
    (intents.PATIENT_CREATE, {"patient_id": "p" * 40}),
    (intents.APPOINTMENT_BOOK, {"start": YEAR_1}),
    (intents.APPOINTMENT_BOOK, {"notes": "x" * (limits.NOTE + 1)}),
    (intents.APPOINTMENT_BOOK, {"clinic_id": "c" * 50}),
]


@pytest.mark.parametrize(("name", "change"), BAD_MUTATIONS,
                         ids=[f"{n}-{next(iter(c))}" for n, c in BAD_MUTATIONS])
def test_a_pushed_mutation_past_its_bounds_is_invalid_and_the_next_one_arrives(
    client: TestClient, booked: Booked, db: Session, clock: Clock, name: str,
    change: dict[str, Any],
) -> None:
    desk = enroll_desk(db, booked.clinic, clock)
    base: dict[str, Any] = (
        {"patient_id": str(uuid.uuid4()), "given_name": "Ana", "family_name": "Ruiz"}
        if name == intents.PATIENT_CREATE
        else {**booked.book_body(slot(2)), "appointment_id": str(uuid.uuid4())})
    following = {"patient_id": str(uuid.uuid4()), "given_name": "Eva", "family_name": "Gil"}
    pushed = client.post("/api/v1/sync/push", headers=desk.headers, json=desk.push_body([
        desk.mutation(name, {**base, **change}),
        desk.mutation(intents.PATIENT_CREATE, following),
    ]))
    assert pushed.status_code == 200
    assert [r["status"] for r in pushed.json()["results"]] == ["invalid", "applied"]
    assert pushed.json()["last_mutation_id"] == 2
