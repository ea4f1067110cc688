"""A resource out of service re-routes what it hits: 40 appointments of a provider during
an outage get the placements the rules accept, are moved through the normal move path with
0 overlaps (checked in the database) and one message per patient; the outage blocks new
bookings; a desk booking that takes a proposed placement during the apply does not
overlap; an appointment with nowhere to go lands in the exceptions panel; a patient with
two moved appointments gets one e-mail (real SMTP) naming both new times; the staff get
one summary alert per incident — SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from babel.dates import format_time
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.commands import BookAppointment
from scheduling.timeutil import to_local
from sync_server.core.config import Settings
from sync_server.db import models as db_models
from sync_server.notifications.models import NotificationException
from sync_server.outages import service
from sync_server.outages.models import OutageDecision, OutageIncident
from sync_server.services import audit, booking
from tests.support.notify_servers import SmsGateway, SmtpSink
from tests.support.records import by_id
from tests.sync_server.booking_setup import active_overlaps
from tests.sync_server.conftest import START, Clock, Tenants, sign_in
from tests.sync_server.notify_setup import STAFF, NotifyClinic, notify_clinic
from tests.sync_server.test_notifications import drain

#: Monday; the outage covers provider 0 from Monday 08:00 to Wednesday 20:00 (local).
DAY = date(2026, 3, 16)
TIMES = [(h, m) for h in (9, 10, 11, 12) for m in (0, 30)] + [
    (h, m) for h in (14, 15, 16) for m in (0, 30)]  # 14 half hours a day


@pytest.fixture
def clinic(database_url: str, settings: Settings, smtp: SmtpSink,
           gateway: SmsGateway) -> NotifyClinic:
    return notify_clinic(database_url, settings, smtp, gateway, START, patients=20)


def slot(clinic: NotifyClinic, index: int) -> datetime:
    hour, minute = TIMES[index % 14]
    return clinic.local(DAY + timedelta(days=index // 14), hour, minute)


def forty_on_provider_0(clinic: NotifyClinic) -> list[str]:
    """40 appointments of provider 0 (two per patient) and 10 of provider 1 at the same
    times as some of them (those must move to another time)."""
    booked = [clinic.book(slot(clinic, i), START, patient=i % 20, provider=0)
              for i in range(40)]
    for i in range(10):
        clinic.book(slot(clinic, 3 * i), START, patient=(3 * i + 7) % 20, provider=1)
    return booked


def admin_headers(client: TestClient, clinic: NotifyClinic, tenants: Tenants) -> dict[str, str]:
    return sign_in(client, tenants.user(clinic.org_id, clinic.clinic.org_slug, "administrator"))


def start_outage(client: TestClient, clinic: NotifyClinic, headers: dict[str, str], *,
                 resource_id: str | None = None, start: datetime | None = None,
                 end: datetime | None = None, reason: str = "sick leave") -> dict[str, Any]:
    """Open an incident (by default provider 0, two days from DAY 8:00) and return it."""
    answer = client.post("/api/v1/outages/incidents", headers=headers, json={
        "resource_id": resource_id or clinic.clinic.provider_ids[0],
        "start": (start or clinic.local(DAY, 8)).isoformat(),
        "end": (end or clinic.local(DAY + timedelta(days=2), 20)).isoformat(),
        "reason": reason})
    assert answer.status_code == 201, answer.text
    found: dict[str, Any] = answer.json()
    return found


def outage_window(clinic: NotifyClinic) -> tuple[datetime, datetime]:
    return clinic.local(DAY, 8), clinic.local(DAY + timedelta(days=2), 20)


def test_forty_appointments_get_valid_proposals_and_are_all_moved_without_overlap(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, db: Session) -> None:
    booked = forty_on_provider_0(clinic)
    headers = admin_headers(client, clinic, tenants)
    incident = start_outage(client, clinic, headers)
    provider_0 = clinic.clinic.provider_ids[0]
    begin, end = outage_window(clinic)

    assert sorted(a["appointment_id"] for a in incident["affected"]) == sorted(booked)
    kinds: Counter[str] = Counter()
    for item in incident["affected"]:
        assert item["proposals"], item["appointment_id"]
        for proposal in item["proposals"]:
            start = datetime.fromisoformat(proposal["start"])
            stop = datetime.fromisoformat(proposal["end"])
            # Never on the provider while they are out.
            assert proposal["provider_id"] != provider_0 or stop <= begin or start >= end
            assert_valid(db, clinic, item, proposal)
        kinds[item["proposals"][0]["kind"]] += 1
    assert kinds["other_provider"] == 30 and kinds["other_time"] == 10

    # The outage blocks new bookings of that provider in that period.
    refused = client.post("/api/v1/appointments", headers=headers, json={
        "clinic_id": clinic.clinic.clinic_id, "patient_id": clinic.clinic.patient_ids[0],
        "appointment_type_id": clinic.clinic.type_id, "provider_id": provider_0,
        "start": clinic.local(DAY + timedelta(days=2), 16, 30).isoformat()})
    assert refused.status_code == 409 and "RESOURCE_OUTAGE" in refused.text

    applied = client.post(f"/api/v1/outages/incidents/{incident['id']}/apply-all",
                          headers=headers)
    assert applied.status_code == 200, applied.text
    outcomes = applied.json()["outcomes"]
    assert [o["action"] for o in outcomes] == ["moved"] * 40

    assert active_overlaps(db) == 0
    still_out = db.scalar(select(func.count()).select_from(db_models.Appointment).where(
        db_models.Appointment.provider_id == provider_0, db_models.Appointment.start_at < end,
        db_models.Appointment.end_at > begin, db_models.Appointment.deleted.is_(False),
        db_models.Appointment.status != "cancelled"))
    assert still_out == 0
    row = db.get(OutageIncident, incident["id"])
    assert row is not None
    told = service.patients_told(db, row)
    assert told == {patient: 1 for patient in clinic.clinic.patient_ids}
    decisions = list(db.scalars(select(OutageDecision).where(
        OutageDecision.incident_id == incident["id"])))
    assert len(decisions) == 40 and all(d.by_user_id and d.action == "moved"
                                        for d in decisions)
    db.rollback()
    # Planned again: nothing is left on the provider.
    again = client.get(f"/api/v1/outages/incidents/{incident['id']}", headers=headers)
    assert again.json()["affected"] == [] and len(again.json()["decisions"]) == 40


def assert_valid(db: Session, clinic: NotifyClinic, item: dict[str, Any],
                 proposal: dict[str, Any]) -> None:
    """Judged apart from the rules: the proposal is 30 minutes inside the clinic's working
    hours (09-13, 14-17 local, Monday to Friday), and neither its provider, its room nor
    the patient is held by another active appointment then."""
    start = datetime.fromisoformat(proposal["start"])
    stop = datetime.fromisoformat(proposal["end"])
    local = to_local(start, clinic.tz)
    assert stop - start == timedelta(minutes=30) and local.weekday() < 5, proposal
    assert (9, 0) <= (local.hour, local.minute) <= (12, 30) or \
        (14, 0) <= (local.hour, local.minute) <= (16, 30), proposal
    assert proposal["room_id"] in clinic.clinic.room_ids, proposal
    ar = db_models.AppointmentResource
    others = db.scalar(select(func.count()).select_from(ar).where(
        ar.resource_id.in_([proposal["provider_id"], proposal["room_id"]]),
        ar.active.is_(True), ar.appointment_id != item["appointment_id"],
        ar.block_start < stop, ar.block_end > start))
    appointment = db_models.Appointment
    patient_busy = db.scalar(select(func.count()).select_from(appointment).where(
        appointment.patient_id == item["patient_id"], appointment.id != item["appointment_id"],
        appointment.deleted.is_(False), appointment.status != "cancelled",
        appointment.start_at < stop, appointment.end_at > start))
    db.rollback()
    assert (others, patient_busy) == (0, 0), proposal


def test_one_by_one_and_a_desk_booking_that_takes_the_placement_meanwhile(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, db: Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = clinic.book(slot(clinic, 0), START, patient=0, provider=0)
    second = clinic.book(slot(clinic, 1), START, patient=1, provider=0)
    headers = admin_headers(client, clinic, tenants)
    incident = start_outage(client, clinic, headers)
    item = next(a for a in incident["affected"] if a["appointment_id"] == first)
    chosen = item["proposals"][0]
    assert chosen["kind"] == "other_provider"

    # One by one: the staff's choice goes through the move path.
    answer = client.post(f"/api/v1/outages/incidents/{incident['id']}/apply", headers=headers,
                         json={"appointment_id": first, "placement": chosen})
    assert answer.status_code == 200 and answer.json()["action"] == "moved"
    moved = by_id(db, db_models.Appointment, first)
    assert moved is not None and moved.provider_id == chosen["provider_id"]
    db.rollback()

    # Apply all: a desk books the second appointment's first proposal right after it was
    # planned and before its move; the move is refused under the locks, planned again.
    taken: list[str] = []
    real_propose = service.propose

    def desk_books_first(session: Session, caller: Any, appointment_id: str,
                         now: datetime) -> tuple[service.Proposal, ...]:
        proposals = real_propose(session, caller, appointment_id, now)
        if not taken and proposals:
            taken.append(clinic_book_at(clinic, proposals[0]))
        return proposals

    monkeypatch.setattr(service, "propose", desk_books_first)
    answer = client.post(f"/api/v1/outages/incidents/{incident['id']}/apply-all",
                         headers=headers)
    assert [o["action"] for o in answer.json()["outcomes"]] == ["moved"]
    assert active_overlaps(db) == 0
    desk = by_id(db, db_models.Appointment, taken[0])
    again = by_id(db, db_models.Appointment, second)
    assert desk is not None and again is not None and desk.status == "booked"
    assert (again.provider_id, again.start_at) != (desk.provider_id, desk.start_at)
    db.rollback()


def clinic_book_at(clinic: NotifyClinic, placement: service.Proposal) -> str:
    """The other desk's booking of ``placement`` (another patient), committed."""
    appointment_id = str(uuid.uuid4())
    caller = booking.Caller(clinic.org_id, STAFF, audit.Actor(None, None))
    with clinic.sessions() as session:
        result = booking.book(session, caller, BookAppointment(
            STAFF, appointment_id, clinic.clinic.clinic_id, clinic.clinic.patient_ids[19],
            clinic.clinic.type_id, placement.provider_id, placement.start), START)
        assert result.refused is None, result.refused
        session.commit()
    return appointment_id


