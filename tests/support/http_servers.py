"""Tiny real HTTP servers on a loopback port that misbehave on purpose.

They stand in for "something outside": a proxy or a broken server between the
desk and the real sync server. Each runs ``http.server`` in a daemon thread on
``127.0.0.1:0`` and counts the requests it receives.

:class:`MisbehavingServer` answers every request with a fixed status and body
(``cut_body``: a body that breaks off), or — in ``hang`` mode — holds the request
until :meth:`MisbehavingServer.release` (so a client's read timeout fires without
the test sleeping). With
``forward_to`` it hangs only the first ``hang_first`` requests and relays the
rest to the real server, as a flaky proxy would. With ``close_reused`` it answers the
first request of each connection and closes the connection, unanswered, when another
request comes on it: a server whose keep-alive timeout ran out just as the request came.
"""

from __future__ import annotations

import http.client
import http.server
import threading
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                        "host"})


class MisbehavingServer:
    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        *,
        content_type: str = "text/html",
        hang_first: int = 0,
        forward_to: str | None = None,
        cut_body: bool = False,
        close_reused: bool = False,
    ) -> None:
        self.requests: list[tuple[str, str]] = []  # (method, path) in arrival order
        self.connections = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            answered = 0  # requests answered on this connection

            def setup(self) -> None:
                super().setup()
                with owner._lock:
                    owner.connections += 1

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                with owner._lock:
                    owner.requests.append((self.command, self.path))
                    number = len(owner.requests)
                if close_reused and self.answered:
                    self.close_connection = True
                    return
                self.answered += 1
                if number <= hang_first:
                    owner._released.wait()  # until the test releases it (the client gave up)
                    self.close_connection = True
                    return
                if forward_to is not None:
                    self._relay(forward_to, payload)
                    return
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                # cut_body: announce more than is sent, then close (the answer breaks off).
                self.send_header("Content-Length", str(len(body) + (100 if cut_body else 0)))
                self.end_headers()
                self.wfile.write(body)
                if cut_body:
                    self.close_connection = True

            def _relay(self, target: str, payload: bytes) -> None:
                parts = urlsplit(target)
                upstream = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=payload or None,
                                     headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Let hanging requests end (their connection closes without an answer)."""
        self._released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> MisbehavingServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
