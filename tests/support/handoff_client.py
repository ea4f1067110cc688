"""A small patient-facing app on loopback that plays seed 004's client: discovers slots
(SMART Scheduling Links), sends a patient to the portal's deep link with ``state`` and
``returnUrl``, and on ``/return`` records the outcome and exchanges the ``resultToken``
at the back channel for the FHIR Appointment.

It is a real HTTP server (``http.server`` in a daemon thread on ``127.0.0.1``); a browser
driven by Playwright follows the portal's redirect to it like to any app. Use::

    app = HandoffClient(server_url, org_slug, client_id, client_secret).start()
    slot = app.free_slots()[0]
    link = app.deep_link(slot, state="attempt-1")   # open it in the browser
    ...                                            # the patient books in the portal
    result = app.wait_for_return("attempt-1")       # params, the Appointment (or error)
    app.stop()

Register the client with ``app.return_url`` (``http://127.0.0.1:<port>/return``) on its
allow-list before sending anyone.
"""

from __future__ import annotations

import html
import http.server
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

DEEP_LINK = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Returned:
    """One return to ``/return``: its query parameters and what the back channel said."""

    params: dict[str, str]
    appointment: dict[str, Any] | None = None
    exchange_status: int | None = None
    exchange_error: dict[str, Any] | None = None


@dataclass
class HandoffClient:
    server_url: str
    org_slug: str
    client_id: str
    client_secret: str
    returns: dict[str, Returned] = field(default_factory=dict)
    port: int = field(default_factory=_free_port)

    def __post_init__(self) -> None:
        self._arrived = threading.Condition()
        self._http = requests.Session()
        self._server: http.server.ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ server

    @property
    def return_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/return"

    def start(self) -> HandoffClient:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/return":
                    self.send_error(404)
                    return
                returned = owner._receive(dict(parse_qsl(parts.query,
                                                         keep_blank_values=True)))
                outcome = html.escape(returned.params.get("outcome", ""))
                status = html.escape(str((returned.appointment or {}).get("status", "")))
                body = (f"<!doctype html><title>Back in the app</title>"
                        f"<h1 id='outcome'>{outcome}</h1><p id='status'>{status}</p>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:  # quiet
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------------ discovery

    def fhir(self, path: str) -> str:
        return f"{self.server_url}/fhir/{self.org_slug}/{path}"

    def manifest(self) -> dict[str, Any]:
        answer = self._http.get(self.fhir("$bulk-publish"), timeout=30)
        answer.raise_for_status()
        manifest: dict[str, Any] = answer.json()
        return manifest

    def published(self) -> dict[str, list[dict[str, Any]]]:
        """The manifest's files, read: ``{"Location": [...], "Schedule": [...], "Slot": [...]}``."""
        files: dict[str, list[dict[str, Any]]] = {}
        for item in self.manifest()["output"]:
            answer = self._http.get(item["url"], timeout=30)
            answer.raise_for_status()
            files.setdefault(item["type"], []).extend(
                json.loads(line) for line in answer.text.splitlines() if line)
        return files

    def free_slots(self) -> list[dict[str, Any]]:
        return [s for s in self.published().get("Slot", []) if s["status"] == "free"]

    def deep_link(self, slot: dict[str, Any], state: str) -> str:
        """The slot's booking deep link with ``state`` and ``returnUrl`` added (after any
        query the link already has, as the IG asks)."""
        link = next(e["valueUrl"] for e in slot["extension"] if e["url"] == DEEP_LINK)
        parts = urlsplit(link)
        query = [*parse_qsl(parts.query, keep_blank_values=True), ("state", state),
                 ("returnUrl", self.return_url)]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    # ------------------------------------------------------------------ return + back channel

    def access_token(self) -> str:
        answer = self._http.post(self.fhir("auth/token"), timeout=30, data={
            "grant_type": "client_credentials", "client_id": self.client_id,
            "client_secret": self.client_secret})
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def exchange(self, result_token: str) -> requests.Response:
        return self._http.post(self.fhir("handoff/result"), timeout=30,
                               headers={"Authorization": f"Bearer {self.access_token()}"},
                               json={"resultToken": result_token})

    def _receive(self, params: dict[str, str]) -> Returned:
        returned = Returned(params)
        token = params.get("resultToken")
        if token:
            answer = self.exchange(token)
            returned.exchange_status = answer.status_code
            if answer.status_code == 200:
                returned.appointment = answer.json()
            else:
                returned.exchange_error = answer.json()
        with self._arrived:
            self.returns[params.get("state", "")] = returned
            self._arrived.notify_all()
        return returned

    def wait_for_return(self, state: str, timeout: float = 30.0) -> Returned:
        with self._arrived:
            if not self._arrived.wait_for(lambda: state in self.returns, timeout):
                raise AssertionError(f"no return for state {state!r} within {timeout} s")
            return self.returns[state]
