"""The model client: stream a chat completion through litellm, errors converted to ours.

litellm costs seconds and ~130 MB to import, so it is imported on the first
request (or warmed in the background with :meth:`LiteLLMClient.warm_up`), offline and
without leaving its settings in the user's environment (:mod:`.litellm_env`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from traitlets.config import LoggingConfigurable

from . import errors
from .background import BackgroundLoop
from .credentials import resolve_credential
from .litellm_import import import_litellm

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextChunk:
    """A piece of streamed reply text."""

    text: str


@dataclass(frozen=True)
class UsageChunk:
    """Token counts (and cost when the model is in the local cost map) for one request."""

    prompt_tokens: int
    completion_tokens: int
    cost: float | None


@dataclass(frozen=True)
class NoticeChunk:
    """Something the user should know about how the request is served (shown once, not sent)."""

    message: str


Chunk = TextChunk | UsageChunk | NoticeChunk


@dataclass(frozen=True)
class ModelRequest:
    """Everything one model call needs; ``extra`` goes to litellm as-is."""

    model: str
    messages: list[dict[str, Any]]
    extra: dict[str, Any] | None = None


def convert_exception(exc: BaseException, timeout: float) -> errors.ModelError:
    """Map litellm/httpx/openai exceptions onto :mod:`aiikernel.lm.errors`."""
    if isinstance(exc, errors.ModelError):
        return exc
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    message = clean_message(str(exc) or name)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or name in (
        "Timeout",
        "APITimeoutError",
        "ReadTimeout",
    ):
        return errors.ModelTimeout(f"The model did not answer within {timeout:g} s.", status=status)
    if status in (401, 403) or name in ("AuthenticationError", "PermissionDeniedError"):
        return errors.AuthenticationFailed(
            f"The provider rejected the credentials (HTTP {status or 401}): {message}",
            status=status,
        )
    if status == 429 or name == "RateLimitError":
        return errors.RateLimited(f"Rate limited by the provider (HTTP 429): {message}", status=429)
    if name == "MidStreamFallbackError" or (
        name == "APIConnectionError" and _looks_like_stream_damage(message)
    ):
        return errors.StreamBroken(f"The model's stream could not be read: {message}")
    if (status is not None and status >= 500) or name in (
        "InternalServerError",
        "ServiceUnavailableError",
        "APIConnectionError",
        "BadGatewayError",
    ):
        label = f"HTTP {status}" if status else "connection failed"
        return errors.ProviderUnavailable(
            f"The provider is unavailable ({label}): {message}", status=status
        )
    if status in (400, 404, 413, 422) or name in (
        "BadRequestError",
        "NotFoundError",
        "ContextWindowExceededError",
        "UnprocessableEntityError",
    ):
        return errors.BadRequest(
            f"The provider refused the request (HTTP {status or 400}): {message}", status=status
        )
    if _looks_like_stream_damage(message) or name in (
        "JSONDecodeError",
        "RemoteProtocolError",
        "ChunkedEncodingError",
    ):
        return errors.StreamBroken(f"The model's stream could not be read: {message}")
    return errors.ModelError(f"{name}: {message}", status=status)


_PREFIX = re.compile(r"^\s*(?:litellm\.)?(?:[A-Za-z]+(?:Error|Exception))\s*(?::|-)\s*")


def clean_message(message: str) -> str:
    """Drop the stacked ``litellm.RateLimitError: OpenAIException -`` prefixes; keep the provider's words."""
    message = message.split(" Original exception:")[0]
    previous = None
    while previous != message:
        previous = message
        message = _PREFIX.sub("", message, count=1)
    return message.strip() or previous.strip()


def _looks_like_stream_damage(message: str) -> bool:
    lowered = message.lower()
    return any(
        marker in lowered
        for marker in (
            "json",
            "decode",
            "incomplete",
            "peer closed",
            "chunk",
            "parse",
            "expecting value",
        )
    )


