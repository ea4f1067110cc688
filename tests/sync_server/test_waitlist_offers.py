"""Waitlist offers of freed slots and the no-show policy, on SQLite and PostgreSQL, through
the real booking service, the notification worker and a real SMTP server (aiosmtpd);
new working hours an administrator adds are offered too."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import intents
from scheduling.commands import Actor, BookAppointment, ChangeStatus
from scheduling.model import AppointmentStatus
from scheduling.refusals import RefusalCode
from sync_server.core.config import Settings
from sync_server.db import models
from sync_server.db import models as db
from sync_server.db.session import make_engine, make_session_factory
from sync_server.services import audit, booking
from sync_server.waitlist import offers
from sync_server.waitlist.models import FreedSlot, PatientNoShow, WaitlistOffer
from sync_server.waitlist.new_hours import HORIZON_DAYS
from tests.support.notify_servers import SmsGateway, SmtpSink
from tests.support.records import by_id
from tests.sync_server.booking_setup import Booked, enroll_desk, seed_booked, slot
from tests.sync_server.conftest import START, Clock, Tenants, sign_in
from tests.sync_server.notify_setup import STAFF, NotifyClinic, notify_clinic
from tests.sync_server.test_notifications import drain
from tests.sync_server.test_sync_push_pull import book_args, push

DAY = date(2026, 3, 17)  # a Tuesday: the providers work 9-17 in Madrid


@pytest.fixture
def clinic(database_url: str, settings: object, smtp: SmtpSink,
           gateway: SmsGateway) -> NotifyClinic:
    return notify_clinic(database_url, settings, smtp, gateway, START,  # type: ignore[arg-type]
                         patients=5)


def wait(clinic: NotifyClinic, patient: int, *, priority: int = 0, minutes_ago: int = 60,
         **preferences: object) -> str:
    """A waitlist entry for the clinic's check-up."""
    entry_id = str(uuid.uuid4())
    with clinic.sessions() as session:
        session.add(db.WaitlistEntry(
            id=entry_id, organization_id=clinic.org_id, clinic_id=clinic.clinic.clinic_id,
            patient_id=clinic.clinic.patient_ids[patient],
            appointment_type_id=clinic.clinic.type_id,
            created_at=START - timedelta(minutes=minutes_ago), priority=priority,
            preferred_provider_ids=preferences.get("providers", []),
            preferred_weekdays=preferences.get("weekdays", []),
            preferred_times=preferences.get("times", []), active=True, note="", version=1))
        session.commit()
    return entry_id


def care(clinic: NotifyClinic, **values: object) -> None:
    with clinic.sessions() as session:
        row = offers.care_settings(session, clinic.org_id)
        session.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        session.commit()


def offer_rows(clinic: NotifyClinic) -> list[WaitlistOffer]:
    with clinic.sessions() as session:
        found = list(session.scalars(select(WaitlistOffer).where(
            WaitlistOffer.organization_id == clinic.org_id).order_by(WaitlistOffer.rank)))
        session.expunge_all()
        session.rollback()
    return found


def booked_at(clinic: NotifyClinic, start: datetime) -> list[db.Appointment]:
    with clinic.sessions() as session:
        found = list(session.scalars(select(db.Appointment).where(
            db.Appointment.organization_id == clinic.org_id, db.Appointment.start_at == start,
            db.Appointment.status != "cancelled")))
        session.expunge_all()
        session.rollback()
    return found


def mails_to(smtp: SmtpSink, clinic: NotifyClinic, patient: int, subject: str) -> list[str]:
    return [m.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            for m in smtp.messages()
            if f"patient{patient}@example.org" in m.recipients and subject in m.message["Subject"]]


def accept(clinic: NotifyClinic, offer_id: str, now: datetime) -> str:
    with clinic.sessions() as session:
        return offers.accept(session, offer_id, now)


def freed_slot(clinic: NotifyClinic, clock: Clock) -> datetime:
    """Patient 0's 10:30 booking with provider 0, cancelled; the worker ran."""
    start = clinic.local(DAY, 10, 30)
    appointment = clinic.book(start, START)
    clinic.cancel(appointment, START)
    drain(clinic, clock)
    return start