def test_an_appointment_with_nowhere_to_go_lands_in_the_exceptions_panel(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, db: Session) -> None:
    """Only provider 0 may see this type, and they are out from now for six weeks (past
    the rules' two-week search for other times): the rules find nothing."""
    with clinic.sessions() as session:
        kind = session.get(db_models.AppointmentType, clinic.clinic.type_id)
        assert kind is not None
        kind.requirement = {**kind.requirement, "providers": [clinic.clinic.provider_ids[0]]}
        session.commit()
    stranded = clinic.book(slot(clinic, 2), START, patient=2, provider=0)
    headers = admin_headers(client, clinic, tenants)
    incident = start_outage(client, clinic, headers, start=START,
                            end=START + timedelta(weeks=6), reason="surgery")
    assert [(a["appointment_id"], a["proposals"]) for a in incident["affected"]] == [
        (stranded, [])]
    answer = client.post(f"/api/v1/outages/incidents/{incident['id']}/apply-all",
                         headers=headers)
    assert answer.json()["outcomes"] == [
        {"appointment_id": stranded, "action": "unplaced", "placement": None, "code": None}]
    alerts = client.get("/api/v1/notifications/exceptions", headers=headers).json()["items"]
    assert sorted((a["appointment_id"], a["kind"], a["reason"]) for a in alerts) == sorted([
        (stranded, "outage", "no_alternative"),
        (incident["id"], "outage-summary", "rerouted:0:1")])
    assert db.scalar(select(NotificationException.id).where(
        NotificationException.appointment_id == stranded)) is not None
    unplaced = db.scalar(select(OutageDecision).where(
        OutageDecision.incident_id == incident["id"]))
    assert unplaced is not None and (unplaced.action, unplaced.appointment_id) == (
        "unplaced", stranded) and unplaced.by_user_id
    db.rollback()


