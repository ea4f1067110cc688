"""The notification policy and the live calendar feeds, kept between requests by the
configuration counter (issue 11 item 6; migration 0024 counts ``notification_settings``
and ``calendar_feeds`` writes, a feed's version excepted). PostgreSQL and SQLite.

A second booking reads neither table; an administrator's change through the API (the
settings, a feed created or revoked) is used by the very next booking, which only the
triggers can tell it; a transaction that changed them itself reads the tables; the
migration goes up and down.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sync_server.db import models as db_models
from sync_server.db.migrate import alembic_config, upgrade
from sync_server.db.session import make_engine, make_session_factory
from sync_server.feeds.models import CalendarFeed
from sync_server.feeds.versions import _live_feeds, bump_feeds
from sync_server.notifications.models import Notification
from sync_server.notifications.policy import kept_policy
from sync_server.notifications.service import settings_row
from sync_server.services.unit_of_work import unit_of
from tests.e2e.server_side import seed_clinic
from tests.sync_server.booking_setup import Booked, seed_booked, slot, statements
from tests.sync_server.conftest import Settings, Tenants, make_settings
from tests.sync_server.feeds_setup import create_feed

API = "/api/v1"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BEFORE = "0023_ids_per_organization"


@pytest.fixture
def booked(client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> Booked:
    return seed_booked(client, db, settings, tenants)


def _book(client: TestClient, booked: Booked, index: int, patient: int) -> str:
    answer = client.post(f"{API}/appointments", headers=booked.reception,
                         json=booked.book_body(slot(index), patient=patient))
    assert answer.status_code == 201, answer.text
    appointment_id: str = answer.json()["appointments"][0]["id"]
    return appointment_id


def _read(db: Session, statement: Any) -> list[Any]:
    """``statement``'s values in a transaction of their own (SQLite's transactions take
    the write lock: an open one would hold the server's requests off)."""
    db.rollback()
    try:
        return list(db.scalars(statement))
    finally:
        db.rollback()


def _feed_version(db: Session, feed_id: str) -> int:
    return int(_read(db, select(CalendarFeed.version).where(CalendarFeed.id == feed_id))[0])


def _counter(db: Session, org: str) -> int:
    found = _read(db, select(db_models.ConfigVersion.version).where(
        db_models.ConfigVersion.organization_id == org))
    return int(found[0]) if found else 0


def _reminders(db: Session, appointment_id: str) -> list[int]:
    return sorted(_read(db, select(Notification.offset_minutes).where(
        Notification.appointment_id == appointment_id, Notification.kind == "reminder")))


def _notify_on(client: TestClient, booked: Booked, offsets: list[int]) -> None:
    answer = client.put(f"{API}/notifications/settings", headers=booked.admin,
                        json={"email": {"enabled": True}, "reminder_offsets_minutes": offsets})
    assert answer.status_code == 200, answer.text


def test_a_second_booking_reads_neither_the_settings_nor_the_feeds(
    client: TestClient, booked: Booked, db: Session
) -> None:
    """Both are kept (a channel is on, a feed is live: both are used), and the feed's
    version the booking moves does not move the counter they are kept by."""
    _notify_on(client, booked, [60])
    feed = create_feed(client, booked.admin, booked.clinic.provider_ids[0])["feed"]
    _book(client, booked, 0, 0)  # keeps them
    counter = _counter(db, booked.org_id)
    with statements(client) as seen:
        second = _book(client, booked, 1, 1)
    read = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    for table in ("notification_settings", "calendar_feeds"):
        assert not any(f"FROM {table}" in s for s in read), table
    assert _feed_version(db, feed["id"]) == 3  # created at 1, moved by both bookings
    assert _counter(db, booked.org_id) == counter
    assert _reminders(db, second) == [60]


def test_the_next_booking_follows_the_settings_an_administrator_changed(
    client: TestClient, booked: Booked, db: Session
) -> None:
    _book(client, booked, 0, 0)  # keeps the defaults: no channel, nothing queued
    _notify_on(client, booked, [45, 15])
    booked_next = _book(client, booked, 1, 1)
    assert _reminders(db, booked_next) == [15, 45]


