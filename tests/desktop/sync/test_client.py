"""The sync client against the real sync server: enrollment, push, pull, rebase, conflicts,
and what it says when the server (or something in front of it) misbehaves."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.config import load_config
from desktop.services import booking
from desktop.store import outbox
from desktop.store.engine import Store
from desktop.store.keys import KEYRING_SERVICE
from desktop.store.models import (
    SYNC_STATE_ID,
    AppointmentRow,
    BlockoutRow,
    ConflictRow,
    OutboxEntry,
    OutboxState,
    SyncState,
)
from desktop.sync.client import RetryPolicy, SyncClient, token_ref_for
from desktop.sync.errors import (
    BadResponse,
    DeviceRevoked,
    EnrollmentRefused,
    NotEnrolled,
    OutOfOrder,
    ServerFailure,
    ServerTimeout,
    ServerUnreachable,
    SyncCancelled,
    SyncError,
    UpdateRequired,
)
from sync_server.services import admin, audit, devices
from sync_server.services.accounts import Principal
from tests.desktop.store.conftest import MemoryKeyring
from tests.desktop.sync.conftest import Desk
from tests.e2e.server_side import (
    Clinic,
    ServerThread,
    appointment_ids,
    free_port,
    last_mutation_id,
)
from tests.support.http_servers import MisbehavingServer

PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"


def outbox_ids(store: Store) -> list[int]:
    with store.session() as session:
        return [e.mutation_id for e in outbox.pending(session)]


def row(store: Store, appointment_id: str) -> AppointmentRow | None:
    with store.session() as session:
        found = session.get(AppointmentRow, appointment_id)
        if found is not None:
            session.expunge(found)
        return found


def state_of(store: Store) -> SyncState:
    with store.session() as session:
        state = session.get(SyncState, SYNC_STATE_ID)
        assert state is not None
        session.expunge(state)
        return state


def client_id(desk: Desk) -> str:
    found = state_of(desk.store).client_id
    assert found is not None
    return found


def on_server(db: Session, clinic: Clinic) -> list[str]:
    return sorted(appointment_ids(db, clinic.org_id))


# --------------------------------------------------------------------------- enrollment


def test_enrolling_keeps_the_token_in_the_key_store_and_only_a_reference_in_the_store(
    desk: Desk, server: ServerThread
) -> None:
    state = state_of(desk.store)
    assert state.client_id
    assert state.device_token_ref == token_ref_for(desk.store.store_id)
    token = desk.key_store.get_password(KEYRING_SERVICE, token_ref_for(desk.store.store_id))
    assert token
    desk.store.close()  # checkpoint the WAL so the whole database is in the one file
    assert token.encode() not in desk.store.path.read_bytes()
    assert load_config({"CLINICDESK_DESK_DIR": str(desk.directory)}).server_url == server.url


def test_enrollment_downloads_everything_and_reports_progress(
    make_desk: Callable[..., Desk], other_desk: Desk, server: ServerThread, clinic: Clinic
) -> None:
    ids = [other_desk.book(slot, patient=slot) for slot in range(10)]
    assert other_desk.client.sync_once().pending == 0
    seen: list[tuple[int, int]] = []
    fresh = make_desk("fresh", pull_limit=4)
    fresh.enroll(server, clinic.codes[2], lambda done, total: seen.append((done, total)))
    assert all(row(fresh.store, i) is not None for i in ids)
    with fresh.store.session() as session:
        assert {r.id for r in session.scalars(select(AppointmentRow))} == set(ids)
    assert len(seen) > 2  # the clinic and ten bookings do not fit one page of 4
    done, total = seen[-1]
    assert done == total >= 10 + len(clinic.patient_ids)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert all(d <= t for d, t in seen)


def test_a_used_enrollment_code_is_refused_in_plain_words(
    make_desk: Callable[..., Desk], server: ServerThread, clinic: Clinic, desk: Desk
) -> None:
    second = make_desk("second")
    with pytest.raises(EnrollmentRefused, match="Ask your administrator for a new one"):
        second.enroll(server, clinic.codes[0])  # the first desk redeemed it
    with pytest.raises(EnrollmentRefused):
        second.enroll(server, "NOT-A-CODE")
    assert state_of(second.store).client_id is None


def test_an_unenrolled_desk_says_so_and_keeps_its_outbox(
    make_desk: Callable[..., Desk], desk: Desk
) -> None:
    desk.book(0)
    stranger = desk.new_client(keyring_backend=MemoryKeyring())  # the token is not there
    with pytest.raises(NotEnrolled):
        stranger.sync_once()
    assert outbox_ids(desk.store) == [1]
    never = make_desk("never")
    with pytest.raises(NotEnrolled, match="not connected to a server yet"):
        never.client.sync_once()


def test_re_enrolling_renumbers_queued_changes_for_the_new_client(
    desk: Desk, server: ServerThread, clinic: Clinic, db: Session
) -> None:
    first = desk.book(0)
    desk.client.sync_once()
    old_client = client_id(desk)
    second = desk.book(1, patient=1)
    third = desk.book(2, patient=2)
    assert outbox_ids(desk.store) == [2, 3]
    desk.enroll(server, clinic.codes[2])
    assert client_id(desk) != old_client
    assert outbox_ids(desk.store) == [1, 2]
    assert row(desk.store, second).pending_mutation_id == 1  # type: ignore[union-attr]
    assert row(desk.store, third).pending_mutation_id == 2  # type: ignore[union-attr]
    assert desk.client.sync_once().pending == 0
    assert last_mutation_id(db, client_id(desk)) == 2
    assert last_mutation_id(db, old_client) == 1
    assert on_server(db, clinic) == sorted([first, second, third])


# --------------------------------------------------------------------------- push and pull


def test_push_sends_the_outbox_in_order_in_batches_and_keeps_entries_until_acknowledged(
    desk: Desk, db: Session, clinic: Clinic
) -> None:
    ids = [desk.book(slot, patient=slot) for slot in range(7)]
    result = desk.client.push()
    assert result.batches == 3 and result.sent == 7
    assert result.server_last_mutation_id == 7
    assert desk.traffic.pushed_ids() == [[1, 2, 3], [4, 5, 6], [7]]
    assert outbox_ids(desk.store) == [1, 2, 3, 4, 5, 6, 7]  # only a pull acknowledges
    with desk.store.session() as session:
        assert {e.state for e in outbox.pending(session)} == {OutboxState.PUSHED}
    assert on_server(db, clinic) == sorted(ids)


def test_sync_confirms_the_desks_bookings_and_empties_the_outbox(
    desk: Desk, db: Session, clinic: Clinic
) -> None:
    ids = [desk.book(slot, patient=slot) for slot in range(5)]
    result = desk.client.sync_once()
    assert result.pending == 0
    assert result.push.sent == 5
    assert on_server(db, clinic) == sorted(ids)
    for appointment_id in ids:
        confirmed = row(desk.store, appointment_id)
        assert confirmed is not None and confirmed.pending_mutation_id is None
        assert confirmed.server_version > 0
    state = state_of(desk.store)
    assert state.last_mutation_id == 5
    assert state.server_version == result.pull.cursor > 0
    assert state.last_sync_at is not None


def test_pushing_again_after_a_lost_answer_applies_each_mutation_once(
    desk: Desk, db: Session, clinic: Clinic
) -> None:
    ids = [desk.book(slot, patient=slot) for slot in range(4)]
    desk.client.push()
    desk.client.push()  # as after a crash between push and pull: the same ids again
    assert desk.traffic.pushed_ids() == [[1, 2, 3], [4], [1, 2, 3], [4]]
    result = desk.client.sync_once()
    assert result.pending == 0 and result.pull.new_conflicts == 0
    assert on_server(db, clinic) == sorted(ids)  # four bookings, not eight
    assert last_mutation_id(db, client_id(desk)) == 4
    with desk.store.session() as session:
        assert session.scalars(select(ConflictRow)).all() == []


def test_other_desks_changes_and_deletions_arrive_with_a_pull(
    desk: Desk, other_desk: Desk, db: Session, clinic: Clinic
) -> None:
    theirs = other_desk.book(2)
    other_desk.client.sync_once()
    assert desk.client.pull().changed >= 1
    copy = row(desk.store, theirs)
    assert copy is not None and copy.pending_mutation_id is None
    # An administrator blocks an hour, then lifts the block: a tombstone.
    who = Principal("admin", clinic.org_id, "admin@clinic.example", frozenset({"administrator"}),
                    frozenset({"admin:config"}), {})
    _provider, start = clinic.slot(9)
    created = admin.create(db, who, admin.BLOCKOUT, {
        "clinic_id": clinic.clinic_id, "resource_id": None, "start": start,
        "end": start + timedelta(hours=1), "reason": "meeting"}, datetime.now(UTC))
    desk.client.pull()
    with desk.store.session() as session:
        assert session.get(BlockoutRow, created["id"]) is not None
    admin.remove(db, who, admin.BLOCKOUT, created["id"], datetime.now(UTC))
    result = desk.client.pull()
    assert result.changed >= 1
    with desk.store.session() as session:
        assert session.get(BlockoutRow, created["id"]) is None
    assert row(desk.store, theirs) is not None


def test_a_refused_booking_goes_to_the_conflict_inbox_and_its_optimistic_row_goes(
    desk: Desk, other_desk: Desk, db: Session, clinic: Clinic
) -> None:
    theirs = other_desk.book(0, patient=1)  # another desk gets there first
    other_desk.client.sync_once()
    mine = desk.book(0, patient=2)  # this desk has not pulled yet
    result = desk.client.sync_once()
    assert result.pull.new_conflicts == 1
    assert result.pending == 0
    assert row(desk.store, mine) is None
    assert row(desk.store, theirs) is not None
    with desk.store.session() as session:
        conflict = session.scalars(select(ConflictRow)).one()
        assert conflict.mutation_id == 1
        assert conflict.attempted["name"] == "appointment.book"
        assert conflict.attempted["args"]["appointment_id"] == mine
        assert conflict.code and conflict.message_id
        assert len(conflict.alternatives) >= 1
    assert outbox_ids(desk.store) == []
    assert on_server(db, clinic) == [theirs]


def test_a_conflict_reaches_the_inbox_only_once(desk: Desk, other_desk: Desk) -> None:
    other_desk.book(0, patient=1)
    other_desk.client.sync_once()
    desk.book(0, patient=2)
    desk.client.sync_once()
    with desk.store.write() as session:  # as if the desk had to pull everything again
        session.get(SyncState, SYNC_STATE_ID).server_version = 0  # type: ignore[union-attr]
    assert desk.client.pull().new_conflicts == 0
    with desk.store.session() as session:
        assert len(session.scalars(select(ConflictRow)).all()) == 1


def test_a_still_pending_change_keeps_its_optimistic_values_over_server_data(
    desk: Desk, other_desk: Desk, clinic: Clinic
) -> None:
    mine = desk.book(0)
    desk.client.sync_once()
    _provider, later = clinic.slot(4)
    moved = booking.move(desk.ctx, mine, later)
    assert moved.ok, moved.refusal
    # Meanwhile another desk moves the same appointment elsewhere on the server.
    other_desk.client.pull()
    _provider, elsewhere = clinic.slot(6)
    assert booking.move(other_desk.ctx, mine, elsewhere).ok
    other_desk.client.sync_once()
    pulled = desk.client.pull()  # the move of this desk is not pushed yet
    assert pulled.cursor == state_of(other_desk.store).server_version
    assert pulled.changed == 0  # the server's record waits until this desk's move is judged
    local = row(desk.store, mine)
    assert local is not None and local.pending_mutation_id == moved.mutation_id
    assert local.start == later


def test_a_refused_move_restores_the_servers_version_of_the_appointment(
    desk: Desk, other_desk: Desk, clinic: Clinic
) -> None:
    mine = desk.book(0)
    desk.client.sync_once()
    _provider, original = clinic.slot(0)
    _provider, target = clinic.slot(4)
    assert booking.move(desk.ctx, mine, target).ok
    other_desk.book(4, patient=3)  # another desk takes the target slot first
    other_desk.client.sync_once()
    desk.client.pull()  # this desk sees that booking (and keeps its own move pending)
    assert row(desk.store, mine).pending_mutation_id is not None  # type: ignore[union-attr]
    result = desk.client.sync_once()  # the move is refused; no new data for the appointment
    assert result.pull.new_conflicts == 1 and result.pull.restored == 1
    local = row(desk.store, mine)
    assert local is not None and local.pending_mutation_id is None
    assert local.start == original


# --------------------------------------------------------------------------- failures


def repoint(desk: Desk, url: str, **options: object) -> SyncClient:
    """The desk's client aimed at another address (a proxy, a dead port, a broken server)."""
    return desk.new_client(replace(desk.client.config, server_url=url), **options)


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (503, b'{"error": {"code": "unavailable", "message": "x"}}', ServerFailure,
         "error 503"),
        (500, b"<html>Internal Server Error</html>", ServerFailure, "has a problem"),
        (200, b"<html>Please sign in to the hotel wifi</html>", BadResponse,
         "does not understand"),
        (426, b'{"error": {"code": "update_required", "message": "update"}}', UpdateRequired,
         "install the new version"),
    ],
)
def test_a_failing_server_gives_a_plain_message_and_the_outbox_survives(
    desk: Desk, db: Session, clinic: Clinic,
    status: int, body: bytes, error: type[SyncError], words: str,
) -> None:
    ids = [desk.book(slot, patient=slot) for slot in range(3)]
    with MisbehavingServer(status, body, content_type="application/json") as broken, \
            pytest.raises(error) as raised:
        repoint(desk, broken.url).sync_once()
    message = str(raised.value)
    assert words in message
    assert "Your changes are kept" in message
    assert outbox_ids(desk.store) == [1, 2, 3]
    assert all(row(desk.store, i).pending_mutation_id is not None for i in ids)  # type: ignore[union-attr]
    assert desk.client.sync_once().pending == 0  # the real server again
    assert on_server(db, clinic) == sorted(ids)


