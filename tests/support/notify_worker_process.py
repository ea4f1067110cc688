"""A notification worker process the kill tests stop with SIGKILL at a chosen point.

    python -m tests.support.notify_worker_process DATABASE_URL ORG_ID MARKER MODE N

``MODE`` ``claim``: work normally until the N-th claim has committed, then write
MARKER and wait forever (killed between claim and the outcome's commit).
``send``: after the N-th message went out to the provider, before its outcome is
recorded, write MARKER and wait forever (killed after sending).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from sync_server.db.session import make_engine, make_session_factory
from sync_server.notifications.links import LinkKey
from sync_server.notifications.worker import Worker


def main(database_url: str, org_id: str, marker: str, mode: str, n: str) -> None:
    count = 0
    limit = int(n)

    def hook(_: object) -> None:
        nonlocal count
        count += 1
        if count == limit:
            Path(marker).write_text("paused")
            threading.Event().wait()  # until the test kills this process

    worker = Worker(make_session_factory(make_engine(database_url)),
                    LinkKey(b"test-signing-key-not-for-production"), batch=50,
                    organization_id=org_id, public_url="http://testserver",
                    after_claim=hook if mode == "claim" else None,
                    after_send=hook if mode == "send" else None)
    while worker.run_once():
        pass
    Path(marker).write_text("done")


if __name__ == "__main__":
    main(*sys.argv[1:])
