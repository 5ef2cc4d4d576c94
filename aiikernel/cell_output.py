"""Render a turn's events into the output of the cell that started it.

In a kernel, the reply streams as live Markdown (``display`` + ``update_display``).
When a segment of the reply is complete it is re-published as a plain display, so
frontends that ignore display updates (``jupyter console``) still show every word;
the live copy is emptied.  Executed code appears in order: text up to a fence, the
fence's outputs, the text after it.  In a terminal IPython the text is printed.
"""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any

from .turn.events import (
    CodeStarted,
    ReplyDone,
    StateDiffEvent,
    StepStarted,
    TextDelta,
    TurnDone,
    TurnEvent,
    TurnFailed,
    TurnNotice,
    TurnStarted,
    Usage,
)
from .turn.fences import for_display

ERROR_TITLES = {
    "missing_credentials": "No credentials",
    "authentication": "Authentication failed",
    "rate_limited": "Rate limited",
    "provider_unavailable": "Provider unavailable",
    "timeout": "Model timeout",
    "bad_request": "Request refused",
    "stream_broken": "Broken stream",
}


def _is_kernel_shell(shell: Any) -> bool:
    zmqshell = sys.modules.get("ipykernel.zmqshell")
    return bool(zmqshell and isinstance(shell, zmqshell.ZMQInteractiveShell))


def _bundle(markdown: str, plain: str | None = None, live: bool = False) -> dict[str, str]:
    """Markdown plus a text/plain copy; live (updating) displays carry no text/plain, so
    terminal frontends, which cannot update in place, print only the final segments."""
    if live:
        return {"text/markdown": markdown}
    return {"text/markdown": markdown, "text/plain": markdown if plain is None else plain}


def _escape(text: str) -> str:
    """Names and shapes shown inside HTML-ish Markdown (`<sub>`) stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class UsageTotals:
    """Tokens and cost summed over the steps of one turn."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost: float | None = None

    def add(self, usage: Usage) -> None:
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        if usage.cost is not None:
            self.cost = (self.cost or 0.0) + usage.cost

    def describe(self) -> str:
        text = f"{self.prompt_tokens:,} → {self.completion_tokens:,} tokens"
        if self.cost is not None:
            text += f" · ${self.cost:.4f}"
        return text


class CellRenderer:
    """Consumes turn events and shows them in the current cell's output."""

    update_interval = 0.08

    def __init__(self, shell: Any) -> None:
        self.rich = _is_kernel_shell(shell)
        self.model = ""
        self.usage = UsageTotals()
        self._text = ""
        self._segment_start = 0
        self._live_id: str | None = None
        self._last_update = 0.0

    # -- low-level publishing ---------------------------------------------------

    def _display(
        self,
        markdown: str,
        display_id: str | None = None,
        update: bool = False,
        plain: str | None = None,
    ) -> None:
        from IPython.display import display

        live = display_id is not None
        display(_bundle(markdown, plain, live), raw=True, display_id=display_id, update=update)

    def _empty_live(self) -> None:
        """Empty the live display as another MIME type: a notebook then swaps its renderer
        instead of re-rendering Markdown in place, where a slow earlier render (a code fence
        waiting for its highlighter) could finish last and leave the streamed text on screen
        above its final copy."""
        from IPython.display import display

        display({"text/html": ""}, raw=True, display_id=self._live_id, update=True)

    def _segment(self) -> str:
        return for_display(self._text[self._segment_start :])

    def _refresh_live(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_update < self.update_interval:
            return
        self._last_update = now
        segment = self._segment()
        if self._live_id is None:
            if not segment.strip():
                return
            self._live_id = uuid.uuid4().hex
            self._display(segment, self._live_id)
        else:
            self._display(segment, self._live_id, update=True)

    def _finish_segment(self, upto: int | None = None) -> None:
        """Publish text[segment_start:upto] for good and start a new segment after it."""
        end = len(self._text) if upto is None else upto
        segment = for_display(self._text[self._segment_start : end])
        if self.rich:
            if self._live_id is not None:
                self._empty_live()
            if segment.strip():
                self._display(segment)
        self._live_id = None
        self._segment_start = end

    def _note(self, markdown: str) -> None:
        if self.rich:
            self._display(markdown)
        else:
            print(markdown, flush=True)

    # -- events ----------------------------------------------------------------

    def handle(self, event: TurnEvent) -> None:
        if isinstance(event, TurnStarted):
            self.model = event.model
        elif isinstance(event, StepStarted):
            self._finish_segment()
            self._text, self._segment_start, self._live_id = "", 0, None
            if not self.rich and event.step > 1:
                print(flush=True)
        elif isinstance(event, TextDelta):
            self._text += event.text
            if self.rich:
                self._refresh_live()
            else:
                print(event.text, end="", flush=True)
        elif isinstance(event, ReplyDone):
            self._text = event.text
            if not self.rich:
                print(flush=True)
        elif isinstance(event, CodeStarted):
            self._finish_segment(event.end_offset)
        elif isinstance(event, Usage):
            self.usage.add(event)
        elif isinstance(event, TurnNotice):
            self._note(f"*{event.message}*")
        elif isinstance(event, TurnFailed):
            self._finish_segment()
            title = ERROR_TITLES.get(event.category, "Model error")
            self._note(
                f"**⚠ {title}:** {event.message}\n\nThe turn ended; the kernel and the conversation are fine."
            )
        elif isinstance(event, TurnDone):
            self._finish_segment()
            self._done(event)
        elif isinstance(event, StateDiffEvent):
            self._state_diff(event)

    def _state_diff(self, event: StateDiffEvent) -> None:
        """One small line at the very end: what the turn did to the namespace."""
        where = f" (checkpoint [{event.after}]; `/undo` goes back)" if event.after else ""
        line = f"State: {event.text}{where}"
        if event.rolled_back:
            line = event.rolled_back
        if self.rich:
            self._display(f"<sub>{_escape(line)}</sub>", plain=f"[{line}]")
        else:
            print(f"[{line}]", flush=True)

    def interrupted(self) -> None:
        """The turn was interrupted outside the engine (e.g. while rendering)."""
        self._finish_segment()
        self._note("**Interrupted.** The turn stopped; the kernel is alive.")

    def _done(self, event: TurnDone) -> None:
        if event.reason == "interrupted":
            self._note("**Interrupted.** The turn stopped; the kernel is alive.")
        elif event.reason == "max_steps":
            self._note(
                f"*Stopped after {event.steps} steps (the step limit). "
                "Continue with another `%%ai` cell, or raise the limit with `--max-steps N`.*"
            )
        footer = f"{self.model} · {event.steps} step{'s' if event.steps != 1 else ''}"
        if self.usage.prompt_tokens or self.usage.completion_tokens:
            footer += f" · {self.usage.describe()}"
        if self.rich:
            self._display(f"<sub>{footer}</sub>", plain=f"[{footer}]")
