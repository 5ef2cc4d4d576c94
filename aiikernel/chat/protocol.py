"""Messages on the chat comm, both directions (pydantic: they cross the kernel boundary).

Client → kernel: ``prompt``, ``command``, ``state``.  Kernel → client: ``event`` (one turn
event, see :mod:`aiikernel.turn.events`), ``command_result``, ``state``, ``error``.
Every request carries a client-chosen ``request_id`` that its answers repeat.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

TARGET_NAME = "aiikernel.chat"
PROTOCOL_VERSION = 1
MAX_PROMPT_CHARS = 1_000_000


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(min_length=1, max_length=128)


class PromptRequest(_Request):
    type: Literal["prompt"]
    text: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    model: str | None = Field(default=None, max_length=256)
    max_steps: int | None = Field(default=None, ge=1, le=1000)


class CommandRequest(_Request):
    type: Literal["command"]
    line: str = Field(min_length=1, max_length=100_000)


class StateRequest(_Request):
    type: Literal["state"]


ClientMessage = Annotated[
    PromptRequest | CommandRequest | StateRequest, Field(discriminator="type")
]
client_message = TypeAdapter(ClientMessage)


class EventMessage(BaseModel):
    type: Literal["event"] = "event"
    request_id: str
    event: dict[str, Any]


class CommandResultMessage(BaseModel):
    type: Literal["command_result"] = "command_result"
    request_id: str
    ok: bool
    markdown: str
    data: dict[str, Any] | None = None


class StateMessage(BaseModel):
    type: Literal["state"] = "state"
    request_id: str | None = None
    protocol_version: int = PROTOCOL_VERSION
    model: str
    messages: int
    busy: bool


class ErrorMessage(BaseModel):
    type: Literal["error"] = "error"
    request_id: str | None = None
    message: str
