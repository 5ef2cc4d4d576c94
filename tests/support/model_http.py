"""The HTTP side of the scripted model server: routing, auth, and playing a step on the wire.

HTTP/1.1 with keep-alive (real clients pool connections); non-streaming answers carry a
Content-Length, streams use chunked encoding so a `Truncated(abrupt=True)` step can break the
body mid-way the way a dropped connection does.
"""

from __future__ import annotations

import json
import math
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.model_steps import (
    Api,
    Fault,
    Garbled,
    Hang,
    RecordedRequest,
    Reply,
    RequestKind,
    Step,
    StreamError,
    Truncated,
    step_from_dict,
)
from tests.support.title_requests import is_title_request
from tests.support.wire import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES, SSEEvent
from tests.support.wire.common import WireFormat, now

if TYPE_CHECKING:
    from tests.support.model_server import ScriptedModelServer

_WIRES: dict[str, WireFormat] = {
    "openai": OPENAI_CHAT,
    "anthropic": ANTHROPIC_MESSAGES,
    "responses": OPENAI_RESPONSES,
}

# path (without a leading /v1) -> (api, kind) for POST requests
_POST_ROUTES: dict[str, tuple[Api, RequestKind]] = {
    "/chat/completions": ("openai", "model"),
    "/messages": ("anthropic", "model"),
    "/messages/count_tokens": ("anthropic", "count_tokens"),
    "/responses": ("responses", "model"),
}


class ClientGone(Exception):
    """The client closed the connection while we were answering (e.g. an interrupt)."""


