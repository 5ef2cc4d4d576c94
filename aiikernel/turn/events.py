"""Events a turn yields; every front (cell output, chat comm, tests) renders these.

They are pydantic models because the chat panel receives them over a comm, i.e.
they cross a process boundary.  ``kind`` is the discriminator on the wire.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..checkpoints.diff import NameChange


class _Event(BaseModel):
    model_config = {"frozen": True}


class TurnStarted(_Event):
    kind: Literal["turn_started"] = "turn_started"
    model: str
    prompt: str
    #: The step limit of this turn (fronts show "step 2 of ≤10").
    max_steps: int | None = None


class StepStarted(_Event):
    """The model is asked for reply number ``step`` of this turn."""

    kind: Literal["step_started"] = "step_started"
    step: int


class TextDelta(_Event):
    """A piece of the model's Markdown reply, as it streams."""

    kind: Literal["text_delta"] = "text_delta"
    step: int
    text: str


class ReplyDone(_Event):
    """The model's reply for ``step`` is complete; ``text`` is all of it."""

    kind: Literal["reply_done"] = "reply_done"
    step: int
    text: str


class CodeStarted(_Event):
    """A runnable fence is about to run in the user's namespace."""

    kind: Literal["code_started"] = "code_started"
    step: int
    index: int
    code: str
    #: Where the fence ends inside the reply text, so fronts can interleave outputs.
    end_offset: int


class CodeAwaiting(_Event):
    """Run mode ``ask``: the block waits for the user's Run / Edit / Skip."""

    kind: Literal["code_awaiting"] = "code_awaiting"
    step: int
    index: int
    code: str


class CodeFinished(_Event):
    """What running a fence produced (as fed back to the model)."""

    kind: Literal["code_finished"] = "code_finished"
    step: int
    index: int
    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    displays: list[str] = Field(default_factory=list)
    error: str | None = None
    interrupted: bool = False
    duration: float = 0.0
    #: Run mode ``ask``: the user skipped the block, or edited it (the code that ran).
    skipped: bool = False
    edited_code: str | None = None


class Usage(_Event):
    kind: Literal["usage"] = "usage"
    step: int
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None


class TurnNotice(_Event):
    """Something the user should know that does not stop the turn."""

    kind: Literal["notice"] = "notice"
    message: str


class TurnFailed(_Event):
    """The turn stopped because of an error; ``category`` is machine-readable."""

    kind: Literal["error"] = "error"
    category: str
    message: str


class TurnDone(_Event):
    """Always the last event.  ``reason``: answered, max_steps, interrupted, error."""

    kind: Literal["done"] = "done"
    reason: Literal["answered", "max_steps", "interrupted", "error"]
    steps: int


class StateDiffEvent(_Event):
    """What the turn did to the namespace (after :class:`TurnDone`, when checkpoints are on).

    ``before``/``after`` are the checkpoints taken before and after the turn; ``rolled_back``
    says what the rollback-on-error setting undid, and how to redo it.
    """

    kind: Literal["state_diff"] = "state_diff"
    before: str | None = None
    after: str | None = None
    added: list[NameChange] = Field(default_factory=list)
    changed: list[NameChange] = Field(default_factory=list)
    deleted: list[NameChange] = Field(default_factory=list)
    text: str = ""
    rolled_back: str | None = None


TurnEvent = Annotated[
    TurnStarted
    | StepStarted
    | TextDelta
    | ReplyDone
    | CodeStarted
    | CodeAwaiting
    | CodeFinished
    | Usage
    | TurnNotice
    | TurnFailed
    | TurnDone
    | StateDiffEvent,
    Field(discriminator="kind"),
]
