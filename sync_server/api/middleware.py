"""The outermost ASGI layer: request id, protocol check, body limit, access log, request
metrics.

Pure ASGI (no BaseHTTPMiddleware) so it neither buffers bodies nor breaks
the server-sent-event streams that come later.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduling.sync_protocol import (
    MIN_PROTOCOL_VERSION,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    REQUEST_ID_HEADER,
    UPDATE_REQUIRED,
)
from sync_server.api.errors import error_response
from sync_server.core.metrics import ServerMetrics
from sync_server.core.throttle import LoginGuard, Throttled

access_log = logging.getLogger("sync_server.access")

_PROTOCOL_HEADER = PROTOCOL_HEADER.lower().encode()
_REQUEST_ID_HEADER = REQUEST_ID_HEADER.lower().encode()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, desk_download_url: str = "",
                 body_idle_seconds: float = 5.0, body_total_seconds: float = 60.0,
                 login_guard: LoginGuard | None = None, login_path: str = "",
                 metrics: ServerMetrics | None = None, upload_path_suffix: str = "",
                 max_upload_bytes: int = 0) -> None:
        self.app = app
        #: Requests to paths ending so (file uploads) may send up to ``max_upload_bytes``.
        self.upload_path_suffix = upload_path_suffix
        self.max_upload_bytes = max_upload_bytes
        self.metrics = metrics
        self.login_guard = login_guard
        self.login_path = login_path
        self.max_body_bytes = max_body_bytes
        #: Where a too-old desk downloads the update (shown with "update required").
        self.desk_download_url = desk_download_url
        self.body_idle_seconds = body_idle_seconds
        self.body_total_seconds = body_total_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        request_id = _request_id(headers.get(_REQUEST_ID_HEADER))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (_REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            limit = self._body_limit(scope)
            refusal = self._refuse_early(headers, limit) or self._throttle_login(scope)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
            else:
                await self.app(scope, self._limited(receive, limit), send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            if self.metrics is not None:
                self.metrics.count_request(scope.get("method") or "", route, status, seconds)
            access_log.info(
                "request",
                extra={
                    "event": "request",
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "path": route or scope.get("path"),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )

    def _body_limit(self, scope: Scope) -> int:
        if self.upload_path_suffix and scope.get("method") == "POST" \
                and str(scope.get("path", "")).endswith(self.upload_path_suffix):
            return max(self.max_upload_bytes, self.max_body_bytes)
        return self.max_body_bytes

    def _refuse_early(self, headers: dict[bytes, bytes], limit: int) -> Any:
        raw_protocol = headers.get(_PROTOCOL_HEADER)
        if raw_protocol is not None:
            try:
                protocol = int(raw_protocol.decode("latin-1").strip())
            except ValueError:
                return error_response(
                    400,
                    "bad_protocol_header",
                    f"The {PROTOCOL_HEADER} header must be a whole number.",
                )
            if protocol < MIN_PROTOCOL_VERSION:
                return error_response(
                    426,
                    UPDATE_REQUIRED,
                    "This desk is too old for the server: please install the update. "
                    "Changes made meanwhile are kept and will be sent after updating.",
                    {PROTOCOL_HEADER: str(PROTOCOL_VERSION)},
                    minimum_protocol=MIN_PROTOCOL_VERSION,
                    **({"download_url": self.desk_download_url}
                       if self.desk_download_url else {}),
                )
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                return error_response(400, "bad_request", "Invalid Content-Length header.")
            if too_big:
                return _too_large(limit)
        return None

    def _throttle_login(self, scope: Scope) -> Any:
        """A sign-in from a client over its rate limit: 429 before the body is read."""
        if (self.login_guard is None or scope.get("path") != self.login_path
                or scope.get("method") != "POST"):
            return None
        client = scope.get("client")
        try:
            self.login_guard.check_client(client[0] if client else "unknown")
        except Throttled as busy:
            return error_response(429, "too_many_requests", busy.message,
                                  {"Retry-After": str(busy.retry_after)})
        return None

    def _limited(self, receive: Receive, limit: int) -> Receive:
        """``receive`` with the body size limit and the body read timeouts: a body that
        pauses longer than ``body_idle_seconds`` between chunks, or takes longer than
        ``body_total_seconds`` in all, is answered 408 (a slow-body client cannot hold a
        worker). Once the body is complete, receive waits as long as the app likes (event
        streams wait on it for the client to leave)."""
        received = 0
        body_done = False
        deadline: float | None = None

        async def limited_receive() -> Message:
            nonlocal received, body_done, deadline
            if body_done:
                return await receive()
            now = time.monotonic()
            deadline = deadline or now + self.body_total_seconds
            try:
                message = await asyncio.wait_for(
                    receive(), min(self.body_idle_seconds, max(deadline - now, 0.0)))
            except TimeoutError:
                raise HTTPException(408, _SLOW_BODY, headers={"Connection": "close"}) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    # FastAPI re-raises HTTPException from body reading; our handler shapes it.
                    raise HTTPException(413, _too_large_message(limit))
            else:
                body_done = True
            return message

        return limited_receive


_SLOW_BODY = ("The request body arrived too slowly; the connection is closed. Check the "
              "network and send the request again.")


def route_template(scope: Scope) -> str | None:
    """The matched route's path template with its routers' prefixes (``None``: no route
    matched); never the requested path, which carries ids."""
    # FastAPI 0.16x keeps included routers lazy: the matched route's own path lacks the
    # prefix, the effective route context has it. Earlier versions copy routes with it.
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(effective, "path", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


def _request_id(given: bytes | None) -> str:
    if given:
        text = given.decode("latin-1")
        if 0 < len(text) <= 64 and all(ch.isalnum() or ch in "-_." for ch in text):
            return text
    return uuid.uuid4().hex


def _too_large_message(limit: int) -> str:
    return f"The request body is larger than the server accepts ({limit} bytes)."


def _too_large(limit: int) -> Any:
    return error_response(413, "payload_too_large", _too_large_message(limit))
