"""How many SQL statements one REST booking runs (PostgreSQL and SQLite).

A ``before_cursor_execute`` listener counts what an in-process
``POST /api/v1/appointments`` sends to the database: a free booking and a refusal
(the slot just taken). The counts are pinned as ceilings so that a change that adds a
round trip to the booking path fails here (issue 11 item 6).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from scheduling import model
from sync_server.db import models as db_models
from sync_server.db.session import make_engine, make_session_factory
from sync_server.services.calendar import clinic_zone, kept_config, rows
from sync_server.services.calendar import state as state_module
from tests.e2e.server_side import TZ
from tests.sync_server.booking_setup import Booked, seed_booked, slot, statements
from tests.sync_server.conftest import Settings, Tenants

API = "/api/v1"

#: The most statements a booking may run, per backend: (free slot, refusal).
CEILINGS = {"postgresql": (11, 10), "sqlite": (16, 12)}


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def test_a_booking_and_a_refusal_stay_within_their_statement_counts(
    client: TestClient, booked: Booked, backend: str
) -> None:
    def book(index: int, patient: int) -> int:
        body = booked.book_body(slot(index), patient=patient)
        return client.post(f"{API}/appointments", headers=booked.reception, json=body).status_code

    assert book(0, 0) == 201  # the first request keeps the configuration
    with statements(client) as free:
        assert book(1, 1) == 201
    with statements(client) as refused:
        assert book(1, 2) == 409  # the slot just taken
    most_free, most_refused = CEILINGS[backend]
    # the configuration counter comes with the caller's principal (one statement)
    assert not [s for s in free if "FROM config_versions" in s and "users" not in s], free
    assert len(free) <= most_free, free
    assert len(refused) <= most_refused, refused


def test_the_dated_records_read_in_one_statement_are_those_of_each_table(
    booked: Booked, db: Session
) -> None:
    """The one ``UNION ALL`` of time off, holidays, blockouts and outages gives the rows
    and the records the four tables give one by one (outside the window: left out)."""
    org, clinic = booked.org_id, booked.clinic.clinic_id
    provider, room = booked.clinic.provider_ids[0], booked.clinic.room_ids[0]
    day = slot(0).date()
    inside, outside = slot(2), slot(2) + timedelta(days=30)
    for at, tag in ((inside, "in"), (outside, "out")):
        until = at + timedelta(hours=1)
        span = {"organization_id": org, "start_at": at, "end_at": until}
        placed = {"clinic_id": clinic, **span}
        db.add_all([
            db_models.ScheduleException(id=f"e-{tag}", provider_id=provider, kind="time_off",
                                        reason="r", **placed),
            db_models.Holiday(id=f"h-{tag}", organization_id=org, clinic_id=clinic,
                              day=at.date(), name="n"),
            db_models.Blockout(id=f"b-{tag}", resource_id=None, reason="b", **placed),
            db_models.Blockout(id=f"br-{tag}", resource_id=room, reason="", **placed),
            db_models.Outage(id=f"o-{tag}", resource_id=room, reason="o", **span),
        ])
    db.commit()
    start, end = slot(0) - timedelta(days=1), slot(0) + timedelta(days=1)
    dated = state_module._dated(
        db,
        org,
        clinic,
        [provider, room],
        day - timedelta(days=1),
        day + timedelta(days=1),
        start,
        end,
    )
    one_by_one = {
        "exceptions": [
            rows.exception_record(r)
            for r in db.scalars(
                select(db_models.ScheduleException).where(
                    db_models.ScheduleException.start_at < end,
                    db_models.ScheduleException.end_at > start,
                )
            )
        ],
        "holidays": [
            model.Holiday(r.id, r.clinic_id, r.day, r.name)
            for r in db.scalars(
                select(db_models.Holiday).where(db_models.Holiday.day == inside.date())
            )
        ],
        "blockouts": [
            rows.blockout_record(r)
            for r in db.scalars(select(db_models.Blockout).where(db_models.Blockout.start_at < end))
        ],
        "outages": [
            rows.outage_record(r)
            for r in db.scalars(select(db_models.Outage).where(db_models.Outage.start_at < end))
        ],
    }
    assert {kind: sorted(found, key=repr) for kind, found in dated.items()} == {
        kind: sorted(found, key=repr) for kind, found in one_by_one.items()
    }
    assert [len(found) for found in dated.values()] == [1, 1, 2, 1]
    assert dated["holidays"][0].day == inside.date()
    assert dated["exceptions"][0].start.tzinfo is not None


def test_the_clinic_zone_comes_from_the_kept_configuration_while_it_holds(
    booked: Booked, database_url: str
) -> None:
    """No statement for a zone the kept configuration holds at the transaction's counter;
    a clinic changed in the transaction, or at a newer counter, is read again."""
    org, clinic = booked.org_id, booked.clinic.clinic_id
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = make_engine(database_url)
    db = make_session_factory(engine)()  # a request's session: it wrote no configuration
    db.connection()  # in a transaction, as a request is: it notes the counter it read
    kept_config(db, org, clinic, ())
    event.listen(engine, "before_cursor_execute", note)
    try:
        assert clinic_zone(db, org, clinic) == TZ
        assert seen == []
        assert clinic_zone(db, "another-organization", clinic) is None
        row = db.get(db_models.Clinic, clinic)
        assert row is not None
        row.time_zone = "Europe/Lisbon"  # not flushed: the kept copy must not answer
        assert clinic_zone(db, org, clinic) == "Europe/Lisbon"
    finally:
        event.remove(engine, "before_cursor_execute", note)
    db.commit()  # the triggers move the configuration counter
    db.connection()
    kept_config(db, org, clinic, ())
    db.expire_all()
    assert clinic_zone(db, org, clinic) == "Europe/Lisbon"
    db.close()
    engine.dispose()
