"""A scripted model server that real clients talk to over HTTP on 127.0.0.1.

Real clients — litellm inside a kernel subprocess, the real Claude Code and Codex CLIs, httpx —
reach it through their normal base-URL settings, so tests exercise the real SDK code paths
(streaming, retries, error mapping) with answers the test chose in advance.

Contract (others code against this; keep it stable)
---------------------------------------------------
``ScriptedModelServer(*, require_key=None, models=("scripted",), title="Scripted session",
detect_titles=True, port=0)`` is a context manager; ``start()``/``stop()`` also work. It serves
from a background thread, so it suits sync tests, async tests and benchmarks alike.

* ``srv.url`` = ``http://127.0.0.1:PORT``; ``srv.openai_base`` = ``srv.url + "/v1"`` (OpenAI
  chat and Responses clients, Codex); ``srv.anthropic_base`` = ``srv.url`` (Anthropic SDKs and
  Claude Code append ``/v1/messages`` themselves).
* ``srv.script(*steps)`` appends steps (see `tests.support.model_steps`); each *model* request
  consumes one, in order. ``srv.responder = fn(request) -> step | None`` is asked first and may
  fall through with ``None``; if it raises, the client gets a 500 naming the exception and
  the exception lands in ``srv.responder_errors``. With nothing scripted the answer is ``Reply("(no scripted
  reply)")`` — a test never hangs on a forgotten step.
* Steps: ``Reply(text, chunks=None, delay=0.0, usage=(10, 5), tool_calls=[ToolCall(name,
  arguments, id)], thinking="")``, ``Fault(status, message, headers={"retry-after": "0"})``,
  ``Hang(seconds)``, ``Garbled(text)``, ``Truncated(text, after_chunks=None, abrupt=True)``,
  ``StreamError(text, status=529, message, after_chunks=None)`` (API error event mid-stream).
* Routes (``/v1`` prefix optional): ``POST /v1/chat/completions`` (OpenAI; honours
  ``stream_options.include_usage``), ``POST /v1/messages`` (Anthropic, ``?beta=true`` too),
  ``POST /v1/messages/count_tokens``, ``POST /v1/responses`` (OpenAI Responses, used by Codex),
  ``GET /v1/models`` (Anthropic's shape when the request has ``anthropic-version`` or
  ``x-api-key``, OpenAI's otherwise). Each answers JSON, or SSE when the body has
  ``"stream": true``.
* Title requests (Claude Code and Codex ask for a session title on the side) are answered with
  ``{"title": srv.title}`` and consume no step; see `tests.support.title_requests` for the rule.
* Recording: ``srv.requests`` (list of `RecordedRequest`: method, path, query, headers,
  body_json, api ``"openai"|"anthropic"|"responses"``, kind ``"model"|"title"|"models"|...``,
  the step played, ``client_disconnected``), ``srv.model_requests()``, ``srv.last_request()``,
  ``srv.wait_for_requests(n, timeout=5.0)`` (n *model* requests; ``model_only=False`` counts
  every request; ``await srv.wait_for_requests_async(...)`` in async tests). ``srv.pending_steps()``, ``srv.reset()``.
* ``require_key="sk-test"``: any other ``Authorization: Bearer`` / ``x-api-key`` gets a 401
  in the API's own error shape.
* Subprocess: ``python -m tests.support.model_server --port 0 [--script FILE.json]`` prints
  ``PORT <n>`` as its first stdout line and serves until SIGTERM/SIGINT. The script file is a
  JSON list of steps in `step_from_dict` form (``{"kind": "reply", "text": "hi"}``). Another
  process may ``POST /_control/script`` (same list), ``GET /_control/requests``,
  ``POST /_control/reset``.

How litellm 1.110 surfaces each step
-----------------------------------
``litellm.acompletion(stream=True, max_retries=0)`` then iterating the stream; the table
`LITELLM_SURFACES` below is asserted by ``tests/test_model_server.py`` so it cannot go stale
(the version is pinned in ``.ci/requirements.lock``; an upgrade re-runs that test).

==================  ==========================  ==========================================
step                openai/ (chat completions)  anthropic/ (messages)
==================  ==========================  ==========================================
Fault(401)          AuthenticationError         AuthenticationError
Fault(429)          RateLimitError              RateLimitError
Fault(500)          InternalServerError         InternalServerError
Hang (timeout=)     Timeout                     Timeout
Garbled             MidStreamFallbackError      MidStreamFallbackError
                    (while iterating, after     ("Stream ended before a finish_reason was
                    the first half of the text) received": the bad line is skipped)
Truncated(abrupt)   MidStreamFallbackError      MidStreamFallbackError
Truncated(clean)    MidStreamFallbackError      MidStreamFallbackError
                    (no finish_reason)          (no finish_reason)
StreamError         MidStreamFallbackError      MidStreamFallbackError
==================  ==========================  ==========================================

Up to litellm 1.106 an Anthropic Garbled stream and a clean truncation raised nothing (the text
was silently short); since 1.110 every damaged stream raises. The kernel's own finish check
(`aiikernel.lm.litellm_client`) covers both, so users see "Broken stream" either way.

All exception classes live in ``litellm.exceptions`` (``MidStreamFallbackError``, which is not
re-exported as ``litellm.MidStreamFallbackError``, subclasses
``ServiceUnavailableError`` and wraps an ``APIConnectionError``; ``litellm.Timeout`` is
``APITimeoutError``). Faults are raised by ``acompletion`` itself, mid-stream errors by the
iteration. A ``MidStreamFallbackError`` carries ``.generated_content`` (the text received
before the failure) and ``.original_exception``: ``APIConnectionError`` for a broken or garbled
stream, ``InternalServerError`` for Anthropic's own ``event: error`` (the openai/ route reports
its error chunk as ``APIConnectionError`` too). Retries: without ``max_retries=0`` the openai/ route retries 429 and 5xx twice
(each retry consumes the next scripted step, honouring ``retry-after: 0``); the anthropic/
route does not retry.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterable
from http.server import ThreadingHTTPServer
from types import TracebackType

from tests.support.model_http import ModelRequestHandler
from tests.support.model_steps import (
    DEFAULT_REPLY_TEXT,
    Fault,
    Garbled,
    Hang,
    RecordedRequest,
    Reply,
    RequestLog,
    Responder,
    Step,
    StreamError,
    ToolCall,
    Truncated,
    step_from_dict,
)

__all__ = [
    "LITELLM_SURFACES",
    "Fault",
    "Garbled",
    "Hang",
    "RecordedRequest",
    "Reply",
    "ScriptedModelServer",
    "Step",
    "StreamError",
    "ToolCall",
    "Truncated",
]

# (litellm provider prefix, step label) -> exception class raised by litellm 1.110 with
# stream=True, max_retries=0 (None: no exception). Asserted by tests/test_model_server.py.
LITELLM_SURFACES: dict[tuple[str, str], str | None] = {
    **{
        (provider, label): name
        for provider in ("openai", "anthropic")
        for label, name in (
            ("Fault(401)", "AuthenticationError"),
            ("Fault(429)", "RateLimitError"),
            ("Fault(500)", "InternalServerError"),
            ("Hang", "Timeout"),
            ("Truncated(abrupt)", "MidStreamFallbackError"),
            ("Truncated(clean)", "MidStreamFallbackError"),
            ("StreamError", "MidStreamFallbackError"),
        )
    },
    ("openai", "Garbled"): "MidStreamFallbackError",
    ("anthropic", "Garbled"): "MidStreamFallbackError",
}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not block stop()
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: ScriptedModelServer) -> None:
        self.owner = owner
        super().__init__(address, ModelRequestHandler)

    def get_request(self) -> tuple[socket.socket, object]:
        # Streamed SSE events are small writes: without TCP_NODELAY, Nagle + the client's
        # delayed ACK add ~40 ms stalls that no real provider has, skewing every timing.
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class ScriptedModelServer:
    """Serve scripted model answers on 127.0.0.1 (see the module docstring for the contract)."""

    def __init__(
        self,
        *,
        require_key: str | None = None,
        models: Iterable[str] = ("scripted",),
        title: str = "Scripted session",
        detect_titles: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.require_key = require_key
        self.models = list(models)
        self.title = title
        self.detect_titles = detect_titles
        self.responder: Responder | None = None
        self.responder_errors: list[Exception] = []
        self._host, self._port = host, port
        self._steps: deque[Step] = deque()
        self._steps_lock = threading.Lock()
        self._log = RequestLog()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> ScriptedModelServer:
        if self._httpd is not None:
            raise RuntimeError("ScriptedModelServer already started")
        self._stopping.clear()
        self._httpd = _HTTPServer((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-model-server:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake hanging/slow answers and drop open connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _track_connection(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # -- addresses --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("ScriptedModelServer is not running")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def openai_base(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base(self) -> str:
        return self.url

    # -- script -----------------------------------------------------------------------------

    def script(self, *steps: Step) -> ScriptedModelServer:
        """Queue steps, consumed one per model request in order."""
        for step in steps:
            if not isinstance(step, (Reply, Fault, Hang, Garbled, Truncated, StreamError)):
                raise TypeError(f"not a scripted step: {step!r}")
        with self._steps_lock:
            self._steps.extend(steps)
        return self

    def pending_steps(self) -> int:
        with self._steps_lock:
            return len(self._steps)

    def reset(self) -> None:
        """Forget queued steps, the responder and recorded requests."""
        with self._steps_lock:
            self._steps.clear()
        self.responder = None
        self._log.clear()

    def _next_step(self, request: RecordedRequest) -> Step:
        responder = self.responder
        if responder is not None:
            try:
                step = responder(request)
            except Exception as exc:  # noqa: BLE001 - test code; reported, not fatal
                self.responder_errors.append(exc)
                return Fault(500, f"scripted responder raised {type(exc).__name__}: {exc}")
            if step is not None:
                return step
        with self._steps_lock:
            if self._steps:
                return self._steps.popleft()
        return Reply(DEFAULT_REPLY_TEXT)

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.require_key is None:
            return True
        bearer = headers.get("authorization", "")
        return headers.get("x-api-key") == self.require_key or bearer == (
            "Bearer " + self.require_key
        )

    # -- recording --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._log.snapshot()

    def model_requests(self) -> list[RecordedRequest]:
        """Requests that consumed (or would have consumed) a scripted step."""
        return [r for r in self._log.snapshot() if r.kind == "model"]

    def last_request(self) -> RecordedRequest | None:
        requests = self._log.snapshot()
        return requests[-1] if requests else None

    def wait_for_requests(
        self, n: int, timeout: float = 5.0, *, model_only: bool = True
    ) -> list[RecordedRequest]:
        """Block until ``n`` model requests (or any requests) arrived; returns them."""
        return self._log.wait_for(
            (lambda r: r.kind == "model") if model_only else (lambda r: True), n, timeout
        )

    async def wait_for_requests_async(
        self, n: int, timeout: float = 5.0, *, model_only: bool = True
    ) -> list[RecordedRequest]:
        """`wait_for_requests` for async tests: waits in a thread so a client running on the
        same event loop keeps making progress."""
        import asyncio

        return await asyncio.to_thread(self.wait_for_requests, n, timeout, model_only=model_only)


def main(argv: list[str] | None = None) -> int:
    """Run as a subprocess: print ``PORT <n>`` first, then serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.model_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--script", help="JSON file: a list of steps ({'kind': 'reply', ...})")
    parser.add_argument("--require-key", default=None)
    parser.add_argument("--model", action="append", dest="models", help="id for /v1/models")
    parser.add_argument("--title", default="Scripted session")
    args = parser.parse_args(argv)

    server = ScriptedModelServer(
        require_key=args.require_key,
        models=args.models or ["scripted"],
        title=args.title,
        host=args.host,
        port=args.port,
    )
    if args.script:
        with open(args.script, encoding="utf-8") as handle:
            server.script(*(step_from_dict(item) for item in json.load(handle)))
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    with server:
        sys.stdout.write(f"PORT {server.port}\n")
        sys.stdout.flush()
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
