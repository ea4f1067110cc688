"""Two desks edit one patient against the real server: the one that edited an older copy
gets the stale field in its conflict inbox, with "Keep mine" and "Keep theirs".

Desk B changes the phone and syncs; desk A, which had not seen that, changes the phone
and the e-mail. The server applies A's e-mail and keeps B's phone; A's inbox shows both
phones. "Keep mine" sends A's phone again (now based on B's) and it wins; "Keep theirs"
leaves B's phone and queues nothing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop.services import agenda, patients
from desktop.store import outbox
from desktop.ui.conflict_inbox import ConflictInbox
from desktop.ui.text import set_language
from sync_server.db import models
from tests.desktop.sync.conftest import Desk
from tests.e2e.server_side import Clinic

A_PHONE, B_PHONE, A_EMAIL = "+34 622 000 001", "+34 611 000 001", "a@clinic.example"


def _server_patient(db: Session, patient_id: str) -> tuple[str, str]:
    db.expire_all()
    row = db.scalars(select(models.Patient).where(models.Patient.id == patient_id)).one()
    found = (row.phone, row.email)
    db.rollback()  # on SQLite an open read would hold the server's write lock
    return found


def _edit_conflict(desk: Desk, other_desk: Desk, clinic: Clinic) -> tuple[ConflictInbox, str]:
    patient_id = clinic.patient_ids[0]
    other_desk.client.sync_once()
    desk.client.sync_once()
    assert patients.update(other_desk.ctx, patient_id, phone=B_PHONE).ok
    other_desk.client.sync_once()
    assert patients.update(desk.ctx, patient_id, phone=A_PHONE, email=A_EMAIL).ok
    result = desk.client.sync_once()
    assert result.pull.new_conflicts == 1
    inbox = ConflictInbox(desk.ctx, clinic.clinic_id)
    return inbox, patient_id


def _button(inbox: ConflictInbox, text: str) -> QPushButton:
    [button] = [b for b in inbox._buttons if isinstance(b, QPushButton) and b.text() == text]
    return button


def test_keep_mine_sends_this_desks_value_again_and_it_wins(
    qtbot: QtBot, desk: Desk, other_desk: Desk, clinic: Clinic, db: Session
) -> None:
    inbox, patient_id = _edit_conflict(desk, other_desk, clinic)
    qtbot.addWidget(inbox)
    inbox.show()

    assert inbox.count == 1
    assert _server_patient(db, patient_id) == (B_PHONE, A_EMAIL)  # the e-mail applied
    shown = [w.text() for w in inbox._buttons if isinstance(w, QLabel)]
    assert shown == [f"Phone: this desk {A_PHONE} — the server {B_PHONE}"]
    assert inbox.why.text().startswith("Someone else changed this")
    assert patients.get(desk.ctx, patient_id).phone == B_PHONE  # type: ignore[union-attr]

    with qtbot.waitSignals([inbox.changed, inbox.countChanged]):
        qtbot.mouseClick(_button(inbox, "Keep mine"), Qt.MouseButton.LeftButton)

    assert inbox.count == 0 and agenda.conflict_inbox(desk.ctx) == ()
    assert desk.client.sync_once().pull.new_conflicts == 0
    assert _server_patient(db, patient_id) == (A_PHONE, A_EMAIL)
    other_desk.client.sync_once()
    assert patients.get(other_desk.ctx, patient_id).phone == A_PHONE  # type: ignore[union-attr]


def test_keep_theirs_leaves_the_servers_value_and_queues_nothing(
    qtbot: QtBot, desk: Desk, other_desk: Desk, clinic: Clinic, db: Session
) -> None:
    inbox, patient_id = _edit_conflict(desk, other_desk, clinic)
    qtbot.addWidget(inbox)
    inbox.show()
    set_language("es")
    try:
        keep_theirs = _button(inbox, "Conservar el del servidor")  # rebuilt in Spanish
        qtbot.waitUntil(keep_theirs.isVisible)  # a button added to a shown widget: queued
        with qtbot.waitSignals([inbox.changed, inbox.countChanged]):
            qtbot.mouseClick(keep_theirs, Qt.MouseButton.LeftButton)
    finally:
        set_language("en")

    assert inbox.count == 0
    with desk.store.session() as session:
        assert outbox.pending_count(session) == 0
    assert desk.client.sync_once().pull.new_conflicts == 0
    assert _server_patient(db, patient_id) == (B_PHONE, A_EMAIL)
    assert patients.get(desk.ctx, patient_id).phone == B_PHONE  # type: ignore[union-attr]
