"""Against the real sync server: a desk whose push the server answers in part goes on
from the answer, and a change the server could not read reaches the conflict inbox with
"Edit and retry" and "Discard"."""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.store import outbox
from desktop.ui.conflict_inbox import ConflictInbox
from desktop.ui.text import set_language
from scheduling import intents
from scheduling.sync_protocol import INVALID_MUTATION
from sync_server.db.models import Patient
from sync_server.services import sync as sync_service
from tests.desktop.sync.conftest import Desk
from tests.desktop.sync.test_client import client_id
from tests.e2e.server_side import Clinic, appointment_ids, last_mutation_id

TOO_LONG = "N" * 150  # a name longer than the server stores


def queue(desk: Desk, name: str, args: dict[str, object]) -> int:
    """Queue ``name`` as it stands (bypassing the desk's own checks, as an older or damaged
    desk might have)."""
    with desk.store.write() as session:
        return outbox.append(session, name, args)


def patient_create(given_name: str) -> dict[str, object]:
    return {"patient_id": str(uuid.uuid4()), "given_name": given_name, "family_name": "Ruiz"}


def server_patients(db: Session, clinic: Clinic, given_name: str) -> list[str]:
    db.rollback()
    found = list(db.scalars(select(Patient.id).where(Patient.organization_id == clinic.org_id,
                                                     Patient.given_name == given_name)))
    db.rollback()
    return found


def test_a_push_answered_in_part_goes_on_from_the_servers_position(
    desk: Desk, other_desk: Desk, clinic: Clinic, db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server's budget set to one mutation per answer: every change still arrives
    once, each push starting right after what the previous answer processed; most of
    them are refused (another desk took those times meanwhile)."""
    taken = [other_desk.book(slot, patient=slot) for slot in range(4)]
    other_desk.client.sync_once()
    monkeypatch.setattr(sync_service, "RUN_SECONDS", 0.0)
    monkeypatch.setattr(sync_service, "PUSH_SECONDS", 0.0)
    refused = [desk.book(slot, patient=slot + 4) for slot in range(4)]
    booked = desk.book(5, patient=9)

    result = desk.client.sync_once()

    assert result.pending == 0
    assert desk.traffic.pushed_ids()[:3] == [[1, 2, 3], [2, 3, 4], [3, 4, 5]]
    assert last_mutation_id(db, client_id(desk)) == 5
    on_server = appointment_ids(db, clinic.org_id)
    assert sorted(on_server) == sorted([*taken, booked])
    assert not set(refused) & set(on_server)
    assert desk.client.pull().last_mutation_id == 5


def test_an_unreadable_change_is_in_the_inbox_with_edit_and_retry_and_the_next_one_arrives(
    qtbot: QtBot, desk: Desk, clinic: Clinic, db: Session,
) -> None:
    set_language("en")
    queue(desk, intents.PATIENT_CREATE, patient_create(TOO_LONG))
    after = desk.book(0)
    desk.client.sync_once()
    assert appointment_ids(db, clinic.org_id) == [after]  # the next change arrived

    inbox = ConflictInbox(desk.ctx, clinic.clinic_id)
    qtbot.addWidget(inbox)
    inbox.show()
    assert inbox.count == 1
    entry = inbox.selected()
    assert entry is not None and entry.conflict.code == INVALID_MUTATION
    assert "could not read" in inbox.why.text()
    assert inbox.dismiss_button.text() == "Discard"
    [retry] = inbox._buttons
    assert retry.text() == "Edit and retry"

    qtbot.mouseClick(retry, Qt.MouseButton.LeftButton)
    dialog = inbox.retry_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.edits[("given_name",)].setText("Nerea")
    qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)

    assert inbox.count == 0
    assert "Sent again" in inbox.message.text()
    desk.client.sync_once()
    assert len(server_patients(db, clinic, "Nerea")) == 1
    assert inbox.count == 0


def test_a_retry_that_is_still_unreadable_is_not_queued_and_discard_drops_the_change(
    qtbot: QtBot, desk: Desk, clinic: Clinic, db: Session,
) -> None:
    set_language("en")
    queue(desk, intents.PATIENT_CREATE, patient_create(TOO_LONG))
    desk.client.sync_once()
    inbox = ConflictInbox(desk.ctx, clinic.clinic_id)
    qtbot.addWidget(inbox)
    inbox.show()
    entry = inbox.selected()
    assert entry is not None
    with desk.store.session() as session:
        queued = outbox.pending_count(session)

    assert not inbox.retry(entry, dict(entry.args))  # unchanged: still too long

    assert "still cannot be sent" in inbox.message.text()
    assert inbox.count == 1
    with desk.store.session() as session:
        assert outbox.pending_count(session) == queued

    qtbot.mouseClick(inbox.dismiss_button, Qt.MouseButton.LeftButton)

    assert inbox.count == 0
    desk.client.sync_once()
    assert server_patients(db, clinic, TOO_LONG) == []
