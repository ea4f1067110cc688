"""The desk's calls to the server's management APIs (feeds, notifications) on behalf of
the signed-in user: the desk's device token, the user named in ``X-ClinicDesk-User``.

The server checks the user's permissions; the desk never holds a user token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from desktop.services.session import SignInService
from desktop.sync.client import SyncClient

#: ``call(method, path, json=..., params=...)`` → decoded JSON; raises on refusal.
ServerCall = Callable[..., Any]
USER_HEADER = "X-ClinicDesk-User"


def signed_in_call(client: SyncClient, sessions: SignInService) -> ServerCall:
    """A server call as this desk naming the signed-in user; raises SessionLocked when
    nobody is signed in. Give it a client of its own (:meth:`SyncClient.sibling`): the
    sync worker's client is used from the sync thread."""
    lock = threading.Lock()  # the exceptions panel reads from its own thread

    def call(method: str, path: str, **kwargs: Any) -> Any:
        headers = {USER_HEADER: sessions.require_user().user_id}
        with lock:
            return client.call(method, path, headers=headers, **kwargs)

    return call
