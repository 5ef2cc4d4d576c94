"""What ``agents()`` returns: the rows of every sub-agent, readable in a cell."""

from __future__ import annotations

import html

from .protocol import AgentInfo


class AgentTable(list[AgentInfo]):
    """A list of :class:`~.protocol.AgentInfo` rows with a text and an HTML table."""

    _columns = ("id", "status", "turns", "pid", "task", "last")

    def _cells(self, row: AgentInfo) -> list[str]:
        task = row.task if len(row.task) <= 50 else row.task[:49] + "…"
        last = row.last if len(row.last) <= 50 else row.last[:49] + "…"
        indent = "  " * (row.depth - 1)
        return [indent + row.id, row.status, str(row.turns), str(row.pid or ""), task, last]

    def __repr__(self) -> str:
        if not self:
            return "No sub-agents (start one with spawn_agent(task))."
        rows = [list(self._columns)] + [self._cells(r) for r in self]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self._columns))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in rows
        )

    def _repr_html_(self) -> str:
        if not self:
            return "<i>No sub-agents (start one with <code>spawn_agent(task)</code>).</i>"
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in self._columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in self._cells(r))
            + "</tr>"
            for r in self
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