class LiteLLMClient(LoggingConfigurable):
    """Streams chat completions through litellm on a background event loop."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._background = BackgroundLoop()
        from .session_wire import wire_log

        #: Every request/response, redacted (``/wire``); per session when there is one.
        self.wire = wire_log(self.parent if hasattr(self.parent, "observers") else None)

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

    def warm_up(self) -> None:
        """Import litellm on a background thread so the first turn does not pay for it."""
        threading.Thread(
            target=import_litellm, name="aiikernel-litellm-import", daemon=True
        ).start()

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
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                err = convert_exception(exc, self.timeout)
                if produced or not err.retryable or attempt >= self.max_retries:
                    raise err from None
                attempt += 1
                delay = min(0.5 * 2 ** (attempt - 1), 4.0)
                log.info(
                    "model request failed (%s); retry %d in %.1fs", err.category, attempt, delay
                )
                await asyncio.sleep(delay)

    async def _astream_once(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        from .images import adapt_images_for
        from .providers import route

        credential = resolve_credential(request.model)
        litellm = await asyncio.get_running_loop().run_in_executor(None, import_litellm)
        target = route(request.model, credential.key)
        kwargs: dict[str, Any] = {
            "model": target.litellm_model,
            "messages": adapt_images_for(request.model, request.messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": self.timeout,
            "num_retries": 0,
            "max_retries": 0,
        }
        kwargs.update(target.kwargs)
        kwargs.update(request.extra or {})
        exchange = self.wire.begin(
            request.model,
            {k: v for k, v in kwargs.items() if k != "api_key"},
            secrets=[credential.key] if credential.key else [],
        )
        started = time.perf_counter()
        try:
            response = await asyncio.wait_for(litellm.acompletion(**kwargs), self.timeout)
            finished = False
            usage = None
            iterator = response.__aiter__()
            while True:
                try:
                    chunk = await asyncio.wait_for(iterator.__anext__(), self.timeout)
                except StopAsyncIteration:
                    break
                exchange.add_chunk(chunk)
                choices = getattr(chunk, "choices", None) or []
                if choices:
                    choice = choices[0]
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None) if delta is not None else None
                    if text:
                        exchange.add_text(text)
                        yield TextChunk(text)
                    if getattr(choice, "finish_reason", None):
                        finished = True
                chunk_usage = getattr(chunk, "usage", None)
                if (
                    chunk_usage is not None
                    and getattr(chunk_usage, "completion_tokens", None) is not None
                ):
                    usage = chunk_usage
            if not finished:
                raise errors.StreamBroken(
                    "The model's stream ended before the reply was complete (truncated response)."
                )
        except (asyncio.CancelledError, GeneratorExit):
            exchange.finish("interrupted")
            raise
        except BaseException as exc:
            exchange.finish("error", f"{type(exc).__name__}: {exc}")
            if credential.key and credential.key in str(exc):
                # a provider may echo the key in its error text: never let it reach a cell
                err = convert_exception(exc, self.timeout)
                raise type(err)(
                    str(err).replace(credential.key, "[REDACTED]"), status=err.status
                ) from None
            raise
        if usage is not None:
            cost = None if target.custom else self._cost(litellm, request.model, usage)
            exchange.usage = {
                "prompt_tokens": int(usage.prompt_tokens or 0),
                "completion_tokens": int(usage.completion_tokens or 0),
                "cost": cost,
            }
            yield UsageChunk(
                prompt_tokens=int(usage.prompt_tokens or 0),
                completion_tokens=int(usage.completion_tokens or 0),
                cost=cost,
            )
        exchange.finish("ok")
        log.debug("model stream finished in %.3fs", time.perf_counter() - started)

    @staticmethod
    def _cost(litellm: Any, model: str, usage: Any) -> float | None:
        try:
            prompt_cost, completion_cost = litellm.cost_per_token(
                model=model,
                prompt_tokens=int(usage.prompt_tokens or 0),
                completion_tokens=int(usage.completion_tokens or 0),
            )
        except Exception:
            return None
        return float(prompt_cost + completion_cost)
