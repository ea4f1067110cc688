"""Booking locks by day, and the configuration kept between booking requests.

* A single booking locks its resources for the UTC days its block covers (and each
  resource as a whole in shared mode): bookings of other days go ahead while one is
  judged, bookings of the same day wait, a whole-resource lock (a series, a sync push
  run) excludes every day, a provider at clinics in two zones is one resource, and a
  clinic with quotas serializes its weeks (PostgreSQL: SQLite serializes every write).
  A booking transaction is paused right after it took its locks (an engine event),
  and a second one runs with a short ``lock_timeout``: waiting is an error, not a
  sleep.
* The configuration counter (``config_versions``, migration 0004) moves with every
  write to a configuration table, whatever the path, and never with a booking; a
  booking after a configuration change — through the API or plain SQL — is judged on
  the new configuration (both backends).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from scheduling import intents
from scheduling.commands import BookAppointment
from sync_server.db import models as db_models
from sync_server.db.session import lock_resources, make_engine, make_session_factory
from sync_server.services import booking
from sync_server.services.booking import BookingResult
from sync_server.services.calendar import config_version
from tests.sync_server.booking_setup import FIRST_DAY, Booked, seed_booked, slot, staff_caller
from tests.sync_server.conftest import Clock, Settings, Tenants

API = "/api/v1"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


# --------------------------------------------------------------------------- helpers


class Desk:
    """Books through :func:`booking.book` in its own session, as the API does."""

    def __init__(self, database_url: str, booked: Booked, clock: Clock) -> None:
        self.engine = make_engine(database_url)
        self.sessions = make_session_factory(self.engine)
        self.booked, self.clock = booked, clock
        self.caller = staff_caller(self.sessions, booked)

    def command(self, start: datetime, **extra: Any) -> BookAppointment:
        body = {**self.booked.book_body(start, **extra), "appointment_id": str(uuid.uuid4())}
        decoded = intents.decode(intents.APPOINTMENT_BOOK, body, self.caller.actor)
        assert isinstance(decoded.request, BookAppointment)
        return decoded.request

    def book(self, session: Session, start: datetime, **extra: Any) -> BookingResult:
        return booking.book(session, self.caller, self.command(start, **extra), self.clock())

    def book_within(self, timeout_ms: int, start: datetime, **extra: Any) -> BookingResult:
        """Book and commit, failing with ``OperationalError`` when a lock is not
        granted within ``timeout_ms``."""
        with self.sessions() as session:
            session.execute(text(f"SET LOCAL lock_timeout = '{timeout_ms}ms'"))
            result = self.book(session, start, **extra)
            session.commit()
            return result


@contextmanager
def holding_locks(desk: Desk, work: Callable[[Session], object]) -> Iterator[None]:
    """Run ``work`` in a thread and pause its transaction right after it took its
    advisory locks; resume it (and let it commit) when the block ends."""
    engine: Engine = desk.engine
    locked, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def pause(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "advisory_xact_lock" in statement and threading.current_thread() is worker:
            locked.set()
            release.wait(30)

    def run() -> None:
        try:
            with desk.sessions() as session:
                work(session)
                session.commit()
        except Exception as error:  # noqa: BLE001 — reported to the test below
            failure.append(error)
            locked.set()

    event.listen(engine, "after_cursor_execute", pause)
    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert locked.wait(30), "the first transaction never took its locks"
        assert not failure, failure
        yield
    finally:
        release.set()
        worker.join(30)
        event.remove(engine, "after_cursor_execute", pause)
    assert not failure, failure


@pytest.fixture
def desk(database_url: str, booked: Booked, clock: Clock) -> Iterator[Desk]:
    made = Desk(database_url, booked, clock)
    yield made
    made.engine.dispose()


def waits_for_a_lock(attempt: Callable[[], object]) -> bool:
    try:
        attempt()
    except OperationalError as error:
        assert "lock timeout" in str(error.orig).lower(), error
        return True
    return False


# --------------------------------------------------------------------------- locks by day


@pytest.mark.only_backend("postgresql")
def test_a_booking_of_another_day_goes_ahead_one_of_the_same_day_waits(desk: Desk) -> None:
    monday, tuesday = slot(0), slot(0, FIRST_DAY + timedelta(days=1))
    with holding_locks(desk, lambda session: desk.book(session, monday)):
        other_day = desk.book_within(10_000, tuesday, patient=1)
        assert other_day.refused is None
        assert waits_for_a_lock(lambda: desk.book_within(300, slot(3), patient=2))


@pytest.mark.only_backend("postgresql")
def test_a_whole_resource_lock_excludes_bookings_of_every_day(
    desk: Desk, booked: Booked
) -> None:
    """A series and a sync push run lock their resources whole (exclusive)."""
    provider = booked.clinic.provider_ids[0]
    far = slot(0, FIRST_DAY + timedelta(days=21))
    with holding_locks(desk, lambda session: lock_resources(session, [provider])):
        assert waits_for_a_lock(lambda: desk.book_within(300, far, patient=3))
        # the other provider (and a room: the type picks one) is not held
        assert desk.book_within(10_000, far, provider=1, patient=4).refused is None


@pytest.mark.only_backend("postgresql")
def test_a_request_spanning_many_days_locks_its_resources_whole(desk: Desk) -> None:
    """Not a lock per day of a years-long span (the rules refuse it after locking)."""
    monday = slot(0)
    years = (monday + timedelta(days=3650)).isoformat()
    with holding_locks(desk, lambda session: desk.book(session, monday, end=years)):
        later = slot(0, FIRST_DAY + timedelta(days=30))
        assert waits_for_a_lock(lambda: desk.book_within(300, later, patient=7))


@pytest.mark.only_backend("postgresql")
def test_a_provider_at_clinics_in_two_zones_is_locked_by_utc_day(
    client: TestClient, desk: Desk, booked: Booked
) -> None:
    """23:30 UTC is the next day in Madrid and the same day in New York: one UTC day."""
    provider, room = booked.clinic.provider_ids[0], booked.clinic.room_ids[0]
    annex = client.post(f"{API}/admin/clinics", headers=booked.admin, json={
        "name": "Annex", "time_zone": "America/New_York", "locale": "en_US"})
    assert annex.status_code in (200, 201), annex.text
    for resource in (provider, room):
        moved = client.patch(f"{API}/admin/resources/{resource}", headers=booked.admin,
                             json={"clinic_ids": [booked.clinic.clinic_id, annex.json()["id"]]})
        assert moved.status_code == 200, moved.text
    late = datetime.combine(FIRST_DAY, datetime.min.time(), UTC) + timedelta(hours=23, minutes=30)

    def at_annex(session: Session) -> None:
        desk.book(session, late, clinic_id=annex.json()["id"], room_id=room)

    with holding_locks(desk, at_annex):
        assert waits_for_a_lock(lambda: desk.book_within(300, late, patient=5))


@pytest.mark.only_backend("postgresql")
def test_a_clinic_with_a_provider_quota_serializes_its_weeks(
    client: TestClient, desk: Desk, booked: Booked
) -> None:
    """A weekly quota counts a provider's bookings on other days too."""
    quota = client.post(f"{API}/admin/quotas", headers=booked.admin, json={
        "clinic_id": booked.clinic.clinic_id, "period": "week", "max_count": 1,
        "provider_id": booked.clinic.provider_ids[0]})
    assert quota.status_code in (200, 201), quota.text
    monday, thursday = slot(0), slot(0, FIRST_DAY + timedelta(days=3))
    with holding_locks(desk, lambda session: desk.book(session, monday)):
        assert waits_for_a_lock(lambda: desk.book_within(300, thursday, patient=6))
    refused = desk.book_within(10_000, thursday, patient=6)
    assert refused.refused is not None and refused.refused.code.value == "QUOTA_REACHED"