def test_the_next_booking_moves_a_new_feed_and_leaves_a_revoked_one(
    client: TestClient, booked: Booked, db: Session
) -> None:
    provider = booked.clinic.provider_ids[0]
    _book(client, booked, 0, 0)  # keeps "no live feed"
    feed = create_feed(client, booked.admin, provider)["feed"]
    _book(client, booked, 1, 1)
    assert _feed_version(db, feed["id"]) == 2
    revoked = client.post(f"{API}/feeds/{feed['id']}/revoke", headers=booked.admin)
    assert revoked.status_code == 200, revoked.text
    _book(client, booked, 2, 2)
    assert _feed_version(db, feed["id"]) == 3  # the revocation's move only


def test_a_transaction_that_changes_them_reads_its_own_change(
    booked: Booked, database_url: str
) -> None:
    org, provider = booked.org_id, booked.clinic.provider_ids[0]
    engine = make_engine(database_url)
    session = make_session_factory(engine)()
    try:
        session.connection()  # in a transaction, as a request is
        assert kept_policy(session, org).reminder_offsets == (1440, 120)
        assert _live_feeds(session, org) == ()
        bump_feeds(session, ["no-such-feed"])  # as bookings do: not a change of the feeds
        assert not unit_of(session).config_written
        settings_row(session, org, AT).reminder_offsets = [30]  # not flushed yet
        feed = CalendarFeed(id="kept-feed", organization_id=org, resource_id=provider,
                            token_hash="0" * 64, privacy="busy", created_at=AT,
                            changed_at=AT, version=1)
        session.add(feed)
        assert kept_policy(session, org).reminder_offsets == (30,)
        assert _live_feeds(session, org) == (("kept-feed", provider, "busy"),)
        session.flush()
        assert kept_policy(session, org).reminder_offsets == (30,)
        session.rollback()  # never happened: the kept values hold again
        session.connection()
        assert kept_policy(session, org).reminder_offsets == (1440, 120)
        assert _live_feeds(session, org) == ()
    finally:
        session.close()
        engine.dispose()


def test_the_tables_counted_are_the_tables_kept() -> None:
    migration = importlib.import_module(
        "sync_server.db.migrations.versions.0024_kept_settings_versions")
    assert set(migration.KEPT_TABLES) == set(db_models.KEPT_SETTINGS_TABLES)
    assert not set(db_models.KEPT_SETTINGS_TABLES) & {
        t.__tablename__ for t in db_models.CONFIGURATION_TABLES}


def _writes_counted(url: str, org: str, provider: str) -> list[int]:
    """How much each write moves the counter: settings inserted, updated; a feed inserted,
    its version moved (as a booking does), revoked, deleted."""
    engine = make_engine(url)
    moved: list[int] = []
    try:
        with make_session_factory(engine)() as session:
            def count(write: Any) -> None:
                before = _counter(session, org)
                write()
                session.commit()
                moved.append(_counter(session, org) - before)

            feed_id = f"feed-{len(_read(session, select(CalendarFeed.id)))}"
            count(lambda: settings_row(session, org, AT))
            count(lambda: setattr(settings_row(session, org, AT), "clinic_phone", "+34 1"))
            count(lambda: session.add(CalendarFeed(
                id=feed_id, organization_id=org, resource_id=provider,
                token_hash=feed_id.ljust(64, "0"), privacy="busy", created_at=AT,
                changed_at=AT, version=1)))
            count(lambda: bump_feeds(session, [feed_id]))
            count(lambda: session.execute(update(CalendarFeed).where(
                CalendarFeed.id == feed_id).values(revoked_at=AT)))
            count(lambda: session.delete(session.get(CalendarFeed, feed_id)))
            count(lambda: session.delete(settings_row(session, org, AT)))
    finally:
        engine.dispose()
    return moved


def test_the_migration_counts_the_writes_and_goes_down_and_up(
    unmigrated_url: str, tmp_path: Path
) -> None:
    upgrade(unmigrated_url)
    engine = make_engine(unmigrated_url)
    with Session(engine) as session:
        clinic = seed_clinic(session, make_settings(unmigrated_url, tmp_path))
        session.commit()
    engine.dispose()
    org, provider = clinic.org_id, clinic.provider_ids[0]

    assert _writes_counted(unmigrated_url, org, provider) == [1, 1, 1, 0, 1, 1, 1]
    command.downgrade(alembic_config(unmigrated_url), BEFORE)
    assert _writes_counted(unmigrated_url, org, provider) == [0] * 7
    upgrade(unmigrated_url)
    assert _writes_counted(unmigrated_url, org, provider) == [1, 1, 1, 0, 1, 1, 1]