def test_a_server_that_is_down_or_too_slow_gives_a_plain_message_and_the_outbox_survives(
    desk: Desk, db: Session, clinic: Clinic
) -> None:
    ids = [desk.book(slot, patient=slot) for slot in range(3)]
    with pytest.raises(ServerUnreachable, match="cannot be reached") as down:
        repoint(desk, f"http://127.0.0.1:{free_port()}").sync_once()
    with MisbehavingServer(hang_first=10**6) as silent, \
            pytest.raises(ServerTimeout, match="too slow") as slow:
        repoint(desk, silent.url, timeout=(2.0, 0.2)).sync_once()
    assert len(silent.requests) == 3  # every attempt of NO_WAIT timed out
    for raised in (down, slow):
        assert "Your changes are kept" in str(raised.value)
    assert outbox_ids(desk.store) == [1, 2, 3]
    assert desk.client.sync_once().pending == 0
    assert on_server(db, clinic) == sorted(ids)


def test_a_desk_too_old_for_the_real_server_is_told_to_update_and_keeps_its_outbox(
    desk: Desk, server: ServerThread
) -> None:
    desk.book(0)
    with pytest.raises(UpdateRequired, match="install the new version") as raised:
        desk.new_client(desk.client.config, protocol_version=0).sync_once()
    assert not raised.value.transient
    assert outbox_ids(desk.store) == [1]


