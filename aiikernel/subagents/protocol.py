"""What crosses the boundary between a parent kernel and a sub-agent's kernel.

The parent drives a child with small execute requests that call
:func:`aiikernel.subagents.child.serve` with one of the ``*Request`` models as JSON; the child
answers on IOPub with messages of type :data:`MSG_TYPE` whose content is one of the ``*Note``
models (the child's own code outputs travel as ordinary IOPub messages next to them).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

#: IOPub message type of the child's notes to its parent.
MSG_TYPE = "aiikernel_agent"
#: The hidden name of :func:`aiikernel.subagents.child.serve` in a sub-agent's namespace.
SERVE_NAME = "_aiikernel_agent_serve"
#: Environment variable that tells a kernel it is a sub-agent (an :class:`AgentEnv` as JSON).
ENV_VAR = "AIIKERNEL_AGENT"

Status = Literal["starting", "running", "idle", "failed", "crashed", "stopped"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentEnv(_Model):
    """Who a sub-agent kernel is, given to it at launch."""

    id: str = Field(max_length=200)
    depth: int = Field(ge=1)
    max_depth: int = Field(ge=1)
    max_children: int = Field(ge=0)
    #: The process this kernel dies with: the parent kernel, or the template that forked it.
    parent_pid: int


class StartRequest(_Model):
    """Adopt the parent's namespace from its checkpoint ``source`` (``SESSION/ID``)."""

    op: Literal["start"] = "start"
    store: str
    session: str
    source: str
    names: list[str] | None = None
    model: str | None = None


class TurnRequest(_Model):
    """Run one AI turn in the child (same conversation as its earlier turns)."""

    op: Literal["turn"] = "turn"
    prompt: str = Field(min_length=1)
    model: str | None = None
    max_steps: int | None = Field(default=None, ge=1)


class PullRequest(_Model):
    """Checkpoint the child now and say where ``names`` are stored."""

    op: Literal["pull"] = "pull"
    names: list[str]


class PushRequest(_Model):
    """Load ``names`` of the parent's checkpoint ``source`` into the child's namespace."""

    op: Literal["push"] = "push"
    source: str
    names: list[str]


ChildRequest = Annotated[
    StartRequest | TurnRequest | PullRequest | PushRequest, Field(discriminator="op")
]
child_request = TypeAdapter(ChildRequest)


class AgentInfo(_Model):
    """One row of ``agents()``: a sub-agent anywhere below this kernel."""

    id: str
    parent: str | None = None
    depth: int
    status: Status
    task: str
    pid: int | None = None
    turns: int = 0
    last: str = ""


class EventNote(_Model):
    """A turn event of the child (:mod:`aiikernel.turn.events`, as JSON)."""

    kind: Literal["event"] = "event"
    event: dict[str, Any]


class ReplyNote(_Model):
    """The answer to the request this note's parent header names."""

    kind: Literal["reply"] = "reply"
    data: dict[str, Any] = Field(default_factory=dict)


class AgentsNote(_Model):
    """The child's own sub-agents (and theirs), whenever one of them changes."""

    kind: Literal["agents"] = "agents"
    agents: list[AgentInfo]


ChildNote = Annotated[EventNote | ReplyNote | AgentsNote, Field(discriminator="kind")]
child_note = TypeAdapter(ChildNote)


# -- the parent's supervisor ↔ its warm template process (aiikernel.subagents.template) --------


class ForkRequest(_Model):
    """Fork a child that becomes the aiipython kernel of ``connection_file``."""

    op: Literal["fork"] = "fork"
    connection_file: str
    env: dict[str, str]
    cwd: str


class ForkedReply(_Model):
    """The child of a :class:`ForkRequest` runs as ``pid``."""

    op: Literal["forked"] = "forked"
    pid: int


class RefusedReply(_Model):
    """The template did not fork (the parent starts the child the ordinary way)."""

    op: Literal["refused"] = "refused"
    reason: str


class ExitedReply(_Model):
    """The forked child ended; ``code`` as Popen reports it (negative: killed by a signal)."""

    op: Literal["exited"] = "exited"
    pid: int
    code: int


TemplateReply = Annotated[ForkedReply | RefusedReply | ExitedReply, Field(discriminator="op")]
template_reply = TypeAdapter(TemplateReply)