def test_a_freed_slot_is_offered_in_rank_order_and_booked_once_when_two_accept_at_once(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock) -> None:
    older = wait(clinic, 1, minutes_ago=300)
    urgent = wait(clinic, 2, priority=5, minutes_ago=10)
    wait(clinic, 3, minutes_ago=100)  # same priority as patient 1, but younger: third
    wait(clinic, 4, priority=9, times=[["16:00", "17:00"]])  # wants afternoons: no match
    start = freed_slot(clinic, clock)
    made = offer_rows(clinic)
    assert [(o.entry_id, o.rank, o.state) for o in made] == [(urgent, 1, "open"),
                                                            (older, 2, "open")]
    assert made[0].expires_at == START + timedelta(minutes=30)
    for patient in (2, 1):
        (text,) = mails_to(smtp, clinic, patient, "A place is free")
        assert "/notify/offer/" in text and clinic.clinic.patient_ids[patient] not in text
    assert not mails_to(smtp, clinic, 3, "A place is free")

    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def race(offer_id: str) -> None:
        with clinic.sessions() as session:
            barrier.wait()
            outcomes[offer_id] = offers.accept(session, offer_id, START + timedelta(minutes=5))

    threads = [threading.Thread(target=race, args=(offer.id,)) for offer in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["booked", "gone"]
    (appointment,) = booked_at(clinic, start)
    winner = next(o for o in made if outcomes[o.id] == "booked")
    loser = next(o for o in made if outcomes[o.id] == "gone")
    assert appointment.patient_id == winner.patient_id and appointment.source == "waitlist"
    after = {o.id: o for o in offer_rows(clinic)}
    assert (after[winner.id].state, after[winner.id].appointment_id) == ("accepted",
                                                                        appointment.id)
    assert after[loser.id].state == "gone"
    with clinic.sessions() as session:
        entry = by_id(session, db.WaitlistEntry, winner.entry_id)
        assert entry is not None and entry.active is False
        session.rollback()
    clock.now = START + timedelta(minutes=10)
    drain(clinic, clock)
    loser_index = clinic.clinic.patient_ids.index(loser.patient_id)
    assert mails_to(smtp, clinic, loser_index, "has been taken")
    assert accept(clinic, loser.id, clock.now) == "gone"


def test_an_expired_hold_moves_on_to_the_next_entry(clinic: NotifyClinic, smtp: SmtpSink,
                                                    clock: Clock) -> None:
    care(clinic, offers_at_once=1, offer_hold_minutes=20)
    first = wait(clinic, 1, priority=2)
    second = wait(clinic, 2, priority=1)
    freed_slot(clinic, clock)
    assert [(o.entry_id, o.state) for o in offer_rows(clinic)] == [(first, "open")]
    clock.now = START + timedelta(minutes=19)
    drain(clinic, clock)
    assert [o.state for o in offer_rows(clinic)] == ["open"]  # still held
    clock.now = START + timedelta(minutes=20)
    drain(clinic, clock)
    rows = offer_rows(clinic)
    assert [(o.entry_id, o.state) for o in rows] == [(first, "expired"), (second, "open")]
    assert rows[1].expires_at == clock.now + timedelta(minutes=20)
    assert accept(clinic, rows[0].id, clock.now) == "expired"
    assert mails_to(smtp, clinic, 2, "A place is free")
    assert accept(clinic, rows[1].id, clock.now) == "booked"


def test_no_offer_for_a_slot_the_desk_re_books_first(clinic: NotifyClinic, smtp: SmtpSink,
                                                     clock: Clock) -> None:
    wait(clinic, 1)
    start = clinic.local(DAY, 10, 30)
    appointment = clinic.book(start, START)
    clinic.cancel(appointment, START)
    clinic.book(start, START, patient=3)  # the desk fills it before the worker runs
    drain(clinic, clock)
    assert offer_rows(clinic) == []
    assert not mails_to(smtp, clinic, 1, "A place is free")
    with clinic.sessions() as session:
        (slot,) = session.scalars(select(FreedSlot).where(
            FreedSlot.organization_id == clinic.org_id))
        assert slot.state == "taken"
        session.rollback()


def test_a_move_away_and_a_no_show_free_their_slots(clinic: NotifyClinic, smtp: SmtpSink,
                                                    clock: Clock) -> None:
    """A booking moved to another time frees its old slot (offered); a no-show marked two
    minutes into a visit frees the rest of it from the next five-minute mark."""
    entry = wait(clinic, 1)
    old = clinic.local(DAY, 10, 30)
    moved = clinic.book(old, START)
    clinic.move(moved, clinic.local(DAY, 15), START)
    missed = clinic.book(clinic.local(DAY, 11), START, patient=2)
    with clinic.sessions() as session:
        result = booking.change(session, booking.Caller(clinic.org_id, STAFF, audit.Actor()),
                                ChangeStatus(STAFF, missed, AppointmentStatus.NO_SHOW),
                                clinic.local(DAY, 11, 2))
        assert result.refused is None, result.refused
        session.commit()
        freed = {row.reason: (row.start_at, row.end_at, row.source_appointment_id)
                 for row in session.scalars(select(FreedSlot).where(
                     FreedSlot.organization_id == clinic.org_id))}
        session.rollback()
    assert freed == {
        "moved": (old, old + timedelta(minutes=30), moved),
        "no_show": (clinic.local(DAY, 11, 5), clinic.local(DAY, 11, 30), missed)}
    drain(clinic, clock)
    (offer,) = [o for o in offer_rows(clinic) if o.state == "open"]
    assert offer.entry_id == entry
    assert mails_to(smtp, clinic, 1, "A place is free")
    assert accept(clinic, offer.id, START + timedelta(minutes=1)) == "booked"
    assert [a.patient_id for a in booked_at(clinic, old)] == [clinic.clinic.patient_ids[1]]


def test_an_open_offer_is_withdrawn_when_the_desk_re_books_the_slot(
        clinic: NotifyClinic, smtp: SmtpSink, clock: Clock) -> None:
    wait(clinic, 1)
    start = freed_slot(clinic, clock)
    (offer,) = offer_rows(clinic)
    clinic.book(start, START + timedelta(minutes=1), patient=3)
    assert [o.state for o in offer_rows(clinic)] == ["withdrawn"]
    assert accept(clinic, offer.id, START + timedelta(minutes=2)) == "gone"
    assert [a.patient_id for a in booked_at(clinic, start)] == [clinic.clinic.patient_ids[3]]
    clock.now = START + timedelta(minutes=3)
    drain(clinic, clock)
    assert mails_to(smtp, clinic, 1, "has been taken")


def test_the_accept_page_books_only_on_post(clinic: NotifyClinic, smtp: SmtpSink,
                                            clock: Clock, client: TestClient) -> None:
    wait(clinic, 1)
    start = freed_slot(clinic, clock)
    (text,) = mails_to(smtp, clinic, 1, "A place is free")
    link = re.search(r"http://testserver(/notify/offer/\S+)", text)
    assert link is not None
    shown = client.get(link.group(1))
    assert shown.status_code == 200 and "<form method=\"post\">" in shown.text
    assert booked_at(clinic, start) == []  # a GET (a mail scanner) books nothing
    done = client.post(link.group(1))
    assert "The place is yours" in done.text
    assert [a.patient_id for a in booked_at(clinic, start)] == [clinic.clinic.patient_ids[1]]
    again = client.post(link.group(1))
    assert "You accepted this place already" in again.text
    assert len(booked_at(clinic, start)) == 1
    assert client.get("/notify/offer/forged.token").status_code == 404


def test_spanish_patients_get_the_offer_in_spanish(clinic: NotifyClinic, smtp: SmtpSink,
                                                   clock: Clock) -> None:
    clinic.patient(1, preferred_language="es")
    wait(clinic, 1)
    freed_slot(clinic, clock)
    (message,) = [m for m in smtp.messages() if "patient1@example.org" in m.recipients]
    assert "Hay una plaza libre" in message.message["Subject"]


def test_staff_offer_a_slot_by_hand_and_withdraw_it(clinic: NotifyClinic,
                                                    clock: Clock) -> None:
    entry = wait(clinic, 2)
    start = clinic.local(DAY, 15)
    with clinic.sessions() as session:
        made = offers.offer_by_hand(session, clinic.org_id, entry, clinic.clinic.provider_ids[1],
                                    start, start + timedelta(minutes=30), "staff-user", START)
        assert made is not None and made.offered_by == "staff-user"
        session.commit()
        busy = offers.offer_by_hand(session, clinic.org_id, entry, clinic.clinic.provider_ids[1],
                                    clinic.local(DAY, 13), clinic.local(DAY, 13, 30),
                                    "staff-user", START)
        assert busy is None  # the provider's lunch break: the rules would refuse it
        session.rollback()
        assert offers.withdraw(session, clinic.org_id, made.id, START)
        session.commit()
    assert [o.state for o in offer_rows(clinic)] == ["withdrawn"]


# --------------------------------------------------------------------------- no-shows


def miss(clinic: NotifyClinic, clock: Clock, day: date, patient: int = 1) -> str:
    """Book the patient, then mark the appointment no-show an hour after it started."""
    start = clinic.local(day, 9)
    appointment = clinic.book(start, START, patient=patient)
    with clinic.sessions() as session:
        result = booking.change(session, booking.Caller(clinic.org_id, STAFF, audit.Actor()),
                                ChangeStatus(STAFF, appointment, AppointmentStatus.NO_SHOW),
                                start + timedelta(hours=1))
        assert result.refused is None, result.refused
        session.commit()
    return appointment


def book_as(clinic: NotifyClinic, actor: Actor, now: datetime,
            day: date = date(2026, 3, 27)) -> booking.BookingResult:
    with clinic.sessions() as session:
        result = booking.book(session, booking.Caller(clinic.org_id, actor, audit.Actor()),
                              BookAppointment(actor, str(uuid.uuid4()), clinic.clinic.clinic_id,
                                              clinic.clinic.patient_ids[1], clinic.clinic.type_id,
                                              clinic.clinic.provider_ids[0],
                                              clinic.local(day, 11)), now)
        session.commit()
    return result


def online_bookable(clinic: NotifyClinic) -> None:
    with clinic.sessions() as session:
        kind = session.get(db.AppointmentType, clinic.clinic.type_id)
        assert kind is not None
        kind.online_bookable = True
        session.commit()


def test_the_no_show_policy_refuses_with_its_own_code(clinic: NotifyClinic, smtp: SmtpSink,
                                                      clock: Clock) -> None:
    care(clinic, no_show_limit=2, no_show_months=12)
    online_bookable(clinic)
    first = miss(clinic, clock, date(2026, 3, 3))
    miss(clinic, clock, date(2026, 3, 4))
    now = clinic.local(date(2026, 3, 5), 8)
    with clinic.sessions() as session:
        recorded = list(session.scalars(select(PatientNoShow.appointment_id).where(
            PatientNoShow.patient_id == clinic.clinic.patient_ids[1])))
        assert first in recorded and len(recorded) == 2
        session.rollback()
    online = Actor("patient:portal", None, frozenset({"booking:create_appointment"}),
                   online_booking=True)
    refused = book_as(clinic, online, now).refused
    assert refused is not None and refused.code is RefusalCode.NO_SHOW_LIMIT
    assert refused.params == {"count": 2, "months": 12}
    pending = book_as(clinic, STAFF, now)  # a receptionist: it waits for approval
    assert pending.refused is None
    assert pending.appointments[0].status is AppointmentStatus.PENDING
    assert RefusalCode.NO_SHOW_LIMIT in pending.notices
    manager = Actor("manager", None, STAFF.permissions | {"booking:approve"})
    approved = book_as(clinic, manager, now, date(2026, 3, 26))
    assert approved.refused is None
    assert approved.appointments[0].status is AppointmentStatus.BOOKED
    clock.now = now
    drain(clinic, clock)
    assert mails_to(smtp, clinic, 1, "We missed you")


def test_no_shows_outside_the_window_do_not_count(clinic: NotifyClinic, clock: Clock) -> None:
    care(clinic, no_show_limit=1, no_show_months=1)
    online_bookable(clinic)
    miss(clinic, clock, date(2026, 3, 3))
    online = Actor("patient:portal", None, frozenset({"booking:create_appointment"}),
                   online_booking=True)
    assert book_as(clinic, online, clinic.local(date(2026, 3, 5), 8)).refused is not None
    later = clinic.local(date(2026, 3, 3), 9) + timedelta(days=31)
    assert book_as(clinic, online, later, date(2026, 4, 14)).refused is None


def test_the_care_settings_and_a_patients_no_shows_through_the_api(
        clinic: NotifyClinic, clock: Clock, client: TestClient, tenants: Tenants) -> None:
    admin = sign_in(client, tenants.user(clinic.org_id, clinic.clinic.org_slug, "administrator"))
    receptionist = tenants.user(clinic.org_id, clinic.clinic.org_slug, "receptionist")
    desk = sign_in(client, receptionist)
    assert client.get("/api/v1/care/settings", headers=admin).json() == {
        "offer_hold_minutes": 30, "offers_at_once": 2, "offers_enabled": True,
        "no_show_limit": 3, "no_show_months": 12, "no_show_message": True}
    assert client.put("/api/v1/care/settings", json={"no_show_limit": 1},
                      headers=desk).status_code == 403
    saved = client.put("/api/v1/care/settings", json={"no_show_limit": 1, "offers_at_once": None},
                       headers=admin).json()
    assert (saved["no_show_limit"], saved["offers_at_once"]) == (1, 2)
    miss(clinic, clock, date(2026, 3, 3))
    patient = clinic.clinic.patient_ids[1]
    clock.now = clinic.local(date(2026, 3, 5), 8)
    desk = sign_in(client, receptionist)  # the first sign-in expired meanwhile
    answer = client.get(f"/api/v1/patients/{patient}/no-shows", headers=desk)
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert (shown["count"], shown["at_limit"], len(shown["dates"])) == (1, True, 1)
    assert shown["dates"][0].startswith("2026-03-03T08:00:00")  # 09:00 in Madrid
    # Over REST a receptionist's booking for the patient waits for approval, saying why.
    made = client.post("/api/v1/appointments", headers=desk, json={
        "clinic_id": clinic.clinic.clinic_id, "patient_id": patient,
        "appointment_type_id": clinic.clinic.type_id,
        "provider_id": clinic.clinic.provider_ids[0],
        "start": clinic.local(date(2026, 3, 10), 11).isoformat()})
    assert made.status_code == 201, made.text
    assert made.json()["notices"] == ["NO_SHOW_LIMIT"]
    assert made.json()["appointments"][0]["status"] == "pending"


# --------------------------------------------------------------------------- sync push


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def test_a_desks_push_frees_slots_and_a_slot_it_re_books_in_the_same_run_is_not_offered(
        client: TestClient, booked: Booked, db: Session, clock: Clock,
        database_url: str) -> None:
    desk = enroll_desk(db, booked.clinic, clock)
    entry = str(uuid.uuid4())
    db.add(models.WaitlistEntry(
        id=entry, organization_id=booked.org_id, clinic_id=booked.clinic.clinic_id,
        patient_id=booked.clinic.patient_ids[7], appointment_type_id=booked.clinic.type_id,
        created_at=clock.now, priority=0, preferred_provider_ids=[], preferred_weekdays=[],
        preferred_times=[], active=True, note="", version=1))
    db.commit()
    refilled, freed = str(uuid.uuid4()), str(uuid.uuid4())
    answer = push(client, desk, [
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0),
                                                          appointment_id=refilled)),
        desk.mutation(intents.APPOINTMENT_CANCEL, {"appointment_id": refilled, "reason": "x"}),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(0), patient=5)),
        desk.mutation(intents.APPOINTMENT_BOOK, book_args(booked, slot(2), patient=1,
                                                          appointment_id=freed)),
        desk.mutation(intents.APPOINTMENT_CANCEL, {"appointment_id": freed, "reason": "x"}),
    ])
    assert answer.status_code == 200, answer.text
    db.rollback()
    states = {row.start_at: row.state for row in db.scalars(select(FreedSlot).where(
        FreedSlot.organization_id == booked.org_id))}
    assert states == {slot(0): "taken", slot(2): "pending"}
    db.rollback()  # SQLite: no write lock held while the offer step runs
    engine = make_engine(database_url)
    try:
        assert offers.run_offers(make_session_factory(engine), clock.now, booked.org_id) == 1
    finally:
        engine.dispose()
    db.rollback()
    made = list(db.scalars(select(WaitlistOffer).where(
        WaitlistOffer.organization_id == booked.org_id)))
    assert [(o.entry_id, o.state) for o in made] == [(entry, "open")]
    (offered,) = db.scalars(select(FreedSlot).where(FreedSlot.id == made[0].slot_id))
    assert offered.start_at == slot(2)


