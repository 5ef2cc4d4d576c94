"""One AI turn: build messages → stream the reply → run its fences → feed back → repeat.

The engine knows nothing of Jupyter: it reaches the model through a client with a
``stream(ModelRequest)`` method and the namespace through a :class:`CodeRunner`,
and yields :mod:`~aiikernel.turn.events` for whichever front started it.

Guarantees every front relies on:
- the last event is always :class:`TurnDone`;
- model errors become one :class:`TurnFailed` (the conversation stays usable);
- a KeyboardInterrupt (kernel interrupt) while streaming or running code ends
  the turn with reason ``interrupted`` instead of propagating;
- an exception in AI code is fed back to the model like any other output.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..lm.errors import ModelError, redact
from .approval import Approver
from .context import summarize_namespace
from .events import (
    CodeAwaiting,
    CodeFinished,
    CodeStarted,
    ReplyDone,
    StepStarted,
    TextDelta,
    TurnDone,
    TurnEvent,
    TurnFailed,
    TurnNotice,
    TurnStarted,
    Usage,
)
from .fences import runnable_fences
from .runner import CodeRunner, Outcome

log = logging.getLogger(__name__)

SYSTEM_PROMPT = """\
You are an AI assistant working inside a live Python (IPython) session that belongs to the user.
You act by writing Python code that runs in the user's namespace.

How to answer:
- Reply in Markdown.
- Put code you want executed in fenced blocks tagged `py` (```py ... ```). Each such block runs, \
in order, in the user's namespace, exactly like a notebook cell: variables you create stay, \
the value of the last expression is shown, display() and plots work.
- After your reply, you will receive the outputs (stdout, results, errors) of the blocks you ran, \
and you may continue with more code. When you are done, reply without any ```py block.
- To show code WITHOUT running it (an example, a suggestion for the user), tag the fence `#py` \
(```#py ... ```).
- Prefer small, inspectable steps. Do not re-create data that already exists; use the variables below.
- Never print secrets such as API keys.