def test_a_request_meeting_a_connection_the_server_just_closed_is_sent_again_at_once(
    desk: Desk,
) -> None:
    """The session keeps connections; the server closes idle ones (uvicorn after 5 s). A
    request written on one as it closes gets no answer: not "unreachable" (a CI failure of
    a sign-in after a long test), but sent again on a new connection, without backoff."""
    sleeps = len(desk.sleeps)
    with MisbehavingServer(200, b'{"status": "ok"}', content_type="application/json",
                           close_reused=True) as server:
        client = repoint(desk, server.url, retry=RetryPolicy(attempts=1))
        assert client.call("GET", "/api/v1/health") == {"status": "ok"}
        assert client.call("POST", "/api/v1/health", json={}) == {"status": "ok"}
    assert server.requests == [("GET", "/api/v1/health"), ("POST", "/api/v1/health"),
                               ("POST", "/api/v1/health")]
    assert server.connections == 2
    refusal = b'{"error": {"code": "invalid_credentials", "message": "x"}}'
    with MisbehavingServer(401, refusal, content_type="application/json",
                           close_reused=True) as server:
        client = repoint(desk, server.url, retry=RetryPolicy(attempts=1))
        for _ in range(2):  # the second sign-in meets the closed connection
            assert client.check_credentials("org", "a@b.example", "pw", None) is None
    assert server.requests == [("POST", "/api/v1/auth/login")] * 3
    assert len(desk.sleeps) == sleeps


