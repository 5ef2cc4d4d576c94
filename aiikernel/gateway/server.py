"""The gateway process: litellm once per user, served over a private Unix socket.

:class:`GatewayServer` binds the socket (0600, in the 0700 directory of
:mod:`.paths`), imports and warms litellm in the background, and answers the routes of
:mod:`.protocol` with aiohttp. Each request runs in its own task; when the caller goes
away (an interrupt, a killed kernel) aiohttp cancels that task, which closes the upstream
request at once. Connections from another uid are refused (``SO_PEERCRED``), bodies are
bounded (``max_request_bytes``), and a malformed request gets a 400 with the reason.

The gateway exits after ``idle_timeout`` seconds without requests, or when asked to
(``POST /aiikernel/v1/shutdown``: a newer client replacing it; in-flight streams finish
first). It removes its socket only while holding the start lock and only if the socket
is still its own, so a gateway that is leaving never removes a successor's.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import struct
import time
from typing import Any

from pydantic import ValidationError
from traitlets import Float, Int, Unicode
from traitlets.config import LoggingConfigurable

from ..lm.errors import ModelError, redact
from .paths import GatewayPaths, open_private, prepare
from .protocol import (
    CAPABILITIES_PATH,
    COMPLETIONS_PATH,
    GATEWAY_VERSION,
    HELLO_PATH,
    MODELS_PATH,
    PROTOCOL_VERSION,
    SHUTDOWN_PATH,
    STATUS_OF_CATEGORY,
    USAGE_PATH,
    VERSION_HEADER,
    WIRE_EVENT,
    Capabilities,
    CapabilitiesRequest,
    ChatCompletionRequest,
    ChunkChoice,
    ChunkUsage,
    Delta,
    ErrorBody,
    ErrorInfo,
    Hello,
    ModelsRequest,
    StreamChunk,
    StreamError,
    TallyInfo,
    UsageLedger,
)

log = logging.getLogger(__name__)

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def peer_uid(transport: Any) -> int | None:
    """The uid of the process at the other end of a Unix socket (Linux), else None."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    option = getattr(socket, "SO_PEERCRED", None)
    if sock is None or option is None:
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", raw)
    return uid


def bind_private_socket(path: str) -> socket.socket:
    """A listening Unix socket at ``path`` created with mode 0600 (no window where it is wider)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _problems(exc: ValidationError) -> str:
    """The first few validation errors, one line (never the values: they may hold keys)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
    )