def test_another_organization_cannot_read_the_incident(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, clock: Clock) -> None:
    headers = admin_headers(client, clinic, tenants)
    incident = start_outage(client, clinic, headers)
    stranger = sign_in(client, tenants.organization())
    answer = client.get(f"/api/v1/outages/incidents/{incident['id']}", headers=stranger)
    assert answer.status_code == 404


def test_a_patient_with_two_moved_appointments_gets_one_message_naming_both(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, db: Session,
        smtp: SmtpSink, clock: Clock) -> None:
    both = [clinic.book(slot(clinic, index), START, patient=0, provider=0)
            for index in (0, 5)]
    other = clinic.book(slot(clinic, 1), START, patient=1, provider=0)
    clinic.patient(1, preferred_language="es")
    headers = admin_headers(client, clinic, tenants)
    incident = start_outage(client, clinic, headers)
    # The first one by one, the rest all at once (before the message goes: one message).
    item = next(a for a in incident["affected"] if a["appointment_id"] == both[0])
    answer = client.post(f"/api/v1/outages/incidents/{incident['id']}/apply", headers=headers,
                         json={"appointment_id": both[0], "placement": item["proposals"][0]})
    assert answer.json()["action"] == "moved"
    clock.advance(timedelta(seconds=30))
    answer = client.post(f"/api/v1/outages/incidents/{incident['id']}/apply-all",
                         headers=headers)
    assert [o["action"] for o in answer.json()["outcomes"]] == ["moved", "moved"]

    clock.advance(timedelta(minutes=5))
    drain(clinic, clock)
    received = {m.recipients[0]: m.message for m in smtp.messages()}
    assert len(smtp.messages()) == 2 and set(received) == {
        "patient0@example.org", "patient1@example.org"}
    text = received["patient0@example.org"].get_body(("plain",)).get_content()
    assert "have changed" in str(received["patient0@example.org"]["Subject"])
    for appointment_id in both:
        moved = by_id(db, db_models.Appointment, appointment_id)
        assert moved is not None and moved.provider_id != clinic.clinic.provider_ids[0]
        at = format_time(to_local(moved.start_at, clinic.tz).time(), "short", locale="en_US")
        assert text.count(at) == 1, (at, text)
    spanish = received["patient1@example.org"].get_body(("plain",)).get_content()
    assert spanish.startswith("Hola")
    db.rollback()
    # Nothing more goes later: the change notices of the moves were voided.
    clock.advance(timedelta(hours=1))
    drain(clinic, clock)
    assert len(smtp.messages()) == 2
    row = db.get(OutageIncident, incident["id"])
    assert row is not None
    assert service.patients_told(db, row) == {clinic.clinic.patient_ids[0]: 1,
                                             clinic.clinic.patient_ids[1]: 1}
    db.rollback()

    # The staff: one summary alert for the incident, brought up to date by each apply.
    headers = admin_headers(client, clinic, tenants)  # the clock ran past the first session
    alerts = client.get("/api/v1/notifications/exceptions", headers=headers).json()["items"]
    assert [(a["appointment_id"], a["kind"], a["reason"]) for a in alerts] == [
        (incident["id"], "outage-summary", "rerouted:3:0")]
    assert other not in {a["appointment_id"] for a in alerts}


