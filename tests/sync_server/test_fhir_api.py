"""The FHIR R4 read API and the seed-004 back channel over HTTP, on both databases:
client credentials, scopes, cross-organization 404, R4 validity, the status mapping,
``_handoff=mine``, result-token exchange (single use, expiry, other client, forged),
every refusal audited and never a 500."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.fhir import handoff
from sync_server.fhir.resources import booking_ref
from tests.support.records import by_id
from tests.sync_server.booking_setup import Booked, seed_booked, slot
from tests.sync_server.conftest import Clock, Tenants, bearer
from tests.sync_server.fhir_setup import (
    RETURN_URL,
    Registered,
    audit_reasons,
    make_online,
    register,
    validate_r4,
)


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    seeded = seed_booked(client, db, settings, tenants)
    make_online(db, seeded.org_id)
    return seeded


@pytest.fixture
def app_client(db: Session, booked: Booked) -> Registered:
    return register(db, booked.org_id)


def token_of(client: TestClient, slug: str, app: Registered, scope: str | None = None
             ) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": app.client_id,
            "client_secret": app.secret, **({"scope": scope} if scope else {})}
    answer = client.post(f"/fhir/{slug}/auth/token", data=form)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and 0 < body["expires_in"] <= 15 * 60
    return bearer(body["access_token"])


def _book(client: TestClient, booked: Booked, index: int) -> str:
    answer = client.post("/api/v1/appointments", headers=booked.reception,
                         json=booked.book_body(slot(index)))
    assert answer.status_code == 201, answer.text
    appointment_id: str = answer.json()["appointments"][0]["id"]
    return appointment_id


def _handed_off(db: Session, booked: Booked, appointment_id: str, state: str,
                clock: Clock) -> dict[str, list[str]]:
    start = handoff.begin(db, booked.org_id, RETURN_URL, state, now=clock())
    url = handoff.finish(db, start.id, outcome="booked", appointment_id=appointment_id,
                         now=clock())
    db.commit()
    return parse_qs(urlsplit(url).query)


def test_client_credentials_give_a_scoped_token_and_bad_ones_are_refused_and_audited(
        client: TestClient, booked: Booked, app_client: Registered, db: Session) -> None:
    slug = booked.clinic.org_slug
    basic = base64.b64encode(f"{app_client.client_id}:{app_client.secret}".encode()).decode()
    answer = client.post(f"/fhir/{slug}/auth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": f"Basic {basic}"})
    assert answer.status_code == 200, answer.text
    assert "system/Appointment.read" in answer.json()["scope"].split()
    wrong = client.post(f"/fhir/{slug}/auth/token", data={
        "grant_type": "client_credentials", "client_id": app_client.client_id,
        "client_secret": app_client.secret + "x"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}
    grant = client.post(f"/fhir/{slug}/auth/token", data={"grant_type": "password"})
    assert grant.status_code == 400
    scope = client.post(f"/fhir/{slug}/auth/token", data={
        "grant_type": "client_credentials", "client_id": app_client.client_id,
        "client_secret": app_client.secret, "scope": "system/Patient.read"})
    assert scope.status_code == 400 and scope.json() == {"error": "invalid_scope"}
    assert audit_reasons(db, booked.org_id, "fhir.token") == [
        "invalid_client", "unsupported_grant_type", "invalid_scope"]
    # Only Slot reads: an Appointment read is an audited 403.
    slots_only = token_of(client, slug, app_client, "system/Slot.read")
    denied = client.get(f"/fhir/{slug}/Appointment", headers=slots_only)
    assert denied.status_code == 403 and denied.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/fhir/{slug}/Slot", headers=slots_only).status_code == 200
    assert audit_reasons(db, booked.org_id, "fhir.read") == [
        "missing_scope:system/Appointment.read"]


def test_tokens_do_not_cross_audiences_or_organizations(
        client: TestClient, booked: Booked, app_client: Registered, db: Session,
        settings: Settings, tenants: Tenants) -> None:
    slug = booked.clinic.org_slug
    fhir_token = token_of(client, slug, app_client)
    assert client.get("/api/v1/appointments/x", headers=fhir_token).status_code == 401
    assert client.get(f"/fhir/{slug}/Location", headers=booked.reception).status_code == 401
    other = seed_booked(client, db, settings, tenants)
    assert client.get(f"/fhir/{other.clinic.org_slug}/Location",
                      headers=fhir_token).status_code == 401
    assert client.get(f"/fhir/{slug}/Location").status_code == 401
    assert client.get(f"/fhir/{slug}/Location",
                      headers={"Authorization": "Bearer forged.token.here"}).status_code == 401
    row = db.get(models.Organization, booked.org_id)
    assert row is not None
    from sync_server.fhir.models import FhirClient
    stored = db.get(FhirClient, app_client.id)
    assert stored is not None
    stored.active = False
    db.commit()
    assert client.get(f"/fhir/{slug}/Location", headers=fhir_token).status_code == 401
    assert audit_reasons(db, booked.org_id, "fhir.read") == [
        "invalid_token", "no_token", "invalid_token", "invalid_token"]


def test_reads_and_searches_validate_against_r4_and_map_statuses(
        client: TestClient, booked: Booked, app_client: Registered) -> None:
    slug = booked.clinic.org_slug
    headers = token_of(client, slug, app_client)
    appointment_id = _book(client, booked, 1)
    read = client.get(f"/fhir/{slug}/Appointment/{appointment_id}", headers=headers)
    assert read.status_code == 200, read.text
    assert read.headers["content-type"].startswith("application/fhir+json")
    resource = read.json()
    validate_r4(resource)
    assert resource["status"] == "booked"
    assert resource["identifier"][0]["value"] == booking_ref(appointment_id)
    references = {p["actor"]["reference"] for p in resource["participant"]}
    assert references == {f"Practitioner/{booked.clinic.provider_ids[0]}",
                          f"Location/{booked.clinic.clinic_id}"}
    confirmed = client.post(f"/api/v1/appointments/{appointment_id}/status",
                            headers=booked.reception, json={"status": "confirmed"})
    assert confirmed.status_code == 200, confirmed.text
    assert client.get(f"/fhir/{slug}/Appointment/{appointment_id}",
                      headers=headers).json()["status"] == "booked"
    cancelled = client.post(f"/api/v1/appointments/{appointment_id}/cancel",
                            headers=booked.reception, json={"reason": "test"})
    assert cancelled.status_code == 200, cancelled.text
    again = client.get(f"/fhir/{slug}/Appointment/{appointment_id}", headers=headers).json()
    assert again["status"] == "cancelled"
    searched = client.get(f"/fhir/{slug}/Appointment", headers=headers, params=[
        ("date", "ge" + slot(0).date().isoformat()),
        ("date", "lt" + (slot(0).date() + timedelta(days=1)).isoformat())])
    assert searched.status_code == 200, searched.text
    validate_r4(searched.json())
    assert [e["resource"]["id"] for e in searched.json()["entry"]] == [appointment_id]
    empty = client.get(f"/fhir/{slug}/Appointment", headers=headers,
                       params={"date": "lt2000-01-01"}).json()
    assert empty["total"] == 0
    for kind in ("Location", "Practitioner", "Schedule", "Slot"):
        answer = client.get(f"/fhir/{slug}/{kind}", headers=headers)
        assert answer.status_code == 200, answer.text
        validate_r4(answer.json())
        entries = answer.json()["entry"]
        assert entries, kind
        first = entries[0]["resource"]
        one = client.get(f"/fhir/{slug}/{kind}/{first['id']}", headers=headers)
        assert one.status_code == 200 and one.json() == first
    free = client.get(f"/fhir/{slug}/Slot", headers=headers,
                      params={"status": "free", "start": "ge" + slot(2).isoformat()}).json()
    assert free["total"] > 0
    assert all(e["resource"]["start"] >= slot(2).strftime("%Y-%m-%dT%H:%M")
               for e in free["entry"])


def test_another_organizations_ids_are_an_audited_404(
        client: TestClient, booked: Booked, app_client: Registered, db: Session,
        settings: Settings, tenants: Tenants) -> None:
    slug = booked.clinic.org_slug
    headers = token_of(client, slug, app_client)
    other = seed_booked(client, db, settings, tenants)
    foreign = client.post("/api/v1/appointments", headers=other.reception,
                          json=other.book_body(slot(1)))
    assert foreign.status_code == 201, foreign.text
    foreign_id = foreign.json()["appointments"][0]["id"]
    for path in (f"Appointment/{foreign_id}", f"Location/{other.clinic.clinic_id}",
                 f"Practitioner/{other.clinic.provider_ids[0]}"):
        answer = client.get(f"/fhir/{slug}/{path}", headers=headers)
        assert answer.status_code == 404, path
        assert answer.json()["resourceType"] == "OperationOutcome"
    for path in ("Appointment/no-such-id", "Slot/nope", "Schedule/nope", "Location/" + "x" * 300):
        assert client.get(f"/fhir/{slug}/{path}", headers=headers).status_code == 404
    denied = list(db.scalars(select(models.AuditEntry.target_id).where(
        models.AuditEntry.organization_id == booked.org_id,
        models.AuditEntry.intent == "access_denied")))
    db.rollback()
    assert denied == [foreign_id, other.clinic.clinic_id, other.clinic.provider_ids[0]]
    everything = client.get(f"/fhir/{slug}/Appointment", headers=headers).json()
    assert foreign_id not in {e["resource"]["id"] for e in everything.get("entry", [])}


def test_the_back_channel_exchanges_a_result_token_once_for_the_appointment(
        client: TestClient, booked: Booked, app_client: Registered, db: Session,
        clock: Clock) -> None:
    slug = booked.clinic.org_slug
    headers = token_of(client, slug, app_client)
    other_app = register(db, booked.org_id, urls=("https://other.example/r",), name="Other")
    other_headers = token_of(client, slug, other_app)
    mine = _book(client, booked, 1)
    unrelated = _book(client, booked, 3)
    query = _handed_off(db, booked, mine, "attempt-1", clock)
    token = query["resultToken"][0]
    assert query["appointmentRef"] == [mine] and query["state"] == ["attempt-1"]
    url = f"/fhir/{slug}/handoff/result"
    stolen = client.post(url, headers=other_headers, json={"resultToken": token})
    assert stolen.status_code == 400
    assert stolen.json()["issue"][0]["diagnostics"] == handoff.TOKEN_OTHER_CLIENT
    forged = client.post(url, headers=headers, json={"resultToken": "A" * 43})
    assert forged.status_code == 400
    assert forged.json()["issue"][0]["diagnostics"] == handoff.TOKEN_INVALID
    for body in ({"resultToken": 7}, {"x": 1}, [1]):
        assert client.post(url, headers=headers, json=body).status_code == 400
    garbage = client.post(url, headers={**headers, "Content-Type": "application/json"},
                          content=b"\xff\xfe")
    assert garbage.status_code == 400
    exchanged = client.post(url, headers=headers, data={"resultToken": token})
    assert exchanged.status_code == 200, exchanged.text
    validate_r4(exchanged.json())
    assert exchanged.json()["id"] == mine and exchanged.json()["status"] == "booked"
    replay = client.post(url, headers=headers, json={"resultToken": token})
    assert replay.status_code == 400
    assert replay.json()["issue"][0]["diagnostics"] == handoff.TOKEN_USED
    late = _handed_off(db, booked, mine, "attempt-2", clock)["resultToken"][0]
    clock.advance(handoff.RESULT_TOKEN_LIFETIME + timedelta(seconds=1))
    headers = token_of(client, slug, app_client)
    expired = client.post(url, headers=headers, json={"resultToken": late})
    assert expired.status_code == 400
    assert expired.json()["issue"][0]["diagnostics"] == handoff.TOKEN_EXPIRED
    assert audit_reasons(db, booked.org_id, "handoff.exchange") == [
        handoff.TOKEN_OTHER_CLIENT, *[handoff.TOKEN_INVALID] * 5, handoff.TOKEN_USED,
        handoff.TOKEN_EXPIRED]
    own = client.get(f"/fhir/{slug}/Appointment", headers=headers,
                     params={"_handoff": "mine"}).json()
    assert [e["resource"]["id"] for e in own["entry"]] == [mine]
    theirs = client.get(f"/fhir/{slug}/Appointment", headers=token_of(client, slug, other_app),
                        params={"_handoff": "mine"}).json()
    assert theirs["total"] == 0
    assert unrelated in {e["resource"]["id"] for e in client.get(
        f"/fhir/{slug}/Appointment", headers=headers).json()["entry"]}


def test_a_hand_off_booking_invalidated_later_reads_entered_in_error(
        client: TestClient, booked: Booked, app_client: Registered, db: Session,
        clock: Clock) -> None:
    slug = booked.clinic.org_slug
    headers = token_of(client, slug, app_client)
    mine = _book(client, booked, 1)
    _handed_off(db, booked, mine, "attempt-err", clock)
    changed = client.post(f"/api/v1/appointments/{mine}/status", headers=booked.admin,
                          json={"status": "entered_in_error", "reason": "duplicate"})
    assert changed.status_code == 200, changed.text
    read = client.get(f"/fhir/{slug}/Appointment/{mine}", headers=headers).json()
    assert read["status"] == "entered-in-error"
    row = by_id(db, models.Appointment, mine)
    assert row is not None
    row.deleted = True
    db.commit()
    assert client.get(f"/fhir/{slug}/Appointment/{mine}",
                      headers=headers).json()["status"] == "entered-in-error"
    other_app = register(db, booked.org_id, urls=("https://other.example/r",), name="Other")
    assert client.get(f"/fhir/{slug}/Appointment/{mine}",
                      headers=token_of(client, slug, other_app)).status_code == 404


@pytest.mark.parametrize("path", [
    "Appointment?date=yesterday", "Appointment?date=ge2026-13-01", "Appointment?_handoff=all",
    "Slot?start=gebad", "Slot?start=ge2026-03-01T00:00:00", "Appointment/%00",
    "Practitioner/" + "%E2%80%AE" * 40,
])
def test_bad_search_input_is_a_400_or_404_never_a_500(
        client: TestClient, booked: Booked, app_client: Registered, path: str) -> None:
    headers = token_of(client, booked.clinic.org_slug, app_client)
    answer = client.get(f"/fhir/{booked.clinic.org_slug}/{path}", headers=headers)
    assert answer.status_code in (400, 404), answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_the_status_mapping_is_the_documented_one() -> None:
    from scheduling.model import AppointmentStatus as S
    from scheduling.status import FHIR_STATUS

    expected: dict[Any, str] = {
        S.PENDING: "proposed", S.BOOKED: "booked", S.MESSAGE_LEFT: "booked",
        S.CONFIRMED: "booked", S.ARRIVED: "arrived", S.READY: "arrived",
        S.IN_PROGRESS: "checked-in", S.COMPLETED: "fulfilled",
        S.CANCELLED: "cancelled", S.NO_SHOW: "noshow", S.ENTERED_IN_ERROR: "entered-in-error"}
    assert dict(FHIR_STATUS) == expected
