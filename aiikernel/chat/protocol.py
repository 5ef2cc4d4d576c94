"""Messages on the chat comm, both directions (pydantic: they cross the kernel boundary).

Client → kernel: ``prompt``, ``command``, ``state``, ``history``, ``commands``.
Kernel → client: ``event`` (one turn event, see :mod:`aiikernel.turn.events`, plus the
chat's own ``code_output`` / ``code_clear``), ``history``, ``commands``, ``command_result``,
``state``, ``error``.  Every request carries a client-chosen ``request_id`` that its answers
repeat.  Events are broadcast to every open chat comm of the kernel (one conversation per
kernel) and numbered by ``seq``, so a client that asked for the history applies only the
events newer than the history's ``seq``.

Version 2 added ``history``, ``commands``, event broadcasting with ``seq``/``turn``/``source``,
code outputs as Jupyter MIME bundles, and session totals in ``state``.  Version 3 added
attachments (@-mentions) on ``prompt``, their labels on a turn, the ``names`` request, and run
mode ``ask`` (``run_mode`` on ``prompt``, the ``code_awaiting`` event, the ``approve`` request,
block statuses ``pending``/``skipped``).  Version 4 added time travel: a turn's ``diff``
(the ``state_diff`` event after ``done``), its ``checkpoint`` (the one taken before it, what
edit-and-replay restores), an unsolicited ``history`` after a restore moved the conversation,
and ``resume`` on ``state`` (an earlier kernel session this one may resume).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

TARGET_NAME = "aiikernel.chat"
PROTOCOL_VERSION = 4
MAX_PROMPT_CHARS = 1_000_000
MAX_ATTACHMENT_CHARS = 200_000

# -- client → kernel ----------------------------------------------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(min_length=1, max_length=128)


class VariableMention(BaseModel):
    """``@name``: the kernel adds a summary of that variable to the prompt."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["variable"]
    name: str = Field(min_length=1, max_length=256)


class TextAttachment(BaseModel):
    """``@cell``, ``@notebook``, ``@file:path``: text the panel read, sent with the prompt."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["text"]
    label: str = Field(min_length=1, max_length=1024)
    text: str = Field(max_length=MAX_ATTACHMENT_CHARS)


#: Base64 characters of a pasted image (20 MiB of bytes, ``AiModels.max_image_bytes``'s default).
MAX_IMAGE_CHARS = 28_000_000


class ImageAttachment(BaseModel):
    """An image pasted or dropped into the panel; the kernel checks it as ``/image`` does."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["image"]
    label: str = Field(min_length=1, max_length=256)
    data: str = Field(min_length=1, max_length=MAX_IMAGE_CHARS)


Attachment = Annotated[
    VariableMention | TextAttachment | ImageAttachment, Field(discriminator="kind")
]


class PromptRequest(_Request):
    """Run an AI turn (on the main shell: send it as an execute request, see the docs)."""

    type: Literal["prompt"]
    text: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    model: str | None = Field(default=None, max_length=256)
    max_steps: int | None = Field(default=None, ge=1, le=1000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    #: ``ask``: each code block waits for an ``approve`` request; None: the kernel's default.
    run_mode: Literal["auto", "ask"] | None = None


class CommandRequest(_Request):
    """Run one slash command, e.g. ``/tree``."""

    type: Literal["command"]
    line: str = Field(min_length=1, max_length=100_000)


class StateRequest(_Request):
    type: Literal["state"]


class HistoryRequest(_Request):
    """The conversation as the panel shows it (answered at once, even during a turn)."""

    type: Literal["history"]


class CommandsRequest(_Request):
    """The slash commands with their usage and help (for completion)."""

    type: Literal["commands"]


class ApproveRequest(_Request):
    """Run mode ``ask``: the user's answer for the block that waits (answered on a subshell)."""

    type: Literal["approve"]
    turn: int
    step: int
    index: int
    action: Literal["run", "edit", "skip"]
    code: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)


class NamesRequest(_Request):
    """The user's variables (for ``@`` completion)."""

    type: Literal["names"]


