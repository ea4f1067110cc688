"""The seed-004 round trip over real HTTP (uvicorn on loopback, both databases), with the
small client app of tests/support/handoff_client.py: manifest → NDJSON → deep link →
(the portal's part played here by calling sync_server.fhir.handoff as its pages do, and
booking through the REST API) → redirect to the app's /return → resultToken exchange →
FHIR Appointment. The browser version through the portal's pages is the portal's test."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.fhir import handoff, publish
from tests.e2e.server_side import PASSWORD, Clinic, ServerThread, seed_clinic
from tests.support.handoff_client import HandoffClient
from tests.sync_server.conftest import make_settings
from tests.sync_server.fhir_setup import make_online, register, validate_r4


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[ServerThread, Settings]]:
    settings = make_settings(database_url, tmp_path)
    server = ServerThread(settings)
    server.start()
    yield server, settings
    server.stop()


def _receptionist(url: str, clinic: Clinic) -> dict[str, str]:
    answer = requests.post(f"{url}/api/v1/auth/login", timeout=30, json={
        "organization": clinic.org_slug, "email": clinic.user_email, "password": PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_the_whole_hand_off_round_trip_over_http(
        live: tuple[ServerThread, Settings], db: Session,
        caplog: pytest.LogCaptureFixture) -> None:
    server, settings = live
    clinic = seed_clinic(db, settings, patients=3, codes=0)
    make_online(db, clinic.org_id)
    app = HandoffClient(server.url, clinic.org_slug, "", "")
    registered = register(db, clinic.org_id, urls=(app.return_url,), name="Test app")
    app.client_id, app.client_secret = registered.client_id, registered.secret
    app.start()
    caplog.set_level(logging.DEBUG)
    try:
        slots = app.free_slots()
        assert slots
        state = "opaque-attempt-42"
        link = urlsplit(app.deep_link(slots[0], state))
        assert link.path == f"/portal/{clinic.org_slug}/book"
        asked = {k: v[0] for k, v in parse_qs(link.query).items()}
        assert asked["state"] == state and asked["returnUrl"] == app.return_url

        # The portal's part: accept the hand-off, book, finish, redirect.
        started = handoff.begin(db, clinic.org_id, asked["returnUrl"], asked["state"])
        db.commit()
        booked = requests.post(f"{server.url}/api/v1/appointments", timeout=30,
                               headers=_receptionist(server.url, clinic), json={
            "clinic_id": asked["clinic"], "appointment_type_id": asked["type"],
            "provider_id": asked["provider"], "patient_id": clinic.patient_ids[0],
            "start": datetime.fromisoformat(asked["start"].replace("Z", "+00:00")).isoformat()})
        assert booked.status_code == 201, booked.text
        appointment_id = booked.json()["appointments"][0]["id"]
        redirect = handoff.finish(db, started.id, outcome="booked",
                                  appointment_id=appointment_id)
        db.commit()
        page = requests.get(redirect, timeout=30)  # the browser following the redirect
        assert page.status_code == 200 and "booked" in page.text

        returned = app.wait_for_return(state)
        assert returned.params["state"] == state
        assert returned.params["outcome"] == "booked"
        assert returned.params["appointmentRef"] == appointment_id
        assert returned.exchange_status == 200, returned.exchange_error
        appointment = returned.appointment
        assert appointment is not None
        validate_r4(appointment)
        assert appointment["id"] == appointment_id and appointment["status"] == "booked"
        assert appointment["start"] == slots[0]["start"]
        replay = app.exchange(returned.params["resultToken"])
        assert replay.status_code == 400
        assert replay.json()["issue"][0]["diagnostics"] == handoff.TOKEN_USED
        # The booked slot is no longer published as free.
        assert slots[0]["id"] not in {s["id"] for s in app.free_slots()}
    finally:
        app.stop()
    _no_phi(db, clinic, redirect, caplog)


def _no_phi(db: Session, clinic: Clinic, redirect: str,
            caplog: pytest.LogCaptureFixture) -> None:
    """Neither the return URL nor anything the server logged names a patient; the server's
    logs hold no state or token (the test's own HTTP client logs every URL it fetches)."""
    patients = db.query(models.Patient).filter_by(organization_id=clinic.org_id).all()
    db.rollback()
    server_records = [r for r in caplog.records if r.name.startswith(("sync_server", "uvicorn"))]
    assert server_records  # the access log was captured
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in server_records)
    assert "resultToken" not in logged and "opaque-attempt-42" not in logged
    for patient in patients:
        for value in (patient.id, patient.given_name, patient.family_name):
            assert value not in redirect
            assert value not in logged
    assert publish.PORTAL_BOOK_PATH == "/portal/{org}/book"
