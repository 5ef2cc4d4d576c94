"""Agent transcripts: find them, tail them, normalize them into a per-session event log.

Submodules (each one job): :mod:`.locate` (where transcripts live),
:mod:`.parse_claude` / :mod:`.parse_codex` (entries → events), :mod:`.events`
(the :class:`AgentEvent` model), :mod:`.eventlog` (our append-only copy with
history + live subscriptions stitched at a sentinel), :mod:`.watch` (one shared
inotify watcher), :mod:`.tail` (byte-offset follower feeding an event log).

Nothing heavy is imported here; import the submodule you need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .events import TranscriptParser

_PARSER_NAMES = {
    "claude": "claude",
    "claude-code": "claude",
    "claude_code": "claude",
    "tmux-claude-code": "claude",
    "codex": "codex",
    "tmux-codex": "codex",
}


def parser_for(agent: str) -> TranscriptParser:
    """The transcript parser for an agent or backend name (``claude-code``, ``tmux-codex`` …)."""
    kind = _PARSER_NAMES.get(agent)
    if kind == "claude":
        from .parse_claude import parse_claude_entry

        return parse_claude_entry
    if kind == "codex":
        from .parse_codex import parse_codex_entry

        return parse_codex_entry
    raise ValueError(f"no transcript parser for {agent!r}; known: {sorted(_PARSER_NAMES)}")


__all__ = ["parser_for"]