class CheckpointsRequest(_Request):
    """The checkpoint tree (the Checkpoints view); answered on the subshell (version 4)."""

    type: Literal["checkpoints"]


class DiffRequest(_Request):
    """What checkpoint ``checkpoint`` changed since its parent (None: the current one)."""

    type: Literal["diff"]
    checkpoint: str | None = Field(default=None, max_length=300)


class VariablesRequest(_Request):
    """The variables inspector: names with type, shape, size and a short value (version 4)."""

    type: Literal["variables"]


class WireRequest(_Request):
    """The wire log inspector: the last model exchanges, secrets redacted (version 4)."""

    type: Literal["wire"]
    count: int = Field(default=5, ge=1, le=50)


ClientMessage = Annotated[
    PromptRequest
    | CommandRequest
    | StateRequest
    | HistoryRequest
    | CommandsRequest
    | NamesRequest
    | ApproveRequest
    | CheckpointsRequest
    | DiffRequest
    | VariablesRequest
    | WireRequest,
    Field(discriminator="type"),
]
client_message = TypeAdapter(ClientMessage)


class ExecuteEnvelope(BaseModel):
    """What a panel puts in the execute request that runs a prompt or command on the main shell.

    ``comm_id`` names the panel's comm, which gets the direct answers (``command_result``).
    """

    model_config = ConfigDict(extra="forbid")
    comm_id: str | None = Field(default=None, max_length=128)
    request: dict[str, Any]


# -- the conversation as kept in the kernel -------------------------------------------------


class CodeBlock(BaseModel):
    """One runnable fence of a reply, with what it produced (nbformat output dicts)."""

    index: int
    code: str
    start_offset: int
    end_offset: int
    status: Literal["running", "pending", "ok", "error", "interrupted", "skipped"] = "running"
    duration: float = 0.0
    outputs: list[dict[str, Any]] = Field(default_factory=list)
    #: Run mode ``ask``: the user edited the block before it ran (``code`` is what ran).
    edited: bool = False


class ChatStep(BaseModel):
    """One model reply of a turn; ``text`` is the Markdown, blocks sit at their offsets."""

    step: int
    text: str = ""
    done: bool = False
    blocks: list[CodeBlock] = Field(default_factory=list)


class TurnUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None


class TurnError(BaseModel):
    category: str
    message: str


class ChatTurn(BaseModel):
    """One prompt and everything the turn showed; ``status`` is ``running`` or a done reason."""

    id: int
    source: Literal["chat", "cell"]
    request_id: str | None = None
    prompt: str
    model: str
    max_steps: int | None = None
    started: float
    status: Literal["running", "answered", "max_steps", "interrupted", "error"] = "running"
    steps: list[ChatStep] = Field(default_factory=list)
    usage: TurnUsage = Field(default_factory=TurnUsage)
    error: TurnError | None = None
    notices: list[str] = Field(default_factory=list)
    #: Labels of what was attached to the prompt (``@df``, ``@file:data.csv``, …).
    attachments: list[str] = Field(default_factory=list)
    #: The checkpoint taken before this turn (edit-and-replay restores it); version 4.
    checkpoint: str | None = None
    #: What the turn did to the namespace: the ``state_diff`` event as sent; version 4.
    diff: dict[str, Any] | None = None


class CommandInfo(BaseModel):
    name: str
    usage: str
    help: str
    aliases: list[str] = Field(default_factory=list)


# -- kernel → client ----------------------------------------------------------------------


class CodeOutput(BaseModel):
    """An output of the running block; ``display_id`` set: replace the output with that id."""

    kind: Literal["code_output"] = "code_output"
    step: int
    index: int
    output: dict[str, Any]
    display_id: str | None = None
    update: bool = False


class CodeClear(BaseModel):
    """``clear_output`` from the running block (``wait``: clear when the next output comes)."""

    kind: Literal["code_clear"] = "code_clear"
    step: int
    index: int
    wait: bool = False


class EventMessage(BaseModel):
    type: Literal["event"] = "event"
    seq: int
    turn: int
    source: Literal["chat", "cell"]
    request_id: str | None = None
    event: dict[str, Any]


