"""A real HTTP server on loopback for the tests of outbound calls: it serves files (URL
sources) and receives webhooks, recording every request. A threaded http.server, started
and stopped by the test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Served:
    body: bytes
    etag: str | None = None
    status: int = 200


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Loopback:
    url: str = ""
    files: dict[str, Served] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses for the next POSTs; then 200
    hang_seconds: float = 0.0  # every request waits this long before it is answered
    gets: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def posts_to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def _handler(state: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            state.gets.append((self.path, dict(self.headers)))
            if state.hang_seconds:
                time.sleep(state.hang_seconds)
            path, _, query = self.path.partition("?")
            if path == "/redirect":  # /redirect?to=<where>
                target = parse_qs(query).get("to", ["/"])[0]
                self._answer(302, headers={"Location": target})
                return
            served = state.files.get(path)
            if served is None:
                self._answer(404, b"not found")
                return
            if served.etag and self.headers.get("If-None-Match") == served.etag:
                self._answer(304)
                return
            headers = {"ETag": served.etag} if served.etag else {}
            self._answer(served.status, served.body, headers)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.received.append(Received(self.path, dict(self.headers), body, time.time()))
            if state.hang_seconds:
                time.sleep(state.hang_seconds)
            status = state.answers.pop(0) if state.answers else 200
            self._answer(status, b"ok")

    return Handler


@contextmanager
def loopback_server(host: str = "127.0.0.1") -> Iterator[Loopback]:
    state = Loopback()
    server = ThreadingHTTPServer((host, 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
