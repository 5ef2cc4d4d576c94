"""Run AI-written code through the IPython shell and observe what it produced.

Code runs with ``shell.run_cell`` so history, display hooks, rich outputs and
tracebacks behave exactly as in a cell the user typed.  While it runs, stdout and
stderr are teed (the user still sees everything live) and displayed MIME bundles
are noted, so the model can be told what happened.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Outcome:
    """What one block of code produced."""

    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    displays: list[str] = field(default_factory=list)
    error: str | None = None
    interrupted: bool = False
    duration: float = 0.0
    #: Image content parts of what the code displayed (only when sending them back is enabled).
    images: list[dict[str, Any]] = field(default_factory=list)
    #: Run mode ``ask``: the user skipped the block (it did not run) …
    skipped: bool = False
    #: … or edited it first (this is the code that ran).
    edited_code: str | None = None


class CodeRunner(Protocol):
    """Runs one block of code in the user's namespace (the engine's only way to execute)."""

    def run(self, code: str) -> Outcome: ...


class _Tee:
    """A write-through stream wrapper that also keeps a copy of what was written."""

    def __init__(self, target: Any, limit: int) -> None:
        self._target = target
        self._limit = limit
        self._parts: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        if self._size < self._limit:
            self._parts.append(text)
            self._size += len(text)
        return self._target.write(text)

    def getvalue(self) -> str:
        return "".join(self._parts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def format_error(exc: BaseException, limit: int = 12) -> str:
    """A compact traceback: enough for the model to fix the code, without IPython's colours."""
    frames = traceback.extract_tb(exc.__traceback__)
    # Drop IPython's own frames (run_code etc.): keep those from the executed cell onwards.
    user_frames = [f for f in frames if not f.filename.endswith(("interactiveshell.py",))]
    lines = traceback.format_list(user_frames[-limit:])
    lines += traceback.format_exception_only(type(exc), exc)
    return "Traceback (most recent call last):\n" + "".join(lines).rstrip()


class ShellCodeRunner:
    """Executes code as a cell of ``shell``; the default runner for kernels and terminals."""

    capture_limit = 200_000

    def __init__(self, shell: Any, collect_images: bool | Callable[[], bool] = False) -> None:
        self.shell = shell
        self._collect_images = collect_images

    @property
    def collect_images(self) -> bool:
        """Whether displayed images go back to the model; the session passes a callable that
        reads ``AiModels.send_displayed_images`` at each block, so ``%config`` applies at once."""
        if callable(self._collect_images):
            return bool(self._collect_images())
        return self._collect_images

    def _display_hook(self, notes: list[str], images: list[dict[str, Any]] | None = None) -> Any:
        def hook(msg: Any) -> Any:
            try:
                if msg["header"]["msg_type"] in ("display_data", "update_display_data"):
                    notes.append(", ".join(sorted(msg["content"]["data"])))
                    if images is not None:
                        from ..lm.images import image_parts_from_bundle

                        images.extend(image_parts_from_bundle(msg["content"]["data"]))
            except (KeyError, TypeError):
                pass
            return msg

        return hook

    def run(self, code: str) -> Outcome:
        notes: list[str] = []
        images: list[dict[str, Any]] | None = [] if self.collect_images else None
        pub = getattr(self.shell, "display_pub", None)
        hook = self._display_hook(notes, images)
        can_hook = hasattr(pub, "register_hook")
        out, err = _Tee(sys.stdout, self.capture_limit), _Tee(sys.stderr, self.capture_limit)
        saved = sys.stdout, sys.stderr
        started = time.perf_counter()
        if can_hook:
            pub.register_hook(hook)
        sys.stdout, sys.stderr = out, err
        try:
            result = self.shell.run_cell(code, store_history=True, silent=False)
            # Publish the block's output now, before the model's next words are shown.
            out.flush()
            err.flush()
        finally:
            sys.stdout, sys.stderr = saved
            if can_hook:
                pub.unregister_hook(hook)
        outcome = Outcome(
            stdout=out.getvalue(),
            stderr=err.getvalue(),
            displays=notes,
            duration=time.perf_counter() - started,
            images=images or [],
        )
        if result.result is not None:
            try:
                outcome.result = repr(result.result)
            except Exception as exc:
                outcome.result = f"<repr failed: {type(exc).__name__}: {exc}>"
        exc = result.error_in_exec or result.error_before_exec
        if exc is not None:
            outcome.interrupted = isinstance(exc, KeyboardInterrupt)
            outcome.error = format_error(exc)
        return outcome