class HistoryMessage(BaseModel):
    """The whole kept conversation; unsolicited (``request_id`` null) after a reset."""

    type: Literal["history"] = "history"
    request_id: str | None = None
    seq: int
    turns: list[ChatTurn]
    dropped: int = 0
    busy: bool = False


class CommandsMessage(BaseModel):
    type: Literal["commands"] = "commands"
    request_id: str
    commands: list[CommandInfo]


class NameInfo(BaseModel):
    name: str
    type: str


class NamesMessage(BaseModel):
    type: Literal["names"] = "names"
    request_id: str
    names: list[NameInfo]


class CommandResultMessage(BaseModel):
    type: Literal["command_result"] = "command_result"
    request_id: str
    ok: bool
    markdown: str
    data: dict[str, Any] | None = None


class SessionUsage(BaseModel):
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None


class StateMessage(BaseModel):
    type: Literal["state"] = "state"
    request_id: str | None = None
    protocol_version: int = PROTOCOL_VERSION
    model: str
    messages: int
    busy: bool
    turns: int = 0
    max_steps: int = 10
    usage: SessionUsage = Field(default_factory=SessionUsage)
    #: Where the current model's key comes from (``env:OPENAI_API_KEY``, ``auth.json``,
    #: ``oauth``, ``none``), or ``missing``; version 3.
    auth_source: str | None = None
    run_mode: Literal["auto", "ask"] = "auto"
    #: An earlier session to resume; only while this kernel has no checkpoint of its own.
    resume: ResumeInfo | None = None


class ResumeInfo(BaseModel):
    """An earlier kernel session of this notebook that a fresh kernel may resume (version 4).

    The panel offers "Resume from checkpoint N (label, time)"; nothing happens until the
    user asks (the ``/resume REF`` command).
    """

    ref: str
    session: str
    checkpoint: str
    label: str
    time: float
    names: list[str] = Field(default_factory=list)
    turns: int = 0


class CheckpointNode(BaseModel):
    """One checkpoint of the tree as the Checkpoints view draws it."""

    id: str
    parent: str | None = None
    label: str
    kind: str
    time: float
    pruned: bool = False
    added_bytes: int = 0
    forks: list[str] = Field(default_factory=list)
    names: int = 0


class CheckpointsMessage(BaseModel):
    type: Literal["checkpoints"] = "checkpoints"
    request_id: str | None = None
    head: str | None = None
    nodes: list[CheckpointNode] = Field(default_factory=list)
    #: Why there is no tree (checkpoints off, an unsafe store), else null.
    problem: str | None = None


class DiffMessage(BaseModel):
    type: Literal["diff"] = "diff"
    request_id: str
    checkpoint: str | None = None
    #: ``StateDiff`` as JSON (before, after, added, changed, deleted), or null with ``problem``.
    diff: dict[str, Any] | None = None
    text: str = ""
    problem: str | None = None


class VariableInfo(BaseModel):
    name: str
    #: Type and shape (``DataFrame 1000×5``), read without running the user's code.
    summary: str
    #: Bytes of the data when known cheaply (arrays, frames, str/bytes), else null.
    size: int | None = None
    #: A short value for built-in scalars and strings only ("" otherwise).
    value: str = ""


class VariablesMessage(BaseModel):
    type: Literal["variables"] = "variables"
    request_id: str
    variables: list[VariableInfo]


class WireMessage(BaseModel):
    type: Literal["wire"] = "wire"
    request_id: str
    #: The exchanges as Markdown (requests and responses, secrets redacted).
    markdown: str
    count: int = 0


class ErrorMessage(BaseModel):
    type: Literal["error"] = "error"
    request_id: str | None = None
    message: str


ServerMessage = Annotated[
    EventMessage
    | HistoryMessage
    | CommandsMessage
    | NamesMessage
    | CommandResultMessage
    | StateMessage
    | CheckpointsMessage
    | DiffMessage
    | VariablesMessage
    | WireMessage
    | ErrorMessage,
    Field(discriminator="type"),
]
server_message = TypeAdapter(ServerMessage)