def test_new_working_hours_are_offered_to_the_waitlist(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, db: Session,
        smtp: SmtpSink, clock: Clock) -> None:
    """An administrator extends provider 0's Tuesdays from 17:00 to 19:00: the new two hours
    of each Tuesday within the horizon become freed slots, offered to the entry waiting
    for provider 0 (an e-mail through real SMTP); shortening them again frees nothing."""
    provider = clinic.clinic.provider_ids[0]
    entry = wait(clinic, 1, providers=[provider])
    tuesday = db.scalar(select(models.WeeklySchedule).where(
        models.WeeklySchedule.provider_id == provider, models.WeeklySchedule.weekday == 1))
    assert tuesday is not None and tuesday.end_time.hour == 17
    schedule_id = tuesday.id
    db.rollback()
    headers = sign_in(client, tenants.user(clinic.org_id, clinic.clinic.org_slug,
                                           "administrator"))
    answer = client.patch(f"/api/v1/admin/weekly-schedules/{schedule_id}", headers=headers,
                          json={"end": "19:00:00"})
    assert answer.status_code == 200, answer.text

    new_hours = select(FreedSlot).where(FreedSlot.organization_id == clinic.org_id,
                                        FreedSlot.reason == "new_hours")
    slots = list(db.scalars(new_hours.order_by(FreedSlot.start_at)))
    tuesdays = [START.date() + timedelta(days=n) for n in range(HORIZON_DAYS + 1)
                if (START.date() + timedelta(days=n)).weekday() == 1]
    assert [(s.provider_id, s.start_at, s.end_at) for s in slots] == [
        (provider, clinic.local(day, 17), clinic.local(day, 19)) for day in tuesdays]
    db.rollback()

    drain(clinic, clock)
    made = offer_rows(clinic)
    assert {o.entry_id for o in made} == {entry} and len(made) == len(tuesdays)
    assert any(m.recipients == ("patient1@example.org",) and "A place is free" in
               str(m.message["Subject"]) for m in smtp.messages())

    answer = client.patch(f"/api/v1/admin/weekly-schedules/{schedule_id}", headers=headers,
                          json={"end": "18:00:00"})
    assert answer.status_code == 200, answer.text
    assert len(list(db.scalars(new_hours))) == len(tuesdays)
    db.rollback()



