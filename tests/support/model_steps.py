"""What a scripted model server does for one request (steps) and what it saw (records).

Steps are plain dataclasses so tests read like a script::

    srv.script(Reply("hello"), Fault(429), Reply(tool_calls=[ToolCall("run", {"code": "1"})]))

`step_from_dict` turns the JSON form used by ``--script FILE.json`` and the control endpoint
(``{"kind": "reply", "text": "hi"}``) back into a step, so subprocess servers are scriptable too.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Api = Literal["openai", "anthropic", "responses"]
RequestKind = Literal["model", "title", "models", "count_tokens", "other"]

DEFAULT_REPLY_TEXT = "(no scripted reply)"


def new_call_id() -> str:
    """A tool-call id that is unique within a test run."""
    return "call_" + uuid.uuid4().hex[:16]


@dataclass
class ToolCall:
    """A function/tool call the model asks the client to run."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_call_id)

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments)


@dataclass
class Reply:
    """A successful answer: text (optionally in streamed chunks) and/or tool calls.

    ``chunks`` overrides how ``text`` is split into stream events (their concatenation is the
    text); ``delay`` seconds pass before each chunk, so ``Reply(chunks=["x"] * 50, delay=0.1)``
    gives a 5 s stream to interrupt. ``usage`` is ``(prompt_tokens, completion_tokens)``.
    ``thinking`` is sent first, in each API's reasoning form (Anthropic ``thinking`` block,
    Responses ``reasoning`` summary, chat ``reasoning_content``).
    """

    text: str = ""
    chunks: list[str] | None = None
    delay: float = 0.0
    usage: tuple[int, int] = (10, 5)
    tool_calls: list[ToolCall] = field(default_factory=list)
    thinking: str = ""

    def __post_init__(self) -> None:
        if self.chunks is not None and not self.text:
            self.text = "".join(self.chunks)
        elif self.chunks is not None and "".join(self.chunks) != self.text:
            raise ValueError("Reply.chunks must concatenate to Reply.text")

    def text_chunks(self) -> list[str]:
        """The text as it is streamed (one SSE event per element)."""
        if self.chunks is not None:
            return list(self.chunks)
        return [self.text] if self.text else []


@dataclass
class Fault:
    """An HTTP error in the API's own error shape (401 auth, 429 rate limit, 500 server...).

    ``retry-after: 0`` by default so SDKs that retry do so at once; their retries consume the
    next scripted steps, which is how tests script "fails twice, then succeeds".
    """

    status: int = 500
    message: str = "scripted fault"
    headers: dict[str, str] = field(default_factory=lambda: {"retry-after": "0"})


@dataclass
class Hang:
    """Read the request, then send nothing for ``seconds`` (or until the server stops), then
    close the connection: for client timeout tests."""

    seconds: float = 30.0


@dataclass
class Garbled:
    """HTTP 200 whose stream has a malformed ``data:`` line after the first half of ``text``
    (non-streaming: a body that is not JSON)."""

    text: str = "garbled reply"
    chunks: list[str] | None = None


@dataclass
class Truncated:
    """A stream that stops after ``after_chunks`` text chunks (default: half) with no final
    ``[DONE]``/stop event.

    ``abrupt=True`` drops the TCP connection mid chunked-encoding (the client sees a protocol
    error, like a dropped connection); ``abrupt=False`` ends the HTTP body cleanly, so only the
    missing stop event tells the client something is wrong.
    """

    text: str = "this reply stops in the middle"
    chunks: list[str] | None = None
    after_chunks: int | None = None
    abrupt: bool = True


@dataclass
class StreamError:
    """HTTP 200, ``after_chunks`` text chunks (default: half), then the API's own mid-stream
    error event (Anthropic ``event: error``, OpenAI ``{"error": ...}`` chunk, Responses
    ``response.failed``), like a real overloaded server. ``status`` picks the error type as
    for `Fault` (529 → Anthropic ``overloaded_error``). Non-streaming requests get a `Fault`."""

    text: str = "this reply fails in the middle"
    status: int = 529
    message: str = "scripted stream error"
    chunks: list[str] | None = None
    after_chunks: int | None = None


Step = Reply | Fault | Hang | Garbled | Truncated | StreamError

_STEP_KINDS: dict[str, type] = {
    "reply": Reply,
    "fault": Fault,
    "hang": Hang,
    "garbled": Garbled,
    "truncated": Truncated,
    "stream_error": StreamError,
}


def step_from_dict(data: dict[str, Any]) -> Step:
    """Build a step from its JSON form, e.g. ``{"kind": "fault", "status": 429}``."""
    data = dict(data)
    kind = data.pop("kind", "reply")
    cls = _STEP_KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown step kind {kind!r}; expected one of {sorted(_STEP_KINDS)}")
    if cls is Reply:
        data["tool_calls"] = [ToolCall(**call) for call in data.get("tool_calls", [])]
        if "usage" in data:
            data["usage"] = tuple(data["usage"])
    return cls(**data)


def step_to_dict(step: Step) -> dict[str, Any]:
    """The JSON form of a step (inverse of `step_from_dict`)."""
    kind = next(name for name, cls in _STEP_KINDS.items() if isinstance(step, cls))
    data: dict[str, Any] = {"kind": kind, **step.__dict__}
    if isinstance(step, Reply):
        data["tool_calls"] = [call.__dict__ for call in step.tool_calls]
        data["usage"] = list(step.usage)
    return data


@dataclass
class RecordedRequest:
    """One HTTP request as the server received it (headers lower-cased)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body_json: Any
    api: Api
    kind: RequestKind = "model"
    step: Step | None = None
    client_disconnected: bool = False

    @property
    def is_model_request(self) -> bool:
        return self.kind == "model"

    @property
    def stream(self) -> bool:
        return isinstance(self.body_json, dict) and bool(self.body_json.get("stream"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (for the control endpoint of subprocess servers)."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body_json": self.body_json,
            "api": self.api,
            "kind": self.kind,
            "step": step_to_dict(self.step) if self.step is not None else None,
            "client_disconnected": self.client_disconnected,
        }


Responder = Callable[[RecordedRequest], "Step | None"]


class RequestLog:
    """Thread-safe list of recorded requests that tests can wait on."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._changed = threading.Condition()

    def append(self, request: RecordedRequest) -> None:
        with self._changed:
            self._items.append(request)
            self._changed.notify_all()

    def snapshot(self) -> list[RecordedRequest]:
        with self._changed:
            return list(self._items)

    def clear(self) -> None:
        with self._changed:
            self._items.clear()

    def wait_for(
        self, predicate: Callable[[RecordedRequest], bool], count: int, timeout: float
    ) -> list[RecordedRequest]:
        """Block until ``count`` matching requests arrived; `TimeoutError` says how many did."""
        with self._changed:
            matched: list[RecordedRequest] = []

            def enough() -> bool:
                matched[:] = [r for r in self._items if predicate(r)]
                return len(matched) >= count

            if not self._changed.wait_for(enough, timeout):
                raise TimeoutError(
                    f"expected {count} request(s) within {timeout}s, got {len(matched)}: "
                    + ", ".join(f"{r.method} {r.path} ({r.kind})" for r in self._items)
                )
            return matched
