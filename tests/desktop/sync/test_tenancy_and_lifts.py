"""A desk belongs to one organization; a blockout lift the server refuses comes back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.services import blockouts
from desktop.store import outbox
from desktop.store.keys import KEYRING_SERVICE
from desktop.store.models import (
    SYNC_STATE_ID,
    AppointmentRow,
    BlockoutRow,
    ClinicRow,
    ConflictRow,
    SyncState,
)
from desktop.sync.client import token_ref_for
from desktop.sync.errors import OtherOrganization
from scheduling import intents
from sync_server.core.config import Settings
from sync_server.core.security import Passwords, password_hasher
from sync_server.services import accounts, admin
from sync_server.services.accounts import Principal
from tests.desktop.sync.conftest import Desk
from tests.e2e.server_side import PASSWORD, Clinic, ServerThread, seed_clinic


def sync_state(desk: Desk) -> dict[str, Any]:
    with desk.store.session() as session:
        state = session.get(SyncState, SYNC_STATE_ID)
        assert state is not None
        return {"client_id": state.client_id, "organization_id": state.organization_id,
                "server_version": state.server_version}


def token(desk: Desk) -> str | None:
    return desk.key_store.get_password(KEYRING_SERVICE, token_ref_for(desk.store.store_id))


@pytest.fixture
def elsewhere(db: Session, server_settings: Settings) -> Clinic:
    """A second organization on the same server."""
    return seed_clinic(db, server_settings, patients=3, codes=2)


def test_enrollment_records_the_organization(desk: Desk, clinic: Clinic) -> None:
    assert sync_state(desk)["organization_id"] == clinic.org_id


def test_enrolling_into_another_organization_is_refused_and_nothing_changes(
    desk: Desk, server: ServerThread, elsewhere: Clinic
) -> None:
    mine = desk.book(0)
    before, credential = sync_state(desk), token(desk)
    with pytest.raises(OtherOrganization, match="different clinic organization") as raised:
        desk.enroll(server, elsewhere.codes[0])
    assert "Your changes are kept" in str(raised.value)
    assert sync_state(desk) == before
    assert token(desk) == credential
    with desk.store.session() as session:
        assert session.get(AppointmentRow, mine).pending_mutation_id == 1  # type: ignore[union-attr]
        assert [e.mutation_id for e in outbox.pending(session)] == [1]


def test_a_pull_answered_for_another_organization_is_refused_and_nothing_is_applied(
    desk: Desk, make_desk: Callable[..., Desk], server: ServerThread, elsewhere: Clinic
) -> None:
    stranger = make_desk("stranger")
    stranger.client.enroll(server.url, elsewhere.codes[0])
    desk.book(0)
    before = sync_state(desk)
    # The desk's key store now holds another organization's credential (a mix-up).
    desk.key_store.set_password(KEYRING_SERVICE, token_ref_for(desk.store.store_id),
                                token(stranger) or "")
    with desk.store.write() as session:
        state = session.get(SyncState, SYNC_STATE_ID)
        assert state is not None
        state.client_id = sync_state(stranger)["client_id"]
        state.server_version = 0
    with pytest.raises(OtherOrganization):
        desk.client.pull()
    with desk.store.session() as session:
        clinics = {c.id for c in session.scalars(select(ClinicRow))}
        state = session.get(SyncState, SYNC_STATE_ID)
        assert state is not None and state.server_version == 0
        assert state.organization_id == before["organization_id"]
        assert [e.mutation_id for e in outbox.pending(session)] == [1]
    assert clinics == {desk.clinic.clinic_id}


def test_a_desk_enrolled_before_it_remembered_its_organization_learns_it_from_a_pull(
    desk: Desk, clinic: Clinic
) -> None:
    with desk.store.write() as session:
        state = session.get(SyncState, SYNC_STATE_ID)
        assert state is not None
        state.organization_id, state.server_version = None, 0
    desk.client.pull()
    assert sync_state(desk)["organization_id"] == clinic.org_id


# --------------------------------------------------------------------------- blockout lifts


@pytest.fixture
def blockout_id(db: Session, clinic: Clinic) -> str:
    """A blockout an administrator set up on the server."""
    who = Principal("admin", clinic.org_id, "admin@clinic.example",
                    frozenset({"administrator"}), frozenset({"admin:config"}), {})
    _provider, start = clinic.slot(3)
    created = admin.create(db, who, admin.BLOCKOUT, {
        "clinic_id": clinic.clinic_id, "resource_id": None, "start": start,
        "end": start + timedelta(hours=1), "reason": "staff meeting"}, datetime.now(UTC))
    return str(created["id"])


@pytest.fixture
def manager_email(db: Session, server_settings: Settings, clinic: Clinic) -> str:
    """An administrator account: it may lift blockouts on the desk."""
    email = f"manager-{uuid.uuid4().hex[:6]}@clinic.example"
    accounts.create_user(db, Passwords(password_hasher(server_settings)), clinic.org_id, email,
                         PASSWORD, ["administrator"], datetime.now(UTC))
    db.commit()
    return email


def blockout_row(desk: Desk, record_id: str) -> BlockoutRow | None:
    with desk.store.session() as session:
        found = session.get(BlockoutRow, record_id)
        if found is not None:
            session.expunge(found)
        return found


def test_a_lift_by_a_manager_is_judged_with_the_managers_permissions_and_applied(
    desk: Desk, blockout_id: str, manager_email: str
) -> None:
    desk.client.pull()
    assert blockout_row(desk, blockout_id) is not None
    lifted = blockouts.delete(desk.sign_in(manager_email), blockout_id)
    assert lifted.ok, lifted.refusal
    # The server judges a desk's change as the user signed in on it (issue 18 item 13):
    # the manager may lift the block, so it stays lifted and nothing comes back.
    result = desk.client.sync_once()
    assert result.pull.new_conflicts == 0 and result.pending == 0
    row = blockout_row(desk, blockout_id)
    assert row is None or row.deleted
    with desk.store.session() as session:
        assert session.scalars(select(ConflictRow)).first() is None


def test_a_lift_kept_as_a_pending_tombstone_is_restored_when_refused(
    desk: Desk, blockout_id: str
) -> None:
    desk.client.pull()
    with desk.store.write() as session:  # the lift as a tombstone row, pending its judgement
        mutation_id = outbox.append(session, intents.BLOCKOUT_DELETE,
                                    intents.blockout_delete(blockout_id))
        row = session.get(BlockoutRow, blockout_id)
        assert row is not None
        row.deleted, row.pending_mutation_id = True, mutation_id
    result = desk.client.sync_once()
    assert result.pull.new_conflicts == 1 and result.pull.restored == 1
    restored = blockout_row(desk, blockout_id)
    assert restored is not None and not restored.deleted and restored.pending_mutation_id is None
