"""Real servers the notification tests (and bench/notifications.py) send to, on loopback.

* :class:`SmtpSink`: an ``aiosmtpd`` SMTP server that keeps every message it accepts
  and refuses the recipients it is told to (550), or every connection's mail (451).
* :class:`SmsGateway`: an HTTP server speaking the shape of Twilio's Messages API —
  ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded ``To``,
  ``From``, ``Body``, HTTP basic auth (account sid, key), answering ``201`` with
  ``{"sid": "SM…"}``. A repeated ``Idempotency-Key`` gets the first message's sid
  and sends nothing. Numbers in ``invalid`` get Twilio's 400 with code 21211;
  ``fail_status`` answers every send with that status.
"""

from __future__ import annotations

import base64
import email
import email.policy
import http.server
import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs

import pytest

REQUIRE_ALL = os.environ.get("CLINICDESK_REQUIRE_ALL") == "1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Received:
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class SmtpSink:
    def __init__(self, port: int | None = None, keep: bool = True) -> None:
        try:
            from aiosmtpd.controller import Controller
        except ImportError as error:  # CI must have it: a missing SMTP server fails there
            if REQUIRE_ALL:
                pytest.fail(f"aiosmtpd is not installed: {error}")
            pytest.skip("aiosmtpd is not installed (pip install 'clinicdesk[test]')")
        self.received: list[Received] = []
        self.refuse: set[str] = set()
        self.unavailable = False
        self._lock = threading.Lock()
        owner = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any,
                                  address: str, rcpt_options: Any) -> str:
                if owner.unavailable:
                    return "451 4.3.0 try again later"
                if address in owner.refuse:
                    return "550 5.1.1 no such user"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if not keep:
                    return "250 Message accepted"
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                with owner._lock:
                    owner.received.append(Received(tuple(envelope.rcpt_tos), parsed))
                return "250 Message accepted"

        self.port = port or free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)


class SmsGateway:
    def __init__(self, key: str = "gateway-secret-key", fail_status: int | None = None) -> None:
        self.account = "AC" + uuid.uuid4().hex  # Twilio's account sids: "AC" + 32 hex digits
        self.key, self.fail_status = key, fail_status
        self.invalid: set[str] = set()
        self.sent: list[dict[str, str]] = []
        self.requests = 0
        self._by_key: dict[str, str] = {}
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with owner._lock:
                    owner.requests += 1
                status, body = owner._answer(self.path, self.headers.get("Authorization", ""),
                                             self.headers.get("Idempotency-Key"), form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _answer(self, path: str, authorization: str, key: str | None,
                form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        expected = "Basic " + base64.b64encode(f"{self.account}:{self.key}".encode()).decode()
        if authorization != expected:
            return 401, {"code": 20003, "message": "Authenticate"}
        if path != f"/2010-04-01/Accounts/{self.account}/Messages.json":
            return 404, {"code": 20404, "message": "Not found"}
        if self.fail_status is not None:
            return self.fail_status, {"code": 30000 + self.fail_status, "message": "failed"}
        if form.get("To") in self.invalid:
            return 400, {"code": 21211, "message": "The 'To' number is not a valid phone number."}
        with self._lock:
            if key and key in self._by_key:
                return 201, {"sid": self._by_key[key], "status": "queued"}
            sid = "SM" + uuid.uuid4().hex
            if key:
                self._by_key[key] = sid
            self.sent.append({**form, "sid": sid})
        return 201, {"sid": sid, "status": "queued", "to": form.get("To")}

    def start(self) -> SmsGateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_sink(port: int) -> None:
    """Run an accepting SMTP server on ``port`` until killed (the bench's child)."""
    import time

    SmtpSink(port, keep=False).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    import sys

    serve_sink(int(sys.argv[1]))
