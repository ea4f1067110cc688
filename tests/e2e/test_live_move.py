"""A move on desk A appears on desk B while both run their real sync workers.

The demo environment: a real sync server process (SQLite) on a loopback port
and two enrolled desks, each with its sync worker on its own thread listening
to the server's event stream. The fallback poll is 30 s, so seeing the move
within the 10 s wait means it travelled by push → poke → pull.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pytestqt.qtbot import QtBot

from bench.live_move import movable_appointment, start_on, two_live_desks
from desktop.services import booking
from desktop.store.models import AppointmentRow


def test_a_move_on_one_desk_appears_on_the_other_desk_without_polling(
    qtbot: QtBot, tmp_path: Path
) -> None:
    with two_live_desks(tmp_path) as (a, b):
        qtbot.waitUntil(lambda: a.thread.worker.status.online
                        and b.thread.worker.status.online, timeout=30_000)
        appointment_id, target = movable_appointment(a.desk, datetime.now(UTC) + timedelta(days=1))
        assert start_on(b.desk, appointment_id) not in (None, target)
        changes_seen_by_b = b.data_changes

        moved = booking.move(a.desk.context, appointment_id, target)
        assert moved.ok, moved.refusal
        a.thread.request_sync()

        qtbot.waitUntil(lambda: start_on(b.desk, appointment_id) == target, timeout=10_000)
        # The worker writes the store, then its signal is queued to this thread: the
        # window is told (agenda refresh) shortly after the row changed.
        qtbot.waitUntil(lambda: b.data_changes > changes_seen_by_b, timeout=5_000)
        with b.desk.store.session() as session:
            row = session.get(AppointmentRow, appointment_id)
            assert row is not None and row.pending_mutation_id is None  # B holds confirmed data
        qtbot.waitUntil(lambda: a.thread.worker.status.pending == 0, timeout=10_000)
