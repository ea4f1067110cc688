"""No patient data in any log: a planted patient is used everywhere, the logs are scanned.

The server's own logging set-up (``configure_logging``) writes every logger of the
process — ours, uvicorn's, SQLAlchemy's statement log switched on at INFO — to one
captured stream. A patient with a unique name, phone and e-mail is created, searched,
booked by racing requests and desk pushes, and sent in bad inputs (NUL, too long,
year 1, wrong password for its e-mail); then none of the three may appear in the
captured lines. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from scheduling import intents
from sync_server.core.config import Settings
from sync_server.core.logging import configure_logging, redact
from tests.sync_server.booking_setup import Booked, enroll_desk, seed_booked, slot
from tests.sync_server.conftest import Clock, Tenants

GIVEN, FAMILY = "Zebulonia", "Quaxtrophe"
PHONE = "+34 611 987 654"
PHONE_DIGITS = "611987654"
EMAIL = "zebulonia.quax@planted.example"
PLANTED = (GIVEN, FAMILY, EMAIL, PHONE, PHONE_DIGITS, "Zebulonia Quaxtrophe")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every log line of the process while the test runs, through the server's handler."""
    loggers = [logging.getLogger(n) for n in ("", "sync_server", "uvicorn", "uvicorn.error",
                                               "sqlalchemy.engine")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # every statement logged
    try:
        yield stream
    finally:
        for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def _bad_inputs(client: TestClient, booked: Booked, patient_id: str) -> list[int]:
    admin, org = booked.admin, booked.clinic.org_slug
    statuses = []

    def record(response: Any) -> None:
        statuses.append(response.status_code)

    for email in (EMAIL, f"{EMAIL}\x00", f"{GIVEN}\x00@x.org"):  # unknown and malformed
        record(client.post("/api/v1/auth/login", json={
            "organization": org, "email": email, "password": f"{GIVEN}-wrong-{PHONE}"}))
    record(client.get("/api/v1/patients", params={"q": f"{GIVEN}\x00"}, headers=admin))
    record(client.post("/api/v1/patients", headers=admin, json={
        "given_name": f"{GIVEN}\x00", "family_name": FAMILY, "phone": PHONE, "email": EMAIL}))
    record(client.post("/api/v1/patients", headers=admin, json={
        "given_name": GIVEN * 20, "family_name": FAMILY, "phone": PHONE * 5, "email": EMAIL}))
    record(client.patch(f"/api/v1/patients/{patient_id}", headers=admin,
                        json={"phone": PHONE * 3, "email": f"{EMAIL}\x01"}))
    record(client.post("/api/v1/appointments", headers=admin, json=booked.book_body(
        slot(0).replace(year=1), notes=f"{GIVEN} {PHONE}")))
    record(client.post("/api/v1/appointments", headers=admin, json={
        **booked.book_body(slot(0)), "patient_id": patient_id,
        "notes": f"{GIVEN} {EMAIL}\x00"}))
    record(client.get("/api/v1/availability", headers=admin, params={
        "clinic_id": booked.clinic.clinic_id, "appointment_type_id": booked.clinic.type_id,
        "from": "9999-12-30", "to": "9999-12-31"}))
    return statuses


def test_a_planted_patient_never_appears_in_any_log_line(
    captured: io.StringIO, client: TestClient, booked: Booked, db: Session, clock: Clock,
) -> None:
    admin = booked.admin
    created = client.post("/api/v1/patients", headers=admin, json={
        "given_name": GIVEN, "family_name": FAMILY, "phone": PHONE, "email": EMAIL})
    assert created.status_code == 201
    patient_id = created.json()["id"]
    found = client.get("/api/v1/patients", params={"q": GIVEN[:6]}, headers=admin)
    assert [p["id"] for p in found.json()] == [patient_id]

    statuses = _bad_inputs(client, booked, patient_id)
    assert all(400 <= s < 500 for s in statuses), statuses  # refused, never a 5xx

    # A race: eight requests for one slot, each carrying the planted data in its notes.
    def book(index: int) -> int:
        body = {**booked.book_body(slot(1), provider=0), "patient_id": patient_id,
                "notes": f"{GIVEN} {FAMILY} {PHONE} {EMAIL} #{index}"}
        return client.post("/api/v1/appointments", headers=admin, json=body).status_code

    with ThreadPoolExecutor(8) as pool:
        raced = list(pool.map(book, range(8)))
    assert sorted(raced).count(201) == 1 and set(raced) <= {201, 409}

    desk = enroll_desk(db, booked.clinic, clock)
    pushed = client.post("/api/v1/sync/push", headers=desk.headers, json=desk.push_body([
        desk.mutation(intents.PATIENT_UPDATE, {"patient_id": patient_id,
                                               "changes": {"phone": PHONE, "email": EMAIL}}),
        desk.mutation(intents.PATIENT_CREATE, {"patient_id": str(uuid.uuid4()),
                                               "given_name": f"{GIVEN}\x00",
                                               "family_name": FAMILY, "email": EMAIL}),
        desk.mutation(intents.APPOINTMENT_BOOK, {
            **booked.book_body(slot(1), provider=0), "appointment_id": str(uuid.uuid4()),
            "patient_id": patient_id, "notes": f"{GIVEN} {PHONE}"}),
    ]))
    assert pushed.status_code == 200
    assert [r["status"] for r in pushed.json()["results"]] == ["applied", "invalid", "refused"]

    logged = captured.getvalue()
    assert '"logger": "sync_server.access"' in logged  # the capture saw the requests
    assert "sqlalchemy.engine" in logged  # and every SQL statement
    leaks = [value for value in PLANTED if value.lower() in logged.lower()]
    assert leaks == [], f"patient data in the log: {leaks}"


def test_the_redaction_filter_catches_what_code_should_never_log_anyway(
    captured: io.StringIO,
) -> None:
    log = logging.getLogger("sync_server.test")
    log.error("lookup failed for email=%s phone %s", EMAIL, PHONE)
    try:
        raise ValueError(f"Key (organization_id, email)=(org-1, {EMAIL}) already exists")
    except ValueError:
        log.exception("unexpected")
    log.warning("patient %s", {"given_name": GIVEN, "family_name": FAMILY})
    logged = captured.getvalue()
    assert logged.count("[redacted]") >= 4
    assert not [v for v in PLANTED if v in logged]


def test_redaction_leaves_dates_ids_and_durations_alone() -> None:
    line = "2026-03-02T08:00:00+00:00 id 3f2a1b4c-1234-5678-9abc-def012345678 took 12.5 ms"
    assert redact(line) == line
