"""Pieces shared by the wire formats: SSE events and the per-API interface."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from tests.support.model_steps import Reply

Phase = Literal["head", "content", "tail"]


@dataclass
class SSEEvent:
    """One server-sent event.

    ``phase`` lets the handler cut a stream (Truncated) or corrupt it (Garbled) without knowing
    the API: ``head`` events open the message, ``content`` events carry text or tool arguments,
    ``tail`` events close it. ``delay`` is slept before sending.
    """

    data: dict[str, Any] | str
    event: str | None = None
    phase: Phase = "content"
    delay: float = 0.0

    def encode(self) -> bytes:
        data = self.data if isinstance(self.data, str) else json.dumps(self.data)
        prefix = f"event: {self.event}\n" if self.event else ""
        return f"{prefix}data: {data}\n\n".encode()


class WireFormat(Protocol):
    """What the HTTP handler needs from an API's wire format."""

    api: str

    def reply_body(self, reply: Reply, model: str, request: dict[str, Any]) -> dict[str, Any]:
        """The complete non-streaming response body."""
        ...

    def stream_events(self, reply: Reply, model: str, request: dict[str, Any]) -> list[SSEEvent]:
        """The full event sequence for a streamed reply, terminal events included."""
        ...

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        """The API's error JSON for an HTTP error status."""
        ...

    def garbled_event(self) -> SSEEvent:
        """An event whose data line is not valid JSON."""
        ...

    def stream_error_event(self, status: int, message: str, model: str) -> SSEEvent:
        """The API's own error event sent inside an HTTP 200 stream."""
        ...


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def now() -> int:
    return int(time.time())


def split_in_two(text: str) -> list[str]:
    """Tool-call arguments are streamed in two pieces, so clients must join deltas."""
    if len(text) < 2:
        return [text]
    middle = len(text) // 2
    return [text[:middle], text[middle:]]


GARBLED_DATA = '{"this is": "not valid json'