def test_time_off_removed_is_offered_to_the_waitlist(
        clinic: NotifyClinic, client: TestClient, tenants: Tenants, db: Session) -> None:
    provider = clinic.clinic.provider_ids[0]
    day = START.date() + timedelta(days=8)  # a Tuesday within the horizon
    headers = sign_in(client, tenants.user(clinic.org_id, clinic.clinic.org_slug,
                                           "administrator"))
    answer = client.post("/api/v1/admin/schedule-exceptions", headers=headers, json={
        "provider_id": provider, "clinic_id": clinic.clinic.clinic_id, "kind": "time_off",
        "start": clinic.local(day, 10).isoformat(), "end": clinic.local(day, 12).isoformat(),
        "reason": "dentist"})
    assert answer.status_code == 201, answer.text
    new_hours = select(FreedSlot).where(FreedSlot.organization_id == clinic.org_id,
                                        FreedSlot.reason == "new_hours")
    assert list(db.scalars(new_hours)) == []  # less time: nothing to offer
    db.rollback()
    answer = client.delete(f"/api/v1/admin/schedule-exceptions/{answer.json()['id']}",
                           headers=headers)
    assert answer.status_code == 204, answer.text
    assert [(s.provider_id, s.start_at, s.end_at) for s in db.scalars(new_hours)] == [
        (provider, clinic.local(day, 10), clinic.local(day, 12))]
    db.rollback()