def test_connection_errors_and_5xx_are_retried_with_backoff(desk: Desk) -> None:
    desk.book(0)
    sleeps_before = len(desk.sleeps)
    with MisbehavingServer(503, b"{}", content_type="application/json") as broken, \
            pytest.raises(ServerFailure):
        repoint(desk, broken.url).push()
    assert [path for _m, path in broken.requests] == [PUSH] * 3  # NO_WAIT allows 3 attempts
    assert len(desk.sleeps) - sleeps_before == 2
    assert outbox_ids(desk.store) == [1]


def test_an_answer_that_breaks_off_mid_body_is_retried_then_reported_as_unreachable(
    desk: Desk,
) -> None:
    """Found by the chaos run: a cut answer raised requests' ChunkedEncodingError, which
    escaped the client (and ended the desk's sync) instead of being retried."""
    desk.book(0)
    with MisbehavingServer(200, b'{"last_mutation_id": 1}', content_type="application/json",
                           cut_body=True) as broken, \
            pytest.raises(ServerUnreachable, match="cannot be reached"):
        repoint(desk, broken.url).push()
    assert [path for _m, path in broken.requests] == [PUSH] * 3  # retried like a lost line
    assert outbox_ids(desk.store) == [1]
    assert desk.client.sync_once().pending == 0