def _lock(fd: int, wait: float) -> bool:
    """Take an exclusive flock on ``fd`` within ``wait`` seconds; whether it was taken."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


class GatewayServer(LoggingConfigurable):
    """One user's model gateway."""

    idle_timeout = Float(
        900.0,
        help="Seconds without any request after which the gateway exits (0: never). "
        "The next kernel that needs it starts it again.",
    ).tag(config=True)
    max_request_bytes = Int(
        64 * 1024 * 1024,
        help="Largest request body accepted (images travel inline as base64).",
    ).tag(config=True)
    max_concurrent_requests = Int(
        256, help="Requests served at once; more get HTTP 429 from the gateway itself."
    ).tag(config=True)
    wire_log_file = Unicode(
        "",
        help="Append every exchange of every kernel (secrets redacted) to this JSONL file "
        "(created 0600). Each kernel also keeps its own wire log (/wire).",
    ).tag(config=True)

    def __init__(self, paths: GatewayPaths, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.paths = paths
        self.started = time.time()
        self.active = 0
        self.last_activity = time.monotonic()
        self.draining = False
        self._litellm: asyncio.Future[Any] | None = None
        self._stop = asyncio.Event()
        self._socket_inode: int | None = None
        self._runner: Any = None
        self._listener: asyncio.Server | None = None
        self._wire: Any = None
        from ..lm.usage import Tally

        #: Every request served since the start, over all kernels (``/usage`` shows it).
        self.usage_total = Tally()
        self.usage_by_model: dict[str, Tally] = {}

    # -- the model library ------------------------------------------------------

    def _warm(self) -> Any:
        from ..lm.litellm_import import warm_litellm

        warm_litellm()
        from ..lm.litellm_import import import_litellm

        return import_litellm()

    async def litellm(self) -> Any:
        assert self._litellm is not None
        return await asyncio.shield(self._litellm)

    @property
    def ready(self) -> bool:
        return self._litellm is not None and self._litellm.done()

    def hello(self) -> Hello:
        return Hello(
            version=GATEWAY_VERSION,
            protocol=PROTOCOL_VERSION,
            pid=os.getpid(),
            home=str(self.paths.home),
            started=self.started,
            ready=self.ready,
            active_requests=self.active,
            draining=self.draining,
        )

    # -- serving ----------------------------------------------------------------

    def make_app(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            uid = peer_uid(request.transport)
            if uid is not None and uid not in (os.geteuid(), 0):
                log.warning("refused a connection from uid %s", uid)
                return self._error(403, "forbidden", "this gateway serves its own user only")
            theirs = request.headers.get(VERSION_HEADER)
            if (
                theirs
                and theirs != GATEWAY_VERSION
                and request.path not in (HELLO_PATH, SHUTDOWN_PATH)
            ):
                return self._error(
                    409,
                    "version_mismatch",
                    f"this gateway is version {GATEWAY_VERSION}, the client expects {theirs}",
                )
            self.active += 1
            self.last_activity = time.monotonic()
            try:
                return await handler(request)
            finally:
                self.active -= 1
                self.last_activity = time.monotonic()

        app = web.Application(middlewares=[guard], client_max_size=self.max_request_bytes)
        app.router.add_get(HELLO_PATH, self.handle_hello)
        app.router.add_post(SHUTDOWN_PATH, self.handle_shutdown)
        app.router.add_post(CAPABILITIES_PATH, self.handle_capabilities)
        app.router.add_post(MODELS_PATH, self.handle_models)
        app.router.add_get(USAGE_PATH, self.handle_usage)
        app.router.add_post(COMPLETIONS_PATH, self.handle_completion)
        app.router.add_post(COMPLETIONS_PATH.removeprefix("/v1"), self.handle_completion)
        return app

    @staticmethod
    def _error(status: int, category: str, message: str, wire: Any = None) -> Any:
        from aiohttp import web

        body = ErrorBody(
            error=ErrorInfo(message=redact(message), type=category, code=status), wire=wire
        )
        return web.Response(
            status=status, text=body.model_dump_json(), content_type="application/json"
        )

    async def handle_hello(self, request: Any) -> Any:
        from aiohttp import web

        return web.Response(text=self.hello().model_dump_json(), content_type="application/json")

    async def handle_shutdown(self, request: Any) -> Any:
        from aiohttp import web

        log.info("asked to shut down; finishing %d request(s) first", self.active - 1)
        self.draining = True
        self._stop.set()
        return web.Response(text=self.hello().model_dump_json(), content_type="application/json")

    async def handle_capabilities(self, request: Any) -> Any:
        from aiohttp import web

        try:
            asked = CapabilitiesRequest.model_validate_json(await request.read())
        except ValidationError as exc:
            return self._error(400, "bad_request", f"invalid gateway request — {_problems(exc)}")
        await self.litellm()
        from ..lm.providers import supports_vision

        vision = await asyncio.to_thread(supports_vision, asked.model)
        return web.Response(
            text=Capabilities(model=asked.model, vision=vision).model_dump_json(),
            content_type="application/json",
        )

    async def handle_models(self, request: Any) -> Any:
        """``/model``'s live listing, asked of the caller's providers with its environment."""
        from aiohttp import web

        from ..lm.discovery import discover_async

        try:
            asked = ModelsRequest.model_validate_json(await request.read())
        except ValidationError as exc:
            return self._error(400, "bad_request", f"invalid gateway request — {_problems(exc)}")
        discovery = await discover_async(asked.timeout, asked.env)
        return web.Response(text=discovery.model_dump_json(), content_type="application/json")

    def count_usage(
        self, model: str, prompt_tokens: int, completion_tokens: int, cost: Any
    ) -> None:
        from ..lm.usage import Tally

        for tally in (self.usage_total, self.usage_by_model.setdefault(model, Tally())):
            tally.add(prompt_tokens, completion_tokens, cost)

    def ledger(self) -> UsageLedger:
        from dataclasses import asdict

        return UsageLedger(
            since=self.started,
            total=TallyInfo(**asdict(self.usage_total)),
            by_model={m: TallyInfo(**asdict(t)) for m, t in self.usage_by_model.items()},
        )

    async def handle_usage(self, request: Any) -> Any:
        from aiohttp import web

        return web.Response(text=self.ledger().model_dump_json(), content_type="application/json")

    async def handle_completion(self, request: Any) -> Any:
        from aiohttp import web

        if self.draining:
            return self._error(503, "provider_unavailable", "the model gateway is shutting down")
        if self.active > self.max_concurrent_requests:
            return self._error(
                429, "rate_limited", "the model gateway is serving too many requests"
            )
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._error(
                413,
                "bad_request",
                f"request larger than the gateway accepts ({self.max_request_bytes} bytes)",
            )
        try:
            body = ChatCompletionRequest.model_validate_json(raw)
        except ValidationError as exc:
            return self._error(400, "bad_request", f"invalid gateway request — {_problems(exc)}")
        from .completions import Completion

        try:
            litellm = await self.litellm()
        except Exception as exc:
            return self._error(500, "internal", f"litellm could not be loaded: {exc}")
        completion = Completion(body, litellm, self._wire)
        options = body.aiikernel
        log.info("%s: %s (stream=%s)", options.client or "client", body.model, body.stream)
        if not body.stream:
            return await self._complete(completion)
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        stream = completion.chunks()
        try:
            return await self._stream(request, body, completion, stream, include_usage)
        finally:  # also when the caller went away: the upstream request ends here, at once
            await stream.aclose()

    async def _stream(
        self, request: Any, body: Any, completion: Any, stream: Any, include_usage: bool
    ) -> Any:
        """Send the reply as server-sent events (or the error reply when it fails at once)."""
        from aiohttp import web

        options = body.aiikernel
        chunk_id = f"chatcmpl-gw{os.getpid()}-{id(completion):x}"
        created = int(time.time())
        response: web.StreamResponse | None = None
        try:
            first: Any = await anext(stream, None)
        except ModelError as exc:
            return self._error(
                STATUS_OF_CATEGORY.get(exc.category, 500),
                exc.category,
                str(exc),
                self._wire_dump(completion, options.wire),
            )
        response = web.StreamResponse(status=200, headers=SSE_HEADERS)
        await response.prepare(request)

        async def send(data: str, event: str | None = None) -> None:
            frame = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
            await response.write(frame.encode())

        def text_chunk(text: str | None, finish: str | None = None) -> str:
            return StreamChunk(
                id=chunk_id,
                created=created,
                model=body.model,
                choices=[ChunkChoice(delta=Delta(content=text), finish_reason=finish)],
            ).model_dump_json(exclude_none=True)

        try:
            item, usage = first, None
            while item is not None:
                if hasattr(item, "text"):
                    await send(text_chunk(item.text))
                else:
                    usage = ChunkUsage(
                        prompt_tokens=item.prompt_tokens,
                        completion_tokens=item.completion_tokens,
                        total_tokens=item.prompt_tokens + item.completion_tokens,
                        cost=item.cost,
                    )
                    self.count_usage(
                        body.model, item.prompt_tokens, item.completion_tokens, item.cost
                    )
                item = await anext(stream, None)
            await send(text_chunk(None, "stop"))
            if usage is not None and include_usage:
                await send(
                    StreamChunk(
                        id=chunk_id, created=created, model=body.model, usage=usage
                    ).model_dump_json()
                )
        except ModelError as exc:
            info = ErrorInfo(message=str(exc), type=exc.category, code=exc.status)
            await send(StreamError(error=info).model_dump_json())
        wire = self._wire_dump(completion, options.wire)
        if wire is not None:
            await send(json.dumps(wire), WIRE_EVENT)
        await send("[DONE]")
        await response.write_eof()
        return response

    async def _complete(self, completion: Any) -> Any:
        """A non-streaming request: the whole reply as one chat.completion object."""
        from aiohttp import web

        parts: list[str] = []
        usage: dict[str, Any] | None = None
        try:
            async for item in completion.chunks():
                if hasattr(item, "text"):
                    parts.append(item.text)
                else:
                    self.count_usage(
                        completion.request.model,
                        item.prompt_tokens,
                        item.completion_tokens,
                        item.cost,
                    )
                    usage = {
                        "prompt_tokens": item.prompt_tokens,
                        "completion_tokens": item.completion_tokens,
                        "total_tokens": item.prompt_tokens + item.completion_tokens,
                        "cost": item.cost,
                    }
        except ModelError as exc:
            return self._error(STATUS_OF_CATEGORY.get(exc.category, 500), exc.category, str(exc))
        body = {
            "id": f"chatcmpl-gw{os.getpid()}-{id(completion):x}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": completion.request.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(parts)},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
        return web.json_response(body)

    @staticmethod
    def _wire_dump(completion: Any, wanted: bool) -> dict[str, Any] | None:
        if not wanted or completion.wire_entry is None:
            return None
        return completion.wire_entry.model_dump(mode="json")

    # -- lifecycle --------------------------------------------------------------

    def _write_state(self) -> None:
        fd = open_private(self.paths.state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.hello().model_dump(mode="json"), fh)

    def _owns_socket(self) -> bool:
        try:
            return os.lstat(self.paths.socket).st_ino == self._socket_inode
        except OSError:
            return False

    async def run(self) -> None:
        """Bind, warm up, serve until idle or asked to stop; then leave cleanly."""
        from aiohttp import web

        from ..lm.wire import WireLog

        prepare(self.paths)
        self._wire = WireLog(200, self.wire_log_file or None)
        loop = asyncio.get_running_loop()
        self._litellm = loop.run_in_executor(None, self._warm)
        self._litellm.add_done_callback(self._warmed)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths.socket)  # the starter holds the lock: whatever is there is stale
        sock = bind_private_socket(str(self.paths.socket))
        self._socket_inode = os.stat(self.paths.socket).st_ino
        self._runner = web.AppRunner(
            self.make_app(), handler_cancellation=True, access_log=None, shutdown_timeout=5.0
        )
        await self._runner.setup()
        self._listener = await loop.create_unix_server(self._runner.server, sock=sock)
        self._write_state()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        log.info("gateway %s serving %s on %s", GATEWAY_VERSION, self.paths.home, self.paths.socket)
        watchdog = asyncio.create_task(self._watch_idle())
        await self._stop.wait()
        watchdog.cancel()
        await self._leave()

    def _warmed(self, future: asyncio.Future[Any]) -> None:
        if future.exception() is not None:
            log.error("litellm could not be loaded: %s", future.exception())
        else:
            log.info("litellm loaded and warm")
            if not self._stop.is_set() and self._owns_socket():
                with contextlib.suppress(OSError):
                    self._write_state()

    async def _watch_idle(self) -> None:
        if self.idle_timeout <= 0:
            return
        period = max(0.05, min(self.idle_timeout / 4, 5.0))
        while True:
            await asyncio.sleep(period)
            if self.active == 0 and time.monotonic() - self.last_activity >= self.idle_timeout:
                if self._release_socket(wait=0.0):
                    log.info("idle for %.0f s; exiting", self.idle_timeout)
                    self._stop.set()
                    return

    def _release_socket(self, *, wait: float) -> bool:
        """Stop accepting and remove our socket and state file, under the start lock.

        With ``wait`` 0, returns False (doing nothing) when the lock is busy: a client is
        starting or replacing a gateway right now, so this is no time to leave. Otherwise
        waits up to ``wait`` seconds for the lock, then goes ahead (removing only what is
        still ours).
        """
        try:
            fd = open_private(self.paths.lock, os.O_RDWR | os.O_CREAT)
        except OSError:
            fd = None
        try:
            if fd is not None and not _lock(fd, wait) and wait <= 0:
                return False
            if self._listener is not None:
                self._listener.close()  # no new connections from here on
            if self._owns_socket():
                with contextlib.suppress(OSError):
                    os.unlink(self.paths.socket)
                with contextlib.suppress(OSError):
                    state = json.loads(self.paths.state.read_text())
                    if state.get("pid") == os.getpid():
                        os.unlink(self.paths.state)
            return True
        finally:
            if fd is not None:
                os.close(fd)

    async def _leave(self) -> None:
        if not self.draining:
            self._release_socket(wait=2.0)
        elif self._listener is not None:  # a replacer holds the lock and removes the socket
            self._listener.close()
        deadline = time.monotonic() + 600
        while self.active > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._runner is not None:
            await self._runner.cleanup()
        log.info("gateway stopped")
