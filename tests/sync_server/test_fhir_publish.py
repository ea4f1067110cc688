"""SMART Scheduling Links publishing (``/fhir/{org}/$bulk-publish``) on both databases:
manifest and NDJSON structure, R4 validity, the published free slots equal to the
scheduling core's availability, ``_since``, ETag/304, only online-bookable types, no
patient data."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.fhir import publish
from tests.sync_server.booking_setup import Booked, seed_booked, slot
from tests.sync_server.conftest import START, Clock, Tenants
from tests.sync_server.fhir_setup import make_online, ndjson_lines, validate_r4

PHONE = "+34 910 000 111"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    seeded = seed_booked(client, db, settings, tenants)
    make_online(db, seeded.org_id, PHONE)
    return seeded


def _files(client: TestClient, slug: str, since: str | None = None
           ) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    params = {"_since": since} if since else {}
    answer = client.get(f"/fhir/{slug}/$bulk-publish", params=params)
    assert answer.status_code == 200, answer.text
    manifest = answer.json()
    files: dict[str, list[dict[str, Any]]] = {}
    for item in manifest["output"]:
        response = client.get(item["url"])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        files[item["type"]] = ndjson_lines(response.text)
    return manifest, files


def _free(files: dict[str, list[dict[str, Any]]]) -> set[tuple[str, str]]:
    provider_of = {s["id"]: s["actor"][1]["reference"].split("/")[1] for s in files["Schedule"]}
    return {(provider_of[s["schedule"]["reference"].split("/")[1]], s["start"])
            for s in files["Slot"] if s["status"] == "free"}


def _availability(client: TestClient, booked: Booked) -> set[tuple[str, str]]:
    first, last = publish.publish_window(
        models.Clinic(time_zone="Europe/Madrid"), START)
    answer = client.get("/api/v1/availability", headers=booked.reception, params={
        "clinic_id": booked.clinic.clinic_id, "appointment_type_id": booked.clinic.type_id,
        "from": first.isoformat(), "to": last.isoformat()})
    assert answer.status_code == 200, answer.text
    assert not answer.json()["truncated"]
    return {(s["provider_id"], publish.instant(_parse(s["start"])))
            for s in answer.json()["slots"]}


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_manifest_lists_location_schedule_and_slot_files_of_valid_r4_resources(
        client: TestClient, booked: Booked) -> None:
    slug = booked.clinic.org_slug
    manifest, files = _files(client, slug)
    assert set(manifest) == {"transactionTime", "request", "output", "error"}
    assert manifest["error"] == []
    assert manifest["request"] == f"http://testserver/fhir/{slug}/$bulk-publish"
    assert [o["type"] for o in manifest["output"]] == ["Location", "Schedule", "Slot"]
    assert _parse(manifest["transactionTime"]) <= START
    for resources in files.values():
        for resource in resources:
            validate_r4(resource)
    [location] = files["Location"]
    assert location["id"] == booked.clinic.clinic_id
    assert location["telecom"] == [{"system": "phone", "value": PHONE}]
    assert len(files["Schedule"]) == len(booked.clinic.provider_ids)
    assert all(s["actor"][0]["reference"] == f"Location/{booked.clinic.clinic_id}"
               for s in files["Schedule"])
    free = [s for s in files["Slot"] if s["status"] == "free"]
    assert free, "the clinic has free slots in the next weeks"
    for item in free:
        links = {e["url"]: e for e in item["extension"]}
        assert links[publish.BOOKING_PHONE_URL]["valueString"] == PHONE
        link = urlsplit(links[publish.DEEP_LINK_URL]["valueUrl"])
        assert link.path == f"/portal/{slug}/book"
        query = parse_qs(link.query)
        assert query["start"] == [item["start"]] and query["slot"] == [item["id"]]
        assert query["type"] == [booked.clinic.type_id]


def test_published_free_slots_equal_the_scheduling_cores_availability(
        client: TestClient, booked: Booked) -> None:
    _manifest, files = _files(client, booked.clinic.org_slug)
    assert _free(files) == _availability(client, booked)
    answer = client.post("/api/v1/appointments", headers=booked.reception,
                         json=booked.book_body(slot(2)))
    assert answer.status_code == 201, answer.text
    _manifest, after = _files(client, booked.clinic.org_slug)
    assert _free(after) == _availability(client, booked)
    assert _free(after) < _free(files)


def test_since_gives_the_slots_changed_and_the_manifest_keeps_its_etag_until_a_change(
        client: TestClient, booked: Booked, clock: Clock) -> None:
    slug = booked.clinic.org_slug
    first = client.get(f"/fhir/{slug}/$bulk-publish")
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public, max-age=")
    same = client.get(f"/fhir/{slug}/$bulk-publish", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.headers["etag"] == etag
    since = first.json()["transactionTime"]
    _m, nothing = _files(client, slug, since)
    assert nothing["Slot"] == []
    clock.advance(timedelta(seconds=5))
    answer = client.post("/api/v1/appointments", headers=booked.reception,
                         json=booked.book_body(slot(2)))
    assert answer.status_code == 201, answer.text
    appointment_id = answer.json()["appointments"][0]["id"]
    changed = client.get(f"/fhir/{slug}/$bulk-publish", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    manifest, files = _files(client, slug, since)
    assert manifest["transactionTime"] > since
    assert all(item["url"].endswith("_since=" + since.replace(":", "%3A"))
               for item in manifest["output"])
    booked_start = publish.instant(slot(2))
    gone = [s for s in files["Slot"] if s["start"] == booked_start]
    assert gone and all(s["status"] == "busy-unavailable" for s in gone)
    assert all(s["status"] == "busy-unavailable" for s in files["Slot"])
    for resource in files["Slot"]:
        validate_r4(resource)
    clock.advance(timedelta(seconds=5))
    later = manifest["transactionTime"]
    cancelled = client.post(f"/api/v1/appointments/{appointment_id}/cancel",
                            headers=booked.reception, json={"reason": "test"})
    assert cancelled.status_code == 200, cancelled.text
    _m, back = _files(client, slug, later)
    assert {s["start"] for s in back["Slot"] if s["status"] == "free"} >= {booked_start}


def test_only_online_bookable_types_are_published(
        client: TestClient, booked: Booked, db: Session) -> None:
    kind = db.get(models.AppointmentType, booked.clinic.type_id)
    assert kind is not None
    kind.online_bookable = False
    db.commit()
    _manifest, files = _files(client, booked.clinic.org_slug)
    assert files["Schedule"] == []
    assert [s for s in files["Slot"] if s["status"] == "free"] == []


def test_nothing_about_patients_is_published(client: TestClient, booked: Booked,
                                            db: Session) -> None:
    answer = client.post("/api/v1/appointments", headers=booked.reception,
                         json=booked.book_body(slot(1)))
    assert answer.status_code == 201, answer.text
    manifest = client.get(f"/fhir/{booked.clinic.org_slug}/$bulk-publish").text
    text = manifest + "".join(client.get(o["url"]).text
                              for o in client.get(
                                  f"/fhir/{booked.clinic.org_slug}/$bulk-publish").json()[
                                  "output"])
    patients = db.query(models.Patient).filter_by(organization_id=booked.org_id).all()
    assert patients
    for patient in patients:
        for value in (patient.id, patient.given_name, patient.family_name):
            assert value not in text
    assert answer.json()["appointments"][0]["id"] not in text


def test_unknown_organization_and_bad_since_are_operation_outcomes(
        client: TestClient, booked: Booked) -> None:
    missing = client.get("/fhir/no-such-org/$bulk-publish")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"
    bad = client.get(f"/fhir/{booked.clinic.org_slug}/$bulk-publish",
                     params={"_since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    naive = client.get(f"/fhir/{booked.clinic.org_slug}/$bulk-publish/Slot.ndjson",
                       params={"_since": "2026-03-01T00:00:00"})
    assert naive.status_code == 400
    assert client.get(f"/fhir/{booked.clinic.org_slug}/$bulk-publish/Patient.ndjson"
                      ).status_code == 404
