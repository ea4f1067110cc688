"""A desk says "Offline" within 5 seconds of its server process going away.

A real sync server process (the demo environment, SQLite) and one enrolled desk
with its real sync worker listening to the event stream. The fallback poll is
30 s, so going offline within 5 s means the broken stream made the worker look.
"""

from __future__ import annotations

import time
from pathlib import Path

from pytestqt.qtbot import QtBot

from desktop import demo
from desktop.sync.worker import SyncStatus, SyncThread, SyncWorker

#: The issue's promise: offline shown within this many seconds.
OFFLINE_WITHIN_MS = 5_000


def test_stopping_the_server_process_shows_offline_within_five_seconds(
    qtbot: QtBot, tmp_path: Path
) -> None:
    environment = demo.start(tmp_path, desks=1, progress=lambda _text: None)
    desk = environment.desks[0]
    worker = SyncWorker(desk.client, listener_factory=desk.client.poke_listener)
    states: list[tuple[float, SyncStatus]] = []
    worker.stateChanged.connect(lambda status: states.append((time.monotonic(), status)))
    thread = SyncThread(worker)
    thread.start()
    try:
        qtbot.waitUntil(lambda: bool(states) and states[-1][1].online, timeout=30_000)
        # The stream is up once a poke or the first sync went through; give it its
        # connection before the server goes away (the stream reports through the worker).
        qtbot.waitUntil(lambda: worker._stream_up, timeout=10_000)
        environment.server.terminate()
        environment.server.wait(10)
        stopped = time.monotonic()

        qtbot.waitUntil(lambda: not states[-1][1].online, timeout=OFFLINE_WITHIN_MS)

        assert states[-1][0] - stopped < OFFLINE_WITHIN_MS / 1000
        assert states[-1][1].error  # says why, in plain words
    finally:
        thread.shutdown()
        environment.close()
