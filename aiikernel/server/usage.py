"""Token and cost totals of a session, read from the raw transcript entries in its event log.

Claude Code records ``message.usage`` on assistant entries (one message may span several
entries, each repeating the same usage: counted once per message id) and, in some releases,
``costUSD``; Codex records cumulative ``token_count`` totals. The tally is incremental: each
call reads only the events after the last one it counted, so listing sessions every tick stays
cheap however long a conversation gets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


def epoch(ts: str | None) -> float | None:
    """An agent's ISO timestamp as epoch seconds (None when absent or unreadable)."""
    if not ts:
        return None
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class Usage:
    """What one session's transcript says it cost so far."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    last_event_at: str | None = None
    counted_seq: int = 0
    _messages: set[str] = field(default_factory=set, repr=False)

    def add(self, event: Any) -> None:
        """Count one :class:`AgentEvent` (in log order)."""
        self.counted_seq = event.seq
        if event.ts:
            self.last_event_at = event.ts
        raw = event.raw if isinstance(event.raw, dict) else {}
        cost = raw.get("costUSD")
        if isinstance(cost, int | float):
            self.cost_usd = (self.cost_usd or 0.0) + float(cost)
        message = raw.get("message")
        if raw.get("type") == "assistant" and isinstance(message, dict):
            usage = message.get("usage")
            key = str(message.get("id") or event.uuid or event.seq)
            if isinstance(usage, dict) and key not in self._messages:
                self._messages.add(key)
                self._count(usage, "input_tokens", "output_tokens", cumulative=False)
            return
        payload = raw.get("payload")
        if isinstance(payload, dict) and payload.get("type") == "token_count":
            info = payload.get("info")
            total = info.get("total_token_usage") if isinstance(info, dict) else None
            if isinstance(total, dict):
                self._count(total, "input_tokens", "output_tokens", cumulative=True)

    def _count(self, usage: dict[str, Any], inp: str, out: str, *, cumulative: bool) -> None:
        extra_in = sum(
            v
            for k, v in usage.items()
            if k in ("cache_creation_input_tokens", "cache_read_input_tokens")
            and isinstance(v, int)
        )
        got_in, got_out = usage.get(inp), usage.get(out)
        if isinstance(got_in, int):
            value = got_in + extra_in
            self.input_tokens = value if cumulative else (self.input_tokens or 0) + value
        if isinstance(got_out, int):
            self.output_tokens = got_out if cumulative else (self.output_tokens or 0) + got_out


class UsageTally:
    """Per-session :class:`Usage`, brought up to date from an event log on demand."""

    def __init__(self) -> None:
        self._usage: dict[str, Usage] = {}

    def update(self, session_id: str, log: Any) -> Usage:
        """Count the events of ``log`` not counted yet; returns the session's totals."""
        usage = self._usage.get(session_id)
        if usage is None or usage.counted_seq > log.last_seq:  # a fresh log under an old id
            usage = self._usage[session_id] = Usage()
        if log.last_seq > usage.counted_seq:
            for event in log.events(after=usage.counted_seq):
                usage.add(event)
        return usage

    def forget(self, session_id: str) -> None:
        self._usage.pop(session_id, None)
