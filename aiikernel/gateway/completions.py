"""One chat completion inside the gateway: credentials, route, litellm, wire record, cost.

The same steps as the in-process client (:mod:`aiikernel.lm.litellm_client`), with one
difference: the environment is the *caller's*. A kernel sends the variables in-process
litellm would have read from its own environment (keys, base URLs, TabMinion settings)
with each request; the gateway resolves credentials from them and from ``auth.json``
(read again on every request, so ``/login`` in any kernel applies at once), and passes
the key and base URL to litellm explicitly. The gateway's own environment holds none of
them (:func:`aiikernel.gateway.lifecycle.gateway_environment`), so one kernel's key never
reaches another kernel's request.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..lm import errors
from ..lm.litellm_client import LiteLLMClient, TextChunk, UsageChunk, convert_exception
from ..lm.wire import WireEntry, WireLog
from .protocol import ChatCompletionRequest

log = logging.getLogger(__name__)

#: Where litellm looks for a provider's base URL, in its order (we pass it as ``api_base``).
BASE_URL_VARS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_BASE_URL", "OPENAI_API_BASE"),
    "anthropic": ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_BASE"),
    "gemini": ("GEMINI_API_BASE",),
}

#: Environment variables whose values are secrets (redacted wherever they appear).
SECRET_VAR = re.compile(r"(?i)(KEY|TOKEN|SECRET|PASSWORD)$")


def base_url_of(provider: str, env: Mapping[str, str]) -> str | None:
    """The base URL the caller's environment sets for ``provider``, if any."""
    names = BASE_URL_VARS.get(provider, (f"{provider.upper()}_API_BASE",))
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def secrets_of(env: Mapping[str, str]) -> list[str]:
    return [value for name, value in env.items() if SECRET_VAR.search(name) and len(value) >= 4]


class Completion:
    """One request: :meth:`chunks` streams it; :attr:`wire_entry` is its redacted record after."""

    def __init__(
        self, request: ChatCompletionRequest, litellm: Any, wire_log: WireLog | None = None
    ) -> None:
        self.request = request
        self.litellm = litellm
        self.timeout = request.aiikernel.timeout
        self._record = WireLog(1)
        self._shared_log = wire_log
        self.wire_entry: WireEntry | None = None

    def _prepare(self) -> tuple[dict[str, Any], Any, list[str], bool]:
        """litellm's arguments (blocking: reads auth.json and settings.json)."""
        from ..lm.credentials import resolve_credential
        from ..lm.images import adapt_images_for
        from ..lm.models import provider_of
        from ..lm.providers import route

        request = self.request
        env = request.aiikernel.env
        credential = resolve_credential(request.model, env)
        target = route(request.model, credential.key, env=env)
        messages = [m.model_dump(exclude_none=True) for m in request.messages]
        kwargs: dict[str, Any] = {
            "model": target.litellm_model,
            "messages": adapt_images_for(request.model, messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": self.timeout,
            "num_retries": 0,
            "max_retries": 0,
        }
        kwargs.update(target.kwargs)
        if "api_base" not in kwargs:
            base = base_url_of(provider_of(request.model), env)
            if base:
                kwargs["api_base"] = base
        kwargs.update(request.litellm_extra())
        secrets = [credential.key] if credential.key else []
        return kwargs, credential, secrets + secrets_of(env), target.custom

    def _finish(self, status: str, error: str | None = None) -> None:
        self._exchange.finish(status, error)  # type: ignore[arg-type]
        if self._record.entries:
            self.wire_entry = self._record.entries[-1]
            if self._shared_log is not None:
                self._shared_log.record(self.wire_entry.model_copy())

    async def chunks(self) -> AsyncIterator[TextChunk | UsageChunk]:
        """Stream the reply; raises :class:`aiikernel.lm.errors.ModelError` subclasses."""
        try:  # on the loop: two small file reads cost less than a hop to a thread and back
            kwargs, credential, secrets, custom = self._prepare()
        except Exception as exc:
            raise convert_exception(exc, self.timeout) from None
        self._exchange = self._record.begin(
            self.request.model, {k: v for k, v in kwargs.items() if k != "api_key"}, secrets
        )
        response = None
        try:
            response = await asyncio.wait_for(self.litellm.acompletion(**kwargs), self.timeout)
            finished = False
            usage = None
            iterator = response.__aiter__()
            while True:
                try:
                    chunk = await asyncio.wait_for(iterator.__anext__(), self.timeout)
                except StopAsyncIteration:
                    break
                self._exchange.add_chunk(chunk)
                choices = getattr(chunk, "choices", None) or []
                if choices:
                    choice = choices[0]
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None) if delta is not None else None
                    if text:
                        self._exchange.add_text(text)
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
            self._finish("interrupted")
            raise
        except BaseException as exc:
            self._finish("error", f"{type(exc).__name__}: {exc}")
            err = convert_exception(exc, self.timeout)
            message = str(err)
            for secret in secrets:
                message = message.replace(secret, "[REDACTED]")
            raise type(err)(message, status=err.status) from None
        finally:
            if response is not None and hasattr(response, "aclose"):
                try:  # close the upstream connection now, not when it is collected
                    await asyncio.shield(response.aclose())
                except BaseException:
                    log.debug("closing the upstream stream failed", exc_info=True)
        if usage is not None:
            cost = None if custom else LiteLLMClient._cost(self.litellm, self.request.model, usage)
            prompt_tokens = int(usage.prompt_tokens or 0)
            completion_tokens = int(usage.completion_tokens or 0)
            self._exchange.usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cost": cost,
            }
            yield UsageChunk(
                prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost=cost
            )
        self._finish("ok")
