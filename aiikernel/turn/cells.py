"""The recent cells the user ran, kept short for the model ("the model knows the notebook").

:class:`CellLog` is a bounded record of the last cells executed in this kernel — their source,
short outputs and errors — that every turn puts in the system prompt beside the namespace
summary.  It knows nothing of IPython: the session feeds it (``begin`` at ``pre_run_cell``,
``finish`` at ``post_run_cell``) and the chat hub adds the outputs it sees on IOPub
(``add_output``), so a cell's printed text and displays are known too.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (IPython's tracebacks carry them)."""
    return _ANSI.sub("", text)


def _cut(text: str, limit: int) -> str:
    text = text.rstrip()
    if len(text) <= limit:
        return text
    head = int(limit * 0.7)
    return text[:head] + f"\n… [{len(text) - limit:,} characters cut] …\n" + text[head - limit :]


def output_text(output: dict[str, Any]) -> str:
    """One nbformat output as short plain text (rich displays are named by MIME type)."""
    kind = output.get("output_type")
    if kind == "stream":
        return str(output.get("text", ""))
    if kind == "error":
        return f"{output.get('ename', '')}: {output.get('evalue', '')}"
    data = output.get("data", {})
    plain = data.get("text/plain", "")
    if isinstance(plain, list):
        plain = "".join(plain)
    others = sorted(m for m in data if m != "text/plain")
    shown = f"[{', '.join(others)}] " if others else ""
    return (shown + str(plain)).strip()


@dataclass
class CellRecord:
    """One executed cell."""

    number: int | None
    source: str
    outputs: list[str] = field(default_factory=list)
    result: str | None = None
    error: str | None = None
    done: bool = False


class CellLog:
    """The last ``max_cells`` cells, rendered within a character budget (newest kept first)."""

    def __init__(self, max_cells: int = 20, output_limit: int = 400, source_limit: int = 1200):
        self.max_cells = max_cells
        self.output_limit = output_limit
        self.source_limit = source_limit
        self.cells: deque[CellRecord] = deque(maxlen=max(max_cells, 1))

    @property
    def current(self) -> CellRecord | None:
        """The cell that runs now (or ran last), which outputs are added to."""
        return self.cells[-1] if self.cells else None

    def begin(self, source: str, number: int | None = None) -> CellRecord:
        record = CellRecord(number=number, source=source)
        self.cells.append(record)
        return record

    def add_output(self, output: dict[str, Any], record: CellRecord | None = None) -> None:
        """An output of ``record``, by default the current cell. An ``execute_result`` is the
        cell's result as the notebook shows it (``finish`` then needs no repr of its own);
        the ``error`` comes with ``finish``."""
        record = record or self.current
        kind = output.get("output_type")
        if record is None or kind == "error":
            return
        if kind == "execute_result":
            plain = output.get("data", {}).get("text/plain", "")
            text = "".join(plain) if isinstance(plain, list) else str(plain)
            record.result = _cut(text, self.output_limit) if text else record.result
            return
        text = output_text(output)
        if not text:
            return
        if record.outputs and output.get("output_type") == "stream":
            # consecutive stream chunks read as one text
            record.outputs[-1] = _cut(record.outputs[-1] + text, self.output_limit * 2)
        elif sum(len(o) for o in record.outputs) < self.output_limit * 2:
            record.outputs.append(_cut(text, self.output_limit))

    def finish(self, result: str | None = None, error: str | None = None) -> None:
        record = self.current
        if record is None:
            return
        if result:
            record.result = _cut(result, self.output_limit)
        record.error = _cut(strip_ansi(error), self.output_limit * 2) if error else None
        record.done = True

    def clear(self) -> None:
        self.cells.clear()

    def render_cell(self, record: CellRecord) -> str:
        label = f"In [{record.number}]" if record.number is not None else "In [ ]"
        parts = [f"{label}:\n```python\n{_cut(record.source, self.source_limit)}\n```"]
        outputs = "".join(record.outputs).strip()
        if outputs:
            parts.append("output:\n```\n" + _cut(outputs, self.output_limit) + "\n```")
        if record.result:
            parts.append("result:\n```\n" + record.result + "\n```")
        if record.error:
            parts.append("error:\n```\n" + record.error + "\n```")
        return "\n".join(parts)

    def render(self, budget: int = 4000) -> str:
        """The recent cells as Markdown, oldest first, newest kept when the budget is short."""
        chunks: list[str] = []
        used = 0
        for record in reversed(self.cells):
            text = self.render_cell(record)
            if used + len(text) + 2 > budget:
                if not chunks:
                    chunks.append(_cut(text, max(budget - 40, 100)))
                break
            chunks.append(text)
            used += len(text) + 2
        omitted = len(self.cells) - len(chunks)
        out = "\n\n".join(reversed(chunks))
        if omitted > 0 and out:
            out = f"({omitted} earlier cells not shown)\n\n" + out
        return out