class ModelRequestHandler(BaseHTTPRequestHandler):
    """One connection to the scripted server; ``self.server.owner`` holds the script."""

    protocol_version = "HTTP/1.1"
    server_version = "ScriptedModelServer/1"

    @property
    def owner(self) -> ScriptedModelServer:
        return self.server.owner  # type: ignore[attr-defined]

    # -- plumbing ---------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.owner._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.owner._track_connection(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet by default: pytest output stays readable; `srv.requests` is the record."""

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            raise ClientGone from exc

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), headers)

    def _send_bytes(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self._write(body)

    # -- routing ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = dict(parse_qsl(parts.query))
        headers = {name.lower(): value for name, value in self.headers.items()}
        raw = self._read_body() if method == "POST" else b""
        route = path[3:] if path.startswith("/v1/") else path
        api, kind = self._classify(method, route, headers)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self.owner._log.append(
                RecordedRequest(method, path, query, headers, None, api, "other")
            )
            self._send_json(400, _WIRES[api].error_body(400, "request body is not JSON"))
            return
        request = RecordedRequest(method, path, query, headers, body, api, kind)
        try:
            self._route(request, route)
        except ClientGone:
            request.client_disconnected = True
            self.close_connection = True

    def _classify(
        self, method: str, route: str, headers: dict[str, str]
    ) -> tuple[Api, RequestKind]:
        if method == "POST" and route in _POST_ROUTES:
            return _POST_ROUTES[route]
        anthropic = "anthropic-version" in headers or "x-api-key" in headers
        api: Api = "anthropic" if anthropic else "openai"
        return api, "models" if route == "/models" else "other"

    def _route(self, request: RecordedRequest, route: str) -> None:
        owner = self.owner
        wire = _WIRES[request.api]
        if not owner._authorized(request.headers):
            owner._log.append(request)
            self._send_json(401, wire.error_body(401, "invalid or missing API key"))
            return
        if route.startswith("/_control/"):
            self._control(request, route)
            return
        if request.kind == "model" and owner.detect_titles and is_title_request(request.body_json):
            request.kind = "title"
        if request.kind == "model":
            request.step = owner._next_step(request)
        owner._log.append(request)
        if request.kind == "models":
            self._send_json(200, self._models_body(request.api))
        elif request.kind == "count_tokens":
            self._send_json(200, {"input_tokens": 10})
        elif request.kind == "title":
            self._play(request, wire, Reply(json.dumps({"title": owner.title})))
        elif request.kind == "model":
            assert request.step is not None
            self._play(request, wire, request.step)
        else:
            self._send_json(
                404, wire.error_body(404, f"no route for {request.method} {request.path}")
            )

    def _models_body(self, api: Api) -> dict[str, Any]:
        ids = list(self.owner.models)
        if api == "anthropic":
            data = [
                {"type": "model", "id": i, "display_name": i, "created_at": "2025-01-01T00:00:00Z"}
                for i in ids
            ]
            return {
                "data": data,
                "has_more": False,
                "first_id": ids[0] if ids else None,
                "last_id": ids[-1] if ids else None,
            }
        data = [{"id": i, "object": "model", "created": now(), "owned_by": "scripted"} for i in ids]
        return {"object": "list", "data": data}

    def _control(self, request: RecordedRequest, route: str) -> None:
        """Let another process script a subprocess server and read what it recorded."""
        owner = self.owner
        if route == "/_control/script" and request.method == "POST":
            steps = [step_from_dict(item) for item in request.body_json or []]
            owner.script(*steps)
            self._send_json(200, {"pending": owner.pending_steps()})
        elif route == "/_control/requests":
            self._send_json(200, [r.to_dict() for r in owner.requests])
        elif route == "/_control/reset" and request.method == "POST":
            owner.reset()
            self._send_json(200, {"pending": 0})
        else:
            self._send_json(404, {"error": {"message": f"unknown control route {route}"}})

    # -- playing a step ---------------------------------------------------------------------

    def _play(self, request: RecordedRequest, wire: WireFormat, step: Step) -> None:
        body = request.body_json if isinstance(request.body_json, dict) else {}
        model = str(body.get("model") or "scripted")
        stream = bool(body.get("stream"))
        if isinstance(step, Fault):
            self._send_json(step.status, wire.error_body(step.status, step.message), step.headers)
        elif isinstance(step, Hang):
            self.owner._stopping.wait(step.seconds)
            self.close_connection = True
        elif isinstance(step, Reply):
            if stream:
                self._stream(wire.stream_events(step, model, body))
            else:
                self._send_json(200, wire.reply_body(step, model, body))
        elif isinstance(step, Garbled):
            self._play_garbled(wire, step, model, body, stream)
        elif isinstance(step, Truncated):
            self._play_truncated(wire, step, model, body, stream)
        elif isinstance(step, StreamError):
            self._play_stream_error(wire, step, model, body, stream)
        else:
            raise TypeError(f"not a step: {step!r}")

    def _play_garbled(
        self, wire: WireFormat, step: Garbled, model: str, body: dict[str, Any], stream: bool
    ) -> None:
        if not stream:
            self._send_bytes(200, b'{"id": "garbled", "choices": [')
            return
        events = wire.stream_events(Reply(step.text, step.chunks or _words(step.text)), model, body)
        content = [i for i, event in enumerate(events) if event.phase == "content"]
        cut = content[math.ceil(len(content) / 2) - 1] + 1 if content else 1
        self._stream(events[:cut] + [wire.garbled_event()] + events[cut:])

    def _play_truncated(
        self, wire: WireFormat, step: Truncated, model: str, body: dict[str, Any], stream: bool
    ) -> None:
        self.close_connection = True
        reply = Reply(step.text, step.chunks or _words(step.text))
        if not stream:
            full = json.dumps(wire.reply_body(reply, model, body)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(full)))
            self.end_headers()
            self._write(full[: len(full) // 2])
            return
        events = wire.stream_events(reply, model, body)
        cut = _cut_after_content(events, step.after_chunks)
        self._stream(events[:cut], finish=not step.abrupt)

    def _play_stream_error(
        self, wire: WireFormat, step: StreamError, model: str, body: dict[str, Any], stream: bool
    ) -> None:
        if not stream:
            self._send_json(step.status, wire.error_body(step.status, step.message))
            return
        events = wire.stream_events(Reply(step.text, step.chunks or _words(step.text)), model, body)
        cut = _cut_after_content(events, step.after_chunks)
        error = wire.stream_error_event(step.status, step.message, model)
        if isinstance(error.data, dict) and "sequence_number" in error.data:
            error.data["sequence_number"] = cut  # Responses events are numbered in order
        self._stream(events[:cut] + [error])

    def _stream(self, events: list[SSEEvent], finish: bool = True) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in events:
            if event.delay and self.owner._stopping.wait(event.delay):
                self.close_connection = True
                return
            data = event.encode()
            self._write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        if finish:
            self._write(b"0\r\n\r\n")
        else:
            self.close_connection = True


def _words(text: str) -> list[str]:
    """Split text into word chunks (spaces kept) so "half the stream" means something."""
    pieces = text.split(" ")
    return [piece + " " for piece in pieces[:-1]] + [pieces[-1]] if text else []


def _cut_after_content(events: list[SSEEvent], keep: int | None) -> int:
    """Index just after the ``keep``-th content event (default: half of them, at least one),
    so a cut stream has its opening events and some text but none of its closing events."""
    content = [i for i, event in enumerate(events) if event.phase == "content"]
    if not content:
        return 1
    keep = keep if keep is not None else max(1, len(content) // 2)
    return content[min(max(keep, 1), len(content)) - 1] + 1 if keep > 0 else content[0]