def room_of(db: Session, appointment_id: str) -> str | None:
    row = by_id(db, db_models.Appointment, appointment_id)
    assert row is not None
    room = row.room_id
    db.rollback()
    return room


def test_a_room_out_of_service_moves_its_appointments_to_the_other_room_same_provider(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, db: Session) -> None:
    """Three appointments of provider 0 took the same room; it goes out of service (a
    flood): each is proposed the other room with its own provider and time first, and
    applying them all moves them there (0 overlaps, one message per patient)."""
    booked = [clinic.book(slot(clinic, i), START, patient=i, provider=0) for i in range(3)]
    room = room_of(db, booked[0])
    assert room is not None and {room_of(db, a) for a in booked} == {room}
    other_room = next(r for r in clinic.clinic.room_ids if r != room)
    headers = admin_headers(client, clinic, tenants)
    incident = start_outage(client, clinic, headers, resource_id=room,
                            end=clinic.local(DAY, 20), reason="flooded")
    assert sorted(a["appointment_id"] for a in incident["affected"]) == sorted(booked)
    for item in incident["affected"]:
        first = item["proposals"][0]
        assert (first["kind"], first["provider_id"], first["room_id"], first["start"]) == (
            "other_room", clinic.clinic.provider_ids[0], other_room, item["start"])
        for proposal in item["proposals"]:
            assert proposal["room_id"] != room
            assert_valid(db, clinic, item, proposal)
    applied = client.post(f"/api/v1/outages/incidents/{incident['id']}/apply-all",
                          headers=headers)
    assert [o["action"] for o in applied.json()["outcomes"]] == ["moved"] * 3
    for appointment_id, index in zip(booked, range(3), strict=True):
        row = by_id(db, db_models.Appointment, appointment_id)
        assert row is not None
        assert (row.provider_id, row.room_id, row.start_at) == (
            clinic.clinic.provider_ids[0], other_room, slot(clinic, index))
        db.rollback()
    assert active_overlaps(db) == 0
    recorded = db.get(OutageIncident, incident["id"])
    assert recorded is not None
    assert service.patients_told(db, recorded) == {
        clinic.clinic.patient_ids[i]: 1 for i in range(3)}
    db.rollback()


