"""The conversation as the chat panel shows it, kept in the kernel and bounded.

:class:`ChatHistory` folds turn events and captured code outputs into
:class:`~aiikernel.chat.protocol.ChatTurn` records.  It knows nothing of comms or threads
(the hub locks around it).  Bounds: the newest ``max_turns`` turns, about ``max_chars``
characters in all (older turns are dropped whole), and ``output_limit`` characters per
output (larger outputs are cut with a visible marker, see :func:`elide_output`).
"""

from __future__ import annotations

import json
import time
from typing import Any

from .protocol import ChatStep, ChatTurn, CodeBlock, TurnError

ELISION = "\n… [{cut:,} characters elided from the chat history] …\n"


def _cut_middle(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = int(limit * 0.6)
    tail = max(limit - head, 0)
    cut = len(text) - head - tail
    return text[:head] + ELISION.format(cut=cut) + (text[-tail:] if tail else "")


def output_size(output: dict[str, Any]) -> int:
    """Characters an nbformat output takes (what bounding counts)."""
    kind = output.get("output_type")
    if kind == "stream":
        return len(output.get("text", ""))
    if kind == "error":
        return sum(len(line) for line in output.get("traceback", [])) + len(
            output.get("evalue", "")
        )
    data = output.get("data", {})
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


def elide_output(output: dict[str, Any], limit: int) -> dict[str, Any]:
    """``output`` within ``limit`` characters; what was cut is said in the output itself.

    Streams and tracebacks keep their head and tail; a rich display keeps the MIME types
    that fit (smallest first) and says which ones were left out in its ``text/plain``.
    """
    if output_size(output) <= limit:
        return output
    kind = output.get("output_type")
    if kind == "stream":
        return {**output, "text": _cut_middle(output.get("text", ""), limit)}
    if kind == "error":
        traceback = output.get("traceback", [])
        kept = [_cut_middle(line, max(limit // max(len(traceback), 1), 200)) for line in traceback]
        return {**output, "traceback": kept}
    data = output.get("data", {})
    sizes = {
        mime: len(value) if isinstance(value, str) else len(json.dumps(value))
        for mime, value in data.items()
    }
    kept: dict[str, Any] = {}
    budget = limit
    for mime in sorted(data, key=lambda m: sizes[m]):
        if sizes[mime] <= budget and mime != "text/plain":
            kept[mime] = data[mime]
            budget -= sizes[mime]
    dropped = [m for m in data if m not in kept and m != "text/plain"]
    note = ", ".join(f"{m} ({sizes[m]:,} characters)" for m in dropped)
    plain = data.get("text/plain", "")
    if isinstance(plain, list):
        plain = "".join(plain)
    plain = _cut_middle(plain, max(budget - 200, 200))
    marker = f"[output elided from the chat history: {note}]" if note else ""
    kept["text/plain"] = f"{plain}\n{marker}".strip() if marker else plain
    return {**output, "data": kept}


class ChatHistory:
    """Turn records built from events; see the module docstring for the bounds."""

    def __init__(
        self, *, max_turns: int = 100, max_chars: int = 20_000_000, output_limit: int = 500_000
    ) -> None:
        self.max_turns = max_turns
        self.max_chars = max_chars
        self.output_limit = output_limit
        self.turns: list[ChatTurn] = []
        self.dropped = 0
        self._next_id = 1
        self._sizes: dict[int, int] = {}
        self._saved: dict[int, tuple[tuple[int, str], dict[str, Any]]] = {}

    @property
    def current(self) -> ChatTurn | None:
        """The running turn, if any."""
        if self.turns and self.turns[-1].status == "running":
            return self.turns[-1]
        return None

    def clear(self) -> None:
        self.turns.clear()
        self._sizes.clear()
        self.dropped = 0
        self._saved.clear()

    # -- checkpoints -------------------------------------------------------------------------

    def save(self) -> list[dict[str, Any]]:
        """The kept turns as JSON for a checkpoint; a finished turn is the same dict each time.

        Reusing the dict lets the store encode a finished turn once, however many checkpoints
        record it (see :mod:`aiikernel.checkpoints.conversation`).
        """
        items = []
        for turn in self.turns:
            # The diff arrives after the checkpoint that ends the turn; leaving it out keeps a
            # finished turn one item (the hub recomputes it from the tree when it loads turns).
            key = (turn.id, turn.status)
            cached = self._saved.get(turn.id)
            if cached is None or cached[0] != key or turn.status == "running":
                cached = (key, turn.model_dump(mode="json", exclude={"diff"}))
                self._saved[turn.id] = cached
            items.append(cached[1])
        alive = {t.id for t in self.turns}
        for stale in [i for i in self._saved if i not in alive]:
            del self._saved[stale]
        return items

    def load(self, items: list[dict[str, Any]]) -> None:
        """Replace the turns with saved ones (a restore); a turn saved running is interrupted."""
        turns = []
        for item in items:
            try:
                turn = ChatTurn.model_validate(item)
            except ValueError:
                continue  # a record from another version: the rest still shows
            if turn.status == "running":
                turn.status = "interrupted"
            turns.append(turn)
        self.turns = turns
        self._saved.clear()
        self._sizes = {t.id: len(t.model_dump_json()) for t in turns}
        self._next_id = max([self._next_id, *(t.id + 1 for t in turns)])
        self._bound()

    # -- turns ---------------------------------------------------------------------------

    def begin(
        self,
        *,
        prompt: str,
        model: str,
        source: str,
        request_id: str | None,
        max_steps: int | None,
    ) -> ChatTurn:
        """Start a new turn record (an unfinished previous one is marked interrupted)."""
        if self.current is not None:
            self.current.status = "interrupted"
        turn = ChatTurn(
            id=self._next_id,
            source=source,  # type: ignore[arg-type]
            request_id=request_id,
            prompt=prompt,
            model=model,
            max_steps=max_steps,
            started=time.time(),
        )
        self._next_id += 1
        self.turns.append(turn)
        self._sizes[turn.id] = len(prompt)
        self._bound()
        return turn

    def _step(self, turn: ChatTurn, step: int) -> ChatStep:
        if not turn.steps or turn.steps[-1].step != step:
            turn.steps.append(ChatStep(step=step))
        return turn.steps[-1]

    def _block(self, turn: ChatTurn, step: int, index: int) -> CodeBlock | None:
        for candidate in reversed(turn.steps):
            if candidate.step == step:
                for block in candidate.blocks:
                    if block.index == index:
                        return block
        return None

    def apply(self, turn: ChatTurn, event: Any) -> dict[str, Any]:
        """Fold one turn event into ``turn``; returns the event as sent on the wire."""
        wire = event.model_dump(mode="json")
        kind = event.kind
        if kind == "step_started":
            self._step(turn, event.step)
        elif kind == "text_delta":
            self._step(turn, event.step).text += event.text
            self._grow(turn, len(event.text))
        elif kind == "reply_done":
            step = self._step(turn, event.step)
            self._grow(turn, len(event.text) - len(step.text))
            step.text, step.done = event.text, True
        elif kind == "code_started":
            step = self._step(turn, event.step)
            start = _fence_start(step.text, event.end_offset)
            step.blocks.append(
                CodeBlock(
                    index=event.index,
                    code=event.code,
                    start_offset=start,
                    end_offset=event.end_offset,
                )
            )
            wire["start_offset"] = start
        elif kind == "code_awaiting":
            block = self._block(turn, event.step, event.index)
            if block is not None:
                block.status = "pending"
        elif kind == "code_finished":
            block = self._block(turn, event.step, event.index)
            if block is not None:
                block.duration = event.duration
                block.status = (
                    "skipped"
                    if getattr(event, "skipped", False)
                    else "interrupted"
                    if event.interrupted
                    else "error"
                    if event.error
                    else "ok"
                )
                edited = getattr(event, "edited_code", None)
                if edited is not None:
                    block.code, block.edited = edited, True
                wire["status"] = block.status
        elif kind == "usage":
            turn.usage.prompt_tokens += event.prompt_tokens
            turn.usage.completion_tokens += event.completion_tokens
            if event.cost is not None:
                turn.usage.cost = (turn.usage.cost or 0.0) + event.cost
        elif kind == "notice":
            turn.notices.append(event.message)
        elif kind == "error":
            turn.error = TurnError(category=event.category, message=event.message)
        elif kind == "state_diff":
            turn.diff = wire
        elif kind == "done":
            turn.status = event.reason
            for step in turn.steps:
                for block in step.blocks:
                    if block.status in ("running", "pending"):
                        block.status = "interrupted"
        return wire

    # -- outputs ---------------------------------------------------------------------------

    def add_output(
        self,
        turn: ChatTurn,
        step: int,
        index: int,
        output: dict[str, Any],
        display_id: str | None = None,
    ) -> dict[str, Any]:
        """Append ``output`` to a block (streams merge); returns it as bounded for the wire."""
        output = elide_output(output, self.output_limit)
        block = self._block(turn, step, index)
        if block is None:
            return output
        outputs = block.outputs
        last = outputs[-1] if outputs else None
        if (
            output["output_type"] == "stream"
            and last is not None
            and last["output_type"] == "stream"
            and last["name"] == output["name"]
        ):
            before = output_size(last)
            outputs[-1] = elide_output(
                {**last, "text": last["text"] + output["text"]}, self.output_limit
            )
            self._grow(turn, output_size(outputs[-1]) - before)
        else:
            stored = dict(output)
            if display_id:
                stored["transient"] = {"display_id": display_id}
            outputs.append(stored)
            self._grow(turn, output_size(stored))
        return output

    def update_display(
        self, turn: ChatTurn, display_id: str, output: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Replace every output of ``turn`` shown with ``display_id``; None if there is none."""
        output = elide_output(output, self.output_limit)
        found = False
        for step in turn.steps:
            for block in step.blocks:
                for i, old in enumerate(block.outputs):
                    if old.get("transient", {}).get("display_id") == display_id:
                        block.outputs[i] = {
                            **old,
                            "data": output.get("data", {}),
                            "metadata": output.get("metadata", {}),
                        }
                        found = True
        return output if found else None

    def clear_outputs(self, turn: ChatTurn, step: int, index: int) -> None:
        block = self._block(turn, step, index)
        if block is not None:
            self._grow(turn, -sum(output_size(o) for o in block.outputs))
            block.outputs.clear()

    # -- bounds ----------------------------------------------------------------------------

    def _grow(self, turn: ChatTurn, chars: int) -> None:
        self._sizes[turn.id] = self._sizes.get(turn.id, 0) + chars
        if chars > 0:
            self._bound()

    def _bound(self) -> None:
        """Drop the oldest finished turns beyond the limits (the running one always stays)."""
        total = sum(self._sizes.values())
        while len(self.turns) > 1 and (len(self.turns) > self.max_turns or total > self.max_chars):
            oldest = self.turns.pop(0)
            total -= self._sizes.pop(oldest.id, 0)
            self.dropped += 1


def _fence_start(text: str, end_offset: int) -> int:
    """Where the fence that ends at ``end_offset`` opens (the start of its opening line)."""
    from ..turn.fences import find_fences

    for fence in find_fences(text):
        if fence.end == end_offset:
            return fence.start
    return end_offset
