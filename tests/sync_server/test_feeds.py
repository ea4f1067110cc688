"""Calendar feeds over HTTP: tokens, privacy, caching, cross-organization, lifecycle."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db import models as db
from sync_server.feeds.models import CalendarFeed, CalendarFeedFetch
from sync_server.feeds.service import hash_token
from sync_server.feeds.serving import FeedServer
from sync_server.feeds.versions import note_appointment_change
from tests.sync_server.booking_setup import enroll_desk
from tests.sync_server.conftest import START, Clock, Tenants
from tests.sync_server.feeds_setup import Calendar, book, create_feed, empty_calendar, move

MONDAY = (START + timedelta(days=7)).date()  # a working Monday a week ahead


def path_of(feed: dict[str, Any]) -> str:
    url: str = feed["url"]
    return url.removeprefix("http://testserver")


def unfolded(body: bytes) -> str:
    return body.replace(b"\r\n ", b"").decode()


def events(body: bytes) -> list[Any]:
    return list(icalendar.Calendar.from_ical(body).walk("VEVENT"))


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL the app runs inside the block."""
    seen: list[str] = []
    engine = app.state.context.engine

    def keep(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def rename_patient(db_session: Session, cal: Calendar, index: int, given: str,
                   family: str) -> None:
    db_session.execute(update(db.Patient).where(db.Patient.id == cal.clinic.patient_ids[index])
                       .values(given_name=given, family_name=family))
    db_session.commit()


# --------------------------------------------------------------------------- tokens


def test_a_token_has_256_random_bits_is_shown_once_and_stored_hashed(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    tokens = [create_feed(client, cal.admin, cal.provider_id, label=f"device {n}")["token"]
              for n in range(20)]

    assert len(set(tokens)) == 20
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 bytes, base64url
    # The tokens' characters look uniform (≥ 5.5 of 6 bits each over 860 characters).
    counts = Counter("".join(tokens))
    total = sum(counts.values())
    entropy = -sum(c / total * math.log2(c / total) for c in counts.values())
    assert entropy > 5.5
    stored = db.scalars(select(CalendarFeed.token_hash).where(
        CalendarFeed.organization_id == cal.clinic.org_id)).all()
    db.rollback()
    assert sorted(stored) == sorted(hash_token(t) for t in tokens)
    assert not set(tokens) & set(stored)
    listed = client.get("/api/v1/feeds", headers=cal.admin).json()["feeds"]
    assert len(listed) == 20
    assert not any(token in str(listed) for token in tokens)


def test_unknown_revoked_expired_and_other_org_tokens_answer_a_bare_404(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants,
        clock: Clock) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    other = empty_calendar(client, db, settings, tenants)
    mine = create_feed(client, cal.admin, cal.provider_id)
    revoked = create_feed(client, cal.admin, cal.provider_id)
    expiring = create_feed(client, cal.admin, cal.provider_id,
                           expires_at=(clock() + timedelta(days=1)).isoformat())
    theirs = create_feed(client, other.admin, other.provider_id)
    assert client.post(f"/api/v1/feeds/{revoked['feed']['id']}/revoke",
                       headers=cal.admin).status_code == 200
    # Another organization's admin can neither revoke nor see this feed.
    assert client.post(f"/api/v1/feeds/{mine['feed']['id']}/revoke",
                       headers=other.admin).status_code == 404
    assert client.get(path_of(mine)).status_code == 200
    assert client.get(path_of(expiring)).status_code == 200
    clock.advance(timedelta(days=1))

    answers = [client.get(path) for path in (
        path_of(revoked), path_of(expiring), "/feeds/not-a-token.ics",
        path_of(mine).replace(mine["token"], mine["token"][:-1] + "x"))]
    assert [a.status_code for a in answers] == [404] * 4
    assert len({a.content for a in answers}) == 1  # the same bare answer, whatever the cause
    assert all(a.content == b"Not found\n" for a in answers)
    assert client.get(path_of(theirs)).status_code == 200  # the other org's feed is fine
    assert client.head(path_of(revoked)).status_code == 404


def test_every_fetch_is_audited_without_the_token(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    feed = create_feed(client, cal.admin, cal.provider_id)
    first = client.get(path_of(feed))
    client.get(path_of(feed), headers={"If-None-Match": first.headers["ETag"]})
    client.head(path_of(feed))
    client.post(f"/api/v1/feeds/{feed['feed']['id']}/revoke", headers=cal.admin)
    client.get(path_of(feed))

    fetch = CalendarFeedFetch
    rows = db.execute(select(fetch.method, fetch.status, fetch.client_address, fetch.at,
                             fetch.feed_id, fetch.organization_id)
                      .where(fetch.feed_id == feed["feed"]["id"]).order_by(fetch.id)).all()
    db.rollback()
    assert [(r.method, r.status) for r in rows] == [("GET", 200), ("GET", 304), ("HEAD", 200),
                                                    ("GET", 404)]
    assert all(r.client_address == "testclient" and r.at is not None for r in rows)
    assert all(feed["token"] not in str(tuple(r)) for r in rows)
    listed = client.get("/api/v1/feeds", headers=cal.admin).json()["feeds"][0]
    assert listed["fetches"] == 4 and listed["revoked_at"] is not None


def test_only_an_administrator_manages_feeds(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    refused = client.post("/api/v1/feeds", headers=cal.reception,
                          json={"resource_id": cal.provider_id})
    assert refused.status_code == 403
    assert client.post("/api/v1/feeds", json={"resource_id": cal.provider_id}).status_code == 401


# --------------------------------------------------------------------------- privacy


def test_a_busy_feed_carries_no_name_initials_note_or_reason(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    rename_patient(db, cal, 0, "José, María", "Núñez; Ôrtega")
    book(client, cal, cal.local(MONDAY, 9), notes="Knee; left, sore",
         patient_notes="Prefers mornings")
    cancelled = book(client, cal, cal.local(MONDAY, 10))
    client.post(f"/api/v1/appointments/{cancelled}/cancel", headers=cal.reception,
                json={"reason": "Moved abroad"})
    busy = client.get(path_of(create_feed(client, cal.admin, cal.provider_id)))
    initials = client.get(path_of(create_feed(client, cal.admin, cal.provider_id,
                                              privacy="initials")))

    text = unfolded(busy.content)
    for secret in ("José", "María", "Núñez", "Ôrtega", "J. M. N. Ô.", "J. M.", "Knee",
                   "Prefers", "Moved abroad", "Given", "Family"):
        assert secret not in text
    assert [str(e["SUMMARY"]) for e in events(busy.content)] == ["Busy", "Cancelled: Busy"]
    assert {str(e["CLASS"]) for e in events(busy.content)} == {"PRIVATE"}
    summaries = sorted(str(e["SUMMARY"]) for e in events(initials.content))
    assert summaries[1] == "Check-up (J. M. N. Ô.)"
    assert "Knee" not in unfolded(initials.content)
    assert "José" not in unfolded(initials.content)


def test_full_feeds_need_the_organizations_permission(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    rename_patient(db, cal, 0, "José, María", "Núñez; Ôrtega")
    book(client, cal, cal.local(MONDAY, 9), notes="Knee; left, sore")
    refused = client.post("/api/v1/feeds", headers=cal.admin,
                          json={"resource_id": cal.provider_id, "privacy": "full"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "full_not_allowed"

    policy = client.get("/api/v1/feeds/policy", headers=cal.admin).json()
    assert client.put("/api/v1/feeds/policy", headers=cal.admin,
                      json={**policy, "allow_full": True}).status_code == 200
    full = create_feed(client, cal.admin, cal.provider_id, privacy="full")
    (vevent,) = events(client.get(path_of(full)).content)
    assert str(vevent["SUMMARY"]) == "Check-up: José, María Núñez; Ôrtega"
    assert str(vevent["DESCRIPTION"]) == "Knee; left, sore"
    assert "SUMMARY:Check-up: José\\, María Núñez\\; Ôrtega" in unfolded(
        client.get(path_of(full)).content)

    # Withdrawing the permission turns existing full feeds into initials feeds at once.
    client.put("/api/v1/feeds/policy", headers=cal.admin, json={**policy, "allow_full": False})
    (vevent,) = events(client.get(path_of(full)).content)
    assert str(vevent["SUMMARY"]) == "Check-up (J. M. N. Ô.)"
    assert "DESCRIPTION" not in vevent


# --------------------------------------------------------------------------- caching


def test_an_unchanged_feed_answers_304_without_reading_appointments(
        client: TestClient, app: FastAPI, db: Session, settings: Settings,
        tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    book(client, cal, cal.local(MONDAY, 9))
    feed = create_feed(client, cal.admin, cal.provider_id)
    first = client.get(path_of(feed))
    etag = first.headers["ETag"]
    assert etag.startswith('"') and "Last-Modified" in first.headers

    with statements(app) as seen:
        again = client.get(path_of(feed), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag
    assert seen and not any("appointments" in s for s in seen)
    # One read (the feed's columns by its token's hash) and the fetch's audit row.
    assert [s.split()[0] for s in seen if s.split()[0] in ("SELECT", "INSERT")] == [
        "SELECT", "INSERT"]

    # Never compressed (Outlook mishandles compressed feeds), whatever the client offers.
    offered = client.get(path_of(feed), headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in offered.headers and offered.content == first.content

    head = client.head(path_of(feed))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(first.content))
    assert head.headers["ETag"] == etag

    book(client, cal, cal.local(MONDAY, 10))  # a change of this provider moves the ETag
    changed = client.get(path_of(feed), headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert len(events(changed.content)) == 2


def test_a_change_elsewhere_keeps_the_etag_and_one_change_rerenders_one_event(
        client: TestClient, app: FastAPI, db: Session, settings: Settings,
        tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    ids = [book(client, cal, cal.local(MONDAY + timedelta(days=d), 9)) for d in range(4)]
    feed = create_feed(client, cal.admin, cal.provider_id)
    etag = client.get(path_of(feed)).headers["ETag"]
    book(client, cal, cal.local(MONDAY, 12), provider=1, patient=3)  # the other provider
    assert client.get(path_of(feed), headers={"If-None-Match": etag}).status_code == 304

    rendered = app.state.feed_server.rendered
    move(client, cal, ids[2], cal.local(MONDAY + timedelta(days=2), 11))
    assert client.get(path_of(feed)).status_code == 200
    assert app.state.feed_server.rendered == rendered + 1


def test_moving_to_another_provider_moves_both_feeds_and_keeps_the_uid(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    appointment = book(client, cal, cal.local(MONDAY, 9))
    first = create_feed(client, cal.admin, cal.clinic.provider_ids[0])
    second = create_feed(client, cal.admin, cal.clinic.provider_ids[1])
    before = [client.get(path_of(f)) for f in (first, second)]
    (original,) = events(before[0].content)
    assert events(before[1].content) == []

    move(client, cal, appointment, cal.local(MONDAY, 11),
         provider_id=cal.clinic.provider_ids[1])
    after = [client.get(path_of(f), headers={"If-None-Match": b.headers["ETag"]})
             for f, b in zip((first, second), before, strict=True)]
    assert [a.status_code for a in after] == [200, 200]
    assert events(after[0].content) == []
    (moved,) = events(after[1].content)
    assert str(moved["UID"]) == str(original["UID"]) == f"{appointment}@clinicdesk"
    assert moved["SEQUENCE"] > original["SEQUENCE"]
    assert moved["DTSTART"].dt == cal.local(MONDAY, 11)


def test_sequence_rises_on_every_time_and_status_change(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    appointment = book(client, cal, cal.local(MONDAY, 9))
    feed = create_feed(client, cal.admin, cal.provider_id)

    def current() -> Any:
        (vevent,) = events(client.get(path_of(feed)).content)
        return vevent

    seen = [current()]
    move(client, cal, appointment, cal.local(MONDAY, 10))
    seen.append(current())
    assert client.post(f"/api/v1/appointments/{appointment}/status", headers=cal.reception,
                       json={"status": "confirmed"}).status_code == 200
    seen.append(current())
    client.post(f"/api/v1/appointments/{appointment}/cancel", headers=cal.reception,
                json={"reason": "Ill"})
    seen.append(current())
    sequences = [int(e["SEQUENCE"]) for e in seen]
    assert sequences == sorted(set(sequences))  # strictly rising
    assert [str(e["STATUS"]) for e in seen] == ["CONFIRMED"] * 3 + ["CANCELLED"]
    assert len({str(e["UID"]) for e in seen}) == 1
    assert seen[-1]["LAST-MODIFIED"].dt >= seen[0]["LAST-MODIFIED"].dt


def test_cancelled_visits_stay_visible_for_the_configured_days(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants,
        clock: Clock) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    appointment = book(client, cal, cal.local(MONDAY + timedelta(days=21), 9))
    client.post(f"/api/v1/appointments/{appointment}/cancel", headers=cal.reception,
                json={"reason": "Ill"})
    policy = client.get("/api/v1/feeds/policy", headers=cal.admin).json()
    client.put("/api/v1/feeds/policy", headers=cal.admin,
               json={**policy, "cancelled_visible_days": 3})
    feed = create_feed(client, cal.admin, cal.provider_id)
    assert [str(e["STATUS"]) for e in events(client.get(path_of(feed)).content)] == \
        ["CANCELLED"]
    clock.advance(timedelta(days=3))
    assert len(events(client.get(path_of(feed)).content)) == 1
    clock.advance(timedelta(days=1))
    assert events(client.get(path_of(feed)).content) == []


def test_calendar_properties_refresh_name_and_window(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants,
        clock: Clock) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    book(client, cal, cal.local(MONDAY, 9))
    last = book(client, cal, cal.local(MONDAY + timedelta(days=357), 9))  # 364 days ahead
    beyond = book(client, cal, cal.local(MONDAY + timedelta(days=364), 9))  # 371 days
    english = create_feed(client, cal.admin, cal.provider_id)
    spanish = create_feed(client, cal.admin, cal.provider_id, language="es")
    body = client.get(path_of(english)).content
    calendar = icalendar.Calendar.from_ical(body)

    assert "REFRESH-INTERVAL;VALUE=DURATION:PT15M" in unfolded(body)
    assert "X-PUBLISHED-TTL:PT15M" in unfolded(body)
    assert str(calendar["X-WR-CALNAME"]) == "provider 0 — appointments"
    assert str(calendar["METHOD"]) == "PUBLISH"
    es = icalendar.Calendar.from_ical(client.get(path_of(spanish)).content)
    assert str(es["X-WR-CALNAME"]) == "provider 0 — citas"
    assert [str(e["SUMMARY"]) for e in es.walk("VEVENT")] == ["Ocupado", "Ocupado"]
    assert len(calendar.walk("VEVENT")) == 2

    clock.advance(timedelta(days=40))  # the first visit is 33 days past, the last one in
    remaining = {str(e["UID"]) for e in events(client.get(path_of(english)).content)}
    assert remaining == {f"{last}@clinicdesk", f"{beyond}@clinicdesk"}


def test_a_provider_without_appointments_gets_a_valid_empty_calendar(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    room_feed = create_feed(client, cal.admin, cal.clinic.room_ids[1])
    body = client.get(path_of(room_feed)).content
    calendar = icalendar.Calendar.from_ical(body)
    assert calendar.walk("VEVENT") == []
    assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == ["Europe/Madrid"]


def test_a_room_feed_shows_the_rooms_visits(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    appointment = book(client, cal, cal.local(MONDAY, 9), room_id=cal.clinic.room_ids[1])
    room_feed = create_feed(client, cal.admin, cal.clinic.room_ids[1])
    (vevent,) = events(client.get(path_of(room_feed)).content)
    assert str(vevent["UID"]) == f"{appointment}@clinicdesk"
    assert str(vevent["LOCATION"]) == "Retiro, room 3"
    assert vevent["DTSTART"].params["TZID"] == "Europe/Madrid"
    assert vevent["DTSTART"].dt.astimezone(UTC) == cal.local(MONDAY, 9)


def test_bad_requests_about_feeds_are_clear(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants,
        clock: Clock) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    other = empty_calendar(client, db, settings, tenants)
    unknown = client.post("/api/v1/feeds", headers=cal.admin,
                          json={"resource_id": other.provider_id})
    assert unknown.status_code == 404
    past = client.post("/api/v1/feeds", headers=cal.admin, json={
        "resource_id": cal.provider_id,
        "expires_at": (clock() - timedelta(hours=1)).isoformat()})
    assert past.status_code == 422 and past.json()["error"]["code"] == "bad_expiry"
    assert isinstance(datetime.fromisoformat(
        create_feed(client, cal.admin, cal.provider_id)["feed"]["created_at"]), datetime)


def test_an_incremental_rebuild_serves_what_a_full_build_would(
        client: TestClient, app: FastAPI, db: Session, settings: Settings, tenants: Tenants,
        clock: Clock) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    ids = [book(client, cal, cal.local(MONDAY + timedelta(days=d), 9), patient=d)
           for d in range(4)]
    feed = create_feed(client, cal.admin, cal.provider_id, privacy="initials")
    client.get(path_of(feed))  # the build later changes start from
    rendered = app.state.feed_server.rendered

    move(client, cal, ids[0], cal.local(MONDAY, 11))
    client.post(f"/api/v1/appointments/{ids[1]}/cancel", headers=cal.reception,
                json={"reason": "Ill"})
    move(client, cal, ids[2], cal.local(MONDAY + timedelta(days=2), 10),
         provider_id=cal.clinic.provider_ids[1])
    client.post(f"/api/v1/appointments/{ids[3]}/status", headers=cal.reception,
                json={"status": "confirmed"})
    added = book(client, cal, cal.local(MONDAY + timedelta(days=1), 12), patient=5)
    served = client.get(path_of(feed)).content

    assert app.state.feed_server.rendered == rendered + 4  # 3 changed + 1 new, 1 removed
    fresh = FeedServer().answer(db, feed["token"], clock()).body
    assert served == fresh
    uids = [str(e["UID"]) for e in events(served)]
    assert uids == [f"{i}@clinicdesk" for i in (ids[0], ids[1], added, ids[3])]


def test_the_event_handler_form_moves_only_the_named_resources_feeds(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    first = create_feed(client, cal.admin, cal.clinic.provider_ids[0])
    second = create_feed(client, cal.admin, cal.clinic.provider_ids[1])
    etags = [client.get(path_of(f)).headers["ETag"] for f in (first, second)]

    note_appointment_change(db, cal.clinic.org_id, [cal.clinic.provider_ids[0]])
    db.commit()
    answers = [client.get(path_of(f), headers={"If-None-Match": e}).status_code
               for f, e in zip((first, second), etags, strict=True)]
    assert answers == [200, 304]


def test_an_enrolled_desk_manages_feeds_for_its_signed_in_administrator(
        client: TestClient, db: Session, settings: Settings, tenants: Tenants,
        clock: Clock) -> None:
    cal = empty_calendar(client, db, settings, tenants)
    admin = tenants.user(cal.clinic.org_id, cal.clinic.org_slug, "administrator")
    receptionist = tenants.user(cal.clinic.org_id, cal.clinic.org_slug, "receptionist")
    desk = enroll_desk(db, cal.clinic, clock)
    body = {"resource_id": cal.provider_id}

    def as_desk(user_id: str | None) -> int:
        headers = dict(desk.headers)
        if user_id is not None:
            headers["X-ClinicDesk-User"] = user_id
        return client.post("/api/v1/feeds", headers=headers, json=body).status_code

    assert as_desk(admin.user_id) == 201
    assert as_desk(receptionist.user_id) == 403
    assert as_desk(None) == 401
    other = empty_calendar(client, db, settings, tenants)
    stranger = tenants.user(other.clinic.org_id, other.clinic.org_slug, "administrator")
    assert as_desk(stranger.user_id) == 401  # a user of another organization