def test_a_piece_of_equipment_out_of_service_re_routes_off_it(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, db: Session) -> None:
    """The check-up needs one of two ECG machines; the one the bookings took breaks down:
    each is proposed the other machine with its own provider, time and room first, every
    proposal is valid, and applying them all moves them onto the other machine."""
    machines = [str(uuid.uuid4()) for _ in range(2)]
    with clinic.sessions() as session:
        for index, machine in enumerate(machines):
            session.add(db_models.Resource(id=machine, organization_id=clinic.org_id,
                                           kind="equipment", name=f"ECG {index + 1}"))
            session.add(db_models.ResourceClinic(resource_id=machine,
                                                 clinic_id=clinic.clinic.clinic_id,
                                                 organization_id=clinic.org_id))
        kind = session.get(db_models.AppointmentType, clinic.clinic.type_id)
        assert kind is not None
        kind.requirement = {**kind.requirement, "equipment": [sorted(machines)]}
        session.commit()
    booked = [clinic.book(slot(clinic, i), START, patient=i, provider=0) for i in range(3)]
    held = db.scalar(select(db_models.AppointmentResource.resource_id).where(
        db_models.AppointmentResource.appointment_id == booked[0],
        db_models.AppointmentResource.resource_id.in_(machines)))
    db.rollback()
    assert held is not None
    headers = admin_headers(client, clinic, tenants)
    begin, end = clinic.local(DAY, 8), clinic.local(DAY, 20)
    incident = start_outage(client, clinic, headers, resource_id=held, start=begin, end=end,
                            reason="broken lead")
    assert sorted(a["appointment_id"] for a in incident["affected"]) == sorted(booked)
    for item in incident["affected"]:
        first = item["proposals"][0]
        assert (first["kind"], first["provider_id"], first["room_id"], first["start"]) == (
            "other_equipment", item["provider_id"], item["room_id"], item["start"])
        for proposal in item["proposals"]:
            assert_valid(db, clinic, item, proposal)
    applied = client.post(f"/api/v1/outages/incidents/{incident['id']}/apply-all",
                          headers=headers)
    assert [o["action"] for o in applied.json()["outcomes"]] == ["moved"] * 3
    spare = next(m for m in machines if m != held)
    for appointment_id, index in zip(booked, range(3), strict=True):
        row = by_id(db, db_models.Appointment, appointment_id)
        assert row is not None
        assert (row.provider_id, row.start_at, list(row.equipment_ids)) == (
            clinic.clinic.provider_ids[0], slot(clinic, index), [spare])
        db.rollback()
    ar = db_models.AppointmentResource
    assert db.scalar(select(func.count()).select_from(ar).where(
        ar.resource_id == held, ar.active.is_(True), ar.block_start < end,
        ar.block_end > begin)) == 0
    db.rollback()
    assert active_overlaps(db) == 0
    again = client.get(f"/api/v1/outages/incidents/{incident['id']}", headers=headers)
    assert again.json()["affected"] == []
