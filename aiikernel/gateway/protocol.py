"""What crosses the gateway's socket: an OpenAI-compatible HTTP surface, validated with pydantic.

Routes (HTTP/1.1 over the Unix socket)::

    GET  /aiikernel/v1/hello      -> Hello                  (who is there: version, pid)
    POST /aiikernel/v1/shutdown   -> Hello                  (stop listening, finish, exit)
    POST /aiikernel/v1/capabilities  CapabilitiesRequest -> Capabilities  (accepts images?)
    POST /aiikernel/v1/models     ModelsRequest -> aiikernel.lm.discovery.Discovery (/model)
    GET  /aiikernel/v1/usage      -> UsageLedger            (every request it served)
    POST /v1/chat/completions     ChatCompletionRequest -> server-sent events, or one JSON
                                                           reply when ``stream`` is false

A chat completion request is OpenAI's (``model``, ``messages``, ``stream``, other
parameters passed to litellm as they are) plus an optional ``aiikernel`` object
(:class:`GatewayOptions`): the caller's model environment, its timeout, and whether it
wants the redacted wire record back. The stream is OpenAI's ``chat.completion.chunk``
events, a last chunk with ``usage`` (``cost`` added, ``null`` when the model has no
price), then ``data: [DONE]``. A failure is an :class:`ErrorBody`: the HTTP reply when it
happens before the stream starts, else one ``data: {"error": …}`` event; ``error.type``
is one of the categories of :mod:`aiikernel.lm.errors`, so the kernel raises the same
exception with the same message as in-process litellm would.

Every request may carry :data:`VERSION_HEADER`; a gateway of another version answers 409
and the client replaces it (:mod:`.lifecycle`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..version import __version__

#: Bumped whenever a message below changes incompatibly.
PROTOCOL_VERSION = 1
#: What a client and a gateway compare: a different one is replaced.
GATEWAY_VERSION = f"{__version__}+gw{PROTOCOL_VERSION}"
VERSION_HEADER = "X-Aiikernel-Gateway-Version"
SERVICE = "aiikernel-gateway"

HELLO_PATH = "/aiikernel/v1/hello"
SHUTDOWN_PATH = "/aiikernel/v1/shutdown"
CAPABILITIES_PATH = "/aiikernel/v1/capabilities"
MODELS_PATH = "/aiikernel/v1/models"
USAGE_PATH = "/aiikernel/v1/usage"
COMPLETIONS_PATH = "/v1/chat/completions"
#: Named SSE event carrying the redacted wire record (only when ``aiikernel.wire`` is true).
WIRE_EVENT = "aiikernel.wire"


class Hello(BaseModel):
    """Who answers on the socket."""

    service: Literal["aiikernel-gateway"] = SERVICE
    version: str
    protocol: int
    pid: int
    home: str = Field(description="The AIIPYTHON_HOME this gateway serves.")
    started: float = Field(description="Epoch seconds when it started.")
    ready: bool = Field(description="litellm is imported and warm.")
    active_requests: int = 0
    draining: bool = False


class GatewayOptions(BaseModel):
    """The aiikernel extension of a chat completion request."""

    model_config = ConfigDict(extra="forbid")

    env: dict[str, str] = Field(
        default_factory=dict,
        description="The caller's model environment (provider keys, base URLs, TabMinion "
        "settings): what in-process litellm would have read from the kernel's environment.",
    )
    timeout: float = Field(120.0, gt=0, le=86400, description="Seconds before giving up.")
    wire: bool = Field(False, description="Send the redacted wire record as a last event.")
    client: str = Field("", max_length=200, description="Who asks (for the gateway's log).")


class ChatMessage(BaseModel):
    """One OpenAI chat message; fields beyond role and content pass through."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request; unknown parameters go to litellm unchanged."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=500)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    aiikernel: GatewayOptions = Field(default_factory=GatewayOptions)

    def litellm_extra(self) -> dict[str, Any]:
        """The parameters beyond the ones the gateway sets itself (temperature, extra_body, …)."""
        return dict(self.model_extra or {})


class CapabilitiesRequest(BaseModel):
    """What a model can take (asked by ``/image`` before attaching an image)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=500)


class ModelsRequest(BaseModel):
    """Which models the caller's providers offer (``/model``): asked with its environment."""

    model_config = ConfigDict(extra="forbid")

    env: dict[str, str] = Field(default_factory=dict, description="As in GatewayOptions.")
    timeout: float = Field(3.0, gt=0, le=120, description="Seconds per provider.")


class TallyInfo(BaseModel):
    """Requests, tokens and cost (:class:`aiikernel.lm.usage.Tally` on the wire)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = Field(0.0, description="Sum over the requests that had a price.")
    unpriced_requests: int = 0


class UsageLedger(BaseModel):
    """What the gateway served since it started, over every kernel of its user."""

    since: float = Field(description="Epoch seconds when the gateway started.")
    total: TallyInfo
    by_model: dict[str, TallyInfo] = Field(default_factory=dict)


class Capabilities(BaseModel):
    model: str
    vision: bool


class ErrorInfo(BaseModel):
    """OpenAI's error object; ``type`` is an :mod:`aiikernel.lm.errors` category."""

    message: str
    type: str
    code: int | None = Field(None, description="The provider's HTTP status, when it gave one.")


class ErrorBody(BaseModel):
    error: ErrorInfo
    wire: dict[str, Any] | None = Field(None, description="The redacted wire record, if asked.")


class Delta(BaseModel):
    content: str | None = None
    role: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta = Field(default_factory=Delta)
    finish_reason: str | None = None


class ChunkUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None


class StreamChunk(BaseModel):
    """One ``chat.completion.chunk`` event (text, finish, or the usage at the end)."""

    id: str = ""
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: ChunkUsage | None = None


class StreamError(BaseModel):
    """A failure after the stream started."""

    error: ErrorInfo


#: HTTP status of a failure before the stream starts, per error category.
STATUS_OF_CATEGORY = {
    "missing_credentials": 401,
    "authentication": 401,
    "rate_limited": 429,
    "provider_unavailable": 502,
    "timeout": 504,
    "bad_request": 400,
    "stream_broken": 502,
    "internal": 500,
    "model_error": 500,
}