def test_one_slow_answer_is_retried_transparently(
    desk: Desk, server: ServerThread, db: Session, clinic: Clinic
) -> None:
    mine = desk.book(0)
    with MisbehavingServer(hang_first=1, forward_to=server.url) as flaky:
        result = repoint(desk, flaky.url, timeout=(2.0, 0.5)).sync_once()
    assert result.pending == 0
    assert [path for _m, path in flaky.requests][:2] == [PUSH, PUSH]  # the first one hung
    assert on_server(db, clinic) == [mine]
    assert last_mutation_id(db, client_id(desk)) == 1


def test_a_revoked_desk_is_told_to_ask_for_re_enrollment_and_keeps_its_outbox(
    desk: Desk, db: Session, clinic: Clinic
) -> None:
    desk.book(0)
    device = devices.find_device_by_client_id(db, clinic.org_id, client_id(desk))
    devices.revoke_device(db, clinic.org_id, device, datetime.now(UTC), audit.Actor())
    with pytest.raises(DeviceRevoked, match="enroll it again") as raised:
        desk.client.sync_once()
    assert not raised.value.transient
    assert outbox_ids(desk.store) == [1]


def test_an_unknown_device_token_is_refused_and_the_outbox_survives(desk: Desk) -> None:
    desk.book(0)
    desk.key_store.set_password(KEYRING_SERVICE, token_ref_for(desk.store.store_id),
                                "not-a-token-" + uuid.uuid4().hex)
    with pytest.raises(SyncError) as raised:
        desk.client.sync_once()
    assert isinstance(raised.value, DeviceRevoked) or "error 401" in str(raised.value)
    assert "Your changes are kept" in str(raised.value)
    assert outbox_ids(desk.store) == [1]


def test_a_gap_is_reported_and_nothing_is_dropped(desk: Desk, db: Session) -> None:
    desk.book(0)
    desk.book(1, patient=1)
    with desk.store.write() as session:  # as if entry 1 were lost
        session.delete(session.get(OutboxEntry, 1))
    with pytest.raises(OutOfOrder):
        desk.client.push()
    assert outbox_ids(desk.store) == [2]
    assert last_mutation_id(db, client_id(desk)) == 0


def test_the_recorded_server_url_is_used_after_a_restart(
    desk: Desk, db: Session, clinic: Clinic
) -> None:
    mine = desk.book(0)
    again = desk.new_client(load_config({"CLINICDESK_DESK_DIR": str(desk.directory)}))
    assert again.sync_once().pending == 0
    assert on_server(db, clinic) == [mine]



def test_a_cancelled_pull_stops_before_its_next_page_and_keeps_what_it_applied(
    desk: Desk, other_desk: Desk
) -> None:
    for slot in range(10):
        other_desk.book(slot)
    other_desk.client.sync_once()
    fetch = desk.client._pull_page
    pages: list[int] = []

    def fetch_then_close(cursor: int) -> object:
        page = fetch(cursor)
        pages.append(page.cursor)
        desk.client.cancel()  # the receptionist closes the desk during the first page
        return page

    desk.client._pull_page = fetch_then_close  # type: ignore[method-assign]
    before = desk.traffic.count("/api/v1/sync/pull")
    with pytest.raises(SyncCancelled):
        desk.client.pull()

    assert len(pages) == 1  # pages of 4: the other two were never asked for
    assert desk.traffic.count("/api/v1/sync/pull") == before + 1
    with desk.store.session() as session:
        assert session.get(SyncState, SYNC_STATE_ID).server_version == pages[0]  # type: ignore[union-attr]


def test_a_pull_reports_the_days_and_resources_its_changes_touch(
    desk: Desk, other_desk: Desk
) -> None:
    booked = [other_desk.book(slot) for slot in (0, 1)]
    other_desk.client.sync_once()

    pulled = desk.client.pull()

    with desk.store.session() as session:
        rows = [session.get(AppointmentRow, i) for i in booked]
    assert all(rows)
    assert pulled.changes.days >= {(r.clinic_id, r.start.date()) for r in rows if r}
    assert pulled.changes.resources >= {r.provider_id for r in rows if r}
    assert not pulled.changes.everything