# --------------------------------------------------------------------------- configuration


def test_configuration_writes_move_the_configuration_counter_and_bookings_do_not(
    client: TestClient, booked: Booked, db: Session
) -> None:
    def counter() -> int:
        db.rollback()  # see the latest commits …
        try:
            return config_version(db, booked.org_id)
        finally:
            db.rollback()  # … and hold no SQLite write lock

    before = counter()
    assert before > 0  # seeding the clinic wrote configuration
    booked_one = client.post(f"{API}/appointments", headers=booked.reception,
                             json=booked.book_body(slot(0)))
    assert booked_one.status_code == 201, booked_one.text
    assert counter() == before

    renamed = client.patch(f"{API}/admin/resources/{booked.clinic.room_ids[0]}",
                           headers=booked.admin, json={"name": "Room A"})
    assert renamed.status_code == 200, renamed.text
    after_api = counter()
    assert after_api > before

    db.execute(text("UPDATE appointment_types SET color = '#123456' WHERE id = :id"),
               {"id": booked.clinic.type_id})  # plain SQL: the trigger still counts it
    db.commit()
    assert counter() == after_api + 1


def test_a_booking_is_judged_on_configuration_changed_since_the_last_booking(
    client: TestClient, booked: Booked, db: Session
) -> None:
    """Bookings keep the clinic's configuration between requests; a change made through
    the API or by another program writing the tables is seen by the next booking."""
    provider = booked.clinic.provider_ids[0]
    early = slot(-2)  # 08:00, before the provider's hours

    def attempt(start: datetime, patient: int) -> int:
        answer = client.post(f"{API}/appointments", headers=booked.reception,
                             json=booked.book_body(start, patient=patient))
        return answer.status_code

    assert attempt(early, 1) == 409
    assert attempt(early, 1) == 409  # the configuration kept from the first attempt
    schedules = client.get(f"{API}/admin/weekly-schedules", headers=booked.admin).json()
    monday = next(s for s in schedules
                  if s["provider_id"] == provider and s["weekday"] == FIRST_DAY.weekday())
    sooner = client.patch(f"{API}/admin/weekly-schedules/{monday['id']}",
                          headers=booked.admin, json={"start": "08:00"})
    assert sooner.status_code == 200, sooner.text
    assert attempt(early, 1) == 201

    earliest = slot(-4)  # 07:00
    assert attempt(earliest, 2) == 409
    db.execute(update(db_models.WeeklySchedule).where(db_models.WeeklySchedule.id == monday["id"])
               .values(start_time=time(7, 0)))  # another process, not the API's services
    db.commit()
    assert attempt(earliest, 2) == 201


