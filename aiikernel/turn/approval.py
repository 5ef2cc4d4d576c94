"""Run mode ``ask``: every code block waits for the user's Run / Edit / Skip.

The engine calls an *approver* with the block's code before it touches the namespace and
runs what comes back (:class:`Decision`).  A skipped or edited block is reported to the model
as such.  Fronts bring their own approver: the chat panel answers over its comm, a `%%ai`
cell asks on stdin (:func:`stdin_approval`, an ``input_request`` in a notebook).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

RUN_MODES = ("auto", "ask")


@dataclass(frozen=True)
class Decision:
    """What the user chose for one block; ``code`` is what runs (edited or not)."""

    action: Literal["run", "edit", "skip"]
    code: str = ""


#: approver(code) -> Decision; may block until the user answers (a KeyboardInterrupt stops it).
Approver = Callable[[str], Decision]

STDIN_QUESTION = "Run this code block? [Enter] run · [s] skip · [e] edit: "
STDIN_EDIT = "Code to run instead (one line; write \\n for a new line): "


def stdin_approval(ask: Callable[[str], str] | None = None) -> Approver:
    """An approver that asks with ``ask``; by default ``input`` as it is when asked (in a
    kernel, the notebook's stdin prompt).  A front without stdin skips the block."""

    def read(question: str) -> str:
        import builtins

        return (ask or builtins.input)(question)

    def approve(code: str) -> Decision:
        try:
            answer = read(STDIN_QUESTION).strip().lower()
        except (EOFError, NotImplementedError, RuntimeError):  # no stdin (StdinNotImplemented…)
            return Decision("skip")
        if answer in ("s", "skip", "n", "no"):
            return Decision("skip")
        if answer in ("e", "edit"):
            replacement = read(STDIN_EDIT).replace("\\n", "\n")
            if not replacement.strip():
                return Decision("skip")
            return Decision("edit", replacement)
        return Decision("run", code)

    return approve
