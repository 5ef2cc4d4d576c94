"""Tiny misbehaving HTTP endpoints on 127.0.0.1 for discovery tests: one that hangs, one that
answers garbage, and a fake TabMinion.  Each is a context manager that stops its server thread."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stop_event: threading.Event
    routes: dict[str, Any]
    seen: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self.server.seen.append(self.path)
        route = self.server.routes.get(self.path.split("?")[0])
        if route == "hang":
            self.server.stop_event.wait(30)
            return
        if route is None:
            body, status, kind = b"not found", 404, "text/plain"
        elif isinstance(route, (bytes, str)):
            body = route.encode() if isinstance(route, str) else route
            status, kind = 200, "text/html"
        else:
            body, status, kind = json.dumps(route).encode(), 200, "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Endpoint:
    """``with Endpoint({"/v1/models": "hang"}) as ep: ep.url``"""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.routes = routes
        self.server.seen = []
        self.server.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def seen(self) -> list[str]:
        return self.server.seen

    def __enter__(self) -> Endpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop_event.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