The user's namespace right now:
{namespace}
"""

RECENT_CELLS = """
The cells the user ran most recently in this kernel (oldest first; outputs shortened):
{cells}
"""

TRUNCATION_MARK = "\n… [{cut} characters cut] …\n"


def truncate(text: str, limit: int) -> str:
    """Keep the head and the tail of ``text`` within ``limit`` chars, marking the cut visibly."""
    if len(text) <= limit:
        return text
    head = int(limit * 0.6)
    tail = limit - head
    cut = len(text) - head - tail
    return text[:head] + TRUNCATION_MARK.format(cut=cut) + text[-tail:]


def feedback_message(outcomes: list[Outcome], limit: int) -> str:
    """The user-role message that tells the model what its code did."""
    parts = []
    for index, outcome in enumerate(outcomes, start=1):
        lines = [f"### Output of block {index}"]
        if outcome.skipped:
            parts.append(
                "\n".join([*lines, "(The user chose not to run this block: it did not run.)"])
            )
            continue
        if outcome.edited_code is not None:
            lines.append(
                "The user edited this block before running it; it ran as:\n```py\n"
                + truncate(outcome.edited_code, limit)
                + "\n```"
            )
        if outcome.stdout:
            lines.append("stdout:\n```\n" + truncate(outcome.stdout, limit) + "\n```")
        if outcome.stderr:
            lines.append("stderr:\n```\n" + truncate(outcome.stderr, limit) + "\n```")
        if outcome.displays:
            lines.append("displayed: " + "; ".join(outcome.displays[:20]))
        if outcome.result is not None:
            lines.append("result:\n```\n" + truncate(outcome.result, limit) + "\n```")
        if outcome.error:
            lines.append("error:\n```\n" + truncate(outcome.error, limit) + "\n```")
        if len(lines) == 1:
            lines.append("(no output)")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


MAX_FEEDBACK_IMAGES = 4


def feedback_content(outcomes: list[Outcome], limit: int, suffix: str = "") -> Any:
    """The feedback text, plus the images the code displayed when the runner collected them."""
    text = feedback_message(outcomes, limit) + suffix
    images = [part for outcome in outcomes for part in outcome.images][:MAX_FEEDBACK_IMAGES]
    if not images:
        return text
    return [{"type": "text", "text": text}, *images]


def merge_roles(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join consecutive messages of the same role (some providers reject them)."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if (
            merged
            and merged[-1]["role"] == message["role"]
            and isinstance(merged[-1].get("content"), str)
            and isinstance(message.get("content"), str)
        ):
            merged[-1] = {
                **merged[-1],
                "content": merged[-1]["content"] + "\n\n" + message["content"],
            }
        else:
            merged.append(message)
    return merged


class TurnEngine:
    """Runs turns for one conversation."""

    def __init__(
        self,
        *,
        client: Any,
        runner: CodeRunner,
        conversation: list[dict[str, Any]],
        namespace: Mapping[str, Any],
        hidden: set[str] | None = None,
        output_limit: int = 4000,
        namespace_budget: int = 6000,
        recent_cells: Callable[[], str] | None = None,
        approve: Approver | None = None,
        system_notes: Callable[[], str] | None = None,
    ) -> None:
        self.client = client
        self.runner = runner
        self.conversation = conversation
        self.namespace = namespace
        self.hidden = hidden or set()
        self.output_limit = output_limit
        self.namespace_budget = namespace_budget
        #: Returns the recent cells as Markdown ("" for none); asked at every model request.
        self.recent_cells = recent_cells
        #: Run mode ``ask``: asked before each block runs (None: run mode ``auto``).
        self.approve = approve
        #: More system-prompt text (what else the namespace offers, e.g. sub-agents).
        self.system_notes = system_notes

    def build_messages(self) -> list[dict[str, Any]]:
        """System prompt with a fresh namespace summary, then the conversation."""
        summary = summarize_namespace(self.namespace, self.hidden, self.namespace_budget)
        content = SYSTEM_PROMPT.format(namespace=summary)
        cells = self.recent_cells() if self.recent_cells is not None else ""
        if cells:
            content += RECENT_CELLS.format(cells=cells)
        if self.system_notes is not None:
            content += self.system_notes()
        system = {"role": "system", "content": content}
        return [system, *merge_roles(self.conversation)]

    def run(
        self,
        prompt: str,
        *,
        model: str,
        max_steps: int = 10,
        attachments: list[dict[str, Any]] | None = None,
    ) -> Iterator[TurnEvent]:
        """Run one turn for ``prompt``; see the module docstring for the guarantees.

        ``attachments`` are extra content parts (OpenAI/litellm format, e.g. ``image_url``)
        sent with the prompt to models that accept them.
        """
        from ..lm.litellm_client import ModelRequest, NoticeChunk, TextChunk, UsageChunk

        yield TurnStarted(model=model, prompt=prompt, max_steps=max_steps)
        content: Any = prompt
        if attachments:
            content = [{"type": "text", "text": prompt}, *attachments]
        self.conversation.append({"role": "user", "content": content})
        step = 0
        while step < max_steps:
            step += 1
            yield StepStarted(step=step)
            parts: list[str] = []
            stream = self.client.stream(ModelRequest(model=model, messages=self.build_messages()))
            try:
                for chunk in stream:
                    if isinstance(chunk, TextChunk):
                        parts.append(chunk.text)
                        yield TextDelta(step=step, text=chunk.text)
                    elif isinstance(chunk, UsageChunk):
                        yield Usage(
                            step=step,
                            model=model,
                            prompt_tokens=chunk.prompt_tokens,
                            completion_tokens=chunk.completion_tokens,
                            cost=chunk.cost,
                        )
                    elif isinstance(chunk, NoticeChunk):
                        yield TurnNotice(message=chunk.message)
            except KeyboardInterrupt:
                close = getattr(stream, "close", None)
                if close:
                    close()
                self._remember_reply("".join(parts), interrupted=True)
                yield TurnDone(reason="interrupted", steps=step)
                return
            except Exception as exc:  # ModelError, or a bug: either way the turn ends cleanly
                if parts:
                    self._remember_reply("".join(parts), interrupted=True)
                elif (
                    step == 1 and self.conversation and self.conversation[-1]["content"] == content
                ):
                    self.conversation.pop()  # nothing happened: let the user simply retry
                if isinstance(exc, ModelError):
                    yield TurnFailed(category=exc.category, message=str(exc))
                else:
                    log.exception("unexpected error while talking to the model")
                    yield TurnFailed(
                        category="internal", message=f"{type(exc).__name__}: {redact(str(exc))}"
                    )
                yield TurnDone(reason="error", steps=step)
                return
            reply = "".join(parts)
            self._remember_reply(reply)
            yield ReplyDone(step=step, text=reply)
            fences = runnable_fences(reply)
            if not fences:
                yield TurnDone(reason="answered", steps=step)
                return
            outcomes: list[Outcome] = []
            for index, fence in enumerate(fences):
                yield CodeStarted(step=step, index=index, code=fence.code, end_offset=fence.end)
                if self.approve is not None:
                    yield CodeAwaiting(step=step, index=index, code=fence.code)
                try:
                    outcome = self._run_block(fence.code)
                except KeyboardInterrupt:
                    outcome = Outcome(error="KeyboardInterrupt", interrupted=True)
                outcomes.append(outcome)
                yield CodeFinished(step=step, index=index, **outcome.__dict__)
                if outcome.interrupted:
                    self.conversation.append(
                        {
                            "role": "user",
                            "content": feedback_content(
                                outcomes,
                                self.output_limit,
                                "\n\n(The user interrupted the execution.)",
                            ),
                        }
                    )
                    yield TurnDone(reason="interrupted", steps=step)
                    return
            self.conversation.append(
                {"role": "user", "content": feedback_content(outcomes, self.output_limit)}
            )
        yield TurnDone(reason="max_steps", steps=step)

    def _run_block(self, code: str) -> Outcome:
        """Run one block, after asking the user in run mode ``ask``."""
        if self.approve is None:
            return self.runner.run(code)
        decision = self.approve(code)
        if decision.action == "skip":
            return Outcome(skipped=True)
        if decision.action == "edit" and decision.code != code:
            outcome = self.runner.run(decision.code)
            outcome.edited_code = decision.code
            return outcome
        return self.runner.run(code)

    def _remember_reply(self, text: str, interrupted: bool = False) -> None:
        if interrupted:
            text = (text + "\n\n[interrupted by the user]").strip()
        if text:
            self.conversation.append({"role": "assistant", "content": text})
