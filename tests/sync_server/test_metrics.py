"""``GET /metrics``: the instance's Prometheus metrics, on SQLite and PostgreSQL.

Requests come from a loopback client address (the default ``metrics_allow``); the event
stream gauge is read from a real uvicorn server while a stream is open.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from scheduling import intents
from sync_server.app import create_app
from sync_server.core.config import Settings
from tests.e2e.server_side import PASSWORD, seed_clinic
from tests.sync_server.booking_setup import Booked, enroll_desk, seed_booked, slot
from tests.sync_server.conftest import Clock, Tenants, make_settings
from tests.sync_server.event_stream import EventServer, EventStream

LOOPBACK = ("127.0.0.1", 50123)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """The test client from a loopback address (the one ``/metrics`` answers by default)."""
    with TestClient(app, client=LOOPBACK) as test_client:
        yield test_client


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def scrape(client: TestClient | httpx.Client, **headers: str) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels`` (0 when the series does not exist yet)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def routes(text: str) -> set[str]:
    return {sample.labels["route"] for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == "clinicdesk_http_requests_total"}


def test_a_booking_a_refusal_and_a_push_move_their_counters(
    client: TestClient, booked: Booked, db: Session, clock: Clock
) -> None:
    before = scrape(client)
    assert client.post("/api/v1/appointments", headers=booked.reception,
                       json=booked.book_body(slot(0))).status_code == 201
    refused = client.post("/api/v1/appointments", headers=booked.reception,
                          json=booked.book_body(slot(0), patient=1))
    assert refused.status_code == 409
    code = refused.json()["error"]["code"]
    desk = enroll_desk(db, booked.clinic, clock)
    pushed = client.post("/api/v1/sync/push", headers=desk.headers, json=desk.push_body([
        desk.mutation(intents.APPOINTMENT_BOOK, {**booked.book_body(slot(2)),
                                                 "appointment_id": str(uuid.uuid4())}),
        desk.mutation(intents.APPOINTMENT_BOOK, {**booked.book_body(slot(0), patient=2),
                                                 "appointment_id": str(uuid.uuid4())}),
    ]))
    assert [r["status"] for r in pushed.json()["results"]] == ["applied", "refused"]
    assert pushed.json()["results"][1]["code"] == code
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("clinicdesk_bookings_accepted_total") == 2
    assert moved("clinicdesk_booking_refusals_total", code=code) == 2
    assert moved("clinicdesk_sync_push_duration_seconds_count") == 1
    assert moved("clinicdesk_sync_push_mutations_sum") == 2
    assert moved("clinicdesk_sync_mutations_total", status="applied") == 1
    assert moved("clinicdesk_sync_mutations_total", status="refused") == 1
    booking = {"method": "POST", "route": "/api/v1/appointments"}
    assert moved("clinicdesk_http_requests_total", **booking, status="2xx") == 1
    assert moved("clinicdesk_http_requests_total", **booking, status="4xx") == 1


def test_labels_are_route_templates_and_no_patient_data_appears(
    client: TestClient, booked: Booked
) -> None:
    patient_id = booked.clinic.patient_ids[0]
    assert client.get(f"/api/v1/patients/{patient_id}",
                      headers=booked.reception).status_code == 200
    assert client.get(f"/api/v1/no-such-thing/{patient_id}").status_code == 404
    text = scrape(client)
    assert "/api/v1/patients/{record_id}" in routes(text)
    assert "unmatched" in routes(text)  # the unknown path is not echoed
    assert all(route == "unmatched" or route.startswith("/") for route in routes(text))
    for private in (patient_id, "Given0", "Family0", booked.clinic.user_email,
                    booked.clinic.org_slug):
        assert private not in text


def test_every_application_has_its_own_registry(
    app: FastAPI, client: TestClient, settings: Settings
) -> None:
    other = create_app(settings)
    with TestClient(other, client=LOOPBACK) as other_client:
        client.get("/api/v1/health")
        client.get("/api/v1/health")
        health = {"method": "GET", "route": "/api/v1/health", "status": "2xx"}
        assert value(scrape(client), "clinicdesk_http_requests_total", **health) == 2
        assert value(scrape(other_client), "clinicdesk_http_requests_total", **health) == 0


def test_metrics_switched_off_answer_404(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(database_url, tmp_path, metrics_enabled=False))
    with TestClient(app, client=LOOPBACK) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 404
    assert "clinicdesk" not in answer.text


def test_an_address_outside_the_allowed_networks_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(database_url, tmp_path, metrics_allow=["10.1.0.0/16"]))
    with TestClient(app, client=LOOPBACK) as near, \
            TestClient(app, client=("10.1.2.3", 4000)) as allowed:
        assert near.get("/metrics").status_code == 403
        assert allowed.get("/metrics").status_code == 200


def test_a_scrape_token_is_required_when_set(database_url: str, tmp_path: Path) -> None:
    token = "scrape-" + uuid.uuid4().hex
    app = create_app(make_settings(database_url, tmp_path, metrics_token=token))
    with TestClient(app, client=LOOPBACK) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}
                          ).status_code == 401
        assert "clinicdesk_sse_sessions" in scrape(client, Authorization=f"Bearer {token}")


def test_the_event_stream_gauge_counts_open_streams(
    database_url: str, tmp_path: Path, db: Session
) -> None:
    settings = make_settings(database_url, tmp_path, sse_heartbeat_seconds=0.3)
    clinic = seed_clinic(db, settings)
    with EventServer(settings) as server, httpx.Client(base_url=server.url,
                                                       timeout=10) as http:
        login = http.post("/api/v1/auth/login", json={
            "organization": clinic.org_slug, "email": clinic.user_email,
            "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert value(scrape(http), "clinicdesk_sse_sessions") == 0
        with EventStream(server.url, headers) as stream:
            stream.next_poke()  # the stream is open and subscribed
            assert value(scrape(http), "clinicdesk_sse_sessions") == 1
        deadline = time.monotonic() + 10
        while value(scrape(http), "clinicdesk_sse_sessions") != 0:
            # the server notices the closed connection at its next heartbeat
            assert time.monotonic() < deadline, "the gauge did not drop after the stream closed"
            time.sleep(0.05)
        assert "/api/v1/sync/events" in routes(scrape(http))