def test_a_second_booking_reads_no_configuration_table(
    client: TestClient, booked: Booked, database_url: str
) -> None:
    """The kept configuration is really used: only its counter is read again."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = client.app.state.context.engine  # type: ignore[attr-defined]
    first = client.post(f"{API}/appointments", headers=booked.reception,
                        json=booked.book_body(slot(0)))
    assert first.status_code == 201, first.text
    event.listen(engine, "before_cursor_execute", note)
    try:
        second = client.post(f"{API}/appointments", headers=booked.reception,
                             json=booked.book_body(slot(1), patient=1))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert second.status_code == 201, second.text
    assert any("config_versions" in s for s in seen)
    read = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    for table in ("weekly_schedules", "appointment_types", "resource_clinics", "quotas"):
        assert not any(f"FROM {table}" in s for s in read), table


def test_the_tables_counted_are_the_tables_the_configuration_is_read_from() -> None:
    """The triggers (migration 0004) and the in-process guard name the same tables."""
    import importlib

    from sync_server.services.calendar import queries

    migration = importlib.import_module("sync_server.db.migrations.versions.0004_config_versions")
    guarded = {table.__tablename__ for table in db_models.CONFIGURATION_TABLES}
    assert guarded == set(migration.CONFIG_TABLES)
    read = {statement.get_final_froms()[0].name for statement in (
        queries.CLINICS, queries.QUOTAS, queries.CLINIC_RESOURCES, queries.RESOURCES,
        queries.ASSIGNMENTS, queries.TYPES, queries.SCHEDULES)}
    assert read == guarded
