"""The kernel's side of the gateway: a light model client (HTTP over the Unix socket).

:class:`GatewayClient` has the interface of :class:`aiikernel.lm.litellm_client.LiteLLMClient`
(``stream``, ``astream``, ``warm_up``, ``wire``) without importing litellm: it sends an
OpenAI-style request with this kernel's model environment, reads the server-sent events,
and turns a gateway error back into the :mod:`aiikernel.lm.errors` exception it names, with
the same message. Retries of failures before any text follow ``AiSession.max_retries`` as
in-process. A gateway that is gone (idle exit, killed) is started again and the request
re-sent once, when nothing of the reply has arrived yet; one that dies during a reply ends
the turn with "Broken stream", and the next turn starts a new one.

:class:`AutoModelClient` (``AIIPYTHON_LM_BACKEND=auto``) uses the gateway, and litellm in
the kernel when the gateway cannot start, telling the user once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from traitlets import Float
from traitlets.config import LoggingConfigurable

from ..lm import errors
from ..lm.background import BackgroundLoop
from ..lm.litellm_client import Chunk, ModelRequest, NoticeChunk, TextChunk, UsageChunk
from . import channel
from .lifecycle import GatewayUnavailable, ensure_gateway
from .paths import GatewayPaths, UnsafePath, check_socket, gateway_paths, prepare
from .protocol import (
    CAPABILITIES_PATH,
    COMPLETIONS_PATH,
    GATEWAY_VERSION,
    MODELS_PATH,
    USAGE_PATH,
    VERSION_HEADER,
    WIRE_EVENT,
    Capabilities,
    CapabilitiesRequest,
    ChatCompletionRequest,
    ErrorBody,
    GatewayOptions,
    ModelsRequest,
    StreamChunk,
    UsageLedger,
)

log = logging.getLogger(__name__)

#: The exception class for each error category the gateway reports.
ERROR_CLASSES: dict[str, type[errors.ModelError]] = {
    cls.category: cls
    for cls in (
        errors.MissingCredentials,
        errors.AuthenticationFailed,
        errors.RateLimited,
        errors.ProviderUnavailable,
        errors.ModelTimeout,
        errors.BadRequest,
        errors.StreamBroken,
    )
}

#: Model-related variables of the kernel's environment, sent with each request.
MODEL_VARS = re.compile(r"(_API_KEY|_BASE_URL|_API_BASE)$|^TABMINION_")

DIED_MID_REPLY = (
    "The model gateway stopped during the reply ({reason}); the next turn starts it again."
)


def model_environment() -> dict[str, str]:
    """What in-process litellm would read from this kernel's environment: keys, base URLs,
    TabMinion settings, and the key variables named by endpoints in settings.json."""
    from ..lm.provider_keys import PROVIDER_ENV

    names = {name for names in PROVIDER_ENV.values() for name in names}
    try:
        from ..lm.providers import custom_providers

        names |= {p.api_key_env for p in custom_providers().values() if p.api_key_env}
    except Exception:  # a broken settings.json is reported by /model, not here
        log.debug("custom providers unavailable", exc_info=True)
    return {
        name: value
        for name, value in os.environ.items()
        if value and (name in names or MODEL_VARS.search(name))
    }


def error_from(info: Any) -> errors.ModelError:
    """The exception for a gateway :class:`~.protocol.ErrorInfo`."""
    cls = ERROR_CLASSES.get(info.type, errors.ModelError)
    return cls(info.message, status=info.code)


class _GatewayGone(Exception):
    """The connection failed before any reply text: start the gateway again and re-send."""


class GatewayClient(LoggingConfigurable):
    """Streams chat completions through the user's model gateway."""

    start_timeout = Float(
        60.0, help="Seconds to wait for a model gateway to start before giving up."
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._background = BackgroundLoop("aiikernel-gateway-client")
        from ..lm.session_wire import wire_log

        #: Every request/response, redacted by the gateway (``/wire``); per session.
        self.wire = wire_log(self.parent if hasattr(self.parent, "observers") else None)
        self._paths: GatewayPaths | None = None
        self._verified = False
        self._ensure_lock = threading.Lock()

    # configuration comes from the owning AiSession when there is one
    @property
    def timeout(self) -> float:
        return float(getattr(self.parent, "request_timeout", 120.0))

    @property
    def max_retries(self) -> int:
        env = os.environ.get("AIIPYTHON_MAX_RETRIES")
        if env is not None and env.strip().isdigit():
            return int(env)
        return int(getattr(self.parent, "max_retries", 2))

    @property
    def paths(self) -> GatewayPaths:
        if self._paths is None:
            self._paths = gateway_paths()
        return self._paths

    # -- the gateway process ----------------------------------------------------

    def ensure_started(self) -> None:
        """Make sure a gateway of our version answers (start or replace it); blocking."""
        with self._ensure_lock:
            if not self._verified:
                hello = ensure_gateway(self.paths, timeout=self.start_timeout)
                log.info("model gateway pid %s (%s)", hello.pid, hello.version)
                self._verified = True

    def _channel_ready(self) -> bool:
        """The cheap check before a request to an unverified gateway: the directory is private
        and a socket of ours is there (its version is checked by the request's header)."""
        try:
            prepare(self.paths)
            return check_socket(self.paths.socket)
        except UnsafePath as exc:
            raise GatewayUnavailable(
                f"the model gateway's directory is not private: {exc}"
            ) from None

    def forget(self) -> None:
        """The gateway went away: check (and start) it again before the next request."""
        self._verified = False

    def warm_up(self) -> None:
        """Start the gateway in the background so litellm is warm before the first turn."""
        threading.Thread(target=self._warm, name="aiikernel-gateway-start", daemon=True).start()

    def _warm(self) -> None:
        try:
            self.ensure_started()
        except GatewayUnavailable as exc:
            log.warning("%s", exc)

    def _ask(self, method: str, path: str, body: bytes, timeout: float, what: str) -> bytes:
        """One short exchange with the gateway (started if needed): the reply body."""
        if not self._verified:
            self.ensure_started()
        try:
            status, raw = channel.request(
                str(self.paths.socket),
                method,
                path,
                body,
                {VERSION_HEADER: GATEWAY_VERSION, "Content-Type": "application/json"},
                timeout=timeout,
            )
            if status != 200:
                raise ValueError(f"HTTP {status}")
            return raw
        except (OSError, ValueError) as exc:
            self.forget()
            raise errors.ProviderUnavailable(
                f"The model gateway could not say {what} ({exc})."
            ) from None

    def supports_vision(self, model: str) -> bool:
        """Whether ``model`` accepts images, as the gateway's litellm and settings say."""
        body = CapabilitiesRequest(model=model).model_dump_json().encode()
        raw = self._ask(
            "POST", CAPABILITIES_PATH, body, self.start_timeout, f"whether {model} accepts images"
        )
        try:
            return Capabilities.model_validate_json(raw).vision
        except ValueError as exc:
            raise errors.ProviderUnavailable(
                f"The model gateway could not say whether {model} accepts images ({exc})."
            ) from None

    def discover(self, timeout: float) -> Any:
        """``/model``'s listing: the gateway asks this kernel's providers (its environment)."""
        from ..lm.discovery import Discovery

        body = ModelsRequest(env=model_environment(), timeout=timeout).model_dump_json().encode()
        raw = self._ask(
            "POST", MODELS_PATH, body, self.start_timeout + timeout * 2 + 5, "which models exist"
        )
        return Discovery.model_validate_json(raw)

    def usage_ledger(self) -> UsageLedger | None:
        """What the gateway served, over every kernel, since it started; None when no gateway
        runs (asking does not start one)."""
        if not self._verified and not self._channel_ready():
            return None
        raw = self._ask("GET", USAGE_PATH, b"", self.start_timeout, "what it served")
        try:
            return UsageLedger.model_validate_json(raw)
        except ValueError as exc:
            raise errors.ProviderUnavailable(
                f"Unreadable usage from the gateway ({exc})."
            ) from None

    # -- streaming --------------------------------------------------------------

    def stream(self, request: ModelRequest) -> Iterator[Chunk]:
        """Stream ``request`` synchronously; KeyboardInterrupt cancels it promptly."""
        return self._background.iterate(lambda: self.astream(request))

    async def astream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        """Stream ``request``; retries failures that happen before any text arrived."""
        attempt = 0
        while True:
            produced = False
            try:
                async for chunk in self._astream_once(request):
                    produced = True
                    yield chunk
                return
            except errors.ModelError as err:
                if produced or not err.retryable or attempt >= self.max_retries:
                    raise
                attempt += 1
                delay = min(0.5 * 2 ** (attempt - 1), 4.0)
                log.info(
                    "model request failed (%s); retry %d in %.1fs", err.category, attempt, delay
                )
                await asyncio.sleep(delay)

    def _payload(self, request: ModelRequest) -> bytes:
        body = ChatCompletionRequest(
            model=request.model,
            messages=request.messages,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
            aiikernel=GatewayOptions(
                env=model_environment(),
                timeout=self.timeout,
                wire=True,
                client=f"kernel pid {os.getpid()}",
            ),
            **(request.extra or {}),
        )
        return body.model_dump_json(exclude_none=True).encode()

    async def _astream_once(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        loop = asyncio.get_running_loop()
        if not self._verified and not await loop.run_in_executor(None, self._channel_ready):
            await loop.run_in_executor(None, self.ensure_started)  # nobody there: start it
        payload = self._payload(request)  # ~0.1 ms: not worth a thread hop
        exchange = self.wire.begin(
            request.model, {"model": request.model, "messages": request.messages}, secrets=[]
        )
        exchange.request["via"] = "model gateway (no record received from it)"
        state = {"recorded": False}
        try:
            for attempt in range(2):
                try:
                    async for chunk in self._send(payload, exchange, state):
                        yield chunk
                    return
                except _GatewayGone as gone:
                    self.forget()
                    if attempt == 1:
                        raise errors.ProviderUnavailable(
                            f"The model gateway did not answer ({gone})."
                        ) from None
                    log.info("model gateway gone (%s); starting it again", gone)
                    await loop.run_in_executor(None, self.ensure_started)
        except (asyncio.CancelledError, GeneratorExit):
            if not state["recorded"]:
                exchange.finish("interrupted")
            raise
        except BaseException as exc:
            if not state["recorded"]:
                exchange.finish("error", f"{type(exc).__name__}: {exc}")
            raise

    async def _send(
        self, payload: bytes, exchange: Any, state: dict[str, bool]
    ) -> AsyncIterator[Chunk]:
        headers = {VERSION_HEADER: GATEWAY_VERSION, "Content-Type": "application/json"}
        produced = False
        try:
            async with channel.open_stream(
                str(self.paths.socket),
                "POST",
                COMPLETIONS_PATH,
                payload,
                headers,
                read_timeout=self.timeout + 30.0,
            ) as response:
                if response.status == 409:
                    raise _GatewayGone("a gateway of another version answered")
                if response.status != 200:
                    raw = await response.read()
                    raise self._error_reply(response.status, raw, state)
                self._verified = True  # it accepted our version header
                event: str | None = None
                usage: UsageChunk | None = None
                failure: errors.ModelError | None = None
                done = False
                async for line in response.lines():
                    if not line:
                        event = None
                        continue
                    if line.startswith("event:"):
                        event = line[6:].strip()
                        continue
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if event == WIRE_EVENT:
                        self._record(data, state)
                    elif data == "[DONE]":
                        done = True
                        break
                    elif data.startswith('{"error"'):
                        failure = error_from(ErrorBody.model_validate_json(data).error)
                    else:
                        chunk = StreamChunk.model_validate_json(data)
                        for choice in chunk.choices[:1]:
                            if choice.delta.content:
                                produced = True
                                exchange.add_text(choice.delta.content)
                                yield TextChunk(choice.delta.content)
                        if chunk.usage is not None:
                            usage = UsageChunk(
                                prompt_tokens=chunk.usage.prompt_tokens,
                                completion_tokens=chunk.usage.completion_tokens,
                                cost=chunk.usage.cost,
                            )
                if failure is not None:
                    raise failure
                if not done:
                    raise channel.ChannelError("the stream ended without [DONE]")
                if usage is not None:
                    yield usage
        except errors.ModelError:
            raise
        except TimeoutError:
            self.forget()
            raise errors.ModelTimeout(
                f"The model did not answer within {self.timeout:g} s.", status=None
            ) from None
        except (OSError, ValueError) as exc:
            reason = str(exc) or type(exc).__name__
            if not produced:
                raise _GatewayGone(reason) from None
            self.forget()
            raise errors.StreamBroken(DIED_MID_REPLY.format(reason=reason)) from None

    def _error_reply(self, status: int, raw: bytes, state: dict[str, bool]) -> errors.ModelError:
        try:
            body = ErrorBody.model_validate_json(raw)
        except ValueError:
            return errors.ProviderUnavailable(
                f"The model gateway answered HTTP {status} without an error body.", status=status
            )
        if body.wire is not None:
            self._record(json.dumps(body.wire), state)
        return error_from(body.error)

    def _record(self, data: str, state: dict[str, bool]) -> None:
        from ..lm.wire import WireEntry

        try:
            self.wire.record(WireEntry.model_validate_json(data))
            state["recorded"] = True
        except ValueError:
            log.debug("unreadable wire record from the gateway", exc_info=True)


class AutoModelClient(LoggingConfigurable):
    """``auto``: the model gateway, or litellm in this kernel when the gateway cannot start."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gateway = GatewayClient(parent=self.parent)
        self.fallback: Any = None
        self._notice: str | None = None
        self._lock = threading.Lock()

    @property
    def wire(self) -> Any:
        return self.gateway.wire  # the session's wire log: the same object for both clients

    def warm_up(self) -> None:
        """Start the gateway in the background; if it cannot start, warm litellm here instead."""
        threading.Thread(target=self._warm, name="aiikernel-gateway-start", daemon=True).start()

    def _warm(self) -> None:
        try:
            self.gateway.ensure_started()
        except GatewayUnavailable as exc:
            self._fall_back(exc)
            from ..lm.litellm_import import warm_litellm

            try:
                warm_litellm()
            except Exception:
                log.debug("litellm warm-up failed", exc_info=True)

    def supports_vision(self, model: str) -> bool:
        """Whether ``model`` accepts images (asked of the gateway, or of litellm here)."""
        if self.fallback is None:
            try:
                return self.gateway.supports_vision(model)
            except GatewayUnavailable as exc:
                self._fall_back(exc)
        from ..lm.providers import supports_vision

        return supports_vision(model)

    def discover(self, timeout: float) -> Any:
        """``/model``'s listing, asked by the gateway (or by this kernel without one)."""
        if self.fallback is None:
            try:
                return self.gateway.discover(timeout)
            except GatewayUnavailable as exc:
                self._fall_back(exc)
        from ..lm.discovery import discover

        return discover(timeout)

    def usage_ledger(self) -> UsageLedger | None:
        """The gateway's ledger; None when models run in this kernel."""
        return None if self.fallback is not None else self.gateway.usage_ledger()

    def _fall_back(self, exc: Exception) -> None:
        with self._lock:
            if self.fallback is not None:
                return
            from ..lm.litellm_client import LiteLLMClient

            self.fallback = LiteLLMClient(parent=self.parent)
            self._notice = (
                f"Model gateway unavailable ({exc}); models run inside this kernel "
                "(AIIPYTHON_LM_BACKEND=auto)."
            )
            log.warning("%s", self._notice)

    def stream(self, request: ModelRequest) -> Iterator[Chunk]:
        """Stream through the gateway; through litellm here once the gateway could not start."""
        if self.fallback is None:
            try:
                yield from self.gateway.stream(request)
                return
            except GatewayUnavailable as exc:
                self._fall_back(exc)
        notice, self._notice = self._notice, None
        if notice:
            yield NoticeChunk(notice)
        yield from self.fallback.stream(request)
