"""Signed, expiring reply links: ``/notify/r/{token}``.

The token holds the notification's id, the action (``confirm`` / ``cancel``, or ``accept``
for a waitlist offer's ``/notify/offer/{token}``) and the
expiry, signed with HMAC-SHA256 under the server's secret (a key derived for this
use only); it carries no patient data. Single use is kept by the database
(``notification_replies``, one row per notice), not by the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

ACTIONS = ("confirm", "cancel", "accept")
PATH = "/notify/r/"
#: A waitlist offer's accept page (:mod:`sync_server.waitlist.routes`).
OFFER_PATH = "/notify/offer/"


@dataclass(frozen=True, slots=True)
class LinkClaim:
    notification_id: str
    action: str
    expires: datetime


class LinkKey:
    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"clinicdesk notification reply links", hashlib.sha256
                             ).digest()

    def token(self, notification_id: str, action: str, expires: datetime) -> str:
        payload = f"{notification_id}|{action}|{int(expires.timestamp())}".encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def read(self, token: str) -> LinkClaim | None:
        """The claim of a genuine token (expired or not), else ``None``."""
        encoded, _, signature = token.partition(".")
        try:
            payload = _unb64(encoded)
            given = _unb64(signature)
        except ValueError:
            return None
        if not hmac.compare_digest(given, self._sign(payload)):
            return None
        try:
            notification_id, action, expires = payload.decode().split("|")
            when = datetime.fromtimestamp(int(expires), UTC)
        except ValueError:
            return None
        return LinkClaim(notification_id, action, when) if action in ACTIONS else None

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:20]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or len(text) > 200:
        raise ValueError("bad token")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError("bad token") from error
