"""The normalized agent event: what every consumer of a session's output sees.

Claude Code and Codex write very different JSONL transcripts. The parsers
(:mod:`.parse_claude`, :mod:`.parse_codex`) turn each transcript line into one or
more :class:`ParsedEvent` drafts; the :class:`~.eventlog.EventLog` stamps each
draft with the session id and a ``seq`` and stores it as an :class:`AgentEvent`.

``seq`` is the *sentinel*: the position of an event in OUR per-session event
log. It starts at 1 and strictly increases, and it stays valid across transcript
switches (Claude ``/clear``, resume into a new file), process restarts and the
agent deleting its transcript. ``history()`` returns the last ``seq`` it
included; ``subscribe(from_seq=…)`` / ``aiter(from_seq=…)`` continue right after it.

Event kinds (``AgentEvent.kind``):

``user``         a human prompt (what we pasted, or what someone typed)
``assistant``    model text (complete message or block; Claude interrupt stubs too)
``tool_call``    the model asked to run a tool (``tool_name``, ``tool_call_id``; text = arguments)
``tool_result``  a tool's output (``tool_call_id``, ``is_error``; text = output)
``turn_end``     the agent finished a turn (text = last agent message when known)
``interrupted``  the turn was interrupted (Escape, ``/stop``)
``system``       agent bookkeeping we understand (session meta, token counts, titles,
                 thinking, harness-injected context) and aimax's own notes
                 (``transcript_switch``); ``subtype`` says which
``raw``          an entry type this version does not know; ``raw`` holds it unchanged

Interface changes are agreed by editing this docstring and must stay backward
compatible: fields are only ever added, with defaults.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

KIND_USER = "user"
KIND_ASSISTANT = "assistant"
KIND_TOOL_CALL = "tool_call"
KIND_TOOL_RESULT = "tool_result"
KIND_TURN_END = "turn_end"
KIND_INTERRUPTED = "interrupted"
KIND_SYSTEM = "system"
KIND_RAW = "raw"

EVENT_KINDS: frozenset[str] = frozenset(
    {
        KIND_USER,
        KIND_ASSISTANT,
        KIND_TOOL_CALL,
        KIND_TOOL_RESULT,
        KIND_TURN_END,
        KIND_INTERRUPTED,
        KIND_SYSTEM,
        KIND_RAW,
    }
)


class AgentEvent(BaseModel):
    """One normalized event of one agent session; crosses process boundaries (REST/websocket)."""

    model_config = ConfigDict(frozen=True)

    seq: int
    """Position in our per-session event log: the sentinel. Starts at 1, strictly increasing."""
    session_id: str
    kind: str
    """One of :data:`EVENT_KINDS` (kept a plain ``str`` so older clients accept newer kinds)."""
    text: str | None = None
    ts: str | None = None
    """The agent's ISO timestamp for the entry, when it wrote one."""
    uuid: str | None = None
    """The agent's own id for the entry/message/call (Claude ``uuid``; Codex message or call id)."""
    raw: dict[str, Any]
    """The original transcript entry, unchanged."""
    subtype: str | None = None
    """Finer type: the agent's entry/payload type (``turn_duration``, ``token_count``, ``thinking`` …)."""
    tool_name: str | None = None
    tool_call_id: str | None = None
    is_error: bool | None = None


@dataclass(slots=True)
class ParsedEvent:
    """What a parser produces from one transcript entry, before the log assigns ``seq``."""

    kind: str
    raw: dict[str, Any]
    text: str | None = None
    ts: str | None = None
    uuid: str | None = None
    subtype: str | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    is_error: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_event(self, seq: int, session_id: str) -> AgentEvent:
        """Stamp the draft with its place in the session's log."""
        return AgentEvent(
            seq=seq,
            session_id=session_id,
            kind=self.kind,
            text=self.text,
            ts=self.ts,
            uuid=self.uuid,
            raw=self.raw,
            subtype=self.subtype,
            tool_name=self.tool_name,
            tool_call_id=self.tool_call_id,
            is_error=self.is_error,
        )


TranscriptParser = Callable[[dict[str, Any]], list[ParsedEvent]]
"""Turns one decoded transcript line into events. Must not raise on odd input."""


def entry_dedupe_key(raw: dict[str, Any]) -> str:
    """A stable identity for one transcript entry, so re-reading a file adds nothing twice.

    Claude entries carry a ``uuid``; Codex entries carry ``(timestamp, ordinal)``;
    anything else is identified by a hash of its canonical JSON (so an identical
    id-less line written twice is kept once — only bookkeeping lines lack ids).
    """
    uuid = raw.get("uuid")
    if isinstance(uuid, str) and uuid:
        return f"u:{uuid}"
    ordinal = raw.get("ordinal")
    ts = raw.get("timestamp")
    if isinstance(ordinal, int) and isinstance(ts, str):
        return f"o:{ts}/{ordinal}"
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "h:" + hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()


def text_of(value: Any) -> str | None:
    """Flatten the many shapes of "content" (str, list of blocks, dict) into plain text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [t for t in (text_of(item) for item in value) if t]
        return "\n".join(parts) if parts else None
    if isinstance(value, dict):
        for key in ("text", "content", "output", "message"):
            if key in value:
                return text_of(value[key])
        return None
    return str(value)
