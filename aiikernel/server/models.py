"""Pydantic models of everything that crosses the HTTP / websocket boundary.

Field names are the seed's camelCase on the wire (``sessionId``, ``initialPrompt``); Python code
uses snake_case (``populate_by_name``). Request models forbid unknown keys, so a typo is a 422
naming the field instead of a silently ignored option. The OpenAPI document
(:mod:`.openapi`) is generated from these classes, so the docs cannot drift from the code.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from aiikernel.aimax.backends import SUPPORTED_BACKENDS

SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$"
AGENT_SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"

BACKEND_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
#: What each pattern allows, in words: a 422 says this instead of the regular expression.
PATTERN_MEANINGS = {
    SESSION_ID_PATTERN: "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    MODEL_PATTERN: "a model name of 1-128 letters, digits and . _ : / @ + - (no spaces), "
    "starting with a letter or digit",
    AGENT_SESSION_ID_PATTERN: "1-128 letters, digits, '.', '_' or '-', starting with a letter "
    "or digit",
    BACKEND_NAME_PATTERN: "a backend name from GET /aimax/backends (lower-case letters, "
    "digits, '.', '_', '-')",
}
SessionState = Literal[
    "starting", "working", "waiting_permission", "waiting_input", "idle", "exited"
]


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        """The JSON-ready camelCase form."""
        return self.model_dump(mode="json", by_alias=True)


class _Request(_Wire):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


#: C0 controls, DEL and C1 controls; tab and line breaks are allowed only where said.
_CONTROL_EXCEPT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_TAB_AND_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: Hard cap on prompt length in characters, a last line of defence behind the body cap
#: (``AimaxExtension.max_body_bytes``) and the byte cap (``max_prompt_bytes``, 413).
MAX_PROMPT_CHARS = 4 * 1024 * 1024


def _no_control_chars(
    value: str | None, what: str, pattern: re.Pattern[str] = _CONTROL_EXCEPT_TAB
) -> str | None:
    if value is not None and pattern.search(value):
        raise ValueError(f"{what} must not contain control characters")
    return value


def _safe_prompt(value: str | None, what: str) -> str | None:
    """Prompts are pasted into a terminal UI: terminal control characters (ESC, which could
    end the bracketed paste early and type keys, Ctrl-C, NUL …) are refused; tab and line
    breaks are fine."""
    if value is not None and not value.strip():
        raise ValueError(f"{what} is empty")
    return _no_control_chars(value, what, _CONTROL_EXCEPT_TAB_AND_BREAKS)


class CreateSessionRequest(_Request):
    """Body of ``POST /aimax/sessions``: a backend name and whitelisted options, never argv."""

    backend: str = Field(
        pattern=BACKEND_NAME_PATTERN,
        description="Which agent to start: a name from `GET /aimax/backends` (the built-in "
        f"{', '.join(f'`{b}`' for b in SUPPORTED_BACKENDS)}, or one another package "
        "registered).",
    )
    cwd: str | None = Field(
        default=None,
        max_length=4096,
        description="Working directory of the agent: a path relative to the server's root "
        "directory (or an absolute path inside it). Symlinks are followed and the result must "
        "stay inside the root. Default: the root directory.",
    )
    initial_prompt: str | None = Field(
        default=None,
        max_length=MAX_PROMPT_CHARS,
        description="A first prompt, submitted once the agent is ready (same rules as a "
        "message's `prompt`).",
    )
    session_id: str | None = Field(
        default=None,
        pattern=SESSION_ID_PATTERN,
        description="Id for the new session (1-64 letters, digits, '.', '_', '-'). "
        "Default: a fresh random id.",
    )
    model: str | None = Field(
        default=None, pattern=MODEL_PATTERN, description="Model name passed to the agent."
    )
    display_name: str | None = Field(
        default=None, max_length=200, description="Free-form label shown in UIs."
    )
    worktree: bool = Field(
        default=False,
        description="Run the agent in a fresh git worktree of `cwd`. 422 when the repository "
        "starts above the server's root (its checkout would hold files from outside the root) "
        "or when `cwd` is not a directory of its last commit.",
    )
    agent_session_id: str | None = Field(
        default=None,
        pattern=AGENT_SESSION_ID_PATTERN,
        description="Resume this agent conversation (Claude session uuid / Codex thread id).",
    )
    flag_root: str | None = Field(
        default=None,
        max_length=4096,
        description="Where `.imac/flags/<session>/` lives (job-completion flags); same rules "
        "as `cwd`. Default: `cwd`.",
    )

    @field_validator("initial_prompt")
    @classmethod
    def _prompt(cls, value: str | None) -> str | None:
        return _safe_prompt(value, "initialPrompt")

    @field_validator("display_name")
    @classmethod
    def _plain_label(cls, value: str | None) -> str | None:
        return _no_control_chars(value, "displayName")

    @field_validator("cwd", "flag_root")
    @classmethod
    def _plain_path(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("path must not contain NUL")
        return _no_control_chars(value, "path")


class SendMessageRequest(_Request):
    """Body of ``POST /aimax/sessions/{sessionId}/messages``."""

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="The text to submit to the agent. Terminal control characters (other "
        "than tab and line breaks) are refused.",
    )
    mode: Literal["queue", "interrupt"] = Field(
        default="queue",
        description="`queue`: submit without interrupting a running turn (the agent queues "
        "it). `interrupt`: stop the running turn (Escape), then submit.",
    )

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        return _safe_prompt(value, "prompt")


class SessionModel(_Wire):
    """A session and its current state."""

    session_id: str
    backend: str
    state: SessionState = Field(
        description="starting, working, waiting_permission, waiting_input, idle or exited."
    )
    status: str = Field(
        description="`running` (agent process expected alive), `exited` or `stopped`."
    )
    detail: str | None = Field(
        default=None, description="The question or screen text when the agent waits."
    )
    alive: bool
    working: bool
    job_accomplished: bool = Field(description="The job's `running.flag` is gone.")
    failed: bool = Field(description="The job's `failed.flag` exists.")
    cwd: str = Field(description="Relative to the server root when inside it.")
    display_name: str | None = None
    model: str | None = None
    agent_session_id: str | None = None
    pane_id: str | None = None
    jsonl_path: str | None = Field(
        default=None,
        description="The agent's transcript file: relative to the server root when inside it, "
        "`~/…` under the server user's home.",
    )
    created_at: float
    started_at: float | None = None
    exited_at: float | None = None
    worktree_branch: str | None = None
    sentinel: int | None = Field(
        default=None,
        description="Sequence number of the newest event: stream from here to get only new events.",
    )
    last_activity: float | None = Field(
        default=None,
        description="Epoch seconds of the newest event (else of the last start or exit).",
    )
    input_tokens: int | None = Field(
        default=None, description="Input tokens the agent's transcript reports, if it does."
    )
    output_tokens: int | None = Field(
        default=None, description="Output tokens the agent's transcript reports, if it does."
    )
    cost_usd: float | None = Field(
        default=None, description="Cost in USD, when the agent's transcript records it."
    )


class SessionList(_Wire):
    """Body of ``GET /aimax/sessions``."""

    sessions: list[SessionModel]


class SendResult(_Wire):
    """Answer of ``POST …/messages``: the prompt was submitted and confirmed by the agent."""

    session_id: str
    mode: Literal["queue", "interrupt"]
    sentinel: int = Field(
        description="Newest event before the prompt went in: stream from here to see the "
        "prompt and the reply."
    )


class BackendInfo(_Wire):
    """One agent backend this server knows."""

    name: str
    label: str = Field(description="A human name for menus.")
    allowed: bool = Field(description="Whether this server lets clients start it.")
    builtin: bool = Field(description="False for backends registered by other packages.")


class BackendList(_Wire):
    """Body of ``GET /aimax/backends``."""

    backends: list[BackendInfo]


class PermissionAnswer(_Request):
    """Body of ``POST /aimax/sessions/{sessionId}/permission``."""

    approve: bool = Field(description="True approves what the agent asks, false denies it.")


class PermissionResult(_Wire):
    """Answer of ``POST …/permission``."""

    session_id: str
    approved: bool
    question: str = Field(description="What the agent was asking, as its screen showed it.")


class ScreenModel(_Wire):
    """Body of ``GET …/screen``: the agent's terminal as text (read-only)."""

    session_id: str
    text: str = Field(description="The visible screen, plain text (no escape sequences).")
    activity: int = Field(
        description="tmux's activity stamp of the pane; pass it as `after` to wait for a change."
    )
    alive: bool


class SessionsFrame(_Wire):
    """Websocket frame of ``/aimax/watch``: every session, sent when any of them changes."""

    type: Literal["sessions"] = "sessions"
    sessions: list[SessionModel]


class EventModel(_Wire):
    """One normalized agent event (see docs/aimax-transcripts.md for the kinds)."""

    seq: int = Field(description="The sentinel: position in the session's event log.")
    session_id: str
    kind: str = Field(
        description="user, assistant, tool_call, tool_result, turn_end, interrupted, system "
        "or raw (new kinds may appear)."
    )
    text: str | None = None
    ts: str | None = None
    uuid: str | None = None
    raw: dict[str, Any] = Field(description="The agent's transcript entry, unchanged.")
    subtype: str | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    is_error: bool | None = None


class HistoryResponse(_Wire):
    """Body of ``GET …/history``."""

    entries: list[EventModel]
    total: int = Field(description="Events in the whole log.")
    truncated: bool = Field(description="More events follow: ask again with `after=sentinel`.")
    sentinel: int = Field(description="`seq` of the last entry returned; pass it as `after`.")


class StreamEvent(_Wire):
    """Websocket frame: one event (history first, then live)."""

    type: Literal["event"] = "event"
    sentinel: int
    event: EventModel


class StreamCaughtUp(_Wire):
    """Websocket frame: the history after ``from`` has been sent; live events follow."""

    type: Literal["caughtUp"] = "caughtUp"
    sentinel: int


class StreamClosing(_Wire):
    """Websocket frame sent before the server closes the stream (e.g. a client too slow)."""

    type: Literal["closing"] = "closing"
    sentinel: int = Field(description="Last event sent: reconnect with `from=` this value.")
    message: str


class ErrorModel(BaseModel):
    """Every error body (Jupyter's API error shape)."""

    message: str
    reason: str | None = None
    field: str | None = Field(default=None, description="The request field at fault, if one.")


def event_payload(event: Any) -> dict[str, Any]:
    """An :class:`AgentEvent` as the camelCase dict :class:`EventModel` describes (hot path)."""
    return {
        "seq": event.seq,
        "sessionId": event.session_id,
        "kind": event.kind,
        "text": event.text,
        "ts": event.ts,
        "uuid": event.uuid,
        "raw": event.raw,
        "subtype": event.subtype,
        "toolName": event.tool_name,
        "toolCallId": event.tool_call_id,
        "isError": event.is_error,
    }


def event_dict_payload(event: dict[str, Any]) -> dict[str, Any]:
    """A JSON event dict from ``EventLog.history`` in the camelCase form."""
    return {to_camel(k): v for k, v in event.items()}
